"""AI CROSS bodies ↔ values, both sides, sans-I/O, in a configurable `Shape`.

Only ``clientTag`` is a real parameter name (aicross spec §2, S7); the seed also
fixes that requests are form-encoded and answers JSON (S10). Every other name, the
answer structure and the status literals are the proposal of spec §4, held in a
`Shape` so the connector can be pointed at the real API by configuration alone
(spec §7.1–§7.5). The simulator always speaks the default shape.

* send: `encode_send_request` (client) / `decode_form` + `parse_send_request`
  (server, raising `RemoteProtocolError` whose ``code`` is the `ErrorCode`);
  `render_answer` / `parse_send_answer`.
* result API answer and DLR body (the same object): `render_result` /
  `parse_result` and `parse_dlr` (JSON or form).
"""

from __future__ import annotations

import dataclasses
import enum
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import TypeAlias, TypeVar

import orjson

from umsgate.errors import LocalProtocolError, RemoteProtocolError
from umsgate.protocols.aicross.codes import MESSAGES, ErrorCode, Status

#: Largest request or DLR body (the proposal's bodies are under 1 KiB; 64 KiB
#: leaves room for a long text in one parameter, spec S5).
MAX_REQUEST_BYTES = 65536
#: Largest answer the connector reads.
MAX_ANSWER_BYTES = 65536
#: Most form fields read from one body.
MAX_FIELDS = 64
#: Longest text the simulator takes by default (spec §6: 670 characters).
DEFAULT_MAX_TEXT_CHARS = 670
#: ``clientTag``: format unknown (spec §7.8); ≤ 64 visible ASCII characters.
CLIENT_TAG_PATTERN = re.compile(r"[\x21-\x7e]{1,64}")
#: Recipient (spec §7.16): E.164 with ``+``.
NUMBER_PATTERN = re.compile(r"\+[1-9][0-9]{7,14}")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Shape:
    """Names on the wire: request fields, and dotted JSON paths into answers."""

    token_field: str = "token"
    to_field: str = "to"
    text_field: str = "text"
    client_tag_field: str = "clientTag"
    status_path: str = "status"
    error_code_path: str = "errorCode"
    message_path: str = "message"
    client_tag_path: str = "clientTag"
    carrier_path: str = "carrier"
    done_at_path: str = "doneAt"
    accepted_values: frozenset[str] = frozenset({Status.ACCEPTED})
    error_values: frozenset[str] = frozenset({Status.ERROR})
    delivered_values: frozenset[str] = frozenset({Status.DELIVERED})
    failed_values: frozenset[str] = frozenset({Status.FAILED})
    delivering_values: frozenset[str] = frozenset({Status.DELIVERING})


DEFAULT_SHAPE = Shape()

#: A decoded answer or DLR: a JSON object or array (its members are checked where
#: they are read), or the fields of a form.
Document: TypeAlias = Mapping[str, object] | list[object]
K = TypeVar("K")


def refusal(code: ErrorCode, detail: str) -> RemoteProtocolError:
    """The error that makes a server answer ``code`` (the message says why)."""
    return RemoteProtocolError(
        f"{code} {MESSAGES[code]}: {detail}", code=code.value, close_session=False
    )


def path_get(data: object, path: str) -> object:
    """The value at a dotted ``path`` (``result.0.status``), or None."""
    for part in path.split("."):
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _text_at(data: Document, path: str) -> str | None:
    value = path_get(data, path)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RemoteProtocolError(f"{path} is not a string")
    return str(value)


def _classify(
    data: Document,
    shape: Shape,
    what: str,
    kinds: Sequence[tuple[frozenset[str], K]],
    error: K,
) -> tuple[K, str | None, str | None]:
    """The kind of a ``what`` answer by its status (the first of ``kinds`` whose
    values hold it; else ``error`` for an error status, or for no status but an error
    code), with its status and error code.

    Raises:
        RemoteProtocolError: a status that is not configured, or not a string.
    """
    status = _text_at(data, shape.status_path)
    error_code = _text_at(data, shape.error_code_path)
    for values, kind in kinds:
        if status in values:
            return kind, status, error_code
    if status in shape.error_values or (status is None and error_code is not None):
        return error, status, error_code
    raise RemoteProtocolError(f"{what} status {status!r} is not configured")


