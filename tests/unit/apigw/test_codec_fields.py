"""The API-Gateway codec: the samples, required fields and headers, lengths in
bytes of ``dstCharSet``, and resolutions 11, 16 and 17 (apigw spec §6–§9, §15)."""

from __future__ import annotations

import pytest

from tests.unit.apigw.samples import (
    CASES,
    NOW,
    headers,
    kko,
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
from umsgate.protocols.apigw import codec

# -- the samples -----------------------------------------------------------------------


def test_sms_sample() -> None:
    req = codec.parse_sms(sms(), sms_headers(), now=NOW)
    assert req.channel is Channel.SMS
    assert req.src_msg_id == "12345"
    assert req.sender == "+821059120601"
    assert req.receiver == "+821012345678"
    assert req.content == "SMS TEST"
    assert req.codec == "cp949"
    assert req.cmp_msg_id == ""
    assert req.subject == ""
    assert req.file_ids == ()
    assert req.fallback is None
    assert dict(req.extra) == {"originCode": "123456789", "billCode": "12345"}
    assert req.reserve_at is None and req.expires_at is None


def test_lms_sample() -> None:
    req = codec.parse_mms(lms(), sms_headers(), now=NOW)
    assert req.channel is Channel.LMS
    assert (req.subject, req.content, req.file_ids) == ("STD-OAPI", "LMS TEST", ())
    assert req.receiver == "+821059120601"


def test_rcs_sample() -> None:
    req = codec.parse_rcs(rcs(), rcs_headers(), now=NOW)
    assert req.channel is Channel.RCS
    assert req.sender == "+821012345678"  # resolution 21: chatbotId is the sender
    assert req.content == "테스트 메세지 입니다."
    assert req.subject == "테스트 제목 입니다."
    extra = dict(req.extra)
    assert extra["agencyId"] == "standard" and extra["agencyKey"] == "agencyKey"
    assert extra["billCode"] == "12345"
    assert (
        extra["type"] == "INFO" and extra["header"] == "0" and extra["rcsType"] == "SMS"
    )
    assert extra["templateParam"] == {
        "title": "테스트 제목 입니다.",
        "description": "테스트 메세지 입니다.",
    }
    assert extra["copyAllowed"] is True
    assert req.fallback == {
        "channel": "SMS",
        "subject": "",
        "content": "대체 발송 본문 내용",
        "fileIds": [],
        "originCode": "111111111",
    }
    assert req.expires_at == NOW + 86400  # expiryOption 1: one day


def test_kko_sample() -> None:
    req = codec.parse_kko(kko(), rcs_headers(), now=NOW)
    assert req.channel is Channel.KKO
    assert req.sender == "+821012345678" and req.receiver == "+821012345678"
    assert req.codec == "cp949"
    assert req.cmp_msg_id == ""
    assert req.fallback is None
    extra = dict(req.extra)
    assert extra["msgType"] == "AT" and extra["templateCode"] == "Template001"
    assert extra["profileKey"] == "profileKey" and extra["wide"] == "N"
    assert extra["adFlag"] is False and extra["imageFlag"] is False
    assert len(extra["buttons"]) == 4


# -- required fields and headers -------------------------------------------------------


@pytest.mark.parametrize("name", ["srcMsgId", "callback", "content", "receiver"])
@pytest.mark.parametrize("blank", [None, "", "   "])
def test_sms_required_fields(name: str, blank: str | None) -> None:
    body = without(sms(), name) if blank is None else sms(**{name: blank})
    refused(codec.parse_sms, body, sms_headers(), Invalid.MISSING, name)


@pytest.mark.parametrize("name", ["srcMsgId", "callback", "receiver"])
def test_mms_required_fields(name: str) -> None:
    refused(codec.parse_mms, without(lms(), name), sms_headers(), Invalid.MISSING, name)


@pytest.mark.parametrize(
    "name",
    [
        "srcMsgId",
        "chatbotId",
        "brandKey",
        "header",
        "rcsType",
        "receiver",
        "templateId",
        "templateParam",
        "copyAllowed",
        "usedFallback",
    ],
)
def test_rcs_required_fields(name: str) -> None:
    refused(codec.parse_rcs, without(rcs(), name), rcs_headers(), Invalid.MISSING, name)


@pytest.mark.parametrize(
    "name",
    [
        "srcMsgId",
        "msgType",
        "callback",
        "receiver",
        "content",
        "profileKey",
        "templateCode",
        "adFlag",
        "usedFallback",
    ],
)
def test_kko_required_fields(name: str) -> None:
    refused(codec.parse_kko, without(kko(), name), rcs_headers(), Invalid.MISSING, name)


@pytest.mark.parametrize("kind", ["sms", "mms"])
@pytest.mark.parametrize("name", ["originCode", "billCode"])
def test_sms_mms_headers_are_required(kind: str, name: str) -> None:
    parser, body, _ = CASES[kind]
    hdrs = {"authorization": "Bearer t", "originCode": "123456789", "billCode": "12345"}
    del hdrs[name]
    refused(parser, body(), headers(**hdrs), Invalid.MISSING, name)
    refused(parser, body(), headers(**{**hdrs, name: " "}), Invalid.MISSING, name)


@pytest.mark.parametrize("kind", ["rcs", "kko"])
@pytest.mark.parametrize("name", ["agencyId", "agencyKey", "billCode"])
def test_rcs_kko_headers_are_required(kind: str, name: str) -> None:
    parser, body, _ = CASES[kind]
    hdrs = {
        "authorization": "Bearer t",
        "agencyId": "standard",
        "agencyKey": "agencyKey",
        "billCode": "12345",
    }
    del hdrs[name]
    refused(parser, body(), headers(**hdrs), Invalid.MISSING, name)


def test_rcs_does_not_need_origin_code() -> None:
    codec.parse_rcs(rcs(), rcs_headers(), now=NOW)  # no originCode header


# -- resolution 16: originCode ≤ 9, billCode ≤ 5, printable ASCII ----------------------


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("originCode", "1234567890", Invalid.TOO_LONG),
        ("billCode", "123456", Invalid.TOO_LONG),
        ("originCode", "12345678\t", Invalid.NOT_ALLOWED),
        ("billCode", "1234\x7f", Invalid.NOT_ALLOWED),
    ],
)
def test_origin_and_bill_codes(name: str, value: str, code: str) -> None:
    hdrs = headers(**{"originCode": "123456789", "billCode": "12345", name: value})
    refused(codec.parse_sms, sms(), hdrs, code, name)


