"""The API-Gateway codec for RCS and KakaoTalk: resolutions 18, 19 and 20, the
fallback object (apigw spec §8), buttons and KakaoTalk's own fields (§9)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from tests.unit.apigw.samples import (
    CASES,
    NOW,
    kko,
    rcs,
    rcs_headers,
    refused,
    without,
)
from umsgate.domain.results import Invalid
from umsgate.protocols.apigw import codec

# -- RCS: resolutions 18, 19, 20 -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("INFO", "INFO"),
        ("info", "INFO"),
        ("NFO", "INFO"),
        ("ETC", "ETC"),
        (None, "INFO"),
    ],
)
def test_rcs_type(value: str | None, kind: str) -> None:
    body = without(rcs(), "type") if value is None else rcs(type=value)
    assert codec.parse_rcs(body, rcs_headers(), now=NOW).extra["type"] == kind


@pytest.mark.parametrize("value", ["OTP", "BULK", "X"])
def test_unsupported_rcs_types(value: str) -> None:
    refused(
        codec.parse_rcs, rcs(type=value), rcs_headers(), Invalid.NOT_ALLOWED, "type"
    )


@pytest.mark.parametrize(
    ("value", "header"), [(0, "0"), ("0", "0"), (1, "1"), ("1", "1")]
)
def test_rcs_header_as_number_or_string(value: Any, header: str) -> None:
    req = codec.parse_rcs(
        rcs(header=value, footer="080-123-4567"), rcs_headers(), now=NOW
    )
    assert req.extra["header"] == header


@pytest.mark.parametrize("value", [2, "2", "Y"])
def test_rcs_header_values(value: Any) -> None:
    refused(
        codec.parse_rcs, rcs(header=value), rcs_headers(), Invalid.NOT_ALLOWED, "header"
    )


def test_footer_required_for_advertising_only() -> None:
    assert (
        codec.parse_rcs(rcs(header="0", footer=""), rcs_headers(), now=NOW).extra[
            "footer"
        ]
        == ""
    )
    assert (
        codec.parse_rcs(
            without(rcs(header="0"), "footer"), rcs_headers(), now=NOW
        ).extra["footer"]
        == ""
    )
    refused(
        codec.parse_rcs,
        rcs(header="1", footer=""),
        rcs_headers(),
        Invalid.MISSING,
        "footer",
    )
    refused(
        codec.parse_rcs,
        without(rcs(header=1), "footer"),
        rcs_headers(),
        Invalid.MISSING,
        "footer",
    )
    assert codec.parse_rcs(
        rcs(header=1, footer="080-123-4567"), rcs_headers(), now=NOW
    ).extra["footer"] == ("080-123-4567")


@pytest.mark.parametrize("footer", ["080 123 4567", "call 080", "080-123-4567!"])
def test_footer_holds_digits_and_dashes(footer: str) -> None:
    refused(
        codec.parse_rcs,
        rcs(header="1", footer=footer),
        rcs_headers(),
        Invalid.NOT_ALLOWED,
        "footer",
    )


@pytest.mark.parametrize(
    ("value", "ttl"),
    [
        ("1", 86400),
        (1, 86400),
        ("2", 30),
        (2, 30),
        ("3", 180),
        (4, 3600),
        (None, 86400),
    ],
)
def test_expiry_option(value: Any, ttl: float) -> None:
    body = without(rcs(), "expiryOption") if value is None else rcs(expiryOption=value)
    req = codec.parse_rcs(body, rcs_headers(), now=NOW)
    assert req.expires_at == NOW + ttl
    assert req.extra["expiryOption"] == str(value or 1)


@pytest.mark.parametrize("value", [0, "5", "1d"])
def test_expiry_option_values(value: Any) -> None:
    refused(
        codec.parse_rcs,
        rcs(expiryOption=value),
        rcs_headers(),
        Invalid.NOT_ALLOWED,
        "expiryOption",
    )


def test_expiry_option_counts_from_the_reserved_time() -> None:
    reserve = NOW + 3600
    body = rcs(
        expiryOption="2",
        reserveTime=dt.datetime.fromtimestamp(reserve, dt.UTC).isoformat(),
    )
    req = codec.parse_rcs(body, rcs_headers(), now=NOW)
    assert req.reserve_at == reserve
    assert req.expires_at == reserve + 30


def test_template_param_as_object_or_json_string() -> None:
    param = {"title": "제목", "description": "본문"}
    as_object = codec.parse_rcs(rcs(templateParam=param), rcs_headers(), now=NOW)
    as_string = codec.parse_rcs(
        rcs(templateParam=orjson.dumps(param).decode()), rcs_headers(), now=NOW
    )
    assert as_object.extra["templateParam"] == as_string.extra["templateParam"] == param
    assert as_object.content == "본문"


@pytest.mark.parametrize("param", ["{not json", "[1, 2]", "3", ["a"], 3])
def test_template_param_must_be_an_object(param: Any) -> None:
    refused(
        codec.parse_rcs,
        rcs(templateParam=param),
        rcs_headers(),
        Invalid.MALFORMED,
        "templateParam",
    )


def test_template_param_size() -> None:
    refused(
        codec.parse_rcs,
        rcs(templateParam={"description": "x" * 8000}),
        rcs_headers(),
        Invalid.TOO_LONG,
        "templateParam",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("Y", True),
        ("N", False),
        ("y", True),
        ("true", True),
        ("FALSE", False),
    ],
)
def test_booleans_as_json_or_y_n(value: Any, expected: bool) -> None:
    assert (
        codec.parse_rcs(rcs(copyAllowed=value), rcs_headers(), now=NOW).extra[
            "copyAllowed"
        ]
        is expected
    )
    assert (
        codec.parse_kko(kko(adFlag=value), rcs_headers(), now=NOW).extra["adFlag"]
        is expected
    )


@pytest.mark.parametrize("value", ["yes", 1, "1", [True]])
def test_booleans_of_other_forms(value: Any) -> None:
    refused(
        codec.parse_rcs,
        rcs(copyAllowed=value),
        rcs_headers(),
        Invalid.MALFORMED,
        "copyAllowed",
    )


def test_rcs_type_is_upper_cased() -> None:
    assert (
        codec.parse_rcs(rcs(rcsType="lms"), rcs_headers(), now=NOW).extra["rcsType"]
        == "LMS"
    )


# -- fallback --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rcs", "kko"])
def test_fallback_required_when_used(kind: str) -> None:
    parser, body, hdrs = CASES[kind]
    refused(
        parser,
        without(body(usedFallback=True), "fallback"),
        hdrs(),
        Invalid.MISSING,
        "fallback",
    )
    refused(
        parser,
        body(usedFallback=True, fallback="SMS"),
        hdrs(),
        Invalid.MISSING,
        "fallback",
    )


@pytest.mark.parametrize("kind", ["rcs", "kko"])
def test_fallback_ignored_when_not_used_or_type_n(kind: str) -> None:
    parser, body, hdrs = CASES[kind]
    assert (
        parser(
            body(usedFallback=False, fallback={"type": "SMS"}), hdrs(), now=NOW
        ).fallback
        is None
    )
    assert (
        parser(
            body(usedFallback=True, fallback={"type": "N"}), hdrs(), now=NOW
        ).fallback
        is None
    )


def test_fallback_lms_and_mms() -> None:
    lms_fb = {"type": "lms", "subject": "제목", "content": "가" * 1000}
    req = codec.parse_kko(
        kko(usedFallback=True, fallback=lms_fb), rcs_headers(), now=NOW
    )
    assert req.fallback == {
        "channel": "LMS",
        "subject": "제목",
        "content": "가" * 1000,
        "fileIds": [],
        "originCode": "",
    }
    mms_fb = {
        "type": "MMS",
        "subject": "제목",
        "content": "사진",
        "fileIds": ["A1", "B2"],
    }
    req = codec.parse_kko(
        kko(usedFallback=True, fallback=mms_fb), rcs_headers(), now=NOW
    )
    assert req.fallback is not None and req.fallback["fileIds"] == ["A1", "B2"]


@pytest.mark.parametrize(
    ("fallback", "code", "field"),
    [
        ({"content": "x"}, Invalid.MISSING, "fallback.type"),
        ({"type": "RCS", "content": "x"}, Invalid.NOT_ALLOWED, "fallback.type"),
        ({"type": "SMS"}, Invalid.MISSING, "fallback.content"),
        ({"type": "SMS", "content": " "}, Invalid.MISSING, "fallback.content"),
        ({"type": "SMS", "content": 5}, Invalid.MALFORMED, "fallback.content"),
        ({"type": "SMS", "content": "가" * 46}, Invalid.TOO_LONG, "fallback.content"),
        (
            {"type": "LMS", "subject": "s", "content": "가" * 1001},
            Invalid.TOO_LONG,
            "fallback.content",
        ),
        (
            {"type": "LMS", "subject": "가" * 61, "content": "x"},
            Invalid.TOO_LONG,
            "fallback.subject",
        ),
        ({"type": "SMS", "content": "😀"}, Invalid.NOT_ALLOWED, "fallback.content"),
        (
            {"type": "MMS", "subject": "s", "content": "x"},
            Invalid.MISSING,
            "fallback.fileIds",
        ),
        (
            {
                "type": "MMS",
                "subject": "s",
                "content": "x",
                "fileIds": ["A", "B", "C", "D"],
            },
            Invalid.BAD_FILE,
            "fallback.fileIds",
        ),
        (
            {"type": "MMS", "subject": "s", "content": "x", "fileIds": "A"},
            Invalid.MALFORMED,
            "fallback.fileIds",
        ),
    ],
)
def test_fallback_rules(fallback: dict[str, Any], code: str, field: str) -> None:
    refused(
        codec.parse_rcs,
        rcs(usedFallback=True, fallback=fallback),
        rcs_headers(),
        code,
        field,
    )


@pytest.mark.parametrize("kind", ["LMS", "MMS"])
def test_fallback_subject_required_for_lms_and_mms(kind: str) -> None:
    fallback = {"type": kind, "content": "본문", "fileIds": ["A1"]}
    refused(
        codec.parse_kko,
        kko(usedFallback=True, fallback=fallback),
        rcs_headers(),
        Invalid.MISSING,
        "fallback.subject",
    )
    refused(
        codec.parse_kko,
        kko(usedFallback=True, fallback={**fallback, "subject": ""}),
        rcs_headers(),
        Invalid.MISSING,
        "fallback.subject",
    )


@pytest.mark.parametrize("kind", ["SMS", "LMS", "MMS"])
def test_fallback_content_required_for_every_type(kind: str) -> None:
    fallback = {"type": kind, "subject": "제목", "fileIds": ["A1"]}
    refused(
        codec.parse_rcs,
        rcs(usedFallback=True, fallback=fallback),
        rcs_headers(),
        Invalid.MISSING,
        "fallback.content",
    )


def test_sms_fallback_needs_no_subject() -> None:
    req = codec.parse_rcs(
        rcs(fallback={"type": "SMS", "content": "본문"}), rcs_headers(), now=NOW
    )
    assert req.fallback is not None and req.fallback["subject"] == ""


# -- KakaoTalk -------------------------------------------------------------------------


def test_kko_msg_types() -> None:
    assert (
        codec.parse_kko(
            kko(msgType="ft", templateCode=None), rcs_headers(), now=NOW
        ).extra["msgType"]
        == "FT"
    )
    refused(
        codec.parse_kko,
        kko(msgType="AT", templateCode=""),
        rcs_headers(),
        Invalid.MISSING,
        "templateCode",
    )
    refused(
        codec.parse_kko,
        kko(msgType="BT"),
        rcs_headers(),
        Invalid.NOT_ALLOWED,
        "msgType",
    )


def test_kko_wide() -> None:
    assert codec.parse_kko(kko(wide="y"), rcs_headers(), now=NOW).extra["wide"] == "Y"
    assert (
        codec.parse_kko(without(kko(), "wide"), rcs_headers(), now=NOW).extra["wide"]
        == "N"
    )
    refused(codec.parse_kko, kko(wide="W"), rcs_headers(), Invalid.NOT_ALLOWED, "wide")


def test_kko_buttons() -> None:
    five = [
        {"name": f"b{i}", "type": "WL", "url_mobile": "https://example.com"}
        for i in range(5)
    ]
    assert (
        codec.parse_kko(kko(buttons=five), rcs_headers(), now=NOW).extra["buttons"]
        == five
    )
    # The sample's key is "button" (resolution 23).
    singular = codec.parse_kko(
        without(kko(), "buttons") | {"button": five[:1]}, rcs_headers(), now=NOW
    )
    assert singular.extra["buttons"] == five[:1]
    refused(
        codec.parse_kko,
        kko(buttons=[*five, five[0]]),
        rcs_headers(),
        Invalid.TOO_LONG,
        "buttons",
    )
    refused(
        codec.parse_kko,
        kko(buttons=[{"name": "x" * 4000, "type": "WL"}]),
        rcs_headers(),
        Invalid.TOO_LONG,
        "buttons",
    )
    refused(
        codec.parse_kko,
        kko(buttons=[{"type": "BK"}]),
        rcs_headers(),
        Invalid.MISSING,
        "buttons[0].name",
    )
    refused(
        codec.parse_kko,
        kko(buttons=[five[0], {"name": "n"}]),
        rcs_headers(),
        Invalid.MISSING,
        "buttons[1].type",
    )
    refused(
        codec.parse_kko,
        kko(buttons=["BK"]),
        rcs_headers(),
        Invalid.MALFORMED,
        "buttons",
    )
    refused(
        codec.parse_kko,
        kko(buttons={"name": "x"}),
        rcs_headers(),
        Invalid.MALFORMED,
        "buttons",
    )


def test_rcs_buttons() -> None:
    eleven = [{"action": {"openUrl": "https://example.com"}}] * 11
    assert (
        len(
            codec.parse_rcs(rcs(buttons=eleven), rcs_headers(), now=NOW).extra[
                "buttons"
            ]
        )
        == 11
    )
    refused(
        codec.parse_rcs,
        rcs(buttons=[*eleven, eleven[0]]),
        rcs_headers(),
        Invalid.TOO_LONG,
        "buttons",
    )
