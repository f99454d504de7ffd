"""The connector's side of the API-Gateway wire format, pure: the requests it builds
(token, upload, the four sends, report check) and the answers and reports it reads.
The face's side is `codec`; both use its constants and the answer codes of `codes`.

No I/O here: bodies in, values out, and the other way round. (The signature of
pushed reports is checked in `connector`, with the gateway's own signing code.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Mapping, Sequence

import orjson

from umsgate.domain import phone
from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.errors import RemoteProtocolError, UmsgateError, ValidationError
from umsgate.protocols.apigw import codec
from umsgate.protocols.apigw.codes import Code
from umsgate.reports import format as report_format

JSON_TYPE = "application/json; charset=UTF-8"
TOKEN_PATH = "/v1/auth/token"
UPLOAD_PATH = "/v1/storage/file"
#: Send paths by channel (spec §6–§9; LMS and MMS share one).
SEND_PATHS: Mapping[Channel, str] = {
    Channel.SMS: "/v1/message/sms",
    Channel.LMS: "/v1/message/mms",
    Channel.MMS: "/v1/message/mms",
    Channel.RCS: "/v1/message/rcs",
    Channel.KKO: "/v1/message/kko",
}
#: Report-check URL kind by channel (spec §12: "LMS uses mms").
CHECK_KINDS: Mapping[Channel, str] = {
    Channel.SMS: "sms",
    Channel.LMS: "mms",
    Channel.MMS: "mms",
    Channel.RCS: "rcs",
    Channel.KKO: "kko",
}
#: Spec §12: at most 1000 ids per report check.
MAX_CHECK_IDS = 1000

#: A refused send or upload (spec §13.1) → unified code; any other code → FAILED.
SEND_REFUSALS: Mapping[Code, ResultCode] = {
    Code.MALFORMED: ResultCode.FAILED,
    Code.MISSING: ResultCode.CONTENT_REJECTED,
    Code.TOO_LONG: ResultCode.CONTENT_REJECTED,
    Code.NOT_ALLOWED: ResultCode.CONTENT_REJECTED,
    Code.BAD_SENDER: ResultCode.SENDER_NOT_REGISTERED,
    Code.BAD_RECEIVER: ResultCode.INVALID_NUMBER,
    Code.BAD_FILE: ResultCode.CONTENT_REJECTED,
    Code.DUPLICATE: ResultCode.DUPLICATE,
    Code.NOT_JPEG: ResultCode.CONTENT_REJECTED,
    Code.FILE_TOO_LARGE: ResultCode.CONTENT_REJECTED,
}


def refusal_code(raw: str) -> ResultCode:
    """The unified code of a refused send or upload."""
    try:
        return SEND_REFUSALS.get(Code(raw), ResultCode.FAILED)
    except ValueError:
        return ResultCode.FAILED


def report_code(raw: str) -> ResultCode:
    """The unified code of a report's ``resultCode``: spec §13.2 (``-100``, ``96``)
    and the final unified codes an upstream umsgate reports (docs/result-codes.md).
    A transient code cannot end a message (a resend would be answered as a repeat of
    the sent one), so it fails it, as every unknown code does."""
    if raw == report_format.DELIVERED_CODE:
        return ResultCode.DELIVERED
    if raw == report_format.EXPIRED_CODE:
        return ResultCode.EXPIRED
    try:
        code = ResultCode(raw)
    except ValueError:
        return ResultCode.FAILED
    return ResultCode.FAILED if code.transient else code


# -- requests --------------------------------------------------------------------------


class Unsendable(UmsgateError):
    """A message the upstream cannot take as it is."""

    def __init__(self, code: ResultCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Defaults:
    """Header values the upstream account was given; where one is not set, the
    message's own (as its client sent it to the native face) is used."""

    origin_code: str | None = None
    bill_code: str | None = None
    agency_id: str | None = None
    agency_key: str | None = None


def token_request(client_id: str, secret: str, key: str) -> bytes:
    """Body of ``POST /v1/auth/token`` (spec §3)."""
    return orjson.dumps(
        {"clientId": client_id, "clientSecret": secret, "clientKey": key}
    )


