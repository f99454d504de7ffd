"""From a gateway message to submit_sm parts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.protocols.smpp import encoding, outbound
from umsgate.protocols.smpp import options as smpp_options
from umsgate.protocols.smpp import pdu as pdus
from umsgate.protocols.smpp.codes import DataCoding, EsmClass

NOW = dt.datetime(2026, 11, 22, 0, 0, tzinfo=dt.UTC)
LONG_KOREAN = "가나다라마바사아자차카타파하" * 13  # 182 syllables: 3 parts in UCS-2


def message(content: str, **fields: Any) -> Message:
    base: dict[str, Any] = {
        "id": 1,
        "client_id": "c",
        "src_msg_id": "s1",
        "channel": Channel.SMS,
        "sender": "+8215881234",
        "receiver": "+821012345678",
        "content": content,
        "created_at": NOW,
        "due_at": NOW,
    }
    return Message(**{**base, **fields})


def opts(**raw: Any) -> smpp_options.SmppOptions:
    return smpp_options.parse("c", {"host": "h", "system_id": "s", **raw})


def parts(plan: outbound.Plan) -> list[pdus.SubmitSm]:
    return [make(sequence=i + 1) for i, make in enumerate(plan.parts)]


def test_short_gsm_message() -> None:
    plan = outbound.plan(message("Hello"), opts(), reference=7, now=NOW)
    [pdu] = parts(plan)
    assert plan.segments == 1 and plan.encoding is encoding.Encoding.GSM
    assert pdu.destination_addr == "821012345678" and pdu.source_addr == "8215881234"
    assert pdu.registered_delivery == 1 and pdu.esm_class == 0
    assert pdu.short_message == b"Hello" and pdu.data_coding == DataCoding.DEFAULT


def test_national_numbers_for_other_tons() -> None:
    [pdu] = parts(
        outbound.plan(
            message("x"), opts(dest_ton=0, source_ton=2), reference=0, now=NOW
        )
    )
    assert pdu.destination_addr == "01012345678"
    assert pdu.source_addr == "15881234"
    assert pdu.dest_addr_ton == 0 and pdu.source_addr_ton == 2


def test_udh_parts() -> None:
    plan = outbound.plan(message(LONG_KOREAN), opts(), reference=0x1FF, now=NOW)
    got = parts(plan)
    assert plan.segments == 3 and len(got) == 3
    for i, pdu in enumerate(got, 1):
        assert pdu.esm_class == EsmClass.UDHI and pdu.data_coding == DataCoding.UCS2
        concat, _ = encoding.parse_udh(pdu.short_message)
        assert concat == encoding.Concat(reference=0xFF, total=3, seqnum=i)
    text = "".join(
        encoding.parse_udh(p.short_message)[1].decode("utf-16-be") for p in got
    )
    assert text == LONG_KOREAN


def test_sar_parts_in_ksc5601() -> None:
    plan = outbound.plan(
        message(LONG_KOREAN),
        opts(long_message="sar", korean="ksc5601"),
        reference=0x1234,
        now=NOW,
    )
    got = parts(plan)
    assert plan.encoding is encoding.Encoding.KSC5601 and len(got) == 3
    assert [p.tlvs.sar_segment_seqnum for p in got] == [1, 2, 3]
    assert {p.tlvs.sar_msg_ref_num for p in got} == {0x1234}
    assert all(p.esm_class == 0 and p.data_coding == 0x0E for p in got)
    assert b"".join(p.short_message for p in got).decode("cp949") == LONG_KOREAN


def test_payload_mode() -> None:
    plan = outbound.plan(
        message("x" * 500), opts(long_message="payload"), reference=1, now=NOW
    )
    [pdu] = parts(plan)
    assert plan.segments == 4
    assert pdu.short_message == b"" and pdu.tlvs.message_payload == b"x" * 500


def test_lms_subject_goes_first() -> None:
    plan = outbound.plan(
        message("body", channel=Channel.LMS, subject="Title"),
        opts(),
        reference=1,
        now=NOW,
    )
    assert parts(plan)[0].short_message == b"Title\nbody"


def test_validity_from_expiry() -> None:
    expires = dt.datetime(
        2026, 11, 22, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=9))
    )
    [pdu] = parts(
        outbound.plan(message("x", expires_at=expires), opts(), reference=1, now=NOW)
    )
    assert pdu.validity_period == "261122003000000+"
    [pdu] = parts(
        outbound.plan(
            message("x", expires_at=expires), opts(validity=False), reference=1, now=NOW
        )
    )
    assert pdu.validity_period == ""


@pytest.mark.parametrize(
    ("msg", "raw", "code"),
    [
        (message("x", channel=Channel.MMS), {}, ResultCode.UNSUPPORTED),
        (message("x", expires_at=NOW), {}, ResultCode.EXPIRED),
        (message("한글"), {"data_coding": "latin1"}, ResultCode.CONTENT_REJECTED),
        (message("가" * 67 * 256), {}, ResultCode.CONTENT_REJECTED),
        (message("x", receiver="+82abc"), {"dest_ton": 0}, ResultCode.INVALID_NUMBER),
    ],
)
def test_refused(msg: Message, raw: dict[str, Any], code: ResultCode) -> None:
    with pytest.raises(outbound.Refused) as info:
        outbound.plan(msg, opts(**raw), reference=1, now=NOW)
    assert info.value.code is code
