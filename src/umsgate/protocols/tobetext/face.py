"""The ToBeText compatible face: seed 000's ``POST /sms`` served by the gateway, so an
application written for ToBeText switches to umsgate by changing its base URL.

Theory of operation
-------------------
The request is read and validated by the same codec as the simulator's (tobetext spec
§3, §6, §10.9): a URL-encoded or multipart form of at most 16 KiB, UTF-8 with a CP949
fallback, checked in the order Cid, token, Ckey, RecvNum, SendNum, Body; the first
broken field decides the ``ErrorCode``. ``Cid`` is the umsgate client id and
``token`` the client's ToBeText token (`umsgate client update --tobetext-token`):
malformed gives 2006/2007, well-formed but not matching 410.

A valid request becomes a message of the real pipeline: SMS when the text fits the
Korean 90-byte SMS in CP949, otherwise LMS without subject (ToBeText's 160-byte SMS is
larger); the receiver is ``+`` and the RecvNum digits, the sender the SendNum
normalised to E.164 (domestic forms are Korean numbers; one that is not a valid
number gives 2004). The client's TPS applies as on the native API. The ``Ckey`` is
the client's message id: it is stored in the idempotency key (`src_msg_id`), so a
repeat with the same parameters answers the first acknowledgement (same ``MsgId``)
and sends nothing, and a repeat with other parameters gets 2001. The answer comes
after the commit, as everywhere in umsgate. ``MsgId`` is the umsMsgId written as 32
lowercase hex digits, the shape of the seed's sample.

The message keeps ``extra["face"] = "tobetext"``, its Ckey, the echoed SendNum and
its ``callback`` URL. When it becomes final, `ToBeTextReports` renders the status
callback (spec §5: a form POST of CKey, Status, MsgId, SendNum, RecvNum, ErrorCode,
ErrorMsg) with the unified result mapped back to the callback codes, and the notifier
POSTs it to the callback URL: any 2xx is received; otherwise it is tried again,
4 attempts in all, 60 s apart, 10 s each (spec §9). Without a callback URL nothing is
pushed (ToBeText has no pull API).

Beyond the seed, two answers a ToBeText application treats as a failed call (spec
§10.12: any HTTP status but 200): HTTP 429 when the client is over its TPS and HTTP
500 when the store failed, both with a ``FAIL`` acknowledgement; a retry with the same
Ckey is harmless.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from umsgate.clients import AuthError
from umsgate.domain import phone, text
from umsgate.domain.message import Channel
from umsgate.domain.results import Invalid, ResultCode
from umsgate.engine.accept import Submission
from umsgate.engine.intake import Throttled
from umsgate.errors import RemoteProtocolError, ValidationError
from umsgate.protocols._http.server import read_body
from umsgate.protocols.apigw import codec as native_codec
from umsgate.protocols.tobetext import codec
from umsgate.protocols.tobetext.codes import (
    ACK_MESSAGES,
    CALLBACK_MESSAGES,
    AckCode,
    CallbackCode,
    Status,
)
from umsgate.reports.faces import FACE_KEY, FaceReport, PushRule

if TYPE_CHECKING:
    from umsgate.protocols.apigw.face import SendHost

log = logging.getLogger("umsgate.protocols.tobetext.face")

#: ``extra["face"]`` of the messages this face takes.
NAME = "tobetext"
#: The send path of the seed's base URLs (``http://api-dev.tbnws.com/sms``).
PATH = "/sms"
XML_TYPE = "application/xml; charset=UTF-8"
CALLBACK_TYPE = "application/x-www-form-urlencoded; charset=UTF-8"
#: Idempotency keys of this face's messages: ``tbt:`` + Ckey, or, for a Ckey too long
#: for the 40-character column, ``tbt~`` + 36 hex digits of its SHA-256 (``~`` is
#: not a Ckey character, so the two forms never meet). Native srcMsgIds are free
#: text of at most 20 characters: one that starts with ``tbt:`` shares this space.
SRC_PREFIX = "tbt:"
SRC_HASHED_PREFIX = "tbt~"
SRC_MAX = 40

#: The callback rule of tobetext spec §5/§9: any 2xx is received; 4 attempts in all,
#: 60 s apart, 10 s for each.
PUSH = PushRule(
    content_type=CALLBACK_TYPE,
    attempts=4,
    interval=60.0,
    timeout=10.0,
    accepts=lambda status, _body: 200 <= status < 300,
)


class Refusal(enum.IntEnum):
    """Answers beyond the seed's codes: the HTTP status and the ``ErrorCode``."""

    #: The client is over its TPS (native 42900): retry later with the same Ckey.
    TOO_MANY_REQUESTS = 429
    #: The message could not be stored: retry with the same Ckey.
    INTERNAL = 500


