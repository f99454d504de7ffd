"""Phone numbers: parsed and validated with the ``phonenumbers`` library, stored E.164.

Clients write numbers the way the seeds do (``01059120601``, ``010-5912-0601``,
``+821012345678``). The country comes from ``natCode`` (82 by default). Receivers must
be numbers that can take a message (mobile, or a type the library cannot tell from
mobile); senders may be any valid number, including Korea's 15xx/16xx representative
numbers. Parsing costs tens of microseconds, so results are cached: the function is
pure, and the same numbers come back again and again in bulk sending.
"""

from __future__ import annotations

import functools

import phonenumbers
from phonenumbers import PhoneNumberType

#: Longest number a client may send (apigw spec §2: ``receiver``/``callback`` ≤ 15).
MAX_NUMBER_CHARS = 15

_RECEIVER_TYPES: frozenset[int] = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
)


class InvalidNumber(ValueError):
    """The text is not a valid number for that use."""


@functools.lru_cache(maxsize=131072)
def _parse(raw: str, nat_code: int) -> tuple[str, int]:
    text = raw.strip()
    if not text or len(text) > MAX_NUMBER_CHARS + 4:
        raise InvalidNumber(raw)
    region = phonenumbers.region_code_for_country_code(nat_code)
    if region == "ZZ":
        raise InvalidNumber(raw)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidNumber(raw) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidNumber(raw)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, int(phonenumbers.number_type(number))


def receiver(raw: str, nat_code: int = 82) -> str:
    """The E.164 form of a receiver number.

    Raises:
        InvalidNumber: not a valid number, or not one that can receive messages.
    """
    e164, kind = _parse(raw, nat_code)
    if kind not in _RECEIVER_TYPES:
        raise InvalidNumber(raw)
    return e164


def sender(raw: str, nat_code: int = 82) -> str:
    """The E.164 form of a sender (callback) number.

    Raises:
        InvalidNumber: not a valid number.
    """
    return _parse(raw, nat_code)[0]


def national(e164: str) -> str:
    """The national form without separators (``+821012345678`` → ``01012345678``),
    which most Korean providers expect on the wire."""
    number = phonenumbers.parse(e164, None)
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(ch for ch in formatted if ch.isdigit())
