"""ToBeText bodies ↔ values, both sides, sans-I/O.

Three exchanges (tobetext spec §3–§5):

* the send request, a form POST: the connector builds it with
  `encode_send_request`; the simulator (and later the gateway's compatible face)
  reads it with `decode_form`, `credentials` and `parse_send_request`, which raise
  `RemoteProtocolError` carrying the `AckCode` to answer;
* the acknowledgement, an XML ``ToBeTextResult``: `render_ack` / `parse_ack`;
* the status callback, a form POST to the customer: `render_callback` /
  `parse_callback` (which also reads a query string or a ``ToBeTextResult`` XML
  body, spec §5).

Field names are read case-insensitively (``Ckey``/``CKey``, spec §10.4). Every XML
document is parsed by defusedxml with DTDs, entities and external references
refused. Nothing here holds state: validation that needs an account (410) or the
history of Ckeys (repeats) belongs to the caller.
"""

from __future__ import annotations

import dataclasses
import email.parser
import email.policy
import re
import urllib.parse
from collections.abc import Mapping
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import escape

import defusedxml
import defusedxml.ElementTree
import phonenumbers

from umsgate.domain import phone
from umsgate.errors import LocalProtocolError, RemoteProtocolError
from umsgate.protocols.tobetext.codes import ACK_MESSAGES, AckCode, Status

#: Largest send request or callback body (spec §10.19: 16 KiB).
MAX_REQUEST_BYTES = 16384
#: Largest acknowledgement the connector reads (the sample is 250 bytes; 8 KiB leaves
#: room for long error messages without letting a broken peer feed us megabytes).
MAX_ACK_BYTES = 8192
#: Most form fields read from one body (seven are defined; the rest is noise).
MAX_FIELDS = 64
#: ``Ckey`` (spec §3 resolution): ≤ 64 ASCII characters ``[A-Za-z0-9._:-]``.
CKEY_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
#: ``Cid`` and ``token``: the seed gives no format; ≤ 64 visible ASCII characters.
CREDENTIAL_PATTERN = re.compile(r"[\x21-\x7e]{1,64}")
#: Both numbers (spec §3 resolution): optional ``+``, then 8–15 digits.
NUMBER_PATTERN = re.compile(r"\+?([0-9]{8,15})")
#: ``Body`` (spec §10.8): 160 characters when all are ASCII, else 80.
BODY_MAX_ASCII = 160
BODY_MAX_OTHER = 80
#: ``callback`` URL: longer ones are treated as absent (browsers' practical limit).
MAX_CALLBACK_URL = 2048
#: ``MsgId`` (spec §10.5): "34 bytes", opaque; kept up to the 64-character column.
MAX_MSG_ID = 64

#: Field names on the wire, as the seed spells them in requests.
SEND_FIELDS = ("Ckey", "RecvNum", "SendNum", "Body", "Cid", "token", "callback")
#: Field names in acknowledgements and callbacks, in the seed's order.
RESULT_FIELDS = (
    "CKey",
    "Status",
    "MsgId",
    "SendNum",
    "RecvNum",
    "ErrorCode",
    "ErrorMsg",
)


def body_fits(text: str) -> bool:
    """Whether ``Body`` text is within the limit of spec §10.8."""
    limit = BODY_MAX_ASCII if text.isascii() else BODY_MAX_OTHER
    return 0 < len(text) <= limit


# --------------------------------------------------------------------- send request


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SendRequest:
    """A validated send request (spec §3)."""

    ckey: str
    #: As given: ``+821012341234`` or ``821012341234``.
    recv_num: str
    send_num: str
    body: str
    cid: str
    token: str
    #: Absolute http(s) URL for the status callback, or None.
    callback: str | None = None


