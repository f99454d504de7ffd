"""Every golden vector of specs/ushot.md §13 decodes and re-encodes byte for byte."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest
from ushot_vectors import load_vectors, vector

from umsgate.protocols.ushot import bodies, events
from umsgate.protocols.ushot.frames import FrameDecoder

VECTORS = load_vectors()
IDS = [v["name"] for v in VECTORS]


def decode_one(data: bytes) -> tuple[str, events.Event]:
    decoder = FrameDecoder()
    decoder.feed(data)
    frame = decoder.next_frame()
    assert frame is not None
    assert decoder.next_frame() is None
    assert decoder.buffered == 0
    return frame.version, bodies.decode_frame(frame)


def test_every_spec_vector_is_in_the_file() -> None:
    assert set(IDS) == {
        "LOGIN_1010",
        "SMS_SEND_1020",
        "RESULT_1031",
        "LOGIN_OK_1011",
        "SMS_SEND_1020_LEGACY",
        "SEND_ACK_1021",
        "SEND_ACK_1026",
        "RESULT_ACK_1030",
        "KEEPALIVE_1020",
        "POLL_1030",
    }


@pytest.mark.parametrize("vec", VECTORS, ids=IDS)
def test_vector_matches_its_stated_size_and_hash(vec: dict[str, Any]) -> None:
    data = bytes.fromhex(vec["hex"])
    assert len(data) == vec["size"] == 77 + vec["length"]
    assert hashlib.sha256(data).hexdigest() == vec["sha256"]


@pytest.mark.parametrize("vec", VECTORS, ids=IDS)
def test_vector_round_trips_byte_for_byte(vec: dict[str, Any]) -> None:
    data = bytes.fromhex(vec["hex"])
    version, event = decode_one(data)
    assert version == vec["version"]
    assert bodies.command_of(event) == vec["command"]
    assert bodies.encode_event(event, version) == data


@pytest.mark.parametrize("vec", VECTORS, ids=IDS)
def test_vector_decodes_when_fed_one_byte_at_a_time(vec: dict[str, Any]) -> None:
    data = bytes.fromhex(vec["hex"])
    decoder = FrameDecoder()
    for i in range(len(data) - 1):
        decoder.feed(data[i : i + 1])
        assert decoder.next_frame() is None
    decoder.feed(data[-1:])
    frame = decoder.next_frame()
    assert frame is not None
    assert bodies.encode_event(bodies.decode_frame(frame), frame.version) == data


def test_all_vectors_in_one_chunk_come_out_in_order() -> None:
    stream = b"".join(bytes.fromhex(v["hex"]) for v in VECTORS)
    decoder = FrameDecoder()
    decoder.feed(stream)
    out = []
    while (frame := decoder.next_frame()) is not None:
        out.append(bodies.encode_event(bodies.decode_frame(frame), frame.version))
    assert out == [bytes.fromhex(v["hex"]) for v in VECTORS]


def test_login_vector_values() -> None:
    _, event = decode_one(vector("LOGIN_1010"))
    assert event == events.Login(user_id="testid", password="testpw", version="SAM11")


def test_sms_vector_values_hold_cp949_hangul() -> None:
    _, event = decode_one(vector("SMS_SEND_1020"))
    assert isinstance(event, events.SmsSend)
    (record,) = event.records
    assert record.msg == "안녕하세요 UShot"
    assert record.timeout_dt == "2009-01-01 21:00:00"
    assert record.reserve_dt == ""
    assert record.usercode == "1234567890"
    assert not event.legacy


def test_legacy_sms_vector_is_the_same_record_without_usercode() -> None:
    _, full = decode_one(vector("SMS_SEND_1020"))
    _, legacy = decode_one(vector("SMS_SEND_1020_LEGACY"))
    assert isinstance(full, events.SmsSend) and isinstance(legacy, events.SmsSend)
    assert legacy.legacy
    assert legacy.records[0] == dataclasses.replace(full.records[0], usercode="")


def test_login_result_vector_gives_the_options() -> None:
    _, event = decode_one(vector("LOGIN_OK_1011"))
    assert isinstance(event, events.LoginResult)
    assert event.ok
    assert event.options() == events.LoginOptions(
        max_count=30, service=1, variable=True, max_msg_size=2000
    )


def test_result_vector_values() -> None:
    _, event = decode_one(vector("RESULT_1031"))
    assert event == events.Results(
        records=(
            events.ResultRecord(
                grp_id="20090101093000",
                msg_id="0001",
                receiver="01012345678",
                send_dt="2009-01-01 09:30:10",
                result="6",
                telecom="SKT",
            ),
        )
    )


def test_acknowledgements_and_polls_are_built_by_their_constructors() -> None:
    key = events.MsgKey(grp_id="20090101093000", msg_id="0001")
    assert bodies.encode_event(events.ResultAck.acknowledge((key,)), "SAM11") == vector(
        "RESULT_ACK_1030"
    )
    assert bodies.encode_event(events.ResultAck.poll(), "SAM10") == vector("POLL_1030")
    assert bodies.encode_event(events.SendAck(keys=(key,)), "SAM11") == vector(
        "SEND_ACK_1021"
    )
    assert bodies.encode_event(events.BatchAck(), "SAM10") == vector("SEND_ACK_1026")
    assert bodies.encode_event(events.SmsSend(), "SAM11") == vector("KEEPALIVE_1020")
