"""The GSM 03.38 (3GPP TS 23.038 §6.2.1) default alphabet and its extension table.

SMPP carries GSM text with data_coding 0 ("SMSC default alphabet") as one septet per
octet, unpacked: the SMSC packs it for the air interface. That is what SMPP 3.4 leaves
to the SMSC and what SMSCs in practice expect, so this module maps characters to
septet values and back and does no bit packing. A character of the extension table
takes two septets (the escape 0x1B, then its code), which counts towards the 160
septets of one message and must never be split across two segments.
"""

from __future__ import annotations

#: The basic character set, septet value = index.
BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The extension table: character → septet after the escape.
EXTENSION: dict[str, int] = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
ESCAPE = 0x1B

assert len(BASIC) == 128

# The escape itself is not a character anyone can send.
_BASIC_CODES: dict[str, int] = {ch: i for i, ch in enumerate(BASIC) if i != ESCAPE}
#: Every character that GSM 03.38 can carry.
CHARACTERS: frozenset[str] = frozenset(_BASIC_CODES) | frozenset(EXTENSION)
_EXTENSION_DECODE: dict[int, str] = {code: ch for ch, code in EXTENSION.items()}

# str.translate table: each character → the septets it takes, as Latin-1 code points,
# so ``text.translate(_TO_SEPTETS).encode("latin-1")`` is the encoded text.
_TO_SEPTETS: dict[int, str] = {ord(ch): chr(code) for ch, code in _BASIC_CODES.items()}
_TO_SEPTETS.update({ord(ch): chr(ESCAPE) + chr(code) for ch, code in EXTENSION.items()})


def fits(text: str) -> bool:
    """Whether every character of ``text`` is in GSM 03.38."""
    return CHARACTERS.issuperset(text)


def septet_length(char: str) -> int:
    """Septets ``char`` takes: 2 for the extension table, else 1."""
    return 2 if char in EXTENSION else 1


def encode(text: str) -> bytes:
    """``text`` as unpacked septets.

    Raises:
        ValueError: naming the first character GSM 03.38 cannot carry.
    """
    if not CHARACTERS.issuperset(text):
        bad = next(ch for ch in text if ch not in CHARACTERS)
        raise ValueError(f"character {bad!r} (U+{ord(bad):04X}) is not in GSM 03.38")
    return text.translate(_TO_SEPTETS).encode("latin-1")


def decode(data: bytes, *, errors: str = "strict") -> str:
    """Unpacked septets as text.

    Args:
        errors: ``"strict"`` raises on an octet over 0x7F or an unknown escape;
            ``"replace"`` puts U+FFFD there (for text from a peer that must not fail).

    Raises:
        ValueError: with ``errors="strict"``, at the first bad octet.
    """
    out: list[str] = []
    escaped = False
    for i, octet in enumerate(data):
        if escaped:
            escaped = False
            ch = _EXTENSION_DECODE.get(octet)
            if ch is None:
                if errors == "strict":
                    raise ValueError(
                        f"escape then 0x{octet:02X} at {i} is not in GSM 03.38"
                    )
                ch = "\ufffd"
            out.append(ch)
        elif octet == ESCAPE:
            escaped = True
        elif octet < 0x80:
            out.append(BASIC[octet])
        elif errors == "strict":
            raise ValueError(f"octet 0x{octet:02X} at {i} is not a septet")
        else:
            out.append("\ufffd")
    if escaped:
        if errors == "strict":
            raise ValueError("the text ends with an escape")
        out.append("\ufffd")
    return "".join(out)
