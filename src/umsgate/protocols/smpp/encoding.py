"""Text on the SMPP wire: which encoding a message goes in, and how a long one is cut
into segments.

Encodings and their data_coding (§5.2.19):

=========  ===========  ==========================================================
name       data_coding  characters
=========  ===========  ==========================================================
gsm        0x00         GSM 03.38 with the extension table, one septet per octet
latin1     0x03         ISO-8859-1
ucs2       0x08         UCS-2, written as UTF-16BE (astral characters take a pair)
ksc5601    0x0E         KS C 5601, written with the ``cp949`` codec: plain KS X 1001
                        lacks 8,822 of the 11,172 Hangul syllables (see
                        ``umsgate.domain.text``), and Korean SMSCs take cp949
=========  ===========  ==========================================================

`choose` picks per message: GSM when every character fits, else KS C 5601 when the
connector allows it and cp949 can carry the text, else UCS-2.

Segment sizes (3GPP TS 23.040 §9.2.3.24.1): one message holds 140 octets, which is
160 GSM septets; with the 6-octet concatenation header a part holds 134 octets,
153 septets, or 67 UCS-2 units. The same sizes are used in SAR mode (the SMSC adds
the header on the air), and to count the parts in message_payload mode. A character
is never split: not a GSM escape pair, not a cp949 double byte, not a UTF-16
surrogate pair.
"""

from __future__ import annotations

import dataclasses
import enum

from umsgate.errors import UmsgateError
from umsgate.protocols.smpp import gsm
from umsgate.protocols.smpp.codes import DataCoding


class Encoding(enum.StrEnum):
    GSM = "gsm"
    LATIN1 = "latin1"
    UCS2 = "ucs2"
    KSC5601 = "ksc5601"


#: Octets of one message without a header (TS 23.040: 140 octets = 160 septets).
SINGLE_OCTETS = 140
SINGLE_SEPTETS = 160
#: The 8-bit-reference concatenation header: UDHL, IEI 0x00, IEL 3, ref, total, seq.
UDH_CONCAT_LENGTH = 6
#: Room per part when a header is present: 140 - 6 octets; 153 septets (the header's
#: 48 bits plus fill take 7 septets of the 160).
PART_OCTETS = SINGLE_OCTETS - UDH_CONCAT_LENGTH
PART_SEPTETS = 153
#: A concatenated message has at most 255 parts (the header's total is one octet).
MAX_SEGMENTS = 255

_CODECS: dict[Encoding, str] = {
    Encoding.LATIN1: "latin-1",
    Encoding.UCS2: "utf-16-be",
    Encoding.KSC5601: "cp949",
}

#: The data_coding of each encoding (GSM's may be overridden by the connector).
DATA_CODING: dict[Encoding, int] = {
    Encoding.GSM: DataCoding.DEFAULT,
    Encoding.LATIN1: DataCoding.LATIN1,
    Encoding.UCS2: DataCoding.UCS2,
    Encoding.KSC5601: DataCoding.KSC5601,
}


class TooLong(UmsgateError, ValueError):
    """The text needs more than `MAX_SEGMENTS` parts."""


def encodable(text: str, encoding: Encoding) -> bool:
    if encoding is Encoding.GSM:
        return gsm.fits(text)
    if encoding is Encoding.UCS2:
        return True
    try:
        text.encode(_CODECS[encoding])
    except UnicodeEncodeError:
        return False
    return True


def choose(text: str, *, korean: bool) -> Encoding:
    """The encoding for ``text``: GSM when it fits, else KS C 5601 when ``korean``
    and cp949 can carry it, else UCS-2."""
    if gsm.fits(text):
        return Encoding.GSM
    if korean and encodable(text, Encoding.KSC5601):
        return Encoding.KSC5601
    return Encoding.UCS2


def encode(text: str, encoding: Encoding) -> bytes:
    """``text`` in ``encoding``.

    Raises:
        ValueError: a character the encoding cannot carry (UnicodeEncodeError for
            the codecs, ValueError for GSM).
    """
    if encoding is Encoding.GSM:
        return gsm.encode(text)
    return text.encode(_CODECS[encoding])


