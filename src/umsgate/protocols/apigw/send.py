"""The native send (``POST /v1/message/{channel}``) without an HTTP framework: from
the request's headers and body to (HTTP status, JSON answer).

Two servers run it: the gateway's face (`umsgate.protocols.apigw.face`, on
Starlette and uvicorn, with `handle_send`), and a front process's own HTTP server
(`umsgate.front.sends`), which calls the steps one by one so that a send whose token
and client are cached runs from its body to the intake without a coroutine. The
steps, in the order every send takes them:

1. `bearer_value`, then the `Directory` (``authenticate``, or its cache);
2. `check_send`: channel, size, JSON, the channel's parser (the first broken
   field decides the code);
3. `check_files`, only when `needs_files` (an MMS, a fallback with files: a read);
4. the `Intake` (the client's TPS, then the group commit);
5. `sent` or `refused`: the answer, and the counts of `/metrics`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import orjson

from umsgate.clients import AuthError, ClientInfo
from umsgate.domain.message import Channel
from umsgate.domain.results import Invalid
from umsgate.domain.submission import Accepted, Submission
from umsgate.errors import StoreError, Throttled, ValidationError
from umsgate.ports import SendHost
from umsgate.protocols.apigw import codec
from umsgate.protocols.apigw.codes import FROM_INVALID, MESSAGES, Code

log = logging.getLogger("umsgate.protocols.apigw.face")

#: Each channel's TPS key (`Channel.tps_key`, an enum property: slow on a hot path).
_TPS_KEYS = {channel: channel.tps_key for channel in Channel}
#: An answer: (HTTP status, JSON body).
Answer = tuple[int, bytes]


def bearer_value(value: str | None) -> str | None:
    """The token of an ``Authorization`` header: ``Bearer T``, or the bare token
    (resolution 15); None when there is none."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if token and scheme.lower() == "bearer":
        return token.strip()
    return value.strip()


def encoded(code: Code, message: str | None = None) -> Answer:
    body = {
        "resultCode": code.value,
        "resultMessage": message or MESSAGES.get(code, code.name),
    }
    return code.http_status, orjson.dumps(body)


def no_token() -> Answer:
    return encoded(Code.UNAUTHORIZED, "the Authorization header is missing")


def unauthorized(exc: AuthError) -> Answer:
    return encoded(Code.UNAUTHORIZED, exc.message)


def check_send(
    gw: SendHost,
    kind: str,
    headers: Mapping[str, str],
    raw: bytes | None,
    *,
    now: float,
) -> codec.SendRequest | Answer:
    """The validated request of an authenticated send, or the refusal to answer
    (counted).

    Args:
        kind: the channel of the path (``sms``, ``mms``, ``rcs``, ``kko``).
        headers: the request's headers, names lower-cased.
        raw: the body; None when it was over ``server.max_body``.
    """
    parser = codec.PARSERS.get(kind)
    if parser is None:
        return encoded(Code.NOT_ALLOWED, f"unknown channel {kind!r}")
    try:
        if raw is None:
            raise ValidationError(
                Invalid.TOO_LONG,
                f"the body is larger than {gw.settings.server.max_body} bytes",
            )
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValidationError(
                Invalid.MALFORMED, f"the body is not valid JSON: {exc}"
            ) from None
        if not isinstance(body, dict):
            raise ValidationError(Invalid.MALFORMED, "the body must be a JSON object")
        return parser(body, headers, now=now)
    except ValidationError as exc:
        return invalid(gw, kind, exc)


def invalid(gw: SendHost, kind: str, exc: ValidationError) -> Answer:
    """The refusal of a request that broke a rule (counted)."""
    gw.metrics.rejected(kind, exc.code)
    return encoded(FROM_INVALID.get(exc.code, Code.MALFORMED), exc.message)


def needs_files(req: codec.SendRequest) -> bool:
    """Whether the request names stored files, which `check_files` must read."""
    return bool(req.file_ids or (req.fallback and req.fallback.get("fileIds")))


async def check_files(
    gw: SendHost, client: ClientInfo, kind: str, req: codec.SendRequest, *, now: float
) -> Answer | None:
    """None when every file the request names is the client's and usable; else the
    refusal (counted)."""
    try:
        if req.file_ids:
            await gw.files.check_usable(
                client.id, req.file_ids, field="fileIds", until=now
            )
        if req.fallback and req.fallback.get("fileIds"):
            await gw.files.check_usable(
                client.id, req.fallback["fileIds"], field="fallback.fileIds", until=now
            )
    except ValidationError as exc:
        return invalid(gw, kind, exc)
    return None


def submission(
    gw: SendHost, client: ClientInfo, req: codec.SendRequest, *, now: float
) -> tuple[Submission, str, float | None]:
    """What the `Intake` takes for the request: (submission, TPS key, TPS)."""
    tps_key = _TPS_KEYS[req.channel]
    return (
        Submission(
            row=req.row(client.id, now, gw.settings.engine.default_ttl),
            dup_window=client.dup_window,
        ),
        tps_key,
        client.tps_for(tps_key),
    )


def sent(gw: SendHost, req: codec.SendRequest, accepted: Accepted) -> Answer:
    """The answer of a committed (or repeated) message (counted)."""
    gw.metrics.accepted(req.channel.value, accepted.repeated)
    return 200, orjson.dumps(
        codec.send_answer(accepted.id, req.src_msg_id, accepted.created_at)
    )


def refused(gw: SendHost, kind: str, error: BaseException) -> Answer:
    """The answer when the `Intake` did not take the message: over the TPS, refused
    by the acceptor, or failed (logged)."""
    if isinstance(error, Throttled):
        gw.metrics.rejected(kind, "tps")
        return encoded(Code.TPS_EXCEEDED)
    if isinstance(error, ValidationError):
        return encoded(FROM_INVALID.get(error.code, Code.MALFORMED), error.message)
    if isinstance(error, StoreError):  # the acceptor or the front logged the cause
        log.error(
            "accepting a message failed: %s", error, extra={"event": "accept_error"}
        )
    else:
        log.error(
            "accepting a message failed",
            exc_info=error,
            extra={"event": "accept_error"},
        )
    return encoded(Code.INTERNAL)


async def handle_send(
    gw: SendHost, kind: str, headers: Mapping[str, str], raw: bytes | None
) -> Answer:
    """One send request, from its headers (names lower-cased) and body (None when over
    the size limit) to (HTTP status, JSON answer)."""
    token = bearer_value(headers.get("authorization"))
    if not token:
        return no_token()
    try:
        client = await gw.directory.authenticate(token)
    except AuthError as exc:
        return unauthorized(exc)
    return await send_as(gw, client, kind, headers, raw)


async def send_as(
    gw: SendHost,
    client: ClientInfo,
    kind: str,
    headers: Mapping[str, str],
    raw: bytes | None,
) -> Answer:
    """`handle_send` once the client is known."""
    now = time.time()
    req = check_send(gw, kind, headers, raw, now=now)
    if isinstance(req, tuple):
        return req
    if needs_files(req):
        problem = await check_files(gw, client, kind, req, now=now)
        if problem is not None:
            return problem
    item, tps_key, tps = submission(gw, client, req, now=now)
    try:
        accepted = await gw.intake.submit(item, tps_key, tps)
    except Exception as exc:
        return refused(gw, kind, exc)
    return sent(gw, req, accepted)
