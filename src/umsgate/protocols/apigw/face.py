"""The native API (the API-Gateway of seed 002), as Starlette routes.

Every answer is the spec's JSON with its HTTP status; every refusal names the field.
Bodies are read with a hard limit before parsing. A send is answered only after the
message is committed (the acceptor's group commit).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator, Mapping
from typing import Generic, TypeVar

import orjson
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from umsgate.clients import AuthError, ClientInfo
from umsgate.domain.results import Invalid
from umsgate.errors import ValidationError
from umsgate.files import MAX_FILE_BYTES, NotJpeg
from umsgate.ports import NativeHost, SendHost
from umsgate.protocols.apigw import codec
from umsgate.protocols.apigw import send as send_path
from umsgate.protocols.apigw.codes import FROM_INVALID, MESSAGES, Code
from umsgate.request_body import read_body
from umsgate.runtime import PEER_HEADER

#: Multipart overhead allowed on top of the image (boundaries, part headers).
UPLOAD_OVERHEAD = 64 * 1024
#: Largest id the store can hold (a signed 64-bit integer column).
MAX_STORED_ID = 2**63 - 1
#: Seconds the answer to a locked-out token request is held. An attacker who
#: ignores ``Retry-After`` then sends two requests a second per connection: sixteen
#: connections sent 1,800 a second without it, whose parsing and answering took
#: most of the event loop (other clients' sends: p99 x3.7). An honest client that
#: is locked out has to wait longer than this anyway.
LOCKOUT_HOLD = 0.5
#: Report-check body: 1000 ids of at most 40 characters plus JSON punctuation.
REPORT_CHECK_MAX_BODY = 64 * 1024


class JSON(Response):
    media_type = "application/json"

    def render(self, content: object) -> bytes:
        return orjson.dumps(content)


def _gateway(request: Request) -> NativeHost:
    gateway: NativeHost = request.app.state.gateway
    return gateway


def answer(code: Code, message: str | None = None, **extra: object) -> JSON:
    body: dict[str, object] = {
        "resultCode": code.value,
        "resultMessage": message or MESSAGES.get(code, code.name),
    }
    body.update(extra)
    return JSON(body, status_code=code.http_status)


def invalid(exc: ValidationError) -> JSON:
    return answer(FROM_INVALID.get(exc.code, Code.MALFORMED), exc.message)


async def read_json(request: Request, limit: int) -> object:
    """The JSON body (any JSON value: the caller checks its shape).

    Raises:
        ValidationError: MALFORMED (not JSON) or TOO_LONG (over ``limit``).
    """
    raw = await read_body(request, limit)
    if raw is None:
        raise ValidationError(
            Invalid.TOO_LONG, f"the body is larger than {limit} bytes"
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(
            Invalid.MALFORMED, f"the body is not valid JSON: {exc}"
        ) from None


def bearer(request: Request) -> str | None:
    return send_path.bearer_value(request.headers.get("authorization"))


async def authenticate(request: Request) -> ClientInfo | JSON:
    token = bearer(request)
    if not token:
        return answer(Code.UNAUTHORIZED, "the Authorization header is missing")
    try:
        return await _gateway(request).directory.authenticate(token)
    except AuthError as exc:
        return answer(Code.UNAUTHORIZED, exc.message)


# -- token -----------------------------------------------------------------------------


def client_address(request: Request) -> str:
    """The requester's address: the TCP peer's, or, for a request a front passed
    on over the gateway's Unix socket (which only the gateway's user can open),
    the one the front names in `PEER_HEADER`."""
    if request.client is not None and request.client.host:
        return request.client.host
    return request.headers.get(PEER_HEADER, "")[:64]


async def too_many(exc: AuthError) -> JSON:
    """The answer to a token request refused unchecked: 429 with ``Retry-After``
    (whole seconds). RFC 6749 has no error for it; ``slow_down`` is OAuth's word
    (RFC 8628 §3.5) for a client that asks too often. A lockout's answer is held
    for `LOCKOUT_HOLD` seconds (at most the lockout's length) before it goes out."""
    hold = min(LOCKOUT_HOLD, exc.retry_after) if exc.kind == "locked_out" else 0.0
    if hold > 0:
        await asyncio.sleep(hold)
    return JSON(
        {"error": "slow_down", "error_description": exc.message},
        status_code=429,
        headers={"Retry-After": str(max(1, math.ceil(exc.retry_after - hold)))},
    )


async def token(request: Request) -> Response:
    gw = _gateway(request)
    try:
        body = await read_json(request, gw.settings.server.max_body)
    except ValidationError as exc:
        return JSON(
            {"error": "invalid_request", "error_description": exc.message},
            status_code=400,
        )
    if not isinstance(body, dict):
        return JSON(
            {"error": "invalid_request", "error_description": "body must be an object"},
            status_code=400,
        )
    fields = {}
    for name in ("clientId", "clientSecret", "clientKey"):
        value = body.get(name)
        if not isinstance(value, str) or not value or len(value) > 200:
            return JSON(
                {"error": "invalid_request", "error_description": name}, status_code=400
            )
        fields[name] = value
    try:
        issued = await gw.directory.issue_token(
            fields["clientId"],
            fields["clientSecret"],
            fields["clientKey"],
            address=client_address(request),
        )
    except AuthError as exc:
        if exc.kind in ("locked_out", "busy"):
            return await too_many(exc)
        if exc.kind == "unknown_key":
            return JSON(
                {"error_description": "ClientKey를 확인해주세요."}, status_code=404
            )
        return JSON(
            {
                "error": "invalid_client",
                "error_description": "Client authentication failed (e.g., unknown "
                "client, no client "
                "authentication included, or unsupported authentication method).",
            },
            status_code=401,
        )
    return JSON(
        {
            "accessToken": issued.token,
            "tokenType": "Bearer",
            "expiresIn": codec.iso_time(issued.expires_at),
            "reportUrl": issued.client.report_url,
            "service": dict(issued.client.tps),
        }
    )


# -- files -----------------------------------------------------------------------------


async def upload(request: Request) -> Response:
    client = await authenticate(request)
    if isinstance(client, JSON):
        return client
    gw = _gateway(request)
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        if (
            request.method == "GET"
        ):  # resolution 1: a GET without a body checks id "file"
            return JSON({"fileData": {"fileId": "file", "exist": False}})
        return answer(
            Code.MISSING, "the body must be multipart/form-data with the field img"
        )
    raw = await read_body(request, MAX_FILE_BYTES + UPLOAD_OVERHEAD)
    if raw is None:
        return answer(Code.FILE_TOO_LARGE, f"img is larger than {MAX_FILE_BYTES} bytes")

    async def stream() -> AsyncGenerator[bytes, None]:
        yield raw

    try:
        form = await MultiPartParser(
            request.headers,
            stream(),
            max_files=1,
            max_fields=10,
            max_part_size=MAX_FILE_BYTES + UPLOAD_OVERHEAD,
        ).parse()
    except MultiPartException as exc:
        return answer(Code.MALFORMED, f"the multipart body is malformed: {exc.message}")
    try:
        item = form.get("img")
        if not isinstance(item, UploadFile):
            return answer(Code.MISSING, "the file field img is required")
        data = await item.read()
        name = item.filename or "image.jpg"
    finally:
        await form.close()
    try:
        stored = await gw.files.put(client.id, name, data)
    except NotJpeg:
        return answer(Code.NOT_JPEG, "img is not a JPEG image")
    except ValidationError:
        return answer(Code.FILE_TOO_LARGE, f"img is larger than {MAX_FILE_BYTES} bytes")
    code = Code.FILE_EXISTS if stored.duplicate else Code.FILE_OK
    return answer(
        code,
        None,
        fileId=stored.file_id,
        expireTime=codec.file_expire_time(stored.expires_at),
    )


async def file_check(request: Request) -> Response:
    client = await authenticate(request)
    if isinstance(client, JSON):
        return client
    file_id = request.path_params["file_id"]
    meta = await _gateway(request).files.meta(client.id, file_id)
    if meta is None:
        return JSON({"fileData": {"fileId": file_id, "exist": False}})
    name = str(meta["name"])
    return JSON(
        {
            "fileData": {
                "fileId": meta["fileId"],
                "fileName": name,
                "fileExtension": name.rsplit(".", 1)[-1].lower()
                if "." in name
                else "jpg",
                "fileMd5": meta["md5"],
                "expireTime": codec.file_expire_time(float(meta["expires_at"])),  # type: ignore[arg-type]
                "exist": True,
            }
        }
    )


async def file_route(request: Request) -> Response:
    if request.path_params["file_id"] == "file" and request.headers.get(
        "content-type", ""
    ).startswith("multipart/form-data"):
        return await upload(request)
    return await file_check(request)


# -- sending ---------------------------------------------------------------------------


async def send(request: Request) -> Response:
    gw = _gateway(request)
    body = await read_body(request, gw.settings.server.max_body)
    status, payload = await send_path.handle_send(
        gw, request.path_params["channel"], request.headers, body
    )
    return Response(payload, status_code=status, media_type="application/json")


# -- report check ----------------------------------------------------------------------

#: Which reports each report-check URL returns: (report channels, original channels).
CHECK_CHANNELS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sms": (("SMS",), ()),
    "mms": (("LMS", "MMS"), ()),
    "rcs": (("RCS",), ("RCS",)),
    "kko": (("KKO",), ("KKO",)),
}