def test_origin_and_bill_codes_at_their_limits() -> None:
    req = codec.parse_mms(
        lms(), headers(originCode="A-34 6789", billCode="X~Z 5"), now=NOW
    )
    assert dict(req.extra) == {"originCode": "A-34 6789", "billCode": "X~Z 5"}


def test_non_ascii_origin_code_is_refused() -> None:
    refused(
        codec.parse_sms,
        sms(),
        headers(originCode="코드", billCode="12345"),
        Invalid.NOT_ALLOWED,
        "originCode",
    )


def test_fallback_origin_code_is_optional_and_bounded() -> None:
    fallback = {"type": "SMS", "content": "대체"}
    req = codec.parse_rcs(rcs(fallback=fallback), rcs_headers(), now=NOW)
    assert req.fallback is not None and req.fallback["originCode"] == ""
    refused(
        codec.parse_rcs,
        rcs(fallback={**fallback, "originCode": "1234567890"}),
        rcs_headers(),
        Invalid.TOO_LONG,
        "fallback.originCode",
    )


# -- resolution 17: agency fields in headers, or in the body ---------------------------


def test_agency_fields_from_the_body_when_headers_are_absent() -> None:
    body = rcs(agencyId="standard", agencyKey="agencyKey", billCode=12345)
    req = codec.parse_rcs(body, headers(authorization="Bearer t"), now=NOW)
    extra = dict(req.extra)
    assert (extra["agencyId"], extra["agencyKey"], extra["billCode"]) == (
        "standard",
        "agencyKey",
        "12345",
    )


def test_agency_header_wins_over_the_body() -> None:
    body = kko(agencyId="from-body", agencyKey="body-key", billCode="99999")
    req = codec.parse_kko(body, rcs_headers(), now=NOW)
    extra = dict(req.extra)
    assert (extra["agencyId"], extra["agencyKey"], extra["billCode"]) == (
        "standard",
        "agencyKey",
        "12345",
    )


def test_agency_fields_in_the_body_are_still_checked() -> None:
    body = rcs(agencyId="standard", agencyKey="agencyKey", billCode="123456")
    refused(codec.parse_rcs, body, headers(), Invalid.TOO_LONG, "billCode")
    refused(
        codec.parse_rcs,
        rcs(agencyId=True, agencyKey="k", billCode="1"),
        headers(),
        Invalid.MISSING,
        "agencyId",
    )


# -- lengths ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sms", "mms", "rcs", "kko"])
def test_src_msg_id_is_at_most_20_characters(kind: str) -> None:
    parser, body, hdrs = CASES[kind]
    assert parser(body(srcMsgId="가" * 20), hdrs(), now=NOW).src_msg_id == "가" * 20
    refused(parser, body(srcMsgId="1" * 21), hdrs(), Invalid.TOO_LONG, "srcMsgId")


