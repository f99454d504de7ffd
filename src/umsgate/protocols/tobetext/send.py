"""ToBeText's send (``POST /sms``) without an HTTP framework: from the request's body
and content type to (HTTP status, XML acknowledgement). The rules are the face's
(`umsgate.protocols.tobetext.face` says them); this module is their one
implementation.

Two servers run it: the gateway's face (Starlette, with `handle`), and a front
process's own HTTP server (`umsgate.front.sends`), which calls the steps one by one
so that a send whose client and token are cached runs from its body to the intake
without a coroutine:

1. `decode` (the form; a body over `codec.MAX_REQUEST_BYTES` is refused), then
   `codec.credentials`;
2. the `Directory`: ``authenticate_tobetext``, or its cache;
3. `prepare`: Ckey, numbers, Body, then the message (SMS or LMS);
4. the `Intake` (the client's TPS, then the group commit);
5. `answered`, or `refused` for a `RemoteProtocolError` of any step: the
   acknowledgement, and the counts of `/metrics`.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from umsgate import targets
from umsgate.clients import AuthError, ClientInfo
from umsgate.domain import phone, text
from umsgate.domain.results import Invalid
from umsgate.domain.submission import Accepted, Submission
from umsgate.errors import (
    RemoteProtocolError,
    TargetRefused,
    Throttled,
    ValidationError,
)
from umsgate.protocols.apigw import codec as native_codec
from umsgate.protocols.tobetext import codec
from umsgate.protocols.tobetext.codes import ACK_MESSAGES, AckCode, Status
from umsgate.reports.faces import FACE_KEY

if TYPE_CHECKING:
    from umsgate.ports import ToBeTextHost

log = logging.getLogger("umsgate.protocols.tobetext.face")

#: ``extra["face"]`` of the messages this face takes.
NAME = "tobetext"
#: The send path of the seed's base URLs (``http://api-dev.tbnws.com/sms``).
PATH = "/sms"
#: The acknowledgement's content type.
XML_TYPE = "application/xml; charset=UTF-8"
#: Idempotency keys of this face's messages: ``tbt:`` + Ckey, or, for a Ckey too long
#: for the 40-character column, ``tbt~`` + 36 hex digits of its SHA-256 (``~`` is
#: not a Ckey character, so the two forms never meet). Native srcMsgIds are free
#: text of at most 20 characters: one that starts with ``tbt:`` shares this space.
SRC_PREFIX = "tbt:"
SRC_HASHED_PREFIX = "tbt~"
SRC_MAX = 40

#: An answer: (HTTP status, XML acknowledgement).
Answer = tuple[int, bytes]


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


def ack(result: codec.Result, status: int = 200) -> Answer:
    return status, codec.render_ack(result)


def too_large(gw: ToBeTextHost) -> Answer:
    """The answer to a body over `codec.MAX_REQUEST_BYTES`, or one that did not
    arrive in time (counted)."""
    gw.metrics.rejected(NAME, "too_large")
    return ack(
        codec.Result(
            status=Status.FAIL,
            error_code=int(AckCode.BODY),
            error_msg=f"request larger than {codec.MAX_REQUEST_BYTES} bytes "
            "or not received in time",
        ),
        413,
    )


def refused(
    gw: ToBeTextHost, fields: Mapping[str, str], exc: RemoteProtocolError
) -> Answer:
    """The refusing acknowledgement of a broken field (counted)."""
    gw.metrics.rejected(NAME, str(exc.code))
    return ack(codec.error_result(fields, exc))


def auth_failed() -> RemoteProtocolError:
    return codec.refusal(AckCode.AUTH_FAILED, "Cid and token do not match")


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


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    """A valid request of an authenticated client, as the message it becomes."""

    ckey: str
    #: RecvNum and SendNum as the acknowledgement echoes them (no ``+``).
    recv_digits: str
    send_echo: str
    message: native_codec.SendRequest


def prepare(fields: Mapping[str, str], *, allow_private_targets: bool) -> Prepared:
    """The message of decoded, authenticated fields.

    Args:
        allow_private_targets: ``webhook.allow_private_targets``: whether a
            callback URL may name a private address (`umsgate.targets`).

    Raises:
        RemoteProtocolError: ``code`` is the `AckCode` to answer.
    """
    req = codec.parse_send_request(fields)
    given = fields.get("callback", "").strip()
    if given:
        # The codec drops a callback it cannot use (what the provider's simulator
        # does); the face says so instead: 2008, so the client learns at once that
        # it would never be called back. A host that is a name is judged when the
        # callback is made (the report's last_error says why it was refused).
        try:
            targets.Policy(allow_private=allow_private_targets).check_literal(given)
        except TargetRefused as exc:
            raise codec.refusal(AckCode.CALLBACK, exc.message) from None
    recv_digits = req.recv_num.lstrip("+")
    send_echo = req.send_num.lstrip("+")
    sender = _sender(req.send_num)
    channel, charset = text.sms_or_lms(req.body)
    extra: dict[str, Any] = {
        FACE_KEY: NAME,
        "ckey": req.ckey,
        "sendNum": send_echo,
        "callback": req.callback or "",
    }
    message = native_codec.SendRequest(
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
    return Prepared(
        ckey=req.ckey, recv_digits=recv_digits, send_echo=send_echo, message=message
    )


def submission(
    gw: ToBeTextHost, client: ClientInfo, prepared: Prepared, *, now: float
) -> tuple[Submission, str, float | None]:
    """What the `Intake` takes for the request: (submission, TPS key, TPS)."""
    tps_key = prepared.message.channel.tps_key
    return (
        Submission(
            row=prepared.message.row(client.id, now, gw.settings.engine.default_ttl),
            dup_window=client.dup_window,
        ),
        tps_key,
        client.tps_for(tps_key),
    )


def answered(gw: ToBeTextHost, prepared: Prepared, accepted: Accepted) -> Answer:
    """The acknowledgement of a committed (or repeated) message (counted)."""
    gw.metrics.accepted(prepared.message.channel.value, accepted.repeated)
    return ack(
        codec.Result(
            ckey=prepared.ckey,
            status=Status.SUCCESS,
            msg_id=msg_id(accepted.id),
            send_num=prepared.send_echo,
            recv_num=prepared.recv_digits,
            error_code=int(AckCode.SUCCESS),
            error_msg=ACK_MESSAGES[AckCode.SUCCESS],
        )
    )


def not_taken(gw: ToBeTextHost, prepared: Prepared, error: BaseException) -> Answer:
    """The acknowledgement when the `Intake` did not take the message.

    Raises:
        RemoteProtocolError: the refusal to answer (a Ckey used with other
            values, or a Body the acceptor refused).
    """

    def refusal(reason: Refusal) -> Answer:
        result = codec.Result(
            ckey=prepared.ckey,
            status=Status.FAIL,
            send_num=prepared.send_echo,
            recv_num=prepared.recv_digits,
            error_code=int(reason),
            error_msg=REFUSAL_MESSAGES[reason],
        )
        return ack(result, int(reason))

    if isinstance(error, Throttled):
        gw.metrics.rejected(NAME, "tps")
        return refusal(Refusal.TOO_MANY_REQUESTS)
    if isinstance(error, ValidationError):
        if error.code == Invalid.ID_REUSED:
            raise codec.refusal(AckCode.CKEY, "Ckey already used with other values")
        if error.code == Invalid.DUPLICATE:
            # ToBeText has no code for it: the Body error, saying why.
            return ack(
                codec.Result(
                    ckey=prepared.ckey,
                    status=Status.FAIL,
                    send_num=prepared.send_echo,
                    recv_num=prepared.recv_digits,
                    error_code=int(AckCode.BODY),
                    error_msg=f"{ACK_MESSAGES[AckCode.BODY]}: {error.message}",
                )
            )
        raise codec.refusal(AckCode.BODY, error.message)
    log.error(
        "accepting a message failed", exc_info=error, extra={"event": "accept_error"}
    )
    return refusal(Refusal.INTERNAL)


def outcome(
    gw: ToBeTextHost,
    fields: Mapping[str, str],
    prepared: Prepared,
    result: Accepted | BaseException,
) -> Answer:
    """The acknowledgement of what the `Intake` said: `answered` or `not_taken`,
    whose refusals are answered by `refused`."""
    if not isinstance(result, BaseException):
        return answered(gw, prepared, result)
    try:
        return not_taken(gw, prepared, result)
    except RemoteProtocolError as exc:
        return refused(gw, fields, exc)


async def handle(gw: ToBeTextHost, body: bytes | None, content_type: str) -> Answer:
    """``POST /sms`` from its body (None when over `codec.MAX_REQUEST_BYTES` or late)
    and content type: the XML acknowledgement of spec §4 (business errors are HTTP
    200 with their ``ErrorCode``, spec §10.12)."""
    if body is None:
        return too_large(gw)
    fields = codec.decode_form(body, content_type)
    try:
        cid, token = codec.credentials(fields)
        try:
            client = await gw.directory.authenticate_tobetext(cid, token)
        except AuthError:
            raise auth_failed() from None
        prepared = prepare(
            fields, allow_private_targets=gw.settings.webhook.allow_private_targets
        )
    except RemoteProtocolError as exc:
        return refused(gw, fields, exc)
    item, tps_key, tps = submission(gw, client, prepared, now=time.time())
    try:
        accepted: Accepted | BaseException = await gw.intake.submit(item, tps_key, tps)
    except Exception as exc:
        accepted = exc
    return outcome(gw, fields, prepared, accepted)