def _domestic(e164: str, field: str, code: ResultCode) -> str:
    if not e164.startswith("+82"):
        raise Unsendable(code, f"{field} {e164} is not a Korean number (natCode 82)")
    return phone.national(e164)


def _header(
    value: str | None, message: Message, name: str, limit: int
) -> tuple[str, str]:
    chosen = value or str(message.extra.get(name) or "")
    if not chosen or len(chosen) > limit:
        raise Unsendable(
            ResultCode.FAILED,
            f"no usable {name}: set the connector's option, or send it with the "
            "message",
        )
    return name, chosen


_RCS_FIELDS: tuple[str, ...] = (
    "type", "brandKey", "header", "footer", "rcsType", "expiryOption", "templateId",
    "templateParam", "buttons", "copyAllowed",
)  # fmt: skip
_KKO_FIELDS: tuple[str, ...] = (
    "msgType", "title", "kplusId", "profileKey", "templateCode", "wide", "imageLink",
    "imageUrl", "imageFlag", "adFlag", "buttons",
)  # fmt: skip


def send_request(
    message: Message, file_ids: Sequence[str], defaults: Defaults
) -> tuple[str, dict[str, str], bytes]:
    """(path, headers, body) of the send of ``message`` (spec §6–§9) with the
    upstream ``file_ids`` of its images. ``srcMsgId`` is the message's id; numbers
    go in their national form; RCS and KakaoTalk go without fallback.

    Raises:
        Unsendable: a number outside Korea, a header that cannot be filled.
    """
    channel = message.channel
    receiver = _domestic(message.receiver, "receiver", ResultCode.INVALID_NUMBER)
    sender = _domestic(message.sender, "sender", ResultCode.SENDER_NOT_REGISTERED)
    body: dict[str, object] = {
        "srcMsgId": str(message.id),
        "dstCharSet": "utf-8" if message.charset == "utf-8" else "euc-kr",
        "natCode": 82,
    }
    if message.cmp_msg_id:
        body["cmpMsgId"] = message.cmp_msg_id
    bill = _header(defaults.bill_code, message, "billCode", codec.BILL_CODE_MAX)
    if channel in (Channel.SMS, Channel.LMS, Channel.MMS):
        origin = _header(
            defaults.origin_code, message, "originCode", codec.ORIGIN_CODE_MAX
        )
        headers = dict([origin, bill])
        body.update(callback=sender, receiver=receiver, content=message.content)
        if channel is not Channel.SMS:
            body["subject"] = message.subject or codec.NO_SUBJECT
            body["fileIds"] = list(file_ids)
    else:
        headers = dict(
            [
                _header(defaults.agency_id, message, "agencyId", codec.KEY_MAX),
                _header(defaults.agency_key, message, "agencyKey", codec.KEY_MAX),
                bill,
            ]
        )
        if channel is Channel.RCS:
            body.update(chatbotId=sender, receiver=receiver)
            names = _RCS_FIELDS
        else:
            body.update(callback=sender, receiver=receiver, content=message.content)
            names = _KKO_FIELDS
        body.update({k: message.extra[k] for k in names if k in message.extra})
        # The gateway makes its own fallback message when this one fails.
        body["usedFallback"] = False
    return SEND_PATHS[channel], headers, orjson.dumps(body)


def upload_request(
    name: str, data: bytes, *, boundary: str | None = None
) -> tuple[bytes, str]:
    """(body, content type) of the multipart upload of one JPEG in the field ``img``
    (spec §4: the name must end in jpg or jpeg). Quotes and line breaks in the name
    are escaped as browsers do (HTML's form-data encoding)."""
    if not name.lower().endswith((".jpg", ".jpeg")):
        name = f"{name or 'image'}.jpg"
    safe = name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    boundary = boundary or secrets.token_hex(16)
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="img"; filename="{safe}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    )
    body = head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def check_request(kind: str, ums_msg_ids: Sequence[str]) -> tuple[str, bytes]:
    """(path, body) of a report check of ``kind`` (``sms``, ``mms``, ``rcs``,
    ``kko``) for at most `MAX_CHECK_IDS` ids (spec §12).

    Raises:
        ValueError: an unknown kind, or too many ids.
    """
    if kind not in CHECK_KINDS.values() or len(ums_msg_ids) > MAX_CHECK_IDS:
        raise ValueError(f"report check of {len(ums_msg_ids)} {kind!r} ids")
    return f"/v1/agent/rpt/{kind}", orjson.dumps(list(ums_msg_ids))