@pytest.mark.parametrize(
    ("content", "charset", "ok"),
    [
        ("a" * 90, None, True),
        ("a" * 91, None, False),
        ("가" * 45, "euc-kr", True),
        ("가" * 44 + "ab", "EUC-KR", True),
        ("가" * 45 + "a", "euc-kr", False),
        ("똠" * 45, "euc-kr", True),  # outside KS X 1001, still 2 bytes (CP949)
        ("가" * 30, "utf-8", True),
        ("가" * 31, "utf-8", False),
        ("가" * 45, "utf-8", False),
    ],
)
def test_sms_content_bytes(content: str, charset: str | None, ok: bool) -> None:
    body = (
        sms(content=content)
        if charset is None
        else sms(content=content, dstCharSet=charset)
    )
    if ok:
        assert codec.parse_sms(body, sms_headers(), now=NOW).content == content
    else:
        err = refused(codec.parse_sms, body, sms_headers(), Invalid.TOO_LONG, "content")
        assert "90" in err.message


@pytest.mark.parametrize(
    ("content", "ok"),
    [("가" * 1000, True), ("가" * 1000 + "a", False), ("a" * 2000, True)],
)
def test_lms_content_bytes(content: str, ok: bool) -> None:
    if ok:
        assert (
            codec.parse_mms(lms(content=content), sms_headers(), now=NOW).channel
            is Channel.LMS
        )
    else:
        refused(
            codec.parse_mms,
            lms(content=content),
            sms_headers(),
            Invalid.TOO_LONG,
            "content",
        )


def test_subject_bytes_and_default() -> None:
    assert (
        codec.parse_mms(lms(subject="가" * 60), sms_headers(), now=NOW).subject
        == "가" * 60
    )
    refused(
        codec.parse_mms,
        lms(subject="가" * 60 + "a"),
        sms_headers(),
        Invalid.TOO_LONG,
        "subject",
    )
    assert (
        codec.parse_mms(without(lms(), "subject"), sms_headers(), now=NOW).subject
        == "제목없음"
    )
    assert (
        codec.parse_mms(lms(subject=""), sms_headers(), now=NOW).subject == "제목없음"
    )


@pytest.mark.parametrize(
    ("kind", "field"),
    [("sms", "content"), ("mms", "content"), ("mms", "subject"), ("kko", "content")],
)
def test_unencodable_text_is_not_allowed(kind: str, field: str) -> None:
    parser, body, hdrs = CASES[kind]
    err = refused(
        parser, body(**{field: "안녕 😀"}), hdrs(), Invalid.NOT_ALLOWED, field
    )
    assert "U+1F600" in err.message


def test_utf8_accepts_what_euc_kr_cannot() -> None:
    req = codec.parse_sms(
        sms(content="안녕 😀", dstCharSet="utf-8"), sms_headers(), now=NOW
    )
    assert req.codec == "utf-8"


def test_kko_content_is_counted_in_characters() -> None:
    assert (
        codec.parse_kko(kko(content="가" * 1000), rcs_headers(), now=NOW).content
        == "가" * 1000
    )
    refused(
        codec.parse_kko,
        kko(content="가" * 1001),
        rcs_headers(),
        Invalid.TOO_LONG,
        "content",
    )


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("cmpMsgId", 40),
        ("templateCode", 32),
        ("imageLink", 255),
        ("imageUrl", 255),
        ("profileKey", 100),
    ],
)
def test_kko_field_lengths(field: str, limit: int) -> None:
    codec.parse_kko(kko(**{field: "x" * limit}), rcs_headers(), now=NOW)
    refused(
        codec.parse_kko,
        kko(**{field: "x" * (limit + 1)}),
        rcs_headers(),
        Invalid.TOO_LONG,
        field,
    )


# -- resolution 11: dstCharSet ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["sms", "mms", "rcs", "kko"])
def test_charset_default_and_aliases(kind: str) -> None:
    parser, body, hdrs = CASES[kind]
    assert parser(without(body(), "dstCharSet"), hdrs(), now=NOW).codec == "cp949"
    for name in ("euc-kr", "EUC-KR", "cp949", "ks_c_5601-1987"):
        assert parser(body(dstCharSet=name), hdrs(), now=NOW).codec == "cp949"
    assert parser(body(dstCharSet="UTF-8"), hdrs(), now=NOW).codec == "utf-8"
    refused(
        parser, body(dstCharSet="latin-1"), hdrs(), Invalid.NOT_ALLOWED, "dstCharSet"
    )
