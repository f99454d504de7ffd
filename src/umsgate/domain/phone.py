"""Phone numbers: parsed and validated with the ``phonenumbers`` library, stored E.164.

Clients write numbers the way the seeds do (``01059120601``, ``010-5912-0601``,
``+821012345678``). The country comes from ``natCode`` (82 by default). Receivers must
be numbers that can take a message (mobile, or a type the library cannot tell from
mobile); senders may be any valid number, including Korea's 15xx/16xx representative
numbers.

Speed: the library's generic ``parse`` + ``is_valid_number`` + ``number_type`` cost
about 100 µs per number, the largest single cost of accepting a message. Numbers in
the plain national or +CC form (digits only, the common case) take a fast path that
applies the same metadata of the library directly: the general pattern, possible
lengths and the type patterns in the library's own order (`_FastRegion`); anything
else (separators, carrier prefixes, other countries) goes through the full library.
A property test checks that both paths agree. Results are also cached, since the same
numbers come back again and again in bulk sending.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType

from umsgate.errors import UmsgateError

#: Longest number a client may send (apigw spec §2: ``receiver``/``callback`` ≤ 15).
MAX_NUMBER_CHARS = 15

_RECEIVER_TYPES: frozenset[int] = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
)


#: What a client may write: ASCII digits, a leading ``+``, and the usual separators.
#: The library alone would read letters as keypad digits (``010CALLME12``) and drop
#: extensions (``01012345678;ext=1``), sending to a number nobody wrote.
_WRITTEN = re.compile(r"^\+?[0-9 ().-]+$")


class InvalidNumber(UmsgateError, ValueError):
    """The text is not a valid number for that use."""


class _FastRegion:
    """One region's metadata, compiled once, applied as ``number_type`` does."""

    #: (type, metadata attribute) in the order the library tries them.
    _ORDER = (
        (PhoneNumberType.PREMIUM_RATE, "premium_rate"),
        (PhoneNumberType.TOLL_FREE, "toll_free"),
        (PhoneNumberType.SHARED_COST, "shared_cost"),
        (PhoneNumberType.VOIP, "voip"),
        (PhoneNumberType.PERSONAL_NUMBER, "personal_number"),
        (PhoneNumberType.PAGER, "pager"),
        (PhoneNumberType.UAN, "uan"),
        (PhoneNumberType.VOICEMAIL, "voicemail"),
    )

    def __init__(self, country_code: int, region: str) -> None:
        meta = PhoneMetadata.metadata_for_region(region)
        if meta is None:
            raise ValueError(region)
        self.country_code = country_code
        self._general = self._desc(meta.general_desc, None)
        self._types = [
            (t, self._desc(getattr(meta, attr), meta.general_desc))
            for t, attr in self._ORDER
        ]
        self._fixed = self._desc(meta.fixed_line, meta.general_desc)
        self._mobile = self._desc(meta.mobile, meta.general_desc)
        self._same = bool(meta.same_mobile_and_fixed_line_pattern)
        self._one = self._combined()
        self._national = re.compile(r"0([1-9]\d{6,13})")
        self._international = re.compile(rf"\+{country_code}([1-9]\d{{6,13}})")

    @staticmethod
    def _desc(
        desc: object, general: object
    ) -> tuple[re.Pattern[str], frozenset[int]] | None:
        pattern = getattr(desc, "national_number_pattern", None)
        if desc is None or pattern is None:
            return None
        lengths = tuple(getattr(desc, "possible_length", ()) or ())
        if not lengths and general is not None:
            lengths = tuple(getattr(general, "possible_length", ()) or ())
        return re.compile(pattern), frozenset(lengths)

    def _combined(self) -> re.Pattern[str] | None:
        """`number_type`'s tests in one pattern: the general description as a
        condition, then one named branch per type in the library's order, so that
        the branch that matches is the first type that does (a number costs one
        match instead of up to eleven). None when a pattern has groups of its own
        (then the tests run one by one)."""

        def part(desc: tuple[re.Pattern[str], frozenset[int]]) -> str:
            pattern, lengths = desc
            if lengths and -1 not in lengths:
                sizes = "|".join(f".{{{n}}}" for n in sorted(lengths))
                return rf"(?=(?:{sizes})\Z)(?:{pattern.pattern})"
            return f"(?:{pattern.pattern})"

        descs = [(f"t{kind}", desc) for kind, desc in self._types]
        descs.append(("fixed", self._fixed))
        if not self._same:
            descs.append(("mobile", self._mobile))
        if self._general is None or any(
            d is not None and d[0].groups for _, d in [("g", self._general), *descs]
        ):
            return None
        branches = "|".join(f"(?P<{name}>{part(d)})" for name, d in descs if d)
        return re.compile(rf"(?={part(self._general)}\Z)(?:{branches})")

    @staticmethod
    def _matches(desc: tuple[re.Pattern[str], frozenset[int]] | None, nsn: str) -> bool:
        if desc is None:
            return False
        pattern, lengths = desc
        if lengths and -1 not in lengths and len(nsn) not in lengths:
            return False
        return pattern.fullmatch(nsn) is not None

    def national_number(self, text: str) -> str | None:
        """The national significant number of a plain-form number, or None when the
        text needs the full parser."""
        m = self._national.fullmatch(text) or self._international.fullmatch(text)
        if m is None:
            return None
        nsn = m.group(1)
        # "08x…" is a carrier-selection prefix in Korea: the library handles it.
        if text.startswith("08"):
            return None
        return nsn

    def number_type(self, nsn: str) -> int:
        one = self._one
        if one is not None:
            m = one.fullmatch(nsn)
            if m is None:
                return PhoneNumberType.UNKNOWN
            name = m.lastgroup
            if name == "mobile":
                return PhoneNumberType.MOBILE
            if name == "fixed":
                if self._same or self._matches(self._mobile, nsn):
                    return PhoneNumberType.FIXED_LINE_OR_MOBILE
                return PhoneNumberType.FIXED_LINE
            return int(name[1:]) if name else PhoneNumberType.UNKNOWN
        if not self._matches(self._general, nsn):
            return PhoneNumberType.UNKNOWN
        for kind, desc in self._types:
            if self._matches(desc, nsn):
                return kind
        if self._matches(self._fixed, nsn):
            if self._same or self._matches(self._mobile, nsn):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
            return PhoneNumberType.FIXED_LINE
        if not self._same and self._matches(self._mobile, nsn):
            return PhoneNumberType.MOBILE
        return PhoneNumberType.UNKNOWN