REFUSAL_MESSAGES = {
    Refusal.TOO_MANY_REQUESTS: "Too many requests; retry later with the same Ckey",
    Refusal.INTERNAL: "Internal error; retry with the same Ckey",
}


def msg_id(ums_msg_id: int) -> str:
    """``MsgId`` of a message: its umsMsgId as 32 lowercase hex digits."""
    return f"{ums_msg_id:032x}"


def src_msg_id(ckey: str) -> str:
    """The idempotency key (``messages.src_msg_id``) of a Ckey."""
    if len(SRC_PREFIX) + len(ckey) <= SRC_MAX:
        return SRC_PREFIX + ckey
    digest = hashlib.sha256(ckey.encode("ascii")).hexdigest()
    return SRC_HASHED_PREFIX + digest[: SRC_MAX - len(SRC_HASHED_PREFIX)]


#: Unified final code → callback ``ErrorCode`` (spec §7). 400 "Failed": the carrier
#: or the handset refused or could not take the message; 411 "Internal error": the
#: gateway's provider account failed it (credentials, balance, provider errors);
#: 412 "Other": no result in time (expired), and any code not listed.
CALLBACK_CODES: Mapping[ResultCode, CallbackCode] = {
    ResultCode.DELIVERED: CallbackCode.SUCCESS,
    ResultCode.FAILED: CallbackCode.FAILED,
    ResultCode.INVALID_NUMBER: CallbackCode.FAILED,
    ResultCode.NO_SERVICE: CallbackCode.FAILED,
    ResultCode.UNREACHABLE: CallbackCode.FAILED,
    ResultCode.HANDSET_FULL: CallbackCode.FAILED,
    ResultCode.BLOCKED: CallbackCode.FAILED,
    ResultCode.CONTENT_REJECTED: CallbackCode.FAILED,
    ResultCode.DUPLICATE: CallbackCode.FAILED,
    ResultCode.SENDER_NOT_REGISTERED: CallbackCode.FAILED,
    ResultCode.UNSUPPORTED: CallbackCode.FAILED,
    ResultCode.CARRIER_REJECTED: CallbackCode.FAILED,
    ResultCode.AUTH_FAILED: CallbackCode.INTERNAL,
    ResultCode.NO_BALANCE: CallbackCode.INTERNAL,
    ResultCode.PROVIDER_ERROR: CallbackCode.INTERNAL,
    ResultCode.THROTTLED: CallbackCode.INTERNAL,
    ResultCode.CONNECTION_ERROR: CallbackCode.INTERNAL,
    ResultCode.TIMEOUT: CallbackCode.INTERNAL,
    ResultCode.RETRY_LATER: CallbackCode.INTERNAL,
    ResultCode.EXPIRED: CallbackCode.OTHER,
}


def callback_code(code: ResultCode) -> CallbackCode:
    return CALLBACK_CODES.get(code, CallbackCode.OTHER)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ToBeTextReports:
    """The face's reports: the status callback of spec §5, to the message's
    ``callback`` URL (`umsgate.reports.faces.ReportFace`)."""

    push: PushRule | None = PUSH
    name: str = NAME

    def render(
        self,
        row: Mapping[str, Any],
        code: ResultCode,
        *,
        extra: Mapping[str, Any],
        from_carrier: bool,
    ) -> FaceReport:
        cb = callback_code(code)
        if cb is CallbackCode.SUCCESS:
            message = CALLBACK_MESSAGES[cb]
        else:
            message = f"{CALLBACK_MESSAGES[cb]}: {code.description} ({code.value})"
        result = codec.Result(
            ckey=str(extra.get("ckey", "")),
            status=Status.SUCCESS if cb is CallbackCode.SUCCESS else Status.FAIL,
            msg_id=msg_id(int(row["id"])),
            send_num=str(extra.get("sendNum", "")),
            recv_num=str(row["receiver"]).lstrip("+"),
            error_code=int(cb),
            error_msg=message,
        )
        return FaceReport(
            body=codec.render_callback(result).decode("ascii"),
            target_url=str(extra.get("callback") or ""),
        )


# ------------------------------------------------------------------------ the route


def _xml(result: codec.Result, status: int = 200) -> Response:
    return Response(codec.render_ack(result), status_code=status, media_type=XML_TYPE)


def _sender(send_num: str) -> str:
    """E.164 of a SendNum (``+?`` and 8–15 digits): with ``+`` international; without,
    a Korean number (``0212345678``, ``15881234``, ``821012341234``) or else the
    digits with ``+``.

    Raises:
        RemoteProtocolError: 2004, not a valid number.
    """
    candidates = [send_num] if send_num.startswith("+") else [send_num, "+" + send_num]
    for candidate in candidates:
        try:
            return phone.sender(candidate)
        except phone.InvalidNumber:
            continue
    raise codec.refusal(AckCode.SEND_NUM, "not a valid number")


