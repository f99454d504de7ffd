"""The API-Gateway codec: phone numbers, ``natCode`` (resolution 8), ids sent as
JSON numbers (resolution 7), wrong types, unknown fields, and MMS ``fileIds``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tests.unit.apigw.samples import (
    CASES,
    NOW,
    Parser,
    lms,
    rcs,
    rcs_headers,
    refused,
    sms,
    sms_headers,
    without,
)
from umsgate.domain.message import Channel
from umsgate.domain.results import Invalid
from umsgate.errors import ValidationError
from umsgate.protocols.apigw import codec

# -- numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sms", "mms", "rcs", "kko"])
@pytest.mark.parametrize(
    "number", ["00113515553", "0212345678", "15881234", "0101234567890123", "abc"]
)
def test_bad_receivers(kind: str, number: str) -> None:
    parser, body, hdrs = CASES[kind]
    err = refused_receiver(parser, body(receiver=number), hdrs())
    # The seed's wording (§10).
    assert err.message == f"{number}는 잘못된 수신번호 형식입니다."


def refused_receiver(
    parser: Parser, body: Mapping[str, Any], hdrs: Mapping[str, str]
) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        parser(body, hdrs, now=NOW)
    assert (info.value.code, info.value.field) == (Invalid.BAD_RECEIVER, "receiver")
    return info.value


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("sms", "callback"),
        ("mms", "callback"),
        ("rcs", "chatbotId"),
        ("kko", "callback"),
    ],
)
@pytest.mark.parametrize("number", ["00113515553", "12345", "0101234567890123"])
def test_bad_senders(kind: str, field: str, number: str) -> None:
    parser, body, hdrs = CASES[kind]
    refused(parser, body(**{field: number}), hdrs(), Invalid.BAD_SENDER, field)


@pytest.mark.parametrize("number", ["1588-1234", "15441234", "16001234", "0212345678"])
def test_representative_and_landline_senders(number: str) -> None:
    assert codec.parse_sms(
        sms(callback=number), sms_headers(), now=NOW
    ).sender.startswith("+82")


@pytest.mark.parametrize("number", ["+821012345678", "010-1234-5678"])
def test_receiver_formats(number: str) -> None:
    assert (
        codec.parse_sms(sms(receiver=number), sms_headers(), now=NOW).receiver
        == "+821012345678"
    )


# -- resolution 8: natCode -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sms", "mms", "rcs", "kko"])
@pytest.mark.parametrize("value", [82, "82", " 82 ", None])
def test_nat_code_forms(kind: str, value: Any) -> None:
    parser, body, hdrs = CASES[kind]
    parser(body(natCode=value), hdrs(), now=NOW)
    parser(without(body(), "natCode") | {"countryCode": value}, hdrs(), now=NOW)


@pytest.mark.parametrize("kind", ["sms", "rcs"])
@pytest.mark.parametrize("value", [1, "1", 0, "820", "abc"])
def test_only_82_is_served(kind: str, value: Any) -> None:
    parser, body, hdrs = CASES[kind]
    refused(parser, body(natCode=value), hdrs(), Invalid.NOT_ALLOWED, "natCode")
    refused(
        parser,
        without(body(), "natCode") | {"countryCode": value},
        hdrs(),
        Invalid.NOT_ALLOWED,
        "countryCode",
    )


@pytest.mark.parametrize("value", [True, 82.0, [82], {"n": 82}])
def test_nat_code_of_another_type(value: Any) -> None:
    refused(
        codec.parse_sms, sms(natCode=value), sms_headers(), Invalid.MALFORMED, "natCode"
    )


# -- resolution 7: ids as JSON numbers -------------------------------------------------


@pytest.mark.parametrize("kind", ["sms", "mms", "rcs", "kko"])
def test_numeric_ids_are_taken_as_strings(kind: str) -> None:
    parser, body, hdrs = CASES[kind]
    req = parser(body(srcMsgId=1149001, cmpMsgId=77), hdrs(), now=NOW)
    assert req.src_msg_id == "1149001"
    assert req.cmp_msg_id == "77"


def test_numeric_fallback_origin_code() -> None:
    fallback = {"type": "SMS", "content": "대체", "originCode": 111111111}
    req = codec.parse_rcs(rcs(fallback=fallback), rcs_headers(), now=NOW)
    assert req.fallback is not None and req.fallback["originCode"] == "111111111"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("srcMsgId", True),
        ("srcMsgId", 1.5),
        ("srcMsgId", [1]),
        ("content", 123),
        ("receiver", 1012345678),
        ("callback", {"n": 1}),
    ],
)
def test_wrong_types_are_malformed(field: str, value: Any) -> None:
    refused(
        codec.parse_sms, sms(**{field: value}), sms_headers(), Invalid.MALFORMED, field
    )


def test_unknown_fields_are_ignored() -> None:
    base = codec.parse_sms(sms(), sms_headers(), now=NOW)
    more = codec.parse_sms(
        sms(futureField={"x": [1, 2]}, another=None), sms_headers(), now=NOW
    )
    assert more == base


# -- MMS files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "channel"),
    [
        (None, Channel.LMS),
        ([], Channel.LMS),
        (["A1"], Channel.MMS),
        (["A1", "B2", "C3"], Channel.MMS),
    ],
)
def test_file_ids_choose_lms_or_mms(files: list[str] | None, channel: Channel) -> None:
    req = codec.parse_mms(lms(fileIds=files), sms_headers(), now=NOW)
    assert req.channel is channel
    assert req.file_ids == tuple(files or ())


def test_at_most_three_files() -> None:
    err = refused(
        codec.parse_mms,
        lms(fileIds=["A", "B", "C", "D"]),
        sms_headers(),
        Invalid.BAD_FILE,
        "fileIds",
    )
    assert "3" in err.message


@pytest.mark.parametrize("files", ["A1", [1, 2], [None], {"id": "A"}])
def test_file_ids_must_be_a_list_of_strings(files: Any) -> None:
    refused(
        codec.parse_mms, lms(fileIds=files), sms_headers(), Invalid.MALFORMED, "fileIds"
    )


@pytest.mark.parametrize("file_id", ["", "../etc", "a b", "x" * 21])
def test_file_ids_have_a_shape(file_id: str) -> None:
    refused(
        codec.parse_mms,
        lms(fileIds=[file_id]),
        sms_headers(),
        Invalid.BAD_FILE,
        "fileIds",
    )


def test_mms_content_is_optional_lms_content_is_not() -> None:
    req = codec.parse_mms(
        without(lms(fileIds=["A1"]), "content"), sms_headers(), now=NOW
    )
    assert req.channel is Channel.MMS and req.content == ""
    refused(
        codec.parse_mms,
        without(lms(), "content"),
        sms_headers(),
        Invalid.MISSING,
        "content",
    )


# -- NUL characters ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("sms", "srcMsgId"),
        ("sms", "content"),
        ("sms", "cmpMsgId"),
        ("mms", "subject"),
        ("mms", "content"),
        ("kko", "content"),
        ("kko", "title"),
        ("rcs", "brandKey"),
    ],
)
def test_nul_characters_are_not_allowed(kind: str, field: str) -> None:
    # Text columns cannot hold NUL on PostgreSQL, and carriers end strings at it.
    parser, body, hdrs = CASES[kind]
    refused(parser, body(**{field: "a\x00b"}), hdrs(), Invalid.NOT_ALLOWED, field)


def test_nul_in_the_fallback_and_the_rcs_template() -> None:
    fallback = {"type": "SMS", "content": "대체\x00"}
    refused(
        codec.parse_rcs,
        rcs(fallback=fallback),
        rcs_headers(),
        Invalid.NOT_ALLOWED,
        "fallback.content",
    )
    for param in ({"description": "a\x00"}, {"title": "t\x00", "description": "d"}):
        refused(
            codec.parse_rcs,
            rcs(templateParam=param),
            rcs_headers(),
            Invalid.NOT_ALLOWED,
            "templateParam",
        )
    # Escaped inside other JSON values (buttons, template params) it is harmless.
    req = codec.parse_rcs(
        rcs(templateParam={"description": "d", "extra": "x\x00"}),
        rcs_headers(),
        now=NOW,
    )
    assert req.extra["templateParam"]["extra"] == "x\x00"