_FAST: dict[int, _FastRegion] = {82: _FastRegion(82, "KR")}

#: Entries of the per-process caches of parsed numbers. Bulk sends go to ever new
#: receivers, so a cache this size holds the senders and the numbers sent to again
#: soon, and nothing more: at 131,072 entries each front held about 16 MiB of
#: numbers after 100,000 messages, to save under 2 µs a Korean number (the
#: uncached fast path), about 25 µs a foreign one.
CACHED_NUMBERS = 8192


@functools.lru_cache(maxsize=CACHED_NUMBERS)
def _parse(raw: str, nat_code: int) -> tuple[str, int]:
    text = raw.strip()
    fast = _FAST.get(nat_code)
    # A plain-form number (digits only) is what _WRITTEN allows.
    nsn = fast.national_number(text) if fast is not None else None
    if nsn is None and (
        not text or len(text) > MAX_NUMBER_CHARS + 4 or not _WRITTEN.match(text)
    ):
        raise InvalidNumber(raw)
    if fast is not None:
        if nsn is not None:
            kind = fast.number_type(nsn)
            if kind == PhoneNumberType.UNKNOWN:
                raise InvalidNumber(raw)
            return f"+{nat_code}{nsn}", kind
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
    formatted = phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.NATIONAL
    )
    return "".join(ch for ch in formatted if ch.isdigit())


def is_region(code: str) -> bool:
    """Whether ``code`` is an ISO 3166-1 alpha-2 region the library has numbers
    for (``KR``, ``JP``, ``US`` …)."""
    return code in phonenumbers.SUPPORTED_REGIONS


@functools.lru_cache(maxsize=CACHED_NUMBERS)
def country(e164: str) -> str:
    """The region (ISO 3166-1 alpha-2) of an E.164 number, ``ZZ`` when unknown.

    A country calling code of one region (``+82`` is only ``KR``) needs no parsing;
    shared codes (``+1``, ``+7``, ``+44`` …) are told apart by the library's
    number plans.
    """
    digits = e164[1:] if e164.startswith("+") else e164
    # str.isdigit takes "²" and other scripts' digits, which int() does not.
    if not (digits.isascii() and digits.isdigit()):
        return "ZZ"
    for size in (1, 2, 3):
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(digits[:size]))
        if regions:
            if len(regions) == 1:
                return str(regions[0])
            break
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return "ZZ"
    return phonenumbers.region_code_for_number(number) or "ZZ"