def encode_send_request(request: SendRequest) -> bytes:
    """The URL-encoded UTF-8 form (spec §10.9); the content type is
    ``application/x-www-form-urlencoded; charset=UTF-8``.

    Raises:
        LocalProtocolError: a value breaks spec §3 (a bug of the caller).
    """
    for value, pattern, name in (
        (request.ckey, CKEY_PATTERN, "Ckey"),
        (request.cid, CREDENTIAL_PATTERN, "Cid"),
        (request.token, CREDENTIAL_PATTERN, "token"),
        (request.recv_num, NUMBER_PATTERN, "RecvNum"),
        (request.send_num, NUMBER_PATTERN, "SendNum"),
    ):
        if not pattern.fullmatch(value):
            raise LocalProtocolError(f"{name} {value!r} breaks spec §3")
    if not body_fits(request.body):
        raise LocalProtocolError("Body is empty or over the limit of spec §10.8")
    pairs = [
        ("Ckey", request.ckey),
        ("RecvNum", request.recv_num),
        ("SendNum", request.send_num),
        ("Body", request.body),
        ("Cid", request.cid),
        ("token", request.token),
    ]
    if request.callback is not None:
        pairs.append(("callback", request.callback))
    return _urlencode(pairs)


def _urlencode(pairs: list[tuple[str, str]]) -> bytes:
    # %20 for spaces and every reserved character escaped, as in the spec's examples.
    return urllib.parse.urlencode(
        pairs, encoding="utf-8", quote_via=urllib.parse.quote
    ).encode("ascii")


def _text(raw: bytes) -> str:
    # Spec §10.9: UTF-8, falling back to CP949 (the Java and curl samples send raw
    # local bytes). Bytes that are neither become U+FFFD, which validation refuses.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp949")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace")


def decode_form(body: bytes, content_type: str) -> dict[str, str]:
    """Fields of a form body, names lower-cased, first occurrence kept.

    ``multipart/form-data`` (the PHP sample) is read as multipart; anything else as
    URL-encoded (the Java sample sends no content type). A body that is not a form
    gives no or nonsense fields, which `credentials` then refuses. Never raises.
    """
    if content_type.lower().lstrip().startswith("multipart/form-data"):
        return _decode_multipart(body, content_type)
    fields: dict[str, str] = {}
    for pair in body.split(b"&")[:MAX_FIELDS]:
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        key = _text(urllib.parse.unquote_to_bytes(name.replace(b"+", b" "))).lower()
        fields.setdefault(
            key.strip(), _text(urllib.parse.unquote_to_bytes(value.replace(b"+", b" ")))
        )
    return fields


def _decode_multipart(body: bytes, content_type: str) -> dict[str, str]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode(
        "utf-8", errors="replace"
    )
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    if not message.is_multipart():
        return fields
    for part in list(message.iter_parts())[:MAX_FIELDS]:
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields.setdefault(name.strip().lower(), _text(payload))
    return fields


def refusal(code: AckCode, detail: str) -> RemoteProtocolError:
    """The error that makes a server answer ``code`` (the message says why)."""
    return RemoteProtocolError(
        f"{code} {ACK_MESSAGES[code]}: {detail}", code=int(code), close_session=False
    )


def credentials(fields: Mapping[str, str]) -> tuple[str, str]:
    """``Cid`` and ``token`` from decoded fields.

    Raises:
        RemoteProtocolError: code 2006 (Cid) or 2007 (token) missing or malformed.
    """
    cid = fields.get("cid", "").strip()
    if not CREDENTIAL_PATTERN.fullmatch(cid):
        raise refusal(AckCode.CID, "missing or malformed")
    token = fields.get("token", "").strip()
    if not CREDENTIAL_PATTERN.fullmatch(token):
        raise refusal(AckCode.TOKEN, "missing or malformed")
    return cid, token


def _country_known(digits: str) -> bool:
    try:
        phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException as exc:
        return exc.error_type != phonenumbers.NumberParseException.INVALID_COUNTRY_CODE
    return True


def _valid_number(digits: str) -> bool:
    """Whether ``+digits`` is a valid number of its country: `phone.sender` says
    so as the library does, through its fast path for Korean numbers (a send's
    largest cost otherwise: two parses by the library, some 100 µs) and its cache.
    """
    try:
        phone.sender("+" + digits)
    except phone.InvalidNumber:
        return False
    return True


