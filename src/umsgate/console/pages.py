"""The console's pages under ``/console``: login and logout, dashboard, messages
(search and one message's timeline), clients, connectors and routes, webhooks.

Every page needs a session (else a redirect to the login page); every form that
changes something carries the session's CSRF token (else 403). A form's answer is
the page again with a notice, or a redirect to it.
"""

from __future__ import annotations

import datetime as dt
import hmac
import importlib.resources
import secrets
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from umsgate import clients
from umsgate.console import auth, data
from umsgate.console.api import audit
from umsgate.console.charts import bar, line_chart
from umsgate.console.html import badge, csrf_field, e, notice, page, table, url, when
from umsgate.console.i18n import LANG_COOKIE, LANGUAGES, Words, language
from umsgate.console.operators import Operator, TooManyFailures
from umsgate.errors import UmsgateError
from umsgate.request_body import read_body

PageHandler = Callable[[Request, Operator, Words], Awaitable[Response]]

#: Largest form body accepted (bytes).
MAX_FORM = 16 * 1024


def _respond(request: Request, body: str, status: int = 200) -> Response:
    response = HTMLResponse(body, status_code=status)
    response.headers["cache-control"] = "no-store"
    response.headers["x-frame-options"] = "DENY"
    response.headers["content-security-policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["referrer-policy"] = "same-origin"
    asked = request.query_params.get("lang", "")
    if asked in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, asked, max_age=365 * 86400, path="/console", samesite="lax"
        )
    return response


def _next_path(value: str) -> str:
    """Where to go after the login: a console path only (no open redirect)."""
    if value.startswith("/console/") and "//" not in value and "\\" not in value:
        return value
    return "/console/"


def _login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/console/login?" + urlencode({"next": target}), 303)


#: The most fields a console form has (a larger one is not the console's).
MAX_FORM_FIELDS = 50


async def _form(request: Request) -> FormData:
    """The posted form (``application/x-www-form-urlencoded``: the console's forms
    carry no file), read once with the size limit and read deadline of every body
    (`umsgate.request_body`) and kept for the handler after the CSRF check."""
    kept = getattr(request.state, "form", None)
    if isinstance(kept, FormData):
        return kept
    raw = await read_body(request, MAX_FORM)
    if raw is None:
        raise data.BadQuery("the form is too large")
    try:
        fields: list[tuple[str, str | UploadFile]] = list(
            parse_qsl(
                raw.decode(), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
            )
        )
    except (UnicodeDecodeError, ValueError):
        raise data.BadQuery("the form cannot be read") from None
    request.state.form = form = FormData(fields)
    return form