def _channel(body: str) -> tuple[Channel, str]:
    """(channel, charset) of a Body: SMS when it fits 90 bytes of CP949, else LMS;
    counted in UTF-8 when CP949 cannot hold it."""
    charset = "cp949"
    try:
        size = text.byte_length(body, charset, field="Body")
    except ValidationError:
        charset = "utf-8"
        size = len(body.encode(charset))
    return (Channel.SMS if size <= text.SMS_MAX_BYTES else Channel.LMS), charset


async def _accept(gw: SendHost, fields: Mapping[str, str]) -> tuple[codec.Result, int]:
    """(acknowledgement, HTTP status) of one decoded request.

    Raises:
        RemoteProtocolError: ``code`` is the `AckCode` to answer.
    """
    cid, token = codec.credentials(fields)
    try:
        client = await gw.directory.authenticate_tobetext(cid, token)
    except AuthError:
        raise codec.refusal(AckCode.AUTH_FAILED, "Cid and token do not match") from None
    req = codec.parse_send_request(fields)
    recv_digits = req.recv_num.lstrip("+")
    send_echo = req.send_num.lstrip("+")
    sender = _sender(req.send_num)
    channel, charset = _channel(req.body)
    extra: dict[str, Any] = {
        FACE_KEY: NAME,
        "ckey": req.ckey,
        "sendNum": send_echo,
        "callback": req.callback or "",
    }
    native = native_codec.SendRequest(
        channel=channel,
        src_msg_id=src_msg_id(req.ckey),
        cmp_msg_id="",
        codec=charset,
        sender=sender,
        receiver="+" + recv_digits,
        subject="",
        content=req.body,
        file_ids=(),
        extra=extra,
        fallback=None,
        reserve_at=None,
        expires_at=None,
    )

    def refused(reason: Refusal) -> tuple[codec.Result, int]:
        result = codec.Result(
            ckey=req.ckey,
            status=Status.FAIL,
            send_num=send_echo,
            recv_num=recv_digits,
            error_code=int(reason),
            error_msg=REFUSAL_MESSAGES[reason],
        )
        return result, int(reason)

    now = time.time()
    try:
        accepted = await gw.intake.submit(
            Submission(
                row=native.row(client.id, now, gw.settings.engine.default_ttl),
                dup_window=client.dup_window,
            ),
            channel.tps_key,
            client.tps_for(channel.tps_key),
        )
    except Throttled:
        gw.metrics.rejected(NAME, "tps")
        return refused(Refusal.TOO_MANY_REQUESTS)
    except ValidationError as exc:
        if exc.code == Invalid.ID_REUSED:
            raise codec.refusal(
                AckCode.CKEY, "Ckey already used with other values"
            ) from None
        if exc.code == Invalid.DUPLICATE:
            # ToBeText has no code for it: the Body error, saying why.
            return codec.Result(
                ckey=req.ckey,
                status=Status.FAIL,
                send_num=send_echo,
                recv_num=recv_digits,
                error_code=int(AckCode.BODY),
                error_msg=f"{ACK_MESSAGES[AckCode.BODY]}: {exc.message}",
            ), 200
        raise codec.refusal(AckCode.BODY, exc.message) from None
    except Exception:
        log.exception("accepting a message failed", extra={"event": "accept_error"})
        return refused(Refusal.INTERNAL)
    gw.metrics.accepted(channel.value, accepted.repeated)
    return codec.Result(
        ckey=req.ckey,
        status=Status.SUCCESS,
        msg_id=msg_id(accepted.id),
        send_num=send_echo,
        recv_num=recv_digits,
        error_code=int(AckCode.SUCCESS),
        error_msg=ACK_MESSAGES[AckCode.SUCCESS],
    ), 200


async def send(request: Request) -> Response:
    """``POST /sms``: the XML acknowledgement of spec §4 (business errors are HTTP
    200 with their ``ErrorCode``, spec §10.12)."""
    # The Gateway, or a front (`umsgate.front.app`), which serves this route too.
    gw: SendHost = request.app.state.gateway
    body = await read_body(request, codec.MAX_REQUEST_BYTES)
    if body is None:
        gw.metrics.rejected(NAME, "too_large")
        return _xml(
            codec.Result(
                status=Status.FAIL,
                error_code=int(AckCode.BODY),
                error_msg=f"request larger than {codec.MAX_REQUEST_BYTES} bytes "
                "or not received in time",
            ),
            413,
        )
    fields = codec.decode_form(body, request.headers.get("content-type", ""))
    try:
        result, status = await _accept(gw, fields)
    except RemoteProtocolError as exc:
        gw.metrics.rejected(NAME, str(exc.code))
        return _xml(codec.error_result(fields, exc))
    return _xml(result, status)


routes = [Route(PATH, send, methods=["POST"])]