def decode(data: bytes, data_coding: int) -> str:
    """Text of a short_message (or payload) in ``data_coding``; never raises.

    Codings umsgate does not write (binary, JIS, ...) are read as Latin-1 so the
    octets survive for the record.
    """
    if data_coding == DataCoding.DEFAULT:
        return gsm.decode(data, errors="replace")
    if data_coding == DataCoding.IA5:
        return data.decode("ascii", errors="replace")
    if data_coding == DataCoding.UCS2:
        return data.decode("utf-16-be", errors="replace")
    if data_coding == DataCoding.KSC5601:
        return data.decode("cp949", errors="replace")
    return data.decode("latin-1")


def _unit_lengths(text: str, encoding: Encoding) -> list[int]:
    if encoding is Encoding.GSM:
        return [gsm.septet_length(ch) for ch in text]
    if encoding is Encoding.LATIN1:
        return [1] * len(text)
    if encoding is Encoding.UCS2:
        return [4 if ord(ch) > 0xFFFF else 2 for ch in text]
    return [1 if ch.isascii() else 2 for ch in text]


def split(text: str, encoding: Encoding) -> list[bytes]:
    """``text`` encoded and cut into parts: one part when it fits one message,
    else parts of at most 153 septets / 134 octets, each ending on a whole
    character.

    Raises:
        ValueError: a character the encoding cannot carry.
        TooLong: more than `MAX_SEGMENTS` parts would be needed.
    """
    whole = encode(text, encoding)
    single, part = (
        (SINGLE_SEPTETS, PART_SEPTETS)
        if encoding is Encoding.GSM
        else (SINGLE_OCTETS, PART_OCTETS)
    )
    if len(whole) <= single:
        return [whole]
    parts: list[bytes] = []
    start = 0
    used = 0
    for length in _unit_lengths(text, encoding):
        if used + length > part:
            parts.append(whole[start : start + used])
            start += used
            used = 0
        used += length
    parts.append(whole[start : start + used])
    if len(parts) > MAX_SEGMENTS:
        raise TooLong(f"the text needs {len(parts)} parts; at most {MAX_SEGMENTS} fit")
    return parts


def count_parts(text: str, encoding: Encoding) -> int:
    """How many parts ``text`` takes (what an SMSC bills for a message_payload)."""
    return len(split(text, encoding))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Concat:
    """The concatenation element of a User Data Header (TS 23.040 §9.2.3.24.1/.8)."""

    reference: int
    total: int
    seqnum: int


def udh_concat(reference: int, total: int, seqnum: int) -> bytes:
    """The 6-octet header of part ``seqnum`` (from 1) of ``total``, 8-bit reference."""
    return bytes((5, 0x00, 3, reference & 0xFF, total, seqnum))


def parse_udh(data: bytes) -> tuple[Concat | None, bytes]:
    """The concatenation element of the header at the start of ``data`` (8- or
    16-bit reference) and the text after the header.

    Raises:
        ValueError: the header runs past the data or an element past the header.
    """
    if not data:
        raise ValueError("esm_class says a header starts the message, but it is empty")
    udhl = data[0]
    if 1 + udhl > len(data):
        raise ValueError(f"header length {udhl} runs past the {len(data)} octets")
    header, rest = data[1 : 1 + udhl], data[1 + udhl :]
    concat: Concat | None = None
    pos = 0
    while pos < len(header):
        if pos + 2 > len(header):
            raise ValueError("a header element is cut short")
        iei, iel = header[pos], header[pos + 1]
        value = header[pos + 2 : pos + 2 + iel]
        if len(value) != iel:
            raise ValueError(f"header element 0x{iei:02X} runs past the header")
        if iei == 0x00 and iel == 3:
            concat = Concat(reference=value[0], total=value[1], seqnum=value[2])
        elif iei == 0x08 and iel == 4:
            concat = Concat(
                reference=int.from_bytes(value[:2], "big"),
                total=value[2],
                seqnum=value[3],
            )
        pos += 2 + iel
    return concat, rest
