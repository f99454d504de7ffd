"""IMS SMS bodies ↔ values, both sides, sans-I/O.

Two calls (imsms spec §3–§5):

* send: the connector builds the JSON body with `encode_send_request`; the simulator
  (and later the gateway's compatible face) validates it with `parse_send_request`,
  which raises `RemoteProtocolError` whose ``code`` is the `ResultCd` to answer;
  the answer is `render_send_answer` / `parse_send_answer`;
* state: `render_info_answer` / `parse_info_answer` around `ImsData`.

Checks that need an account (the API key, the agents it may use, whose ``imsId``
it is) belong to the caller. Times are ISO 8601 UTC with milliseconds and ``Z``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import re
from collections.abc import Mapping

import orjson
import phonenumbers

from umsgate.errors import LocalProtocolError, RemoteProtocolError
from umsgate.protocols.imsms.codes import MESSAGES, ResultCd

#: Largest request body (spec §8: 2 MiB, room for a 1 MiB file in base64).
MAX_REQUEST_BYTES = 2 * 1024 * 1024
#: Largest send answer read by the connector (the seed's sample is 120 bytes).
MAX_SEND_ANSWER_BYTES = 16384
#: Largest state answer read by the connector: it echoes the attachment in base64.
MAX_INFO_ANSWER_BYTES = 3 * 1024 * 1024
#: Text limit (spec §8, §9.12): 2,000 bytes counted in CP949.
MAX_TEXT_BYTES = 2000
#: Attachment limit (spec §9.13): 1,048,576 bytes decoded.
MAX_ATTACHMENT_BYTES = 1024 * 1024
#: ``imsAgentId``: the seed gives no format; ≤ 64 visible ASCII characters.
AGENT_PATTERN = re.compile(r"[\x21-\x7e]{1,64}")
#: ``imsId``: a UUID in the seed; any ≤ 64 visible ASCII characters are kept.
IMS_ID_PATTERN = re.compile(r"[\x21-\x7e]{1,64}")
#: ``sendTo`` forms (spec §9.3): E.164 ``+…`` or domestic ``0…``.
NUMBER_PATTERN = re.compile(r"\+[1-9][0-9]{7,14}|0[0-9]{8,10}")

#: Allowed extensions (spec §9.6) and the magic bytes their content must start with.
ATTACHMENT_MAGIC: dict[str, tuple[bytes, ...]] = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
}


def text_bytes(text: str) -> int:
    """Bytes the text counts for (CP949; UTF-8 when CP949 cannot hold it)."""
    try:
        return len(text.encode("cp949"))
    except UnicodeEncodeError:
        return len(text.encode("utf-8"))


def format_time(when: dt.datetime) -> str:
    """``2024-07-09T02:46:48.215Z`` (UTC, milliseconds)."""
    utc = when.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_time(text: str) -> dt.datetime:
    """Read a time of the answers (``Z`` or an offset; a naive time is taken as UTC).

    Raises:
        RemoteProtocolError: not an ISO 8601 time.
    """
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RemoteProtocolError(f"time {text!r} is not ISO 8601") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def refusal(code: ResultCd, detail: str) -> RemoteProtocolError:
    """The error that makes a server answer ``code`` (the message says why)."""
    return RemoteProtocolError(
        f"{code} {MESSAGES[code]}: {detail}", code=code.value, close_session=False
    )


# --------------------------------------------------------------------- send


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SendRequest:
    """A validated send request (spec §3)."""

    send_to: str
    message: str
    ims_agent_id: str
    #: Only ``S`` is served in v1.0.
    send_type: str = "S"
    #: Reservation time; ignored with ``S`` (spec §9.4), never sent by the connector.
    send_date: str | None = None
    #: Decoded attachment bytes.
    attachment: bytes | None = None
    attachment_ext: str | None = None


def encode_send_request(request: SendRequest) -> bytes:
    """The JSON body (UTF-8), ``sendDate`` omitted, attachment in base64.

    Raises:
        LocalProtocolError: an attachment without its extension, or the reverse.
    """
    if (request.attachment is None) != (request.attachment_ext is None):
        raise LocalProtocolError("attachment and attachmentExt go together")
    body: dict[str, str] = {
        "sendTo": request.send_to,
        "sendType": request.send_type,
        "message": request.message,
    }
    if request.attachment is not None and request.attachment_ext is not None:
        body["attachment"] = base64.b64encode(request.attachment).decode("ascii")
        body["attachmentExt"] = request.attachment_ext
    body["imsAgentId"] = request.ims_agent_id
    return orjson.dumps(body)


def _object(body: bytes, *, code: ResultCd | None) -> dict[str, object]:
    def error(detail: str) -> RemoteProtocolError:
        if code is None:
            return RemoteProtocolError(detail)
        return refusal(code, detail)

    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise error(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise error("the body is not a JSON object")
    return value


def _string(data: Mapping[str, object], name: str, *, required: bool) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise refusal(ResultCd.INVALID_REQUEST, f"{name} is missing")
        return None
    if not isinstance(value, str):
        raise refusal(ResultCd.INVALID_REQUEST, f"{name} is not a string")
    return value


def check_number(send_to: str) -> None:
    """Validate ``sendTo`` (spec §6: 100 cannot be parsed, 110 not a valid mobile).

    Raises:
        RemoteProtocolError: code 100 or 110.
    """
    if not NUMBER_PATTERN.fullmatch(send_to):
        raise refusal(ResultCd.BAD_NUMBER_FORMAT, "not +E.164 or 0 and 9-11 digits")
    try:
        number = phonenumbers.parse(send_to, "KR")
    except phonenumbers.NumberParseException:
        raise refusal(ResultCd.BAD_NUMBER_FORMAT, "cannot be parsed") from None
    kind = phonenumbers.number_type(number)
    if not phonenumbers.is_valid_number(number) or kind not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise refusal(ResultCd.INVALID_NUMBER, "not a valid mobile number")


def check_attachment(content: bytes, ext: str) -> None:
    """Validate an attachment against spec §9.6 and §9.13.

    Raises:
        RemoteProtocolError: code 903.
    """
    magic = ATTACHMENT_MAGIC.get(ext.lower())
    if magic is None:
        raise refusal(
            ResultCd.INVALID_REQUEST,
            f"attachmentExt {ext!r} is not one of {sorted(ATTACHMENT_MAGIC)}",
        )
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise refusal(
            ResultCd.INVALID_REQUEST,
            f"attachment of {len(content)} bytes; at most {MAX_ATTACHMENT_BYTES}",
        )
    if not content.startswith(magic):
        raise refusal(ResultCd.INVALID_REQUEST, f"attachment content is not {ext}")


def parse_send_request(body: bytes) -> SendRequest:
    """Validate a send body, in the order JSON and types, ``sendType``, ``sendTo``,
    ``message``, attachment, ``imsAgentId`` (spec §3, §6).

    Raises:
        RemoteProtocolError: ``code`` is the `ResultCd` value to answer with.
    """
    if len(body) > MAX_REQUEST_BYTES:
        raise refusal(ResultCd.INVALID_REQUEST, f"body over {MAX_REQUEST_BYTES} bytes")
    data = _object(body, code=ResultCd.INVALID_REQUEST)
    send_to = _string(data, "sendTo", required=False)
    send_type = _string(data, "sendType", required=False) or "S"
    send_date = _string(data, "sendDate", required=False)
    message = _string(data, "message", required=False)
    attachment_b64 = _string(data, "attachment", required=False)
    ext = _string(data, "attachmentExt", required=False)
    agent = _string(data, "imsAgentId", required=False)
    if send_type != "S":
        raise refusal(
            ResultCd.INVALID_REQUEST, f"sendType {send_type!r}; only S in v1.0"
        )
    if send_to is None:
        raise refusal(ResultCd.BAD_NUMBER_FORMAT, "sendTo is missing")
    check_number(send_to.strip())
    if message is None or not message:
        raise refusal(ResultCd.EMPTY_MESSAGE, "message is empty")
    if text_bytes(message) > MAX_TEXT_BYTES:
        raise refusal(
            ResultCd.INVALID_REQUEST,
            f"message of {text_bytes(message)} bytes; at most {MAX_TEXT_BYTES}",
        )
    attachment: bytes | None = None
    if attachment_b64:
        if len(attachment_b64) > (MAX_ATTACHMENT_BYTES // 3 + 1) * 4:
            raise refusal(ResultCd.INVALID_REQUEST, "attachment too large")
        try:
            attachment = base64.b64decode(attachment_b64, validate=True)
        except (binascii.Error, ValueError):
            raise refusal(
                ResultCd.INVALID_REQUEST, "attachment is not base64"
            ) from None
        if not ext:
            raise refusal(ResultCd.INVALID_REQUEST, "attachmentExt is missing")
        check_attachment(attachment, ext)
        ext = ext.lower()
    else:
        ext = None
    if agent is None or not AGENT_PATTERN.fullmatch(agent):
        raise refusal(ResultCd.INVALID_REQUEST, "imsAgentId missing or malformed")
    return SendRequest(
        send_to=send_to.strip(),
        message=message,
        ims_agent_id=agent,
        send_type=send_type,
        send_date=send_date,
        attachment=attachment,
        attachment_ext=ext,
    )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SendAnswer:
    """The send answer (spec §4); ``ims_id`` and ``ims_req_dttm`` None on failure."""

    result_cd: str
    result_msg: str = ""
    ims_id: str | None = None
    ims_req_dttm: str | None = None

    @property
    def ok(self) -> bool:
        return self.result_cd == ResultCd.OK


def answer_for(code: ResultCd) -> SendAnswer:
    """A failure answer with the code's message."""
    return SendAnswer(result_cd=code.value, result_msg=MESSAGES[code])


