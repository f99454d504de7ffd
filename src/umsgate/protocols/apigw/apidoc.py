"""The API reference page at ``/docs``: the OpenAPI document rendered as one HTML page
by the gateway itself, with no script and nothing fetched from elsewhere, so that it
reads the same on a machine without internet access and in a screen reader.

Paths and methods come first, each with its parameters, body and answers; then the
schemas, each property with its type and limits. References link to their schema.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence

_METHODS = ("get", "post", "put", "patch", "delete")
#: Where the references this page links to point (each has a section).
_SCHEMAS = "#/components/schemas/"
_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:70em;padding:1em 2em;
color:#1b1b1b;background:#fff}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-top:1px solid #ccc;
padding-top:.8em}h3{font-size:1.05em}
code,.path{font-family:ui-monospace,monospace}
.method{display:inline-block;min-width:4.5em;font-weight:bold;text-transform:uppercase}
table{border-collapse:collapse;margin:.5em 0 1em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f2f2f2}
a{color:#0645ad}a:focus{outline:2px solid #0645ad}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _anchor(*parts: str) -> str:
    return "-".join(
        "".join(c if c.isalnum() else "-" for c in part).strip("-") for part in parts
    )


def _map(value: object) -> Mapping[str, object]:
    """``value`` if it is a JSON object; an empty one if it is absent or not one."""
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> Sequence[object]:
    """``value`` if it is a JSON array; an empty one if it is absent or not one."""
    return value if isinstance(value, list) else ()


def _maps(value: object) -> list[Mapping[str, object]]:
    """The JSON objects in the array ``value``."""
    return [item for item in _list(value) if isinstance(item, Mapping)]


def _type(schema: Mapping[str, object]) -> str:
    """A schema in a few words: its type, with links to the schemas it refers to."""
    if "$ref" in schema:
        ref = str(schema["$ref"])
        if not ref.startswith(_SCHEMAS):
            return _e(ref.rsplit("/", 1)[-1])  # nothing on this page to link to
        # A schema, or a part of one (``Kko/properties/buttons``): the link goes
        # to the schema's section.
        rest = ref[len(_SCHEMAS) :]
        top = rest.split("/", 1)[0]
        shown = rest.replace("/properties/", ".")
        return f'<a href="#{_e(_anchor("schema", top))}">{_e(shown)}</a>'
    if "allOf" in schema:
        return " and ".join(_type(part) for part in _maps(schema["allOf"]))
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = " or ".join(str(k) for k in kind)
    items = schema.get("items")
    if kind == "array" and isinstance(items, Mapping):
        return f"array of {_type(items)}"
    return _e(kind)


def _limits(schema: Mapping[str, object]) -> str:
    """Enum, bounds, default and format of a schema, in words."""
    out = []
    if "enum" in schema:
        out.append(
            "one of "
            + ", ".join(f"<code>{_e(v)}</code>" for v in _list(schema["enum"]))
        )
    for key, words in (
        ("minimum", "at least"),
        ("maximum", "at most"),
        ("minLength", "at least {} characters"),
        ("maxLength", "at most {} characters"),
        ("maxItems", "at most {} items"),
        ("default", "default"),
        ("format", "format"),
    ):
        if key in schema:
            if "{}" in words:
                out.append(_e(words.format(schema[key])))
            else:
                out.append(f"{_e(words)} <code>{_e(schema[key])}</code>")
    return "; ".join(out)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _notes(item: Mapping[str, object], schema: Mapping[str, object]) -> str:
    """The description of ``item`` and the limits of its ``schema``."""
    return f"{_e(item.get('description', ''))} {_limits(schema)}"


def _table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table headed by ``columns``, each row headed by its first cell (a name, in
    code); cells are HTML."""
    head = "".join(f'<th scope="col">{column}</th>' for column in columns)
    body = "".join(
        f'<tr><th scope="row"><code>{row[0]}</code></th>'
        + "".join(f"<td>{cell}</td>" for cell in row[1:])
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _properties(schema: Mapping[str, object]) -> str:
    parts = [p for p in _maps(schema.get("allOf")) if "$ref" in p]
    if parts:
        refs = ", ".join(_type(p) for p in parts)
        head = f"<p>Every property of {refs}, and:</p>"
    else:
        head = ""
    props: dict[str, Mapping[str, object]] = {}
    required: set[object] = set()
    for part in (schema, *_maps(schema.get("allOf"))):
        props.update((k, _map(v)) for k, v in _map(part.get("properties")).items())
        required.update(_list(part.get("required")))
    if not props:
        return head + f"<p>{_type(schema)}</p>"
    rows = (
        (_e(name), _type(prop), _yes(name in required), _notes(prop, prop))
        for name, prop in props.items()
    )
    return head + _table(("property", "type", "required", "notes"), rows)


def _operation(path: str, method: str, op: Mapping[str, object]) -> str:
    anchor = _anchor(method, path)
    out = [
        f'<section aria-labelledby="{anchor}"><h2 id="{anchor}">'
        f'<span class="method">{_e(method)}</span> <span class="path">{_e(path)}</span>'
        "</h2>",
        f"<p>{_e(op.get('summary', ''))}</p>",
    ]
    if op.get("security"):
        out.append(
            "<p>Needs <code>Authorization: Bearer</code> and an access token.</p>"
        )
    params = _maps(op.get("parameters"))
    if params:
        rows = (
            (
                _e(p["name"]),
                _e(p["in"]),
                _yes(bool(p.get("required"))),
                _type(_map(p.get("schema"))),
                _notes(p, _map(p.get("schema"))),
            )
            for p in params
        )
        columns = ("name", "in", "required", "type", "notes")
        out.append("<h3>Parameters</h3>" + _table(columns, rows))
    body = _map(op.get("requestBody"))
    if body:
        kinds = "".join(
            f"<li><code>{_e(ctype)}</code>: {_type(_map(_map(media).get('schema')))}"
            "</li>"
            for ctype, media in _map(body.get("content")).items()
        )
        out.append(f"<h3>Body</h3><ul>{kinds}</ul>")
    answers = "".join(
        f"<li><strong>{_e(status)}</strong> {_e(resp.get('description', ''))}"
        + "".join(
            f": {_type(_map(_map(media).get('schema')))}"
            for media in _map(resp.get("content")).values()
        )
        + "</li>"
        for status, resp in ((s, _map(r)) for s, r in _map(op.get("responses")).items())
    )
    out.append(f"<h3>Answers</h3><ul>{answers}</ul></section>")
    return "".join(out)


def render(schema: Mapping[str, object]) -> str:
    """The page of an OpenAPI document."""
    info = _map(schema.get("info"))
    title = f"{info.get('title', 'API')} {info.get('version', '')}".strip()
    ops = [
        (path, method, _map(item[method]))
        for path, item in ((p, _map(i)) for p, i in _map(schema.get("paths")).items())
        for method in _METHODS
        if method in item
    ]
    contents = "".join(
        f'<li><a href="#{_e(_anchor(m, p))}"><span class="method">{_e(m)}</span> '
        f"<code>{_e(p)}</code></a> {_e(op.get('summary', ''))}</li>"
        for p, m, op in ops
    )
    schemas = {
        name: _map(s)
        for name, s in _map(_map(schema.get("components")).get("schemas")).items()
    }
    schema_list = "".join(
        f'<li><a href="#{_e(_anchor("schema", name))}">{_e(name)}</a></li>'
        for name in schemas
    )
    sections = "".join(_operation(p, m, op) for p, m, op in ops)
    models = "".join(
        f'<section aria-labelledby="{_anchor("schema", name)}">'
        f'<h2 id="{_anchor("schema", name)}">Schema {_e(name)}</h2>'
        f"<p>{_e(s.get('description', ''))}</p>{_properties(s)}</section>"
        for name, s in schemas.items()
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>{_e(info.get('description', ''))}</p>"
        '<p>The machine-readable document: <a href="/openapi.json">/openapi.json</a>.'
        "</p></header>"
        '<nav aria-label="Contents"><h2>Endpoints</h2>'
        f"<ul>{contents}</ul><h2>Schemas</h2><ul>{schema_list}</ul></nav>"
        f"<main>{sections}{models}</main></body></html>"
    )
