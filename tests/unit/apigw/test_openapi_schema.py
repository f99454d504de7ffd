"""The OpenAPI description's patterns agree with the rules of the codec: every value a
pattern allows is one the face accepts (the schemathesis run in
tests/integration/native relies on it, and clients may validate with it)."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from umsgate.domain import phone
from umsgate.protocols.apigw import codec, openapi

SCHEMAS = openapi.SCHEMA["components"]["schemas"]


@settings(max_examples=150, deadline=None)
@given(st.from_regex(openapi.RECEIVER_PATTERN, fullmatch=True))
def test_every_receiver_the_pattern_allows_is_a_mobile_number(number: str) -> None:
    phone.receiver(number, 82)


@settings(max_examples=150, deadline=None)
@given(st.from_regex(openapi.SENDER_PATTERN, fullmatch=True))
def test_every_sender_the_pattern_allows_is_a_valid_number(number: str) -> None:
    phone.sender(number, 82)


@settings(max_examples=200, deadline=None)
@given(
    st.from_regex(
        SCHEMAS["Sms"]["properties"]["reserveTime"]["pattern"], fullmatch=True
    )
)
def test_every_time_the_pattern_allows_is_a_date(value: str) -> None:
    assert codec.parse_time(value, "reserveTime") is not None


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=5))
def test_not_blank_is_what_the_codec_calls_not_blank(value: str) -> None:
    pattern = re.compile(SCHEMAS["Sms"]["properties"]["srcMsgId"]["pattern"])
    if pattern.search(value):
        assert value.strip()


def test_the_seed_samples_match() -> None:
    assert re.fullmatch(openapi.RECEIVER_PATTERN, "01059120601")
    assert re.fullmatch(openapi.RECEIVER_PATTERN, "+821012345678")
    for sender in ("01059120601", "0212345678", "15881234", "0311234567"):
        assert re.fullmatch(openapi.SENDER_PATTERN, sender), sender
    assert not re.fullmatch(openapi.RECEIVER_PATTERN, "0212345678")  # a landline
    assert dt.datetime.strptime("202406141052", "%Y%m%d%H%M")