async def report_check(request: Request) -> Response:
    client = await authenticate(request)
    if isinstance(client, JSON):
        return client
    gw = _gateway(request)
    kind = request.path_params["channel"]
    if kind not in CHECK_CHANNELS:
        return answer(Code.NOT_ALLOWED, f"unknown channel {kind!r}")
    limit = gw.settings.report_check.max_ids
    try:
        body = await read_json(request, REPORT_CHECK_MAX_BODY)
    except ValidationError as exc:
        if exc.code == Invalid.TOO_LONG:
            return answer(Code.BAD_ID_LIST, f"at most {limit} umsMsgIds per request")
        return invalid(exc)
    if not isinstance(body, list) or not all(isinstance(i, str) for i in body):
        return answer(
            Code.BAD_ID_LIST, "the body must be a JSON list of umsMsgId strings"
        )
    if len(body) > limit:
        return answer(
            Code.BAD_ID_LIST, f"{len(body)} umsMsgIds; at most {limit} per request"
        )
    wait = await gw.take_report_check(client.id)
    if wait:
        refused = answer(
            Code.TPS_EXCEEDED,
            f"one report check per {gw.settings.report_check.interval:g} s",
        )
        # Whole seconds, rounded up (RFC 9110 §10.2.3): a client that waits as told
        # is not refused again.
        refused.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return refused
    # Ids are opaque (resolution 36): one that cannot be a stored id matches nothing.
    ids = [
        int(i)
        for i in body
        if i.isascii() and i.isdigit() and len(i) <= 19 and int(i) <= MAX_STORED_ID
    ]
    channels, origins = CHECK_CHANNELS[kind]
    bodies = await gw.reports_for_check(client.id, ids, channels, origins)
    return Response(
        ("[" + ",".join(bodies) + "]").encode(), media_type="application/json"
    )


