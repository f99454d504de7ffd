"""API-Gateway bodies ↔ values, for both sides: the native face parses and validates
send requests with these functions, and the upstream connector builds them.

Every rule cites ``specs/apigw.md``; every refusal is a `ValidationError` whose code
the face turns into the spec's resultCode and whose message names the field. Unknown
fields are ignored (forward compatibility); ids sent as JSON numbers are taken as
strings (resolution 7); ``natCode`` may be an int or a string and may be called
``countryCode`` (resolution 8).

umsgate extensions, on every channel: ``reserveTime`` (send at that time) and
``expireTime`` (give up at that time), each ``yyyyMMddHHmm[ss]`` in KST or ISO 8601.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from typing import TypedDict

import orjson

from umsgate.domain import phone, text
from umsgate.domain.message import Channel
from umsgate.domain.results import Invalid
from umsgate.errors import ValidationError

KST = dt.timezone(dt.timedelta(hours=9), "KST")

#: srcMsgId length (spec §6: 20).
SRC_MSG_ID_MAX = 20
#: cmpMsgId length (spec §9, resolution: 40).
CMP_MSG_ID_MAX = 40
#: Most files per MMS (spec §7).
MAX_FILES = 3
#: originCode ≤ 9 and billCode ≤ 5 printable ASCII (resolution 16).
ORIGIN_CODE_MAX = 9
BILL_CODE_MAX = 5
#: agencyId/agencyKey/brandKey/profileKey/templateId: not given by the seed; 100
#: keeps stored rows bounded.
KEY_MAX = 100
#: KakaoTalk content in characters (resolution: 1000), templateCode (32), image
#: fields (255), buttons (at most 5, 4000 bytes serialised).
KKO_CONTENT_MAX = 1000
KKO_TEMPLATE_MAX = 32
KKO_IMAGE_MAX = 255
KKO_BUTTONS_MAX = 5
KKO_BUTTONS_BYTES = 4000
#: RCS buttons (GSMA RCC.07 allows at most 11 suggestions) and template params size.
RCS_BUTTONS_MAX = 11
RCS_PARAM_BYTES = 8000
#: The furthest ahead a message may be reserved, and the longest it may live.
MAX_RESERVE_AHEAD = 90 * 86400.0
MAX_TTL = 30 * 86400.0
#: RCS ``expiryOption`` (spec §8): 1 day, 30 s, 180 s, 3600 s.
RCS_EXPIRY = {"1": 86400.0, "2": 30.0, "3": 180.0, "4": 3600.0}
NO_SUBJECT = "제목없음"

_FOOTER = re.compile(r"^[0-9-]{1,20}$")
_FILE_ID = re.compile(r"^[0-9A-Za-z]{1,20}$")


class Fallback(TypedDict):
    """The message sent instead when an RCS or KakaoTalk one fails (spec §8)."""

    channel: str
    subject: str
    content: str
    fileIds: list[str]
    originCode: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SendRequest:
    """A validated send request of any channel."""

    channel: Channel
    src_msg_id: str
    cmp_msg_id: str
    codec: str
    sender: str
    receiver: str
    subject: str
    content: str
    file_ids: tuple[str, ...]
    extra: Mapping[str, object]
    fallback: Fallback | None
    reserve_at: float | None
    expires_at: float | None

    def content_hash(self) -> str:
        """Digest of everything that defines the message (idempotency check)."""
        doc = [
            self.channel.value,
            self.cmp_msg_id,
            self.codec,
            self.sender,
            self.receiver,
            self.subject,
            self.content,
            list(self.file_ids),
            self.extra,
            self.fallback,
            self.reserve_at,
            self.expires_at,
        ]
        return hashlib.sha256(
            orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
        ).hexdigest()

    def row(self, client_id: str, now: float, default_ttl: float) -> dict[str, object]:
        """The ``messages`` row of this request for ``client_id`` (without id,
        created_at and status, which the acceptor gives it); a message without an
        expiry lives ``default_ttl`` seconds from when it is due."""
        due = self.reserve_at if self.reserve_at and self.reserve_at > now else now
        return {
            "client_id": client_id,
            "src_msg_id": self.src_msg_id,
            "kind": 0,
            "parent_id": None,
            "cmp_msg_id": self.cmp_msg_id,
            "channel": self.channel.value,
            "sender": self.sender,
            "receiver": self.receiver,
            "subject": self.subject,
            "content": self.content,
            "charset": self.codec,
            "file_ids": orjson.dumps(self.file_ids).decode() if self.file_ids else "[]",
            "extra": orjson.dumps(self.extra).decode(),
            "fallback": orjson.dumps(self.fallback).decode() if self.fallback else None,
            "content_hash": self.content_hash(),
            "due_at": due,
            "expires_at": self.expires_at or (due + default_ttl),
            "attempts": 0,
            "segments": 1,
            "carrier": "",
        }


# -- field readers ---------------------------------------------------------------------


def _bad(code: str, field: str, message: str) -> ValidationError:
    return ValidationError(code, message, field=field)


def _get_str(
    body: Mapping[str, object],
    name: str,
    *,
    required: bool,
    max_chars: int | None = None,
    id_like: bool = False,
    default: str = "",
    within: str = "",
) -> str:
    value = body.get(name)
    if (
        value.__class__ is str
        and (max_chars is None or len(value) <= max_chars)
        and "\x00" not in value
        and (not required or (not value.isspace() and value))
    ):
        return value  # the common case, as the checks below would pass it
    # A field of a nested object is named with its path (``fallback.type``).
    label = f"{within}.{name}" if within else name
    if value is None:
        if required:
            raise _bad(Invalid.MISSING, label, f"{label} is required")
        return default
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _bad(Invalid.MALFORMED, label, f"{label} must be a string")
    if isinstance(value, int):
        if not id_like:
            raise _bad(Invalid.MALFORMED, label, f"{label} must be a string")
        value = str(value)
    if required and not value.strip():
        raise _bad(Invalid.MISSING, label, f"{label} is required")
    if "\x00" in value:
        raise _bad(Invalid.NOT_ALLOWED, label, f"{label} contains a NUL character")
    if max_chars is not None and len(value) > max_chars:
        raise _bad(
            Invalid.TOO_LONG, label, f"{label} is longer than {max_chars} characters"
        )
    return value


def _get_bool(
    body: Mapping[str, object], name: str, *, required: bool, default: bool = False
) -> bool:
    value = body.get(name)
    if value is None:
        if required:
            raise _bad(Invalid.MISSING, name, f"{name} is required")
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.upper() in ("Y", "N", "TRUE", "FALSE"):
        return value.upper() in ("Y", "TRUE")
    raise _bad(Invalid.MALFORMED, name, f"{name} must be a boolean")


def _nat_code(body: Mapping[str, object]) -> int:
    name = "natCode" if "natCode" in body else "countryCode"
    value = body.get(name)
    if value is None:
        return 82
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _bad(Invalid.MALFORMED, name, f"{name} must be a number")
    if str(value).strip() != "82":
        raise _bad(
            Invalid.NOT_ALLOWED,
            name,
            f"{name} {value!r} is not served: domestic (82) only",
        )
    return 82


def _receiver(body: Mapping[str, object], nat: int, name: str = "receiver") -> str:
    message = "{raw}는 잘못된 수신번호 형식입니다."
    return _number(body, nat, name, phone.receiver, Invalid.BAD_RECEIVER, message)


def _sender(body: Mapping[str, object], nat: int, name: str) -> str:
    message = "{name} {raw!r} is not a valid sender number"
    return _number(body, nat, name, phone.sender, Invalid.BAD_SENDER, message)


def _number(
    body: Mapping[str, object],
    nat: int,
    name: str,
    normalize: Callable[[str, int], str],
    code: str,
    message: str,
) -> str:
    """The phone number in ``name``, normalized; ``message`` (a format of ``raw``
    and ``name``) says why not."""
    raw = _get_str(body, name, required=True)
    if len(raw) <= phone.MAX_NUMBER_CHARS:
        try:
            return normalize(raw, nat)
        except phone.InvalidNumber:
            pass
    raise _bad(code, name, message.format(raw=raw, name=name))


def _file_ids(value: object, name: str = "fileIds") -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(Invalid.MALFORMED, name, f"{name} must be a list of strings")
    if len(value) > MAX_FILES:
        raise _bad(
            Invalid.BAD_FILE, name, f"{name} has {len(value)} ids; at most {MAX_FILES}"
        )
    for v in value:
        if not _FILE_ID.match(v):
            raise _bad(Invalid.BAD_FILE, name, f"{name}: {v!r} is not a file id")
    return tuple(value)


def parse_time(value: object, name: str) -> float | None:
    """``yyyyMMddHHmm[ss]`` (KST) or ISO 8601 (no offset = KST) → epoch seconds."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad(Invalid.MALFORMED, name, f"{name} must be a string")
    try:
        return _epoch(value)
    except ValueError:
        raise _bad(
            Invalid.MALFORMED,
            name,
            f"{name} {value!r} is not a time (yyyyMMddHHmm or ISO 8601)",
        ) from None


