"""Fixed-width fields of UShot frames (spec §3): CP949 text, counts, KST dates.

Encoding rules (spec §3, **Resolution**): text is CP949, left-aligned and padded with
spaces; the count/length fields (LENGTH, COUNT, MSG_LEN, FILE_LENGTH) are right-aligned
and zero-padded. A value longer than its field, or a character CP949 cannot hold, is a
`FieldError` (never a silent cut, so never a cut through a two-byte character).

Decoding rules: text loses its trailing spaces and NULs (leading spaces are kept);
numbers are stripped on both sides and parsed (all blank reads 0). Bytes that are not
CP949, or a number that is not digits, are a `RemoteProtocolError` with the header
response code ``11001``: a frame carrying them is corrupt.

CP949 trail bytes are 0x41–0xFE, so stripping 0x20/0x00 from the right never splits a
character.
"""

from __future__ import annotations

import datetime as dt

from umsgate.errors import LocalProtocolError, RemoteProtocolError

#: The wire character set (spec §3 and §14 item 13: byte limits, 2 bytes per Hangul).
CHARSET = "cp949"

#: The header code a malformed frame earns (spec §10: every frame-level failure).
FRAME_ERROR = "11001"

#: Result code of a record whose text breaks the format (seed result 3).
FORMAT_ERROR = "3"
#: Result code of a record whose content is too large (seed result 60).
SIZE_ERROR = "60"

#: Korea Standard Time: every date on the wire (spec §3).
KST = dt.timezone(dt.timedelta(hours=9), "KST")
#: ``YYYY-MM-DD HH:MM:SS``, 19 bytes in a 20-byte field (spec §3).
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_LEN = 19

_STRIP = b" \x00"


class FieldError(LocalProtocolError):
    """A value does not fit its UShot field.

    Attributes:
        field: the field's name as the spec writes it (``MSG``, ``RECEIVER``...).
        code: the seed's result code for such a record: ``60`` when content is too
            large, ``3`` for any other format error.
    """

    def __init__(self, message: str, *, field: str, code: str = FORMAT_ERROR) -> None:
        super().__init__(message, code=code, close_session=False)
        self.field = field


def encode_text(value: str, width: int, field: str, *, content: bool = False) -> bytes:
    """``value`` in CP949, padded with spaces to ``width`` bytes.

    Args:
        content: the field is message content (MSG, SUBJECT): an overflow then carries
            the size-error code ``60`` instead of the format-error ``3``.

    Raises:
        FieldError: a character CP949 cannot hold, or more than ``width`` bytes.
    """
    data = encode_exact(value, field)
    if len(data) > width:
        raise FieldError(
            f"{field} is {len(data)} bytes in {CHARSET}; the field holds {width}",
            field=field,
            code=SIZE_ERROR if content else FORMAT_ERROR,
        )
    return data.ljust(width, b" ")


def encode_exact(value: str, field: str) -> bytes:
    """``value`` in CP949, unpadded (variable-length MSG).

    Raises:
        FieldError: a character CP949 cannot hold.
    """
    if value.isascii():
        return value.encode("ascii")
    try:
        return value.encode(CHARSET)
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        raise FieldError(
            f"{field}: character {bad!r} (U+{ord(bad):04X}) at position {exc.start} "
            f"cannot be encoded in {CHARSET}",
            field=field,
        ) from None


def encode_number(value: int, width: int, field: str) -> bytes:
    """``value`` right-aligned and zero-padded to ``width`` digits.

    Raises:
        FieldError: negative, or more digits than ``width``.
    """
    if value < 0 or value >= 10**width:
        raise FieldError(f"{field} {value} does not fit {width} digits", field=field)
    return b"%0*d" % (width, value)


def decode_text(data: bytes, field: str) -> str:
    """A text field without its padding.

    Raises:
        RemoteProtocolError: the bytes are not CP949 (code ``11001``).
    """
    raw = data.rstrip(_STRIP)
    if raw.isascii():
        return raw.decode("ascii")
    try:
        return raw.decode(CHARSET)
    except UnicodeDecodeError:
        raise RemoteProtocolError(
            f"{field} is not {CHARSET} text: {bytes(raw[:40])!r}", code=FRAME_ERROR
        ) from None


def decode_loose(data: bytes) -> str:
    """A free-text field for people (RESP_MESG, TELECOM): bytes that are not CP949 are
    replaced rather than refused, since they carry no protocol meaning."""
    return data.rstrip(_STRIP).decode(CHARSET, errors="replace")


def decode_number(data: bytes, field: str) -> int:
    """A count/length field: digits, padded with zeros or spaces on either side.

    Raises:
        RemoteProtocolError: anything but digits inside the padding (code ``11001``).
    """
    raw = data.strip(_STRIP)
    if not raw:
        return 0
    if not raw.isdigit():
        raise RemoteProtocolError(
            f"{field} is not a number: {bytes(data)!r}", code=FRAME_ERROR
        )
    return int(raw)


def format_date(when: dt.datetime) -> str:
    """An aware datetime as the wire's KST ``YYYY-MM-DD HH:MM:SS``.

    Raises:
        ValueError: ``when`` is naive (its zone would be a guess).
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("dates sent to UShot must be timezone-aware")
    return when.astimezone(KST).strftime(DATE_FORMAT)


def parse_date(text: str) -> dt.datetime:
    """A wire date (KST) as an aware datetime.

    Raises:
        ValueError: not exactly ``YYYY-MM-DD HH:MM:SS``.
    """
    # Sliced by hand: strptime costs more than the rest of a result record.
    if (
        len(text) != DATE_LEN
        or text[4] != "-"
        or text[7] != "-"
        or text[10] != " "
        or text[13] != ":"
        or text[16] != ":"
    ):
        raise ValueError(f"date {text!r} is not YYYY-MM-DD HH:MM:SS")
    parts = (text[0:4], text[5:7], text[8:10], text[11:13], text[14:16], text[17:19])
    if not all(p.isascii() and p.isdigit() for p in parts):
        raise ValueError(f"date {text!r} is not YYYY-MM-DD HH:MM:SS")
    year, month, day, hour, minute, second = map(int, parts)
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=KST)