H = TypeVar("H", bound=SendHost)


class FastSend(Generic[H]):
    """ASGI middleware that serves ``POST /v1/message/{channel}`` without the router and
    middleware stack (the hot path: a third of a request's CPU went there); every other
    request passes to the wrapped app. Bodies are read with the same limit, answers are
    the same as the Starlette route's."""

    PREFIX = "/v1/message/"

    def __init__(self, app: ASGIApp, gateway: H) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith(self.PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        kind = scope["path"][len(self.PREFIX) :]
        # ASGI servers give header names lower-cased.
        headers = {
            k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
        }
        limit = self.gateway.settings.server.max_body
        body: bytes | None = b""
        chunks: list[bytes] = []
        size = 0
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            body = None
        more = body is not None
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                body = None
                break
            chunks.append(chunk)
            more = message.get("more_body", False)
        if body is not None:
            body = b"".join(chunks)
        status, payload = await send_path.handle_send(self.gateway, kind, headers, body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


routes = [
    Route("/v1/auth/token", token, methods=["POST"]),
    Route("/v1/storage/file", upload, methods=["POST"]),
    # POST /v1/storage/file is the route above; under any other id POST is not a
    # method of this path (405), while GET with a multipart body on "file" uploads.
    Route("/v1/storage/{file_id}", file_route, methods=["GET"]),
    Route("/v1/message/{channel}", send, methods=["POST"]),
    Route("/v1/agent/rpt/{channel}", report_check, methods=["POST"]),
]
