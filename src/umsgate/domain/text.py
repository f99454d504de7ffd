"""Text rules: which charset a message is counted in, and how many bytes it takes.

Korean providers give their limits in bytes of EUC-KR. Plain EUC-KR (KS X 1001) holds
only 2,350 precomposed Hangul syllables, so a name such as "똠" would fail; every
provider in practice accepts CP949 (Microsoft's superset that encodes all 11,172), so
"euc-kr" is counted with the ``cp949`` codec. A character the charset cannot hold is
refused, never replaced.
"""

from __future__ import annotations

from umsgate.domain.message import Channel
from umsgate.domain.results import Invalid
from umsgate.errors import ValidationError

#: Names a client may give in ``dstCharSet`` → the Python codec that counts the bytes.
CHARSETS: dict[str, str] = {
    "euc-kr": "cp949",
    "euckr": "cp949",
    "cp949": "cp949",
    "ks_c_5601-1987": "cp949",
    "ksc5601": "cp949",
    "utf-8": "utf-8",
    "utf8": "utf-8",
}

DEFAULT_CHARSET = "euc-kr"

#: SMS body limit in bytes (apigw spec §6; the seed's "90 bytes").
SMS_MAX_BYTES = 90
#: LMS/MMS body limit in bytes (apigw spec §7, resolution 9).
LMS_MAX_BYTES = 2000
#: Subject limit in bytes (apigw spec §7, resolution 12: UShot's 120-byte field).
SUBJECT_MAX_BYTES = 120


def codec_for(charset: str | None) -> str:
    """The codec for a client's charset name (case-insensitive).

    Raises:
        ValidationError: NOT_ALLOWED for a charset that is not served.
    """
    name = (charset or DEFAULT_CHARSET).strip().lower()
    try:
        return CHARSETS[name]
    except KeyError:
        raise ValidationError(
            Invalid.NOT_ALLOWED,
            f"dstCharSet {charset!r} is not supported (euc-kr, cp949, utf-8)",
            field="dstCharSet",
        ) from None


def byte_length(text: str, codec: str, *, field: str) -> int:
    """Bytes that ``text`` takes in ``codec``.

    Raises:
        ValidationError: NOT_ALLOWED naming the first character the codec cannot hold.
    """
    if text.isascii():
        return len(text)
    try:
        return len(text.encode(codec))
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        raise ValidationError(
            Invalid.NOT_ALLOWED,
            f"{field}: character {bad!r} (U+{ord(bad):04X}) at position {exc.start} "
            f"cannot be encoded in {codec}",
            field=field,
        ) from None


def sms_or_lms(body: str) -> tuple[Channel, str]:
    """(channel, charset) of a text without attachment, for a face whose provider
    does not say which: SMS when it fits `SMS_MAX_BYTES` of CP949, else LMS; counted
    in UTF-8 when CP949 cannot hold it."""
    charset = "cp949"
    try:
        size = byte_length(body, charset, field="body")
    except ValidationError:
        charset = "utf-8"
        size = len(body.encode(charset))
    return (Channel.SMS if size <= SMS_MAX_BYTES else Channel.LMS), charset


def check_length(text: str, codec: str, limit: int, *, field: str) -> int:
    """Byte length of ``text``, refused when it is over ``limit``.

    Raises:
        ValidationError: TOO_LONG or NOT_ALLOWED.
    """
    n = byte_length(text, codec, field=field)
    if n > limit:
        raise ValidationError(
            Invalid.TOO_LONG,
            f"{field} is {n} bytes in {codec}; at most {limit} are allowed",
            field=field,
        )
    return n


def fit_bytes(text: str, codec: str, limit: int) -> str:
    """The longest prefix of ``text`` that fits in ``limit`` bytes, never cutting a
    character in two (used where a protocol field is shorter than our limit)."""
    data = text.encode(codec)
    if len(data) <= limit:
        return text
    return data[:limit].decode(codec, errors="ignore")
