"""Property tests of the domain's text rules: phone numbers and byte counts take any
text and answer or raise their own error; what they answer is stable."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import fuzz_settings
from umsgate.domain import phone, text
from umsgate.domain.results import Invalid
from umsgate.errors import ValidationError

FAST = fuzz_settings(200)

#: Text shaped like numbers: ASCII and other scripts' digits, separators, letters.
_numberish = st.text(
    alphabet=st.sampled_from(
        [*"0123456789+-() .#*;extwpABC", "١", "٢", "０", "１", "\u00a0", "\x00"]
    ),
    max_size=22,
)
_numbers = (
    _numberish
    | st.text(max_size=22)
    | st.from_regex(r"\A(0|\+82)1[016-9][0-9]{7,8}\Z")
    | st.from_regex(r"\A0[2-6][0-9]{7,9}\Z")
)
_nat_codes = st.sampled_from([82, 1, 44, 81, 86, 0, 999]) | st.integers(-5, 10**6)


@FAST
@given(raw=_numbers, nat=_nat_codes)
def test_numbers_are_e164_or_invalid(raw: str, nat: int) -> None:
    for read in (phone.receiver, phone.sender):
        try:
            e164 = read(raw, nat)
        except phone.InvalidNumber:
            continue
        assert e164.startswith("+") and e164[1:].isascii() and e164[1:].isdigit()
        # The E.164 form reads back as itself, and so does the national form.
        assert read(e164, nat) == e164
        if nat == 82:
            assert read(phone.national(e164), 82) == e164
            assert phone.country(e164) == "KR"


@FAST
@given(st.text(max_size=20))
def test_country_of_anything(value: str) -> None:
    assert len(phone.country(value)) == 2


_charsets = st.sampled_from([*text.CHARSETS, "EUC-KR", " utf-8 ", None]) | st.text(
    max_size=10
)


@FAST
@given(charset=_charsets, value=st.text(max_size=120), limit=st.integers(0, 200))
def test_byte_counts_are_counts_or_the_rules_errors(
    charset: str | None, value: str, limit: int
) -> None:
    try:
        codec = text.codec_for(charset)
    except ValidationError as exc:
        assert exc.code == Invalid.NOT_ALLOWED
        return
    try:
        n = text.check_length(value, codec, limit, field="content")
    except ValidationError as exc:
        assert exc.code in (Invalid.NOT_ALLOWED, Invalid.TOO_LONG)
        return
    assert n == len(value.encode(codec)) <= limit


@FAST
@given(
    codec=st.sampled_from(sorted(set(text.CHARSETS.values()))),
    value=st.text(alphabet="ab 가나똠韓\U0001f600é", max_size=80),
    limit=st.integers(0, 100),
)
def test_fit_bytes_keeps_the_longest_prefix_that_fits(
    codec: str, value: str, limit: int
) -> None:
    try:
        value.encode(codec)
    except UnicodeEncodeError:
        return
    fitted = text.fit_bytes(value, codec, limit)
    assert value.startswith(fitted)
    assert len(fitted.encode(codec)) <= limit or fitted == value
    if fitted != value:
        assert len(value[: len(fitted) + 1].encode(codec)) > limit