def parse_send_request(fields: Mapping[str, str]) -> SendRequest:
    """Validate decoded fields into a `SendRequest`, in the order Cid, token, Ckey,
    RecvNum, SendNum, Body (spec §3, §6); the first broken field decides the code.

    Raises:
        RemoteProtocolError: ``code`` is the `AckCode` to answer with.
    """
    cid, token = credentials(fields)
    ckey = fields.get("ckey", "").strip()
    if not CKEY_PATTERN.fullmatch(ckey):
        raise refusal(AckCode.CKEY, "missing, longer than 64 or not [A-Za-z0-9._:-]")
    recv = fields.get("recvnum", "").strip()
    match = NUMBER_PATTERN.fullmatch(recv)
    if match is None:
        raise refusal(AckCode.RECV_NUM, "not an optional '+' and 8-15 digits")
    digits = match.group(1)
    valid = _valid_number(digits)
    # A valid number has a known country code: the country is looked at only for
    # the code of a refusal.
    if digits.startswith("0") or (not valid and not _country_known(digits)):
        raise refusal(AckCode.COUNTRY_CODE, "no country code, or one not served")
    if not valid:
        raise refusal(AckCode.RECV_NUM, "not a valid number in its country")
    send = fields.get("sendnum", "").strip()
    if not NUMBER_PATTERN.fullmatch(send):
        raise refusal(AckCode.SEND_NUM, "not an optional '+' and 8-15 digits")
    body = fields.get("body", "")
    if "\ufffd" in body:
        raise refusal(AckCode.BODY, "not UTF-8 or CP949 text")
    if not body_fits(body):
        raise refusal(
            AckCode.BODY,
            f"{len(body)} characters; 1-{BODY_MAX_ASCII} ASCII or 1-{BODY_MAX_OTHER} "
            "with any other character",
        )
    callback = fields.get("callback", "").strip() or None
    if callback is not None and not usable_callback(callback):
        # The seed gives no code for a bad callback URL; a provider would simply be
        # unable to call it, so the message goes out without a callback.
        callback = None
    return SendRequest(
        ckey=ckey,
        recv_num=recv,
        send_num=send,
        body=body,
        cid=cid,
        token=token,
        callback=callback,
    )


def usable_callback(url: str) -> bool:
    """An absolute http(s) URL with a host, within `MAX_CALLBACK_URL` (spec §5)."""
    if len(url) > MAX_CALLBACK_URL:
        return False
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# ------------------------------------------------------------ ack and callback


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """A ``ToBeTextResult``: the acknowledgement (spec §4) or, with the callback's
    codes, the status callback (spec §5); both carry the same seven fields."""

    ckey: str = ""
    #: ``SUCCESS`` or ``FAIL``; kept as sent (decisions use ``error_code``).
    status: str = Status.SUCCESS
    msg_id: str = ""
    send_num: str = ""
    recv_num: str = ""
    error_code: int
    error_msg: str = ""

    @property
    def success(self) -> bool:
        """ErrorCode 200: accepted (ack) or delivered (callback), spec §10.12."""
        return self.error_code == 200

    def fields(self) -> list[tuple[str, str]]:
        return [
            ("CKey", self.ckey),
            ("Status", self.status),
            ("MsgId", self.msg_id),
            ("SendNum", self.send_num),
            ("RecvNum", self.recv_num),
            ("ErrorCode", str(self.error_code)),
            ("ErrorMsg", self.error_msg),
        ]


def render_ack(result: Result) -> bytes:
    """The XML document of spec §4/§8, without declaration, UTF-8."""
    inner = "".join(
        f"<{name}>{escape(value)}</{name}>" for name, value in result.fields()
    )
    return f"<ToBeTextResult>{inner}</ToBeTextResult>".encode()