# -- answers ---------------------------------------------------------------------------


def json_object(body: bytes) -> dict[str, object] | None:
    """The body as a JSON object, or None."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TokenAnswer:
    token: str
    #: Absolute expiry, epoch seconds (spec §3: ``expiresIn`` is a time, not seconds).
    expires_at: float
    #: TPS per channel key (``SMS``, ``MMS``, …), positive numbers only.
    service: Mapping[str, float]


def parse_token(body: bytes) -> TokenAnswer:
    """A 200 answer of the token request.

    Raises:
        RemoteProtocolError: no token or no readable ``expiresIn``.
    """
    doc = json_object(body)
    token = doc.get("accessToken") if doc else None
    if doc is None or not isinstance(token, str) or not token:
        raise RemoteProtocolError("token answer without accessToken")
    try:
        expires = codec.parse_time(doc.get("expiresIn"), "expiresIn")
    except ValidationError:
        expires = None
    if expires is None:
        raise RemoteProtocolError("token answer without a readable expiresIn")
    service = doc.get("service")
    tps = {
        str(k): float(v)
        for k, v in (service.items() if isinstance(service, dict) else ())
        if isinstance(v, int | float) and not isinstance(v, bool) and v > 0
    }
    return TokenAnswer(token=token, expires_at=expires, service=tps)


def parse_upload(body: bytes) -> tuple[str, float | None] | None:
    """(upstream file id, its expiry in epoch seconds if readable) of an upload
    answer that registered the file: 10001, or 41000 "already registered" (spec §4,
    resolution 4); None for any other answer."""
    doc = json_object(body)
    if doc is None or str(doc.get("resultCode")) not in (
        Code.FILE_OK,
        Code.FILE_EXISTS,
    ):
        return None
    file_id = doc.get("fileId")
    if not isinstance(file_id, str) or not file_id:
        return None
    try:
        expires = codec.parse_time(doc.get("expireTime"), "expireTime")
    except ValidationError:
        expires = None
    return file_id, expires


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReportFields:
    """A report object (spec §11), as far as the connector needs it."""

    src_msg_id: str
    ums_msg_id: str
    result_code: str
    result_message: str
    carrier: str
    done_at: dt.datetime | None


def _text(doc: Mapping[str, object], name: str) -> str:
    value = doc.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return str(value)


def parse_report(doc: object) -> ReportFields | None:
    """A report object; None when it is not one (no ``resultCode``, or neither
    ``srcMsgId`` nor ``umsMsgId``). ``pfmRcvDttm`` is KST (resolution 29)."""
    if not isinstance(doc, dict):
        return None
    fields = ReportFields(
        src_msg_id=_text(doc, "srcMsgId"),
        ums_msg_id=_text(doc, "umsMsgId"),
        result_code=_text(doc, "resultCode"),
        result_message=_text(doc, "resultMessage"),
        carrier=_text(doc, "serviceProvider"),
        done_at=None,
    )
    if not fields.result_code or not (fields.src_msg_id or fields.ums_msg_id):
        return None
    stamp = _text(doc, "pfmRcvDttm")
    if stamp.isdigit() and len(stamp) == 14:
        try:
            when = dt.datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=codec.KST)
        except ValueError:
            return fields
        return dataclasses.replace(fields, done_at=when)
    return fields


def parse_reports(body: bytes) -> list[ReportFields] | None:
    """A pushed body (one object or a list of them) or a report-check answer (a
    list); None when it is not JSON or holds anything but report objects."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    items = doc if isinstance(doc, list) else [doc]
    parsed = [parse_report(item) for item in items]
    if any(p is None for p in parsed):
        return None
    return [p for p in parsed if p is not None]
