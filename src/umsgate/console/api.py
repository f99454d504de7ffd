"""The admin API under ``/admin/api/``: JSON for the console and operators'
scripts (documented in the OpenAPI document, `umsgate.console.openapi`).

Errors are ``{"error": CODE, "message": TEXT}`` with 400 (bad input), 401 (no
operator), 403 (no CSRF token), 404 (no such thing) or 409 (exists already).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from umsgate import clients
from umsgate.console import auth, data
from umsgate.console.operators import Operator
from umsgate.errors import UmsgateError
from umsgate.request_body import read_body

log = logging.getLogger("umsgate.console")

#: Largest JSON body accepted.
MAX_BODY = 16 * 1024

Handler = Callable[[Request, Operator], Awaitable[Response]]


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def guarded(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint for operators: 401 without one, 403 for a change without the
    session's CSRF token; bad input as 400."""

    async def endpoint(request: Request) -> Response:
        op = await auth.operator(request)
        if op is None:
            return error(401, "unauthorized", "log in or give an operator token")
        if request.method not in auth.SAFE_METHODS and not auth.csrf_ok(
            op, request.headers.get(auth.CSRF_HEADER)
        ):
            return error(403, "csrf", "the X-CSRF-Token header is missing or wrong")
        try:
            return await handler(request, op)
        except data.BadQuery as exc:
            return error(400, "bad_request", str(exc))

    return endpoint


async def body(request: Request) -> dict[str, object]:
    raw = await read_body(request, MAX_BODY)
    if raw is None:
        raise data.BadQuery(f"the body is at most {MAX_BODY} bytes")
    try:
        value = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise data.BadQuery("the body is not JSON") from None
    if not isinstance(value, dict):
        raise data.BadQuery("the body is a JSON object")
    return value


def audit(op: Operator, action: str, **fields: object) -> None:
    log.info(
        "operator %s: %s %s",
        op.username,
        action,
        " ".join(f"{k}={v}" for k, v in fields.items()),
        extra={"event": f"operator.{action}", "operator": op.username},
    )


async def get_stats(request: Request, _op: Operator) -> Response:
    return JSONResponse(await data.stats(auth.gateway(request)))


async def get_connectors(request: Request, _op: Operator) -> Response:
    return JSONResponse(data.connectors(auth.gateway(request)))


async def get_webhooks(request: Request, _op: Operator) -> Response:
    client_id = request.query_params.get("clientId", "")
    return JSONResponse(
        await data.webhooks(auth.gateway(request), client_id=client_id or None)
    )


async def post_resend(request: Request, op: Operator) -> Response:
    raw = request.path_params["report_id"]
    # Not a route converter: a path that is no number gets the API's own JSON 404.
    if not raw.isdigit() or len(raw) > 20:
        return error(404, "not_found", "no such report")
    report_id = int(raw)
    if not await data.resend_report(auth.gateway(request), report_id):
        return error(404, "not_found", f"no report {report_id} with a webhook")
    audit(op, "webhook.resend", report=report_id)
    return JSONResponse({"id": report_id, "state": "pending"})


async def get_clients(request: Request, _op: Operator) -> Response:
    return JSONResponse({"clients": await data.client_list(auth.gateway(request))})


async def post_client(request: Request, op: Operator) -> Response:
    doc = await body(request)
    client_id = doc.get("clientId")
    if not isinstance(client_id, str):
        raise data.BadQuery("clientId is required")
    tps = data.check_tps(doc.get("tps") or {})
    report_url = str(doc.get("reportUrl") or "")
    try:
        creds = await data.add_client(auth.gateway(request), client_id, tps, report_url)
    except data.BadQuery:
        raise
    except UmsgateError as exc:
        status, code = (
            (409, "exists") if "exists already" in str(exc) else (400, "bad_request")
        )
        return error(status, code, str(exc))
    audit(op, "client.add", client=client_id)
    return JSONResponse(
        {
            "clientId": creds.client_id,
            "clientSecret": creds.client_secret,
            "clientKey": creds.client_key,
        },
        status_code=201,
    )


async def patch_client(request: Request, op: Operator) -> Response:
    client_id = request.path_params["client_id"]
    doc = await body(request)
    gw = auth.gateway(request)
    tps = data.check_tps(doc["tps"]) if doc.get("tps") else None
    report_url = (
        await data.check_report_url(gw, str(doc["reportUrl"]))
        if "reportUrl" in doc
        else None
    )
    disabled = doc.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        raise data.BadQuery("disabled is true or false")
    try:
        if tps is not None or report_url is not None:
            await clients.update_client(
                gw.db, client_id, tps=tps, report_url=report_url
            )
        if disabled is not None:
            await clients.set_disabled(gw.db, client_id, disabled)
    except UmsgateError as exc:
        return error(404, "not_found", str(exc))
    audit(op, "client.update", client=client_id, fields=",".join(sorted(doc)))
    rows = [c for c in await data.client_list(gw) if c["clientId"] == client_id]
    return JSONResponse(rows[0] if rows else {"clientId": client_id})


async def post_secret(request: Request, op: Operator) -> Response:
    client_id = request.path_params["client_id"]
    try:
        secret = await clients.rotate_secret(auth.gateway(request).db, client_id)
    except UmsgateError as exc:
        return error(404, "not_found", str(exc))
    audit(op, "client.rotate_secret", client=client_id)
    return JSONResponse({"clientId": client_id, "clientSecret": secret})


async def get_messages(request: Request, _op: Operator) -> Response:
    search = data.Search.parse(request.query_params)
    return JSONResponse(await data.search_messages(auth.gateway(request), search))


async def get_message(request: Request, _op: Operator) -> Response:
    raw = request.path_params["message_id"]
    if not raw.isdigit() or len(raw) > 20:
        return error(404, "not_found", "no such message")
    found = await data.message_timeline(auth.gateway(request), int(raw))
    if found is None:
        return error(404, "not_found", "no such message")
    return JSONResponse(found)


routes = [
    Route("/stats", guarded(get_stats), methods=["GET"]),
    Route("/connectors", guarded(get_connectors), methods=["GET"]),
    Route("/webhooks", guarded(get_webhooks), methods=["GET"]),
    Route("/webhooks/{report_id}/resend", guarded(post_resend), methods=["POST"]),
    Route("/clients", guarded(get_clients), methods=["GET"]),
    Route("/clients", guarded(post_client), methods=["POST"]),
    Route("/clients/{client_id}", guarded(patch_client), methods=["PATCH"]),
    Route("/clients/{client_id}/secret", guarded(post_secret), methods=["POST"]),
    Route("/messages", guarded(get_messages), methods=["GET"]),
    Route("/messages/{message_id}", guarded(get_message), methods=["GET"]),
]