def parse_ack(body: bytes) -> Result:
    """Read an acknowledgement (or an XML callback).

    Raises:
        RemoteProtocolError: not a well-formed ``ToBeTextResult`` with an integer
            ``ErrorCode``, larger than `MAX_ACK_BYTES`, or carrying a DTD, an entity
            or an external reference.
    """
    if len(body) > MAX_ACK_BYTES:
        raise RemoteProtocolError(
            f"answer of {len(body)} bytes; at most {MAX_ACK_BYTES}"
        )
    try:
        root = defusedxml.ElementTree.fromstring(
            body, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DefusedXmlException as exc:
        raise RemoteProtocolError(f"XML refused: {type(exc).__name__}") from exc
    except ParseError as exc:
        raise RemoteProtocolError(f"not well-formed XML: {exc}") from exc
    if root.tag.lower() != "tobetextresult":
        raise RemoteProtocolError(f"root element {root.tag!r} is not ToBeTextResult")
    values: dict[str, str] = {}
    for child in root:
        if isinstance(child.tag, str):
            values.setdefault(child.tag.lower(), (child.text or "").strip())
    return _result(values)


def _result(values: Mapping[str, str]) -> Result:
    code = values.get("errorcode", "").strip()
    if not code.isdigit() or len(code) > 9:
        raise RemoteProtocolError(f"ErrorCode {code!r} is not a number")
    msg_id = values.get("msgid", "").strip()
    if len(msg_id) > MAX_MSG_ID:
        raise RemoteProtocolError(
            f"MsgId of {len(msg_id)} characters; at most {MAX_MSG_ID}"
        )
    return Result(
        ckey=values.get("ckey", "").strip(),
        status=values.get("status", "").strip(),
        msg_id=msg_id,
        send_num=values.get("sendnum", "").strip(),
        recv_num=values.get("recvnum", "").strip(),
        error_code=int(code),
        error_msg=values.get("errormsg", "").strip(),
    )


def render_callback(result: Result) -> bytes:
    """The status callback as a URL-encoded UTF-8 form (spec §5 resolution)."""
    return _urlencode(result.fields())


def parse_callback(body: bytes, content_type: str, query: str = "") -> Result:
    """Read a status callback: an XML ``ToBeTextResult``, a form body, or (for a
    GET) the query string (spec §5).

    Raises:
        RemoteProtocolError: larger than `MAX_REQUEST_BYTES`, malformed, no integer
            ``ErrorCode``, or neither ``CKey`` nor ``MsgId``.
    """
    if len(body) > MAX_REQUEST_BYTES:
        raise RemoteProtocolError(
            f"callback of {len(body)} bytes; at most {MAX_REQUEST_BYTES}"
        )
    stripped = body.lstrip()
    if "xml" in content_type.lower() or stripped.startswith(b"<"):
        result = parse_ack(stripped)
    else:
        fields = decode_form(body, content_type) if body else {}
        if not fields and query:
            fields = decode_form(query.encode("latin-1", errors="replace"), "")
        result = _result(fields)
    if not result.ckey and not result.msg_id:
        raise RemoteProtocolError("callback names neither CKey nor MsgId")
    return result


def error_result(fields: Mapping[str, str], error: RemoteProtocolError) -> Result:
    """The refusing acknowledgement for ``error`` raised while reading ``fields``:
    Ckey and numbers echoed when they are printable (spec §8's failure example)."""
    code = AckCode.CKEY
    if isinstance(error.code, int) and error.code in set(AckCode):
        code = AckCode(error.code)
    return Result(
        ckey=_echo(fields.get("ckey", ""), CKEY_PATTERN),
        status=Status.FAIL,
        send_num=_echo_number(fields.get("sendnum", "")),
        recv_num=_echo_number(fields.get("recvnum", "")),
        error_code=int(code),
        # A refused callback says why (which address, which setting): the client
        # cannot tell from its own fields, as it can for the others.
        error_msg=(
            error.message.removeprefix(f"{code} ")
            if code is AckCode.CALLBACK
            else ACK_MESSAGES[code]
        ),
    )


def _echo(value: str, pattern: re.Pattern[str]) -> str:
    value = value.strip()
    return value if pattern.fullmatch(value) else ""


def _echo_number(value: str) -> str:
    match = NUMBER_PATTERN.fullmatch(value.strip())
    return match.group(1) if match else ""