# --------------------------------------------------------------------- send


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SendRequest:
    to: str
    text: str
    client_tag: str | None = None
    #: None when the token travels in a header instead (spec §7.3).
    token: str | None = None


def encode_send_request(
    request: SendRequest,
    shape: Shape = DEFAULT_SHAPE,
    extra: Mapping[str, str] | None = None,
) -> bytes:
    """The form body, URL-encoded UTF-8 (S10); ``extra`` adds configured fields.

    Raises:
        LocalProtocolError: a ``clientTag`` outside `CLIENT_TAG_PATTERN`.
    """
    if request.client_tag is not None and not CLIENT_TAG_PATTERN.fullmatch(
        request.client_tag
    ):
        raise LocalProtocolError(f"clientTag {request.client_tag!r} is not usable")
    pairs = list((extra or {}).items())
    if request.token is not None:
        pairs.append((shape.token_field, request.token))
    pairs += [(shape.to_field, request.to), (shape.text_field, request.text)]
    if request.client_tag is not None:
        pairs.append((shape.client_tag_field, request.client_tag))
    return urllib.parse.urlencode(pairs, encoding="utf-8").encode("ascii")


def encode_result_request(
    client_tag: str, token: str | None, shape: Shape = DEFAULT_SHAPE
) -> bytes:
    """The result API's form body (spec §4 proposal)."""
    pairs = [(shape.token_field, token)] if token is not None else []
    pairs.append((shape.client_tag_field, client_tag))
    return urllib.parse.urlencode(pairs, encoding="utf-8").encode("ascii")


