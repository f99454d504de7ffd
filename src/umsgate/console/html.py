"""The console's HTML: the page layout and the few pieces every page uses.

Pages are built from Python strings. Every value that comes from data goes
through `e` (HTML escaping, quotes included); the markup itself is ours.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Sequence
from urllib.parse import urlencode

from umsgate.console.i18n import Words

STYLESHEET = "/console/static/console.css"
#: (path under /console, word key) of the navigation, in order.
SECTIONS = (
    ("/", "dashboard"),
    ("/messages", "messages"),
    ("/clients", "clients"),
    ("/connectors", "connectors"),
    ("/webhooks", "webhooks"),
)


def e(value: object) -> str:
    """``value`` as text safe in HTML content and quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def when(epoch: float | None) -> str:
    """An epoch time as ``YYYY-MM-DD HH:MM:SS`` UTC ("" for none)."""
    if epoch is None:
        return ""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def url(path: str, **params: object) -> str:
    """A console URL with query parameters (empty ones left out), escaped."""
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return e(f"/console{path}" + (f"?{query}" if query else ""))


def csrf_field(token: str) -> str:
    return f'<input type="hidden" name="csrf" value="{e(token)}">'


def table(
    caption: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    empty: str = "",
    row_headers: bool = True,
) -> str:
    """A data table; cells are HTML already (escape values with `e`). The first
    cell of each row is its header when ``row_headers``."""
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if i == 0 and row_headers:
                cells.append(f'<th scope="row">{cell}</th>')
            else:
                cells.append(f"<td>{cell}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    if not body and empty:
        body.append(f'<tr><td colspan="{len(headers)}">{e(empty)}</td></tr>')
    return (
        f"<table><caption>{e(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def badge(kind: str, text: str) -> str:
    """A state shown by its words, with a colour and a symbol besides."""
    symbol = {"ok": "●", "bad": "✕", "warn": "▲"}.get(kind, "●")
    return (
        f'<span class="badge badge-{e(kind)}">'
        f'<span aria-hidden="true">{symbol}</span> {e(text)}</span>'
    )


def notice(text: str, *, kind: str = "info") -> str:
    role = "alert" if kind == "error" else "status"
    return f'<p class="notice notice-{e(kind)}" role="{role}">{e(text)}</p>'


def page(
    words: Words,
    *,
    title: str,
    body: str,
    current: str = "",
    username: str = "",
    csrf: str = "",
    path: str = "/",
) -> str:
    """A whole console page: skip link, header, navigation, main."""
    nav = ""
    who = ""
    if username:
        items = []
        for section, key in SECTIONS:
            here = ' aria-current="page"' if section == current else ""
            items.append(f'<li><a href="{url(section)}"{here}>{e(words(key))}</a></li>')
        nav = f'<nav aria-label="{e(words("nav"))}"><ul>{"".join(items)}</ul></nav>'
        who = (
            f'<div class="who"><span>{e(words("logged_in_as", name=username))}</span>'
            f'<form method="post" action="/console/logout">{csrf_field(csrf)}'
            f'<button type="submit">{e(words("logout"))}</button></form></div>'
        )
    links = []
    for code, label in (("en", "English"), ("ko", "한국어")):
        here = ' aria-current="true"' if code == words.lang else ""
        links.append(
            f'<a href="{url(path, lang=code)}" lang="{code}" hreflang="{code}"'
            f"{here}>{label}</a>"
        )
    langs = " ".join(links)
    return (
        f'<!doctype html><html lang="{e(words.lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · {e(words('title'))}</title>"
        f'<link rel="stylesheet" href="{STYLESHEET}"></head><body>'
        f'<a class="skip" href="#main">{e(words("skip"))}</a>'
        f'<header><p class="brand">umsgate</p>{nav}{who}'
        f'<p class="langs"><span>{e(words("language"))}:</span> {langs}</p></header>'
        f'<main id="main" tabindex="-1"><h1>{e(title)}</h1>{body}</main>'
        "</body></html>"
    )