# A campaign's messages carry the same few times: the cache answers most of them.
@functools.lru_cache(maxsize=1024)
def _epoch(value: str) -> float:
    """Raises ValueError (not cached) for what is not a time."""
    if value.isascii() and value.isdigit() and len(value) in (12, 14):
        # The fields by position: strptime costs ten times as much, and the
        # constructor checks every range as it does.
        when = dt.datetime(
            int(value[0:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[8:10]),
            int(value[10:12]),
            int(value[12:14] or 0),
            tzinfo=KST,
        )
    else:
        when = dt.datetime.fromisoformat(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=KST)
    return when.timestamp()


def _times(body: Mapping[str, object], now: float) -> tuple[float | None, float | None]:
    reserve = parse_time(body.get("reserveTime"), "reserveTime")
    expire = parse_time(body.get("expireTime"), "expireTime")
    if reserve is not None and reserve > now + MAX_RESERVE_AHEAD:
        raise _bad(
            Invalid.NOT_ALLOWED, "reserveTime", "reserveTime is more than 90 days ahead"
        )
    if expire is not None:
        if expire <= max(now, reserve or now):
            raise _bad(
                Invalid.NOT_ALLOWED,
                "expireTime",
                "expireTime is not after the sending time",
            )
        if expire > now + MAX_TTL + (reserve - now if reserve else 0):
            raise _bad(
                Invalid.NOT_ALLOWED,
                "expireTime",
                "expireTime is more than 30 days ahead",
            )
    return reserve, expire


def _header(
    headers: Mapping[str, str],
    body: Mapping[str, object],
    name: str,
    limit: int,
    *,
    from_body: bool = False,
) -> str:
    value = headers.get(name.lower())
    if value is None and from_body:
        raw = body.get(name)
        value = (
            str(raw)
            if isinstance(raw, str | int) and not isinstance(raw, bool)
            else None
        )
    if value is None or not value.strip():
        raise _bad(Invalid.MISSING, name, f"header {name} is required")
    if len(value) > limit:
        raise _bad(
            Invalid.TOO_LONG, name, f"header {name} is longer than {limit} characters"
        )
    if not (value.isascii() and value.isprintable()):
        raise _bad(Invalid.NOT_ALLOWED, name, f"header {name} must be printable ASCII")
    return value


# -- channels --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Head:
    """What every channel reads first, in the order the spec lists it: the header
    values kept as ``extra``, srcMsgId, the text codec (dstCharSet) and natCode."""

    extra: dict[str, object]
    src: str
    codec: str
    nat: int


def _head(body: Mapping[str, object], extra: dict[str, object]) -> _Head:
    src = _get_str(
        body, "srcMsgId", required=True, max_chars=SRC_MSG_ID_MAX, id_like=True
    )
    codec = text.codec_for(_get_str(body, "dstCharSet", required=False) or None)
    return _Head(extra, src, codec, _nat_code(body))


def _message_head(
    body: Mapping[str, object], headers: Mapping[str, str]
) -> tuple[_Head, str]:
    """What SMS and LMS/MMS requests share: the head and the sender."""
    extra: dict[str, object] = {
        "originCode": _header(headers, body, "originCode", ORIGIN_CODE_MAX),
        "billCode": _header(headers, body, "billCode", BILL_CODE_MAX),
    }
    head = _head(body, extra)
    return head, _sender(body, head.nat, "callback")


def _request(
    body: Mapping[str, object],
    channel: Channel,
    head: _Head,
    sender: str,
    receiver: str,
    times: tuple[float | None, float | None],
    *,
    content: str,
    subject: str = "",
    file_ids: tuple[str, ...] = (),
    fallback: Fallback | None = None,
) -> SendRequest:
    """The request, its channel's own fields checked; cmpMsgId is read last."""
    return SendRequest(
        channel=channel,
        src_msg_id=head.src,
        cmp_msg_id=_cmp(body),
        codec=head.codec,
        sender=sender,
        receiver=receiver,
        subject=subject,
        content=content,
        file_ids=file_ids,
        extra=head.extra,
        fallback=fallback,
        reserve_at=times[0],
        expires_at=times[1],
    )


def parse_sms(
    body: Mapping[str, object], headers: Mapping[str, str], *, now: float
) -> SendRequest:
    """``POST /v1/message/sms`` (spec §6)."""
    head, sender = _message_head(body, headers)
    content = _get_str(body, "content", required=True)
    text.check_length(content, head.codec, text.SMS_MAX_BYTES, field="content")
    receiver = _receiver(body, head.nat)
    times = _times(body, now)
    return _request(body, Channel.SMS, head, sender, receiver, times, content=content)


def parse_mms(
    body: Mapping[str, object], headers: Mapping[str, str], *, now: float
) -> SendRequest:
    """``POST /v1/message/mms`` (spec §7): LMS without files, MMS with 1–3."""
    head, sender = _message_head(body, headers)
    files = _file_ids(body.get("fileIds"))
    channel = Channel.MMS if files else Channel.LMS
    content = _get_str(body, "content", required=channel is Channel.LMS)
    text.check_length(content, head.codec, text.LMS_MAX_BYTES, field="content")
    subject = _get_str(body, "subject", required=False) or NO_SUBJECT
    text.check_length(subject, head.codec, text.SUBJECT_MAX_BYTES, field="subject")
    receiver = _receiver(body, head.nat)
    times = _times(body, now)
    return _request(
        body,
        channel,
        head,
        sender,
        receiver,
        times,
        content=content,
        subject=subject,
        file_ids=files,
    )


def _cmp(body: Mapping[str, object]) -> str:
    return _get_str(
        body, "cmpMsgId", required=False, max_chars=CMP_MSG_ID_MAX, id_like=True
    )


def _agency(
    headers: Mapping[str, str], body: Mapping[str, object]
) -> dict[str, object]:
    # Resolution 17: headers, or the body when the header is absent (the header wins).
    return {
        "agencyId": _header(headers, body, "agencyId", KEY_MAX, from_body=True),
        "agencyKey": _header(headers, body, "agencyKey", KEY_MAX, from_body=True),
        "billCode": _header(headers, body, "billCode", BILL_CODE_MAX, from_body=True),
    }


def _fallback(body: Mapping[str, object], codec: str) -> Fallback | None:
    used = _get_bool(body, "usedFallback", required=True)
    raw = body.get("fallback")
    if not used:
        return None
    if not isinstance(raw, dict):
        raise _bad(
            Invalid.MISSING,
            "fallback",
            "fallback is required when usedFallback is true",
        )
    kind = _get_str(raw, "type", required=True, within="fallback").upper()
    if kind == "N":
        return None
    if kind not in ("SMS", "LMS", "MMS"):
        raise _bad(
            Invalid.NOT_ALLOWED,
            "fallback.type",
            f"fallback.type {kind!r} is not SMS, LMS, MMS or N",
        )
    # Spec §8 fallback table: content is required, subject too for LMS/MMS.
    content = _get_str(raw, "content", required=True, within="fallback")
    limit = text.SMS_MAX_BYTES if kind == "SMS" else text.LMS_MAX_BYTES
    text.check_length(content, codec, limit, field="fallback.content")
    subject = ""
    if kind != "SMS":
        subject = _get_str(raw, "subject", required=True, within="fallback")
        text.check_length(
            subject, codec, text.SUBJECT_MAX_BYTES, field="fallback.subject"
        )
    files = _file_ids(raw.get("fileIds"), "fallback.fileIds") if kind == "MMS" else ()
    if kind == "MMS" and not files:
        raise _bad(
            Invalid.MISSING,
            "fallback.fileIds",
            "fallback.fileIds is required for an MMS fallback",
        )
    origin = _get_str(
        raw,
        "originCode",
        required=False,
        max_chars=ORIGIN_CODE_MAX,
        id_like=True,
        within="fallback",
    )
    return {
        "channel": kind,
        "subject": subject,
        "content": content,
        "fileIds": list(files),
        "originCode": origin,
    }


def _buttons(
    value: object, *, name: str, max_items: int, max_bytes: int, need: tuple[str, ...]
) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(b, dict) for b in value):
        raise _bad(Invalid.MALFORMED, name, f"{name} must be a list of objects")
    if len(value) > max_items:
        raise _bad(
            Invalid.TOO_LONG,
            name,
            f"{name} has {len(value)} items; at most {max_items}",
        )
    if len(orjson.dumps(value)) > max_bytes:
        raise _bad(Invalid.TOO_LONG, name, f"{name} is larger than {max_bytes} bytes")
    for i, button in enumerate(value):
        for key in need:
            if not isinstance(button.get(key), str) or not button[key]:
                raise _bad(
                    Invalid.MISSING,
                    f"{name}[{i}].{key}",
                    f"{name}[{i}].{key} is required",
                )
    return value