def decode_form(body: bytes) -> dict[str, str]:
    """Fields of a URL-encoded UTF-8 body; the first of a repeated name wins.

    Raises:
        RemoteProtocolError: code 40001 when the body is not UTF-8 or has more
            than `MAX_FIELDS` fields.
    """
    try:
        text = body.decode("utf-8")
        pairs = urllib.parse.parse_qsl(
            text, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict"
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise refusal(ErrorCode.INVALID_PARAMETER, f"not a UTF-8 form: {exc}") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def parse_send_request(
    fields: Mapping[str, str], *, max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
) -> SendRequest:
    """Validate a send form in the default shape (token presence, ``to``, ``text``,
    ``clientTag``); whether the token is right is the caller's check.

    Raises:
        RemoteProtocolError: ``code`` is the `ErrorCode` value to answer with.
    """
    token = fields.get("token", "")
    if not token:
        raise refusal(ErrorCode.BAD_TOKEN, "token is missing")
    to = fields.get("to", "").strip()
    if not NUMBER_PATTERN.fullmatch(to):
        raise refusal(ErrorCode.INVALID_PARAMETER, "to is not E.164 (+81…)")
    text = fields.get("text", "")
    if not text or len(text) > max_text_chars:
        raise refusal(
            ErrorCode.INVALID_PARAMETER,
            f"text of {len(text)} characters; 1-{max_text_chars} allowed",
        )
    tag = fields.get("clientTag")
    if tag is not None and not CLIENT_TAG_PATTERN.fullmatch(tag):
        raise refusal(
            ErrorCode.INVALID_PARAMETER, "clientTag is not 1-64 visible ASCII"
        )
    return SendRequest(to=to, text=text, client_tag=tag, token=token)


class AnswerKind(enum.Enum):
    ACCEPTED = "accepted"
    ERROR = "error"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SendAnswer:
    kind: AnswerKind
    client_tag: str | None = None
    error_code: str | None = None
    message: str = ""


def render_answer(
    *, status: Status, client_tag: str | None, error_code: str | None, message: str
) -> bytes:
    """A send answer or an error answer in the default shape (spec §4)."""
    return orjson.dumps(
        {
            "status": status.value,
            "clientTag": client_tag,
            "errorCode": error_code,
            "message": message,
        }
    )


def _object(body: bytes) -> Document:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RemoteProtocolError(f"not JSON: {exc}") from None
    if not isinstance(data, dict | list):
        raise RemoteProtocolError("the answer is not a JSON object")
    return data


def parse_send_answer(body: bytes, shape: Shape = DEFAULT_SHAPE) -> SendAnswer:
    """Read a send answer through ``shape``.

    Raises:
        RemoteProtocolError: not JSON, too large, a field of the wrong type, or a
            status that is neither accepted nor error (and no error code).
    """
    if len(body) > MAX_ANSWER_BYTES:
        raise RemoteProtocolError(f"answer of {len(body)} bytes")
    data = _object(body)
    kind, _, error_code = _classify(
        data,
        shape,
        "send",
        [(shape.accepted_values, AnswerKind.ACCEPTED)],
        AnswerKind.ERROR,
    )
    return SendAnswer(
        kind=kind,
        client_tag=_text_at(data, shape.client_tag_path),
        error_code=error_code,
        message=_text_at(data, shape.message_path) or "",
    )


# ------------------------------------------------------------ result and DLR


class State(enum.Enum):
    DELIVERED = "delivered"
    FAILED = "failed"
    DELIVERING = "delivering"
    #: An error answer of the result API (unknown clientTag, bad token).
    ERROR = "error"

    @property
    def final(self) -> bool:
        return self in (State.DELIVERED, State.FAILED)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """The result API's answer and the DLR body (the same object, spec §4)."""

    client_tag: str | None
    state: State
    #: The status literal as the provider wrote it.
    status: str
    error_code: str | None = None
    message: str = ""
    carrier: str = ""
    #: ISO 8601 with offset, as sent.
    done_at: str | None = None


def render_result(result: Result) -> bytes:
    """The default shape's result object."""
    return orjson.dumps(
        {
            "clientTag": result.client_tag,
            "status": result.status,
            "errorCode": result.error_code,
            "message": result.message,
            "carrier": result.carrier or None,
            "doneAt": result.done_at,
        }
    )


def _result(data: Document, shape: Shape) -> Result:
    state, status, error_code = _classify(
        data,
        shape,
        "result",
        [
            (shape.delivered_values, State.DELIVERED),
            (shape.failed_values, State.FAILED),
            (shape.delivering_values, State.DELIVERING),
        ],
        State.ERROR,
    )
    return Result(
        client_tag=_text_at(data, shape.client_tag_path),
        state=state,
        status=status or "",
        error_code=error_code,
        message=_text_at(data, shape.message_path) or "",
        carrier=_text_at(data, shape.carrier_path) or "",
        done_at=_text_at(data, shape.done_at_path),
    )


def parse_result(body: bytes, shape: Shape = DEFAULT_SHAPE) -> Result:
    """Read a result API answer through ``shape``.

    Raises:
        RemoteProtocolError: not JSON, too large, wrong types, or a status that
            is not configured.
    """
    if len(body) > MAX_ANSWER_BYTES:
        raise RemoteProtocolError(f"answer of {len(body)} bytes")
    return _result(_object(body), shape)


def parse_dlr(body: bytes, content_type: str, shape: Shape = DEFAULT_SHAPE) -> Result:
    """Read a DLR: JSON, or a form whose field names are the paths (spec §6).

    Raises:
        RemoteProtocolError: too large, malformed, no ``clientTag``, or a status
            that is not configured.
    """
    if len(body) > MAX_REQUEST_BYTES:
        raise RemoteProtocolError(f"DLR of {len(body)} bytes")
    if "json" in content_type.lower() or body.lstrip().startswith((b"{", b"[")):
        result = _result(_object(body), shape)
    else:
        result = _result(decode_form(body), shape)
    if result.client_tag is None:
        raise RemoteProtocolError("DLR without clientTag")
    return result