def guarded(handler: PageHandler) -> Callable[[Request], Awaitable[Response]]:
    """A page for operators with a session: a redirect to the login page without
    one; for a POST, 403 unless the form carries the session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        words = Words(language(request))
        op = await auth.operator(request)
        if op is None or op.csrf is None:
            return _login_redirect(request)
        if request.method == "POST":
            try:
                form = await _form(request)
            except data.BadQuery as exc:
                return _error(request, op, words, words.error(str(exc)), 400)
            given = form.get(auth.CSRF_FIELD)
            if not auth.csrf_ok(op, given if isinstance(given, str) else None):
                return _error(request, op, words, words("forbidden"), 403)
        try:
            return await handler(request, op, words)
        except data.BadQuery as exc:
            return _error(request, op, words, words.error(str(exc)), 400)

    return endpoint


def _error(
    request: Request, op: Operator, words: Words, message: str, status: int
) -> Response:
    return _respond(
        request,
        page(
            words,
            title=words("error"),
            body=notice(message, kind="error"),
            username=op.username,
            csrf=op.csrf or "",
            path=request.url.path.removeprefix("/console") or "/",
        ),
        status,
    )


def _page(
    request: Request,
    op: Operator,
    words: Words,
    *,
    title: str,
    body: str,
    current: str,
    status: int = 200,
) -> Response:
    return _respond(
        request,
        page(
            words,
            title=title,
            body=body,
            current=current,
            username=op.username,
            csrf=op.csrf or "",
            path=request.url.path.removeprefix("/console") or "/",
        ),
        status,
    )


# -- login and logout -----------------------------------------------------------------


def _login_page(request: Request, words: Words, token: str, message: str = "") -> str:
    nxt = _next_path(request.query_params.get("next", ""))
    body = (
        (notice(message, kind="error") if message else "")
        + f'<div class="login"><form method="post" action="{url("/login", next=nxt)}">'
        f'<input type="hidden" name="csrf" value="{e(token)}">'
        f'<div><label for="username">{e(words("username"))}</label>'
        '<input id="username" name="username" autocomplete="username" required '
        'maxlength="64" autofocus></div>'
        f'<div><label for="password">{e(words("password"))}</label>'
        '<input id="password" name="password" type="password" required '
        'autocomplete="current-password" maxlength="1024"></div>'
        f'<div><button type="submit">{e(words("login"))}</button></div></form></div>'
    )
    return page(words, title=words("login"), body=body, path="/login")


def _login_token(request: Request) -> str:
    token = request.cookies.get(auth.LOGIN_COOKIE, "")
    return token if 20 <= len(token) <= 64 else secrets.token_urlsafe(24)


def _with_login_cookie(request: Request, response: Response, token: str) -> Response:
    response.set_cookie(
        auth.LOGIN_COOKIE,
        token,
        path="/console/login",
        httponly=True,
        samesite="strict",
        secure=auth.is_tls(request),
    )
    return response


async def login_form(request: Request) -> Response:
    words = Words(language(request))
    token = _login_token(request)
    return _with_login_cookie(
        request, _respond(request, _login_page(request, words, token)), token
    )


async def login(request: Request) -> Response:
    words = Words(language(request))
    token = _login_token(request)
    try:
        form = await _form(request)
    except data.BadQuery as exc:
        return _respond(
            request, _login_page(request, words, token, words.error(str(exc))), 400
        )
    given = form.get("csrf")
    cookie = request.cookies.get(auth.LOGIN_COOKIE, "")
    if not (
        isinstance(given, str)
        and cookie
        and hmac.compare_digest(given.encode(), cookie.encode())
    ):
        return _with_login_cookie(
            request,
            _respond(
                request, _login_page(request, words, token, words("forbidden")), 403
            ),
            token,
        )
    username = str(form.get("username") or "")[:64]
    password = str(form.get("password") or "")[:1024]
    try:
        new = await auth.sessions(request).login(
            username, password, auth.client_address(request)
        )
    except TooManyFailures as exc:
        text = words("login_wait", s=f"{exc.retry_after:.0f}")
        response = _respond(request, _login_page(request, words, token, text), 429)
        response.headers["retry-after"] = f"{exc.retry_after:.0f}"
        return _with_login_cookie(request, response, token)
    if new is None:
        return _with_login_cookie(
            request,
            _respond(
                request,
                _login_page(request, words, token, words("login_failed")),
                401,
            ),
            token,
        )
    audit(Operator(username=username), "login", address=auth.client_address(request))
    response = RedirectResponse(
        _next_path(request.query_params.get("next", "")), status_code=303
    )
    auth.set_session_cookie(request, response, new)
    response.delete_cookie(auth.LOGIN_COOKIE, path="/console/login")
    return response


async def logout(request: Request, op: Operator, words: Words) -> Response:
    await auth.sessions(request).logout(op)
    audit(op, "logout")
    response = RedirectResponse("/console/login", status_code=303)
    auth.clear_session_cookie(request, response)
    return response


# -- dashboard ------------------------------------------------------------------------


def _num(n: object) -> str:
    return f'<span class="num">{e(n)}</span>'


async def dashboard(request: Request, op: Operator, words: Words) -> Response:
    s = await data.stats(auth.gateway(request))
    totals = s["totals"]
    ratio = s["deliveryRatio"]
    ratio_text = words("ratio_none") if ratio is None else f"{ratio * 100:.1f} %"
    cards = "".join(
        f'<li><span class="figure">{e(value)}</span>{e(words(key))}</li>'
        for key, value in (
            ("accepted", totals["accepted"]),
            ("delivered", totals["delivered"]),
            ("failed", totals["failed"]),
            ("expired", totals["expired"]),
        )
    )
    minutes = len(s["minutes"])
    charts = (
        line_chart(f"{words('accepted')} ({words('channel')})", s["accepted"], minutes)
        + line_chart(
            f"{words('delivered')} ({words('channel')}/{words('connector')})",
            s["delivered"],
            minutes,
        )
        + line_chart(
            f"{words('failed')} ({words('channel')}/{words('connector')})",
            s["failed"],
            minutes,
        )
    )
    per_minute_rows = []
    for i, minute in enumerate(s["minutes"]):
        acc = sum(v[i] for v in s["accepted"].values())
        dlv = sum(v[i] for v in s["delivered"].values())
        fld = sum(v[i] for v in s["failed"].values())
        if acc or dlv or fld:
            per_minute_rows.append(
                [e(when(minute)[11:16]), _num(acc), _num(dlv), _num(fld)]
            )
    wh = s["webhooks"]
    oldest = wh["oldestPendingAge"]
    body = (
        f"<p>{e(words('refresh', t=when(s['now'])))}</p>"
        f'<h2>{e(words("last_hour"))}</h2><ul class="cards">{cards}'
        f'<li><span class="figure">{e(ratio_text)}</span>{e(words("delivery_ratio"))}'
        f"<br>{bar(ratio, '')}</li></ul>"
        f"<p>{e(words('chart_note'))}</p>{charts}"
        "<details><summary>"
        f"{e(words('last_hour'))}</summary>"
        + table(
            words("last_hour"),
            [words("minute"), words("accepted"), words("delivered"), words("failed")],
            per_minute_rows,
            empty=words("none"),
        )
        + "</details>"
        + table(
            words("by_connector"),
            [words("connector"), words("delivered"), words("failed"), words("expired")],
            [
                [e(name), _num(c["DELIVERED"]), _num(c["FAILED"]), _num(c["EXPIRED"])]
                for name, c in sorted(s["byConnector"].items())
            ],
            empty=words("none"),
        )
        + table(
            words("backlog"),
            [words("status"), words("count")],
            [[e(k), _num(v)] for k, v in s["backlog"].items()],
        )
        + table(
            words("webhook_backlog"),
            [words("state"), words("count")],
            [
                [e(words("pending")), _num(wh["pending"])],
                [e(words("failing")), _num(wh["failing"])],
                [e(words("given_up")), _num(wh["failed"])],
                [
                    e(words("oldest_pending")),
                    e(
                        words("none")
                        if oldest is None
                        else words("seconds", s=f"{oldest:.0f}")
                    ),
                ],
            ],
        )
    )
    return _page(request, op, words, title=words("dashboard"), body=body, current="/")


# -- messages -----------------------------------------------------------------------


def _epoch(value: str) -> str:
    """A ``datetime-local`` value (UTC) as epoch seconds text ("" stays "")."""
    value = value.strip()
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    except ValueError:
        raise data.BadQuery(f"{value!r} is not a date and time") from None
    return str(moment.timestamp())


def _select(
    name: str, label: str, options: tuple[str, ...], chosen: str, any_: str
) -> str:
    opts = [f'<option value="">{e(any_)}</option>']
    for option in options:
        sel = " selected" if option == chosen else ""
        opts.append(f'<option value="{e(option)}"{sel}>{e(option)}</option>')
    return (
        f'<div><label for="{name}">{e(label)}</label>'
        f'<select id="{name}" name="{name}">{"".join(opts)}</select></div>'
    )


def _input(name: str, label: str, value: str, kind: str = "text", **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{e(v)}"' for k, v in attrs.items())
    return (
        f'<div><label for="{name}">{e(label)}</label>'
        f'<input id="{name}" name="{name}" type="{kind}" value="{e(value)}"{extra}>'
        "</div>"
    )


def _status_badge(status: str) -> str:
    kind = {"DELIVERED": "ok", "FAILED": "bad", "EXPIRED": "bad"}.get(status, "warn")
    return badge(kind, status)


async def messages_page(request: Request, op: Operator, words: Words) -> Response:
    q = request.query_params
    params = {
        k: q.get(k, "")
        for k in ("clientId", "srcMsgId", "receiver", "status", "channel", "before")
    }
    params["since"] = _epoch(q.get("since", ""))
    params["until"] = _epoch(q.get("until", ""))
    form = (
        f'<form class="search" method="get" action="/console/messages" role="search" '
        f'aria-label="{e(words("search_messages"))}">'
        + _input("srcMsgId", words("src_msg_id"), q.get("srcMsgId", ""), maxlength="40")
        + _input("receiver", words("receiver"), q.get("receiver", ""), maxlength="20")
        + _input("clientId", words("client"), q.get("clientId", ""), maxlength="64")
        + _select(
            "status", words("status"), data.STATUSES, q.get("status", ""), words("any")
        )
        + _select(
            "channel",
            words("channel"),
            data.CHANNELS,
            q.get("channel", ""),
            words("any"),
        )
        + _input("since", words("since"), q.get("since", ""), "datetime-local")
        + _input("until", words("until"), q.get("until", ""), "datetime-local")
        + f'<div><button type="submit">{e(words("search"))}</button></div></form>'
    )
    searched = any(
        q.get(k)
        for k in (
            "clientId",
            "srcMsgId",
            "receiver",
            "status",
            "channel",
            "since",
            "until",
            "before",
            "all",
        )
    )
    results = ""
    if searched:
        found = await data.search_messages(
            auth.gateway(request), data.Search.parse(params)
        )
        rows = [
            [
                f'<a href="{url("/messages/" + m["umsMsgId"])}">{e(m["umsMsgId"])}</a>',
                e(m["clientId"]),
                e(m["srcMsgId"]),
                e(m["channel"]),
                e(m["receiver"]),
                _status_badge(m["status"]),
                e(m["connector"] or ""),
                e(when(m["createdAt"])),
            ]
            for m in found["messages"]
        ]
        results = table(
            words("results"),
            [
                words("ums_msg_id"),
                words("client"),
                words("src_msg_id"),
                words("channel"),
                words("receiver"),
                words("status"),
                words("connector"),
                words("created"),
            ],
            rows,
            empty=words("no_results"),
        )
        if found["next"]:
            more = {k: v for k, v in q.items() if k != "before"}
            results += (
                f'<p><a href="{url("/messages", **more, before=found["next"])}">'
                f"{e(words('next_page'))}</a></p>"
            )
    return _page(
        request,
        op,
        words,
        title=words("messages"),
        body=form + results,
        current="/messages",
    )


async def message_page(request: Request, op: Operator, words: Words) -> Response:
    raw = request.path_params["message_id"]
    found = None
    if raw.isdigit() and len(raw) <= 20:
        found = await data.message_timeline(auth.gateway(request), int(raw))
    if found is None:
        return _page(
            request,
            op,
            words,
            title=words("message"),
            body=notice(words("no_message"), kind="error"),
            current="/messages",
            status=404,
        )
    m = found
    facts = [
        (words("ums_msg_id"), e(m["umsMsgId"])),
        (words("client"), e(m["clientId"])),
        (words("src_msg_id"), e(m["srcMsgId"])),
        (words("channel"), e(m["channel"])),
        (words("sender"), e(m["sender"])),
        (words("receiver"), e(m["receiver"])),
        (words("status"), _status_badge(m["status"])),
        (words("connector"), e(m["connector"] or "")),
        (words("attempts"), e(m["attempts"])),
        (
            words("result"),
            e(
                " ".join(
                    str(x)
                    for x in (m["resultCode"], m["rawCode"], m["resultMessage"])
                    if x
                )
            ),
        ),
        (words("created"), e(when(m["createdAt"]))),
    ]
    for fallback in m["fallbacks"]:
        facts.append(
            (
                words("fallback"),
                f'<a href="{url("/messages/" + fallback)}">{e(fallback)}</a>',
            )
        )
    if m["parentId"]:
        facts.append(
            (
                words("parent"),
                f'<a href="{url("/messages/" + m["parentId"])}">{e(m["parentId"])}</a>',
            )
        )
    body = (
        f'<h2>{e(words("message"))}</h2><dl class="facts">'
        + "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in facts)
        + "</dl>"
        + table(
            words("timeline"),
            [words("time"), words("status"), words("code"), words("detail")],
            [
                [
                    e(when(ev["at"])),
                    _status_badge(ev["status"]),
                    e(ev["code"] or ""),
                    e(ev["detail"]),
                ]
                for ev in m["events"]
            ],
            empty=words("none"),
        )
        + table(
            words("reports"),
            [
                "id",
                words("state"),
                words("attempts"),
                words("last_error"),
                words("next_try"),
            ],
            [
                [
                    e(r["id"]),
                    e(r["state"]),
                    e(r["attempts"]),
                    e(r["lastError"]),
                    e(when(r["nextAt"]) if r["state"] == "pending" else ""),
                ]
                for r in m["reports"]
            ],
            empty=words("none"),
        )
    )
    return _page(
        request,
        op,
        words,
        title=f"{words('message')} {m['umsMsgId']}",
        body=body,
        current="/messages",
    )


# -- clients ------------------------------------------------------------------------


def _tps_text(tps: Mapping[str, object], words: Words) -> str:
    return ", ".join(
        f"{k} {tps[k]}" if k in tps else f"{k} {words('unlimited')}"
        for k in data.TPS_KEYS
    )


def _client_form(words: Words, csrf: str) -> str:
    return (
        f'<h2 id="new-client">{e(words("new_client"))}</h2>'
        '<form class="stack" method="post" action="/console/clients" '
        'aria-labelledby="new-client">'
        + csrf_field(csrf)
        + _input(
            "clientId", words("client_id"), "", required="required", maxlength="64"
        )
        + _input("reportUrl", words("report_url"), "", "url", maxlength="2000")
        + _input("tpsSms", f"{words('tps')} SMS", "100", "number", min="1")
        + _input("tpsMms", f"{words('tps')} MMS", "100", "number", min="1")
        + f'<div><button type="submit">{e(words("create"))}</button></div></form>'
    )


def _tps_from_form(form: FormData) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in data.TPS_KEYS:
        value = str(form.get(f"tps{key.title()}") or "").strip()
        if value:
            if not value.isdigit():
                raise data.BadQuery(f"TPS of {key} must be a whole number")
            out[key] = int(value)
    return data.check_tps(out)


async def clients_page(
    request: Request,
    op: Operator,
    words: Words,
    message: str = "",
    status: int = 200,
) -> Response:
    rows = []
    for c in await data.client_list(auth.gateway(request)):
        state = (
            badge("bad", words("disabled"))
            if c["disabled"]
            else badge("ok", words("enabled"))
        )
        rows.append(
            [
                e(c["clientId"]),
                e(c["reportUrl"]),
                e(_tps_text(c["tps"], words)),
                state,
                f'<a href="{url("/clients/" + c["clientId"])}">{e(words("edit"))}'
                f'<span class="visually-hidden"> {e(c["clientId"])}</span></a>',
            ]
        )
    body = (
        message
        + table(
            words("client_list"),
            [
                words("client_id"),
                words("report_url"),
                words("tps"),
                words("state"),
                words("actions"),
            ],
            rows,
            empty=words("none"),
        )
        + _client_form(words, op.csrf or "")
    )
    return _page(
        request,
        op,
        words,
        title=words("clients"),
        body=body,
        current="/clients",
        status=status,
    )


async def create_client(request: Request, op: Operator, words: Words) -> Response:
    form = await _form(request)
    client_id = str(form.get("clientId") or "").strip()
    try:
        tps = _tps_from_form(form)
        report_url = str(form.get("reportUrl") or "").strip()
        creds = await data.add_client(auth.gateway(request), client_id, tps, report_url)
    except UmsgateError as exc:
        return await clients_page(
            request, op, words, notice(words.error(str(exc)), kind="error"), 400
        )
    audit(op, "client.add", client=client_id)
    shown = (
        f'<div class="notice notice-ok" role="status"><p>'
        f"{e(words('created_client', id=creds.client_id))}</p><dl>"
        f'<dt>clientId</dt><dd class="secret">{e(creds.client_id)}</dd>'
        f'<dt>clientSecret</dt><dd class="secret">{e(creds.client_secret)}</dd>'
        f'<dt>clientKey</dt><dd class="secret">{e(creds.client_key)}</dd></dl></div>'
    )
    return await clients_page(request, op, words, shown)


async def client_page(
    request: Request, op: Operator, words: Words, message: str = ""
) -> Response:
    client_id = request.path_params["client_id"]
    found = [
        c
        for c in await data.client_list(auth.gateway(request))
        if c["clientId"] == client_id
    ]
    if not found:
        return _page(
            request,
            op,
            words,
            title=words("clients"),
            body=notice(f"no client {client_id!r}", kind="error"),
            current="/clients",
            status=404,
        )
    c = found[0]
    base = "/console/clients/" + client_id
    tps_inputs = "".join(
        _input(
            f"tps{k.title()}",
            f"{words('tps')} {k}",
            str(c["tps"].get(k, "")),
            "number",
            min="1",
        )
        for k in data.TPS_KEYS
    )
    state = (
        badge("bad", words("disabled"))
        if c["disabled"]
        else badge("ok", words("enabled"))
    )
    toggle = words("enable") if c["disabled"] else words("disable")
    body = (
        message
        + f"<p>{e(words('state'))}: {state}</p>"
        + f'<form class="stack" method="post" action="{e(base)}" '
        f'aria-label="{e(words("edit"))}">'
        + csrf_field(op.csrf or "")
        + _input(
            "reportUrl", words("report_url"), c["reportUrl"], "url", maxlength="2000"
        )
        + tps_inputs
        + f'<div><button type="submit">{e(words("save"))}</button></div></form>'
        + f'<form class="inline" method="post" action="{e(base)}/secret">'
        + csrf_field(op.csrf or "")
        + f'<button type="submit" class="secondary">{e(words("rotate_secret"))}'
        "</button></form>"
        + f'<form class="inline" method="post" action="{e(base)}/state">'
        + csrf_field(op.csrf or "")
        + '<input type="hidden" name="disabled" '
        + f'value="{"0" if c["disabled"] else "1"}">'
        + f'<button type="submit" class="danger">{e(toggle)}</button></form>'
    )
    return _page(
        request,
        op,
        words,
        title=f"{words('client')} {client_id}",
        body=body,
        current="/clients",
    )


async def update_client(request: Request, op: Operator, words: Words) -> Response:
    client_id = request.path_params["client_id"]
    form = await _form(request)
    try:
        tps = _tps_from_form(form)
        report_url = await data.check_report_url(
            auth.gateway(request), str(form.get("reportUrl") or "").strip()
        )
        await clients.update_client(
            auth.gateway(request).db, client_id, tps=tps or None, report_url=report_url
        )
    except UmsgateError as exc:
        return await client_page(
            request, op, words, notice(words.error(str(exc)), kind="error")
        )
    audit(op, "client.update", client=client_id)
    return await client_page(request, op, words, notice(words("saved"), kind="ok"))


async def rotate_secret(request: Request, op: Operator, words: Words) -> Response:
    client_id = request.path_params["client_id"]
    try:
        secret = await clients.rotate_secret(auth.gateway(request).db, client_id)
    except UmsgateError as exc:
        return await client_page(
            request, op, words, notice(words.error(str(exc)), kind="error")
        )
    audit(op, "client.rotate_secret", client=client_id)
    shown = (
        f'<div class="notice notice-ok" role="status"><p>'
        f"{e(words('new_secret', id=client_id))}</p>"
        f'<p class="secret">{e(secret)}</p></div>'
    )
    return await client_page(request, op, words, shown)


async def set_state(request: Request, op: Operator, words: Words) -> Response:
    client_id = request.path_params["client_id"]
    form = await _form(request)
    disabled = form.get("disabled") == "1"
    try:
        await clients.set_disabled(auth.gateway(request).db, client_id, disabled)
    except UmsgateError as exc:
        return await client_page(
            request, op, words, notice(words.error(str(exc)), kind="error")
        )
    audit(op, "client.disable" if disabled else "client.enable", client=client_id)
    return await client_page(request, op, words, notice(words("saved"), kind="ok"))


# -- connectors -----------------------------------------------------------------------


async def connectors_page(request: Request, op: Operator, words: Words) -> Response:
    live = data.connectors(auth.gateway(request))
    rows = []
    for c in live["connectors"]:
        kind = {"up": "ok", "down": "bad", "degraded": "warn"}[c["state"]]
        br = c["breaker"] or {}
        reason = str(br.get("reason") or "")
        why = c["detail"]
        if reason and c["detail"] not in reason:
            why = f"{why}; {reason}" if why else reason
        elif reason and not why:
            why = reason
        rows.append(
            (
                c["state"],
                [
                    e(c["name"]),
                    e(c["protocol"]),
                    f'<span data-state="{e(c["state"])}">'
                    f"{badge(kind, words(c['state']))}</span>",
                    e(br.get("state", "")),
                    e(why),
                    _num(c["inFlight"]),
                    e(words("unlimited") if c["tps"] is None else c["tps"]),
                    _num(c["queued"]),
                ],
            )
        )
    headers = [
        words("connector"),
        words("protocol"),
        words("state"),
        words("breaker"),
        words("why"),
        words("in_flight"),
        words("tps"),
        words("queued"),
    ]
    html_rows = []
    for state, cells in rows:
        tds = "".join(
            f'<th scope="row">{cell}</th>' if i == 0 else f"<td>{cell}</td>"
            for i, cell in enumerate(cells)
        )
        html_rows.append(f'<tr class="state-{e(state)}">{tds}</tr>')
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in headers)
    conn_table = (
        f'<table id="connectors"><caption>{e(words("connectors"))}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(html_rows)}</tbody></table>"
    )
    route_rows = []
    for r in live["routes"]:
        rules = "; ".join(
            f"{k}: {', '.join(v)}"
            for k, v in (
                ("channels", r["channels"]),
                ("countries", r["countries"]),
                ("prefixes", r["prefixes"]),
                ("clients", r["clients"]),
            )
            if v
        )
        route_rows.append(
            [e(r["name"]), e(" → ".join(r["connectors"])), e(rules or "*")]
        )
    body = conn_table + table(
        words("routes"),
        [words("route"), words("connector_order"), words("rules")],
        route_rows,
        empty=words("none"),
    )
    return _page(
        request,
        op,
        words,
        title=words("connectors"),
        body=body,
        current="/connectors",
    )


# -- webhooks -----------------------------------------------------------------------


async def webhooks_page(
    request: Request, op: Operator, words: Words, message: str = ""
) -> Response:
    client_id = request.query_params.get("clientId", "")[:64]
    wh = await data.webhooks(auth.gateway(request), client_id=client_id or None)
    per_client = table(
        words("webhooks_per_client"),
        [words("client"), words("pending"), words("failing"), words("given_up")],
        [
            [
                f'<a href="{url("/webhooks", clientId=c["clientId"])}">'
                f"{e(c['clientId'])}</a>",
                _num(c["pending"]),
                _num(c["failing"]),
                _num(c["failed"]),
            ]
            for c in wh["clients"]
        ],
        empty=words("none"),
    )
    reports = table(
        words("webhook_reports"),
        [
            "id",
            words("client"),
            words("ums_msg_id"),
            words("state"),
            words("attempts"),
            words("last_error"),
            words("next_try"),
            words("actions"),
        ],
        [
            [
                e(r["id"]),
                e(r["clientId"]),
                f'<a href="{url("/messages/" + r["umsMsgId"])}">{e(r["umsMsgId"])}</a>',
                e(r["state"]),
                _num(r["attempts"]),
                e(r["lastError"]),
                e(when(r["nextAt"]) if r["state"] == "pending" else ""),
                f'<form class="inline" method="post" '
                f'action="/console/webhooks/{int(r["id"])}/resend">'
                + csrf_field(op.csrf or "")
                + f'<button type="submit">{e(words("resend"))} '
                f'<span class="visually-hidden">{e(r["id"])}</span></button></form>',
            ]
            for r in wh["reports"]
        ],
        empty=words("none"),
    )
    return _page(
        request,
        op,
        words,
        title=words("webhooks"),
        body=message + per_client + reports,
        current="/webhooks",
    )


async def resend(request: Request, op: Operator, words: Words) -> Response:
    report_id = int(request.path_params["report_id"])
    if await data.resend_report(auth.gateway(request), report_id):
        audit(op, "webhook.resend", report=report_id)
        message = notice(words("resent", id=report_id), kind="ok")
    else:
        message = notice(f"no report {report_id} with a webhook", kind="error")
    return await webhooks_page(request, op, words, message)


# -- static -------------------------------------------------------------------------


def _stylesheet() -> bytes:
    return (
        importlib.resources.files("umsgate.console")
        .joinpath("static/console.css")
        .read_bytes()
    )


STYLESHEET = _stylesheet()


async def stylesheet(_request: Request) -> Response:
    return Response(
        STYLESHEET,
        media_type="text/css",
        headers={"cache-control": "public, max-age=3600"},
    )


async def _dashboard(request: Request, op: Operator, words: Words) -> Response:
    return await dashboard(request, op, words)


async def _clients(request: Request, op: Operator, words: Words) -> Response:
    return await clients_page(request, op, words)


async def _client(request: Request, op: Operator, words: Words) -> Response:
    return await client_page(request, op, words)


async def _webhooks(request: Request, op: Operator, words: Words) -> Response:
    return await webhooks_page(request, op, words)


routes = [
    Route("/", guarded(_dashboard), methods=["GET"]),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", guarded(logout), methods=["POST"]),
    Route("/messages", guarded(messages_page), methods=["GET"]),
    Route("/messages/{message_id}", guarded(message_page), methods=["GET"]),
    Route("/clients", guarded(_clients), methods=["GET"]),
    Route("/clients", guarded(create_client), methods=["POST"]),
    Route("/clients/{client_id}", guarded(_client), methods=["GET"]),
    Route("/clients/{client_id}", guarded(update_client), methods=["POST"]),
    Route("/clients/{client_id}/secret", guarded(rotate_secret), methods=["POST"]),
    Route("/clients/{client_id}/state", guarded(set_state), methods=["POST"]),
    Route("/connectors", guarded(connectors_page), methods=["GET"]),
    Route("/webhooks", guarded(_webhooks), methods=["GET"]),
    Route("/webhooks/{report_id:int}/resend", guarded(resend), methods=["POST"]),
    Route("/static/console.css", stylesheet, methods=["GET"]),
]