def parse_rcs(
    body: Mapping[str, object], headers: Mapping[str, str], *, now: float
) -> SendRequest:
    """``POST /v1/message/rcs`` (spec §8)."""
    head = _head(body, _agency(headers, body))
    kind = _get_str(body, "type", required=False, default="INFO").upper()
    if kind == "NFO":  # resolution 18
        kind = "INFO"
    if kind not in ("INFO", "ETC"):
        raise _bad(
            Invalid.NOT_ALLOWED, "type", f"type {kind!r} is not supported (INFO, ETC)"
        )
    sender = _sender(body, head.nat, "chatbotId")
    brand = _get_str(body, "brandKey", required=True, max_chars=KEY_MAX)
    header = _get_str(body, "header", required=True, id_like=True)
    if header not in ("0", "1"):
        raise _bad(
            Invalid.NOT_ALLOWED,
            "header",
            "header must be 0 (information) or 1 (advertising)",
        )
    footer = _get_str(body, "footer", required=header == "1")
    if footer and not _FOOTER.match(footer):
        raise _bad(Invalid.NOT_ALLOWED, "footer", "footer holds digits and '-' only")
    rcs_type = _get_str(body, "rcsType", required=True, max_chars=20).upper()
    receiver = _receiver(body, head.nat)
    expiry = _get_str(body, "expiryOption", required=False, id_like=True, default="1")
    if expiry not in RCS_EXPIRY:
        raise _bad(
            Invalid.NOT_ALLOWED, "expiryOption", "expiryOption must be 1, 2, 3 or 4"
        )
    template = _get_str(body, "templateId", required=True, max_chars=KEY_MAX)
    param = body.get("templateParam")
    if param is None:
        raise _bad(Invalid.MISSING, "templateParam", "templateParam is required")
    if isinstance(param, str):
        try:
            param = orjson.loads(param)
        except orjson.JSONDecodeError:
            raise _bad(
                Invalid.MALFORMED, "templateParam", "templateParam is not JSON"
            ) from None
    if not isinstance(param, dict):
        raise _bad(
            Invalid.MALFORMED, "templateParam", "templateParam must be an object"
        )
    if len(orjson.dumps(param)) > RCS_PARAM_BYTES:
        raise _bad(
            Invalid.TOO_LONG,
            "templateParam",
            f"templateParam is larger than {RCS_PARAM_BYTES} bytes",
        )
    buttons = _buttons(
        body.get("buttons"),
        name="buttons",
        max_items=RCS_BUTTONS_MAX,
        max_bytes=KKO_BUTTONS_BYTES,
        need=(),
    )
    copy_allowed = _get_bool(body, "copyAllowed", required=True)
    fallback = _fallback(body, head.codec)
    reserve, expire = _times(body, now)
    rcs_expire = (reserve or now) + RCS_EXPIRY[expiry]
    expire = min(expire, rcs_expire) if expire else rcs_expire
    head.extra.update(
        type=kind,
        brandKey=brand,
        header=header,
        footer=footer,
        rcsType=rcs_type,
        expiryOption=expiry,
        templateId=template,
        templateParam=param,
        buttons=buttons,
        copyAllowed=copy_allowed,
    )
    content = _rcs_text(param)
    subject = str(param.get("title", ""))[:100]
    if "\x00" in content or "\x00" in subject:
        # Both become text columns (PostgreSQL cannot store NUL) and carrier fields.
        raise _bad(
            Invalid.NOT_ALLOWED,
            "templateParam",
            "templateParam contains a NUL character",
        )
    return _request(
        body,
        Channel.RCS,
        head,
        sender,
        receiver,
        (reserve, expire),
        content=content,
        subject=subject,
        fallback=fallback,
    )


