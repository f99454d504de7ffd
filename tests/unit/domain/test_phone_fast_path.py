"""The fast path of phone validation must agree with the phonenumbers library."""

from __future__ import annotations

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from umsgate.domain import phone


def library(raw: str) -> tuple[str, int] | None:
    try:
        number = phonenumbers.parse(raw, "KR")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, int(phonenumbers.number_type(number))


def fast(raw: str) -> tuple[str, int] | str | None:
    region = phone._FAST[82]
    nsn = region.national_number(raw)
    if nsn is None:
        return "slow"
    kind = region.number_type(nsn)
    return None if kind == phonenumbers.PhoneNumberType.UNKNOWN else (f"+82{nsn}", kind)


@settings(max_examples=3000)
@given(
    prefix=st.sampled_from(["0", "+82"]),
    first=st.integers(1, 9),
    rest=st.text(alphabet="0123456789", min_size=6, max_size=11),
)
def test_fast_path_agrees_with_the_library(prefix: str, first: int, rest: str) -> None:
    raw = f"{prefix}{first}{rest}"
    got = fast(raw)
    if got != "slow":
        assert got == library(raw)


def test_common_korean_numbers_take_the_fast_path() -> None:
    for raw in ("01059120601", "+821012345678", "0212345678", "15881234"):
        if raw.startswith(("0", "+")):
            assert fast(raw) not in ("slow", None), raw
    assert phone.receiver("01059120601") == "+821059120601"
    assert phone.sender("0212345678") == "+82212345678"


def test_every_prefix_agrees_with_the_library() -> None:
    """Every three-digit start of a national number, at every length the country
    has, with fixed tails: each number type of the metadata is met, not only the
    unknown numbers that random digits mostly make."""
    for start in range(100, 1000):
        for length in range(7, 12):
            for tail in ("0", "5", "9", "12345678901"):
                digits = (str(start) + tail * length)[:length]
                raw = "0" + digits
                got = fast(raw)
                if got != "slow":
                    assert got == library(raw), raw


def test_memory_for_numbers_stays_bounded_however_many_receivers() -> None:
    """Bulk traffic goes to ever new receivers: what a process keeps of the numbers
    it has parsed (fronts: `phone.receiver`; the SMPP connector: `outbound.address`)
    does not grow with their count."""
    import tracemalloc

    from umsgate.protocols.smpp import outbound

    def send(first: int, count: int) -> None:
        for n in range(first, first + count):
            e164 = phone.receiver(f"0102{n:07d}")
            outbound.address(e164, 1)
            outbound.address(e164, 0)

    tracemalloc.start()
    try:
        send(0, 10_000)  # more than the caches keep
        before = tracemalloc.get_traced_memory()[0]
        send(10_000, 40_000)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 500_000, f"{grown} bytes kept for 40,000 more numbers"
