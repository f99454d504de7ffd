"""Request samples and helpers for the API-Gateway codec tests: the seed's bodies
(apigw spec §16) for each channel, the headers each needs, and `refused`, which
checks the code and the field of a refusal. Inputs are what the face would pass: a
decoded JSON body and case-insensitive request headers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from umsgate.errors import ValidationError
from umsgate.protocols.apigw import codec

#: 2024-06-10T06:13:20Z, 15:13:20 KST.
NOW = 1_718_000_000.0
KST = dt.timezone(dt.timedelta(hours=9))

Parser = Callable[..., codec.SendRequest]


def headers(**values: str) -> dict[str, str]:
    """Request headers as the face hands them to a parser: names lower-cased."""
    return {name.lower(): value for name, value in values.items()}


def sms_headers(**extra: str) -> dict[str, str]:
    return headers(
        authorization="Bearer t", originCode="123456789", billCode="12345", **extra
    )


def rcs_headers(**extra: str) -> dict[str, str]:
    return headers(
        authorization="Bearer t",
        agencyId="standard",
        agencyKey="agencyKey",
        billCode="12345",
        **extra,
    )


def sms(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "srcMsgId": "12345",
        "callback": "01059120601",
        "receiver": "01012345678",
        "content": "SMS TEST",
    }
    body.update(fields)
    return body


def lms(**fields: Any) -> dict[str, Any]:
    # The seed's LMS sample (apigw spec §16).
    body: dict[str, Any] = {
        "srcMsgId": "12345",
        "natCode": "82",
        "dstCharSet": "euc-kr",
        "callback": "01059120601",
        "subject": "STD-OAPI",
        "content": "LMS TEST",
        "receiver": "01059120601",
        "fileIds": [],
    }
    body.update(fields)
    return body


def rcs(**fields: Any) -> dict[str, Any]:
    # The seed's RCS sample as reconstructed in apigw spec §16.
    body: dict[str, Any] = {
        "srcMsgId": "1149001",
        "type": "INFO",
        "natCode": 82,
        "dstCharSet": "euc-kr",
        "chatbotId": "01012345678",
        "brandKey": "brandKey",
        "rcsType": "SMS",
        "receiver": "01012345678",
        "expiryOption": "1",
        "header": "0",
        "footer": "",
        "copyAllowed": True,
        "templateId": "Template001",
        "templateParam": {
            "title": "테스트 제목 입니다.",
            "description": "테스트 메세지 입니다.",
        },
        "buttons": [],
        "usedFallback": True,
        "fallback": {
            "type": "SMS",
            "subject": "대체 발송 제목",
            "content": "대체 발송 본문 내용",
            "fileIds": [],
            "originCode": "111111111",
        },
    }
    body.update(fields)
    return body


def kko(**fields: Any) -> dict[str, Any]:
    # The seed's KakaoTalk sample as reconstructed in apigw spec §16.
    body: dict[str, Any] = {
        "srcMsgId": "1149002",
        "cmpMsgId": None,
        "msgType": "AT",
        "natCode": 82,
        "dstCharSet": "EUC-KR",
        "callback": "01012345678",
        "title": "테스트 제목 입니다.",
        "content": "테스트 메세지 입니다.",
        "receiver": "01012345678",
        "kplusId": None,
        "profileKey": "profileKey",
        "wide": "N",
        "templateCode": "Template001",
        "imageLink": "",
        "imageUrl": "",
        "imageFlag": False,
        "adFlag": False,
        "buttons": [
            {"name": "집으로 직접 받고 싶어요!", "type": "BK"},
            {"name": "경비실에 부탁드릴께요~", "type": "BK"},
            {"name": "문 앞에 살포시 두고 가주세요~", "type": "BK"},
            {"name": "나만의 시크릿 장소 ?! (상세히 설명해 주세요)", "type": "BK"},
        ],
        "usedFallback": False,
        "fallback": {
            "type": "N",
            "subject": "대체 발송 제목",
            "content": "대체 발송 본문 내용",
            "fileIds": [],
            "originCode": "111111111",
        },
    }
    body.update(fields)
    return body


CASES: dict[
    str, tuple[Parser, Callable[..., dict[str, Any]], Callable[..., dict[str, str]]]
] = {
    "sms": (codec.parse_sms, sms, sms_headers),
    "mms": (codec.parse_mms, lms, sms_headers),
    "rcs": (codec.parse_rcs, rcs, rcs_headers),
    "kko": (codec.parse_kko, kko, rcs_headers),
}


def refused(
    parser: Parser,
    body: Mapping[str, Any],
    hdrs: Mapping[str, str],
    code: str,
    field: str,
) -> ValidationError:
    """Parse, expecting a refusal with ``code`` whose field is ``field`` and whose
    message names it."""
    with pytest.raises(ValidationError) as info:
        parser(body, hdrs, now=NOW)
    err = info.value
    assert (err.code, err.field) == (code, field), err.message
    assert field in err.message
    return err


def without(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != name}


def kst(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> float:
    """The epoch of a Korea Standard Time wall-clock time."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=KST).timestamp()
