"""Charts as inline SVG, drawn on the server: no script, no request elsewhere.

Each chart is an ``<svg role="img">`` with a title naming what it shows; the
figures are also in a table next to it, for screen readers and for copying.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from umsgate.console.html import e

WIDTH, HEIGHT = 600, 160
PAD_LEFT, PAD_BOTTOM, PAD_TOP = 40, 18, 8
#: Series colours (and a dash pattern each, so lines differ without colour too).
STYLES = (
    ("#1f6feb", ""),
    ("#b35900", "6 3"),
    ("#2d7d46", "2 2"),
    ("#8250df", "8 3 2 3"),
    ("#cf222e", "1 3"),
    ("#57606a", "4 4"),
)


def line_chart(title: str, series: Mapping[str, Sequence[int]], points: int) -> str:
    """Lines of per-minute counts (one per series), with a legend."""
    top = max([1, *(max(v, default=0) for v in series.values())])
    inner_w = WIDTH - PAD_LEFT - 4
    inner_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    step = inner_w / max(1, points - 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{e(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{e(title)}</title>",
        f'<line x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" x2="{WIDTH}" '
        f'y2="{HEIGHT - PAD_BOTTOM}" class="axis"/>',
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 8}" class="tick" '
        f'text-anchor="end">{top}</text>',
        f'<text x="{PAD_LEFT - 4}" y="{HEIGHT - PAD_BOTTOM}" class="tick" '
        'text-anchor="end">0</text>',
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 4}" class="tick">−60 min</text>',
        f'<text x="{WIDTH - 4}" y="{HEIGHT - 4}" class="tick" '
        'text-anchor="end">now</text>',
    ]
    legend = []
    for i, (name, values) in enumerate(sorted(series.items())):
        colour, dash = STYLES[i % len(STYLES)]
        coords = " ".join(
            f"{PAD_LEFT + j * step:.1f},{HEIGHT - PAD_BOTTOM - inner_h * v / top:.1f}"
            for j, v in enumerate(values)
        )
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dashed} '
            f'points="{coords}"/>'
        )
        legend.append(
            f'<li><svg width="24" height="8" aria-hidden="true"><line x1="0" y1="4" '
            f'x2="24" y2="4" stroke="{colour}" stroke-width="2"{dashed}/></svg> '
            f"{e(name)} ({sum(values)})</li>"
        )
    parts.append("</svg>")
    return (
        f'<figure class="chart-box">{"".join(parts)}'
        f'<figcaption>{e(title)}<ul class="legend">{"".join(legend)}</ul>'
        "</figcaption></figure>"
    )


def bar(fraction: float | None, label: str) -> str:
    """A horizontal bar of a ratio, with its value as text."""
    if fraction is None:
        return f"<span>{e(label)}</span>"
    width = max(0.0, min(1.0, fraction)) * 200
    return (
        f'<svg width="204" height="14" aria-hidden="true" class="ratio">'
        f'<rect x="0" y="1" width="202" height="12" class="ratio-bg"/>'
        f'<rect x="1" y="2" width="{width:.1f}" height="10" class="ratio-fg"/></svg>'
        f" <span>{e(label)}</span>"
    )