def render_send_answer(answer: SendAnswer) -> bytes:
    return orjson.dumps(
        {
            "resultCd": answer.result_cd,
            "resultMsg": answer.result_msg,
            "imsId": answer.ims_id,
            "imsReqDttm": answer.ims_req_dttm,
        }
    )


def _result_cd(data: Mapping[str, object]) -> str:
    code = data.get("resultCd")
    if isinstance(code, int) and not isinstance(code, bool) and 0 <= code <= 999:
        return f"{code:03d}"
    if not isinstance(code, str) or not code.strip().isdigit() or len(code) > 9:
        raise RemoteProtocolError(f"resultCd {code!r} is not a numeric code")
    return code.strip()


def _loose_string(data: Mapping[str, object], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RemoteProtocolError(f"{name} is not a string")
    return value


def parse_send_answer(body: bytes) -> SendAnswer:
    """Read a send answer.

    Raises:
        RemoteProtocolError: not a JSON object, no numeric ``resultCd``, wrong
            types, larger than `MAX_SEND_ANSWER_BYTES`, or ``000`` without a usable
            ``imsId``.
    """
    if len(body) > MAX_SEND_ANSWER_BYTES:
        raise RemoteProtocolError(f"answer of {len(body)} bytes")
    data = _object(body, code=None)
    answer = SendAnswer(
        result_cd=_result_cd(data),
        result_msg=_loose_string(data, "resultMsg") or "",
        ims_id=_loose_string(data, "imsId"),
        ims_req_dttm=_loose_string(data, "imsReqDttm"),
    )
    if answer.ok and (
        answer.ims_id is None or not IMS_ID_PATTERN.fullmatch(answer.ims_id)
    ):
        raise RemoteProtocolError(f"resultCd 000 with imsId {answer.ims_id!r}")
    return answer


# --------------------------------------------------------------------- state


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ImsData:
    """``imsData`` of the state answer (spec §5)."""

    ims_id: str
    send_to: str = ""
    send_type: str = "S"
    send_date: str | None = None
    message: str = ""
    #: Base64 as on the wire (the state answer echoes it; nobody decodes it).
    attachment: str | None = None
    attachment_ext: str | None = None
    ims_agent_id: str = ""
    ims_req_dttm: str | None = None
    send_start_dttm: str | None = None
    send_end_dttm: str | None = None
    message_guid: str | None = None
    message_error: int | None = None
    message_date: str | None = None
    message_date_delivered: str | None = None
    message_date_read: str | None = None
    message_finished: bool = False
    message_sent: bool = False
    message_delivered: bool = False


#: Wire name of each `ImsData` field, in the seed's order.
_WIRE: dict[str, str] = {
    "ims_id": "imsId",
    "send_to": "sendTo",
    "send_type": "sendType",
    "send_date": "sendDate",
    "message": "message",
    "attachment": "attachment",
    "attachment_ext": "attachmentExt",
    "ims_req_dttm": "imsReqDttm",
    "send_start_dttm": "sendStartDttm",
    "send_end_dttm": "sendEndDttm",
    "message_guid": "messageGuid",
    "message_error": "messageError",
    "message_date": "messageDate",
    "message_date_delivered": "messageDateDelivered",
    "message_date_read": "messageDateRead",
    "message_sent": "messageSent",
    "message_finished": "messageFinished",
    "message_delivered": "messageDelivered",
    "ims_agent_id": "imsAgentId",
}

#: The `ImsData` texts that are null when absent.
_OPTIONAL_TEXTS = (
    "send_date",
    "attachment",
    "attachment_ext",
    "ims_req_dttm",
    "send_start_dttm",
    "send_end_dttm",
    "message_guid",
    "message_date",
    "message_date_delivered",
    "message_date_read",
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class InfoAnswer:
    """The state answer (spec §5); ``ims_data`` is None for failures."""

    result_cd: str
    result_msg: str = ""
    ims_data: ImsData | None = None


def render_info_answer(answer: InfoAnswer) -> bytes:
    data: dict[str, object] | None = None
    if answer.ims_data is not None:
        data = {wire: getattr(answer.ims_data, name) for name, wire in _WIRE.items()}
    return orjson.dumps(
        {"resultCd": answer.result_cd, "resultMsg": answer.result_msg, "imsData": data}
    )


def parse_info_answer(body: bytes) -> InfoAnswer:
    """Read a state answer; ``send_type`` is read as ``sendType`` (spec §9.8).

    Raises:
        RemoteProtocolError: not a JSON object, no numeric ``resultCd``, a field of
            the wrong type, ``000`` without ``imsData``, or larger than
            `MAX_INFO_ANSWER_BYTES`.
    """
    if len(body) > MAX_INFO_ANSWER_BYTES:
        raise RemoteProtocolError(f"answer of {len(body)} bytes")
    data = _object(body, code=None)
    result_cd = _result_cd(data)
    raw = data.get("imsData")
    if raw is None:
        if result_cd == ResultCd.OK:
            raise RemoteProtocolError("resultCd 000 without imsData")
        return InfoAnswer(
            result_cd=result_cd, result_msg=_loose_string(data, "resultMsg") or ""
        )
    if not isinstance(raw, dict):
        raise RemoteProtocolError("imsData is not an object")
    if "sendType" not in raw and "send_type" in raw:
        raw = raw | {"sendType": raw["send_type"]}
    ims_data = _ims_data(raw)
    return InfoAnswer(
        result_cd=result_cd,
        result_msg=_loose_string(data, "resultMsg") or "",
        ims_data=ims_data,
    )


def _ims_data(raw: Mapping[str, object]) -> ImsData:
    """Read ``imsData``: an absent or null field takes its default (null, or ""
    for the texts).

    Raises:
        RemoteProtocolError: no ``imsId``, or a field of the wrong type.
    """
    ims_id = _loose_string(raw, "imsId")
    if ims_id is None:
        raise RemoteProtocolError("imsData.imsId is missing")
    optional = {name: _loose_string(raw, _WIRE[name]) for name in _OPTIONAL_TEXTS}
    return ImsData(
        ims_id=ims_id,
        send_to=_text(raw, "sendTo", ""),
        send_type=_text(raw, "sendType", "S"),
        message=_text(raw, "message", ""),
        ims_agent_id=_text(raw, "imsAgentId", ""),
        message_error=_integer(raw, "messageError"),
        message_sent=_flag(raw, "messageSent"),
        message_finished=_flag(raw, "messageFinished"),
        message_delivered=_flag(raw, "messageDelivered"),
        **optional,
    )


def _text(data: Mapping[str, object], name: str, default: str) -> str:
    value = _loose_string(data, name)
    return default if value is None else value


def _integer(data: Mapping[str, object], name: str) -> int | None:
    value = data.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise RemoteProtocolError(f"{name} is not an integer")
    return value


def _flag(data: Mapping[str, object], name: str) -> bool:
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise RemoteProtocolError(f"{name} is not a boolean")
    return bool(value)