def _rcs_text(param: Mapping[str, object]) -> str:
    for key in ("description", "body", "text", "content"):
        value = param.get(key)
        if isinstance(value, str):
            return value
    return orjson.dumps(param).decode()


def parse_kko(
    body: Mapping[str, object], headers: Mapping[str, str], *, now: float
) -> SendRequest:
    """``POST /v1/message/kko`` (spec §9, reconstructed table)."""
    head = _head(body, _agency(headers, body))
    msg_type = _get_str(body, "msgType", required=True).upper()
    if msg_type not in ("AT", "FT"):
        raise _bad(
            Invalid.NOT_ALLOWED,
            "msgType",
            "msgType must be AT (AlimTalk) or FT (FriendTalk)",
        )
    sender = _sender(body, head.nat, "callback")
    receiver = _receiver(body, head.nat)
    title = _get_str(body, "title", required=False, max_chars=KEY_MAX)
    content = _get_str(body, "content", required=True, max_chars=KKO_CONTENT_MAX)
    text.byte_length(content, head.codec, field="content")
    profile = _get_str(body, "profileKey", required=True, max_chars=KEY_MAX)
    template = _get_str(
        body, "templateCode", required=msg_type == "AT", max_chars=KKO_TEMPLATE_MAX
    )
    wide = _get_str(body, "wide", required=False, default="N").upper()
    if wide not in ("Y", "N"):
        raise _bad(Invalid.NOT_ALLOWED, "wide", "wide must be Y or N")
    buttons = _buttons(
        body.get("buttons", body.get("button")),
        name="buttons",
        max_items=KKO_BUTTONS_MAX,
        max_bytes=KKO_BUTTONS_BYTES,
        need=("name", "type"),
    )
    head.extra.update(
        msgType=msg_type,
        title=title,
        kplusId=_get_str(body, "kplusId", required=False, max_chars=KEY_MAX),
        profileKey=profile,
        templateCode=template,
        wide=wide,
        imageLink=_get_str(body, "imageLink", required=False, max_chars=KKO_IMAGE_MAX),
        imageUrl=_get_str(body, "imageUrl", required=False, max_chars=KKO_IMAGE_MAX),
        imageFlag=_get_bool(body, "imageFlag", required=False),
        adFlag=_get_bool(body, "adFlag", required=True),
        buttons=buttons,
    )
    fallback = _fallback(body, head.codec)
    times = _times(body, now)
    return _request(
        body,
        Channel.KKO,
        head,
        sender,
        receiver,
        times,
        content=content,
        subject=title,
        fallback=fallback,
    )


PARSERS = {"sms": parse_sms, "mms": parse_mms, "rcs": parse_rcs, "kko": parse_kko}


# -- answers ---------------------------------------------------------------------------


# The answers of one group commit share their transfer time.
@functools.lru_cache(maxsize=64)
def iso_time(epoch: float) -> str:
    """``2024-06-14T10:52:06.053+00:00`` (spec §10)."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")


def file_expire_time(epoch: float) -> str:
    """``2024-06-15T10:13:15`` in KST, no offset (resolution 3)."""
    return dt.datetime.fromtimestamp(epoch, KST).strftime("%Y-%m-%dT%H:%M:%S")


def send_answer(
    ums_msg_id: int, src_msg_id: str, transfer_time: float
) -> dict[str, str]:
    return {
        "resultCode": "10000",
        "resultMessage": "transfer request successful",
        "transferTime": iso_time(transfer_time),
        "umsMsgId": str(ums_msg_id),
        "srcMsgId": src_msg_id,
    }
