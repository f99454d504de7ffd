"""The API-Gateway codec: umsgate's ``reserveTime``/``expireTime``, the content hash
used for idempotency, and the formats of the answers (apigw spec §10, §15.3)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.apigw.samples import (
    NOW,
    headers,
    kst,
    refused,
    sms,
    sms_headers,
)
from umsgate.domain.results import Invalid
from umsgate.errors import ValidationError
from umsgate.protocols.apigw import codec

# -- umsgate's reserveTime / expireTime ------------------------------------------------


@pytest.mark.parametrize(
    ("value", "epoch"),
    [
        ("202406101600", kst(2024, 6, 10, 16, 0)),
        ("20240610160030", kst(2024, 6, 10, 16, 0, 30)),
        ("2024-06-10T16:00:00", kst(2024, 6, 10, 16, 0)),  # no offset: KST
        (
            "2024-06-10T16:00:00.822439906",
            kst(2024, 6, 10, 16, 0) + 0.822439,
        ),  # resolution 3
        ("2024-06-10T07:00:00+00:00", kst(2024, 6, 10, 16, 0)),
        ("2024-06-10T07:00:00.500Z", kst(2024, 6, 10, 16, 0) + 0.5),
        ("", None),
        (None, None),
    ],
)
def test_parse_time(value: str | None, epoch: float | None) -> None:
    got = codec.parse_time(value, "reserveTime")
    assert got == (None if epoch is None else pytest.approx(epoch, abs=1e-6))


@pytest.mark.parametrize(
    "value", ["2024-13-01", "20241301000000", "tomorrow", "2024061016", 202406101600]
)
def test_parse_time_refuses(value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        codec.parse_time(value, "reserveTime")
    assert info.value.code == Invalid.MALFORMED and info.value.field == "reserveTime"


@given(st.from_regex(r"\A[0-9]{12}([0-9]{2})?\Z"))
def test_digit_times_agree_with_strptime(value: str) -> None:
    fmt = "%Y%m%d%H%M%S" if len(value) == 14 else "%Y%m%d%H%M"
    try:
        expected = dt.datetime.strptime(value, fmt).replace(tzinfo=codec.KST)
    except ValueError:
        with pytest.raises(ValidationError):
            codec.parse_time(value, "reserveTime")
        return
    assert codec.parse_time(value, "reserveTime") == expected.timestamp()


def test_reserve_and_expire() -> None:
    req = codec.parse_sms(
        sms(reserveTime="202406101600", expireTime="202406101700"),
        sms_headers(),
        now=NOW,
    )
    assert req.reserve_at == kst(2024, 6, 10, 16, 0)
    assert req.expires_at == kst(2024, 6, 10, 17, 0)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"expireTime": "202406101500"}, "expireTime"),  # before now (15:13 KST)
        ({"expireTime": "20240610151320"}, "expireTime"),  # exactly now
        ({"reserveTime": "202406101600", "expireTime": "202406101600"}, "expireTime"),
        ({"reserveTime": "202406101600", "expireTime": "202406101530"}, "expireTime"),
        ({"reserveTime": "202409101600"}, "reserveTime"),  # more than 90 days ahead
        ({"expireTime": "202407201600"}, "expireTime"),  # more than 30 days ahead
    ],
)
def test_times_not_allowed(fields: dict[str, str], field: str) -> None:
    refused(codec.parse_sms, sms(**fields), sms_headers(), Invalid.NOT_ALLOWED, field)


def test_a_past_reserve_time_means_now() -> None:
    req = codec.parse_sms(sms(reserveTime="202406100000"), sms_headers(), now=NOW)
    assert req.reserve_at == kst(2024, 6, 10, 0, 0)


# -- content hash (idempotency) --------------------------------------------------------


def test_content_hash() -> None:
    a = codec.parse_sms(sms(), sms_headers(), now=NOW)
    again = codec.parse_sms(sms(unknown=1, natCode="82"), sms_headers(), now=NOW + 5)
    assert a.content_hash() == again.content_hash()
    for change in (
        {"content": "other"},
        {"receiver": "01099998888"},
        {"callback": "15881234"},
        {"cmpMsgId": "c"},
        {"reserveTime": "202406101600"},
        {"dstCharSet": "utf-8"},
    ):
        other = codec.parse_sms(sms(**change), sms_headers(), now=NOW)
        assert other.content_hash() != a.content_hash(), change
    billed = codec.parse_sms(sms(), headers(originCode="1", billCode="2"), now=NOW)
    assert billed.content_hash() != a.content_hash()


# -- answers ---------------------------------------------------------------------------


def test_iso_time_is_the_seeds_format() -> None:
    assert codec.iso_time(1718362326.053) == "2024-06-14T10:52:06.053+00:00"
    assert codec.iso_time(1718362326.0) == "2024-06-14T10:52:06.000+00:00"


def test_file_expire_time_is_kst_without_offset() -> None:
    assert (
        codec.file_expire_time(kst(2024, 6, 15, 10, 13, 15) + 0.822)
        == "2024-06-15T10:13:15"
    )


def test_send_answer() -> None:
    answer = codec.send_answer(589406775975211890, "12345", 1718362326.053)
    assert answer == {
        "resultCode": "10000",
        "resultMessage": "transfer request successful",
        "transferTime": "2024-06-14T10:52:06.053+00:00",
        "umsMsgId": "589406775975211890",
        "srcMsgId": "12345",
    }
