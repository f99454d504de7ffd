"""The incremental decoder and body decoding: chunks of any size, corrupt input refused
with typed errors, tolerant layouts of spec §6.9."""

from __future__ import annotations

import dataclasses

import pytest
from ushot_vectors import vector

from umsgate.errors import RemoteProtocolError
from umsgate.protocols.ushot import bodies, events
from umsgate.protocols.ushot.frames import MAX_BODY, Frame, FrameDecoder, encode_frame


def frames_of(data: bytes, chunk: int) -> list[Frame]:
    decoder = FrameDecoder()
    out = []
    for i in range(0, len(data), chunk):
        decoder.feed(data[i : i + chunk])
        while (frame := decoder.next_frame()) is not None:
            out.append(frame)
    assert decoder.buffered == 0
    return out


@pytest.mark.parametrize("chunk", [1, 2, 7, 76, 77, 500, 100_000])
def test_many_frames_in_any_chunking(chunk: int) -> None:
    one = vector("SMS_SEND_1020")
    two = vector("RESULT_1031")
    stream = (one + two) * 20
    frames = frames_of(stream, chunk)
    assert [f.command for f in frames] == [1020, 1031] * 20


def test_a_frame_split_after_the_header_waits_for_the_body() -> None:
    data = vector("LOGIN_1010")
    decoder = FrameDecoder()
    decoder.feed(data[:76])
    assert decoder.next_frame() is None
    decoder.feed(data[76:])
    assert decoder.next_frame() is not None


def corrupt(data: bytes) -> RemoteProtocolError:
    decoder = FrameDecoder()
    decoder.feed(data)
    with pytest.raises(RemoteProtocolError) as info:
        while decoder.next_frame() is not None:
            pass
    assert info.value.code == "11001"
    assert info.value.close_session
    # The fault sticks: no resynchronisation in this framing.
    with pytest.raises(RemoteProtocolError):
        decoder.next_frame()
    return info.value


def test_garbage_is_refused_at_the_first_byte() -> None:
    assert "SOH" in str(corrupt(b"GET / HTTP/1.1\r\n"))


def test_missing_etx_is_refused() -> None:
    data = vector("LOGIN_1010")
    assert "ETX" in str(corrupt(data[:-1] + b"X"))


def test_a_length_too_short_misses_the_etx() -> None:
    data = bytearray(vector("LOGIN_1010"))
    data[12:20] = b"00000039"
    assert "ETX" in str(corrupt(bytes(data)))


def test_a_length_too_long_swallows_the_next_frame_and_misses_its_etx() -> None:
    data = bytearray(vector("LOGIN_1010"))
    data[12:20] = b"00000041"
    assert "ETX" in str(corrupt(bytes(data) + vector("LOGIN_1010")))


def test_a_length_that_is_not_a_number_is_refused_without_waiting() -> None:
    data = bytearray(vector("LOGIN_1010"))
    data[12:20] = b"00x00040"
    assert "LENGTH" in str(corrupt(bytes(data[:20])))


def test_a_length_above_the_limit_is_refused_without_waiting() -> None:
    data = bytearray(vector("LOGIN_1010"))
    data[12:20] = b"%08d" % (MAX_BODY + 1)
    assert "limit" in str(corrupt(bytes(data[:20])))


def test_missing_stx_is_refused() -> None:
    data = bytearray(vector("LOGIN_1010"))
    data[75] = 0x20
    assert "STX" in str(corrupt(bytes(data)))


def test_a_command_that_is_not_a_number_is_refused() -> None:
    data = bytearray(vector("LOGIN_1010"))
    data[7:12] = b"LOGIN"
    assert "COMMAND" in str(corrupt(bytes(data)))


def body_error(command: int, body: bytes) -> RemoteProtocolError:
    frame = Frame(version="SAM11", command=command, body=body)
    with pytest.raises(RemoteProtocolError) as info:
        bodies.decode_frame(frame)
    assert info.value.code == "11001"
    return info.value


def test_counts_that_do_not_match_the_length_are_refused() -> None:
    record = vector("SMS_SEND_1020")[80:-1]
    body_error(1020, b"0002" + record)
    body_error(1021, b"0002" + b" " * 40)
    body_error(1030, b"0001")
    body_error(1031, b"0001" + b" " * 81)
    body_error(1024, b"0001" + b" " * 512 + b" " * 100)
    body_error(1044, b"0001" + b"0005" + b" " * 10)


def test_other_malformed_bodies_are_refused() -> None:
    body_error(1010, b"x" * 39)
    body_error(2030, b"0000000010jpg" + b"x" * 9)
    body_error(2030, b"00")
    body_error(2040, b"name")
    body_error(1011, b"1 20.0  50.0  250.0 100000  X2000")
    body_error(1011, b"1 20.0  50.0  250.0 100000  Yabcd")
    body_error(1020, b"00x1")
    body_error(1020, b"")
    # A MSG that is not CP949 makes the record layout fail both ways.
    bad = b"0001" + b"0002" + b" " * 224 + b"\xff\xff" + b" " * 30
    body_error(1044, bad)


def test_unknown_commands_are_events_not_errors() -> None:
    event = bodies.decode_frame(
        Frame(version="SAM11", command=1025, resp_code="00000", body=b"??")
    )
    assert event == events.UnknownCommand(command=1025, resp_code="00000", body=b"??")


def test_a_server_reads_send_records_with_or_without_usercode() -> None:
    record = events.LmsRecord(
        grp_id="g", msg_id="m", receiver="01012345678", msg="긴 메시지", usercode="u"
    )
    short = dataclasses.replace(record, usercode="")
    cases: list[tuple[int, events.FixedSend | events.LmsSend | events.MmsSend]] = [
        (1024, events.FixedSend(records=(record,) * 3, file_names=("a.jpg",))),
        (1044, events.LmsSend(records=(record,) * 3)),
        (1045, events.MmsSend(records=(record,) * 3, file_names=("a.jpg", "b.jpg"))),
    ]
    for command, event in cases:
        legacy = dataclasses.replace(event, records=(short,) * 3, legacy=True)
        for sent in (event, legacy):
            data = bodies.encode_event(sent, "SAM11")
            decoder = FrameDecoder()
            decoder.feed(data)
            frame = decoder.next_frame()
            assert frame is not None and frame.command == command
            assert bodies.decode_frame(frame) == sent
        assert (
            len(bodies.encode_event(legacy, "SAM11"))
            == len(bodies.encode_event(event, "SAM11")) - 3 * 30
        )


def test_a_client_reads_login_result_fields_while_bytes_remain() -> None:
    full = b"1 20.0  50.0  250.0 100000  Y2000"
    stated_24 = full[:24]  # the seed's stated total: BALANCE no longer fits
    event = bodies.decode_frame(Frame(version="SAM11", command=1011, body=stated_24))
    assert isinstance(event, events.LoginResult)
    assert (event.fee_type, event.mms_cost, event.balance) == ("1", "250.0", None)
    assert event.variable is None and event.max_msg_size is None
    assert event.options() == events.LoginOptions(
        max_count=30, service=1, variable=False, max_msg_size=2000
    )
    refusal = bodies.decode_frame(
        Frame(version="SAM11", command=1011, resp_code="11001", resp_mesg="bad id")
    )
    assert isinstance(refusal, events.LoginResult) and not refusal.ok


def test_login_options_fall_back_when_resp_mesg_does_not_parse() -> None:
    result = events.LoginResult(resp_mesg="OK", variable=True, max_msg_size=3000)
    assert result.options(default_max_count=10) == events.LoginOptions(
        max_count=10, service=1, variable=True, max_msg_size=3000
    )
    assert events.parse_login_mesg("100|2|") == (100, 2)
    assert events.parse_login_mesg("0|1|") is None
    assert events.parse_login_mesg("x|1|") is None


def test_keepalive_shapes_on_the_mms_port() -> None:
    fixed = bodies.encode_event(events.FixedSend(), "SAM11")
    assert len(fixed) == 77 + 516
    assert bodies.encode_event(events.LmsSend(), "SAM11")[76:-1] == b"0000"
    # A bare 0000 for 1024 is tolerated as a keepalive.
    assert (
        bodies.decode_frame(Frame(version="SAM11", command=1024, body=b"0000"))
        == events.FixedSend()
    )


def test_answers_without_bodies_are_tolerated() -> None:
    assert bodies.decode_frame(
        Frame(version="SAM11", command=1021, resp_code="11001", resp_mesg="no")
    ) == events.SendAck(resp_code="11001", resp_mesg="no")
    assert bodies.decode_frame(
        Frame(version="SAM11", command=2040, resp_code="11001")
    ) == events.FileResult(resp_code="11001", resp_mesg="")


def test_encoding_refuses_header_values_that_do_not_fit() -> None:
    from umsgate.protocols.ushot.fields import FieldError

    with pytest.raises(FieldError):
        encode_frame(Frame(version="SAM11", command=1010, resp_mesg="x" * 51))
    with pytest.raises(FieldError):
        encode_frame(Frame(version="SAM11", command=123456))
    with pytest.raises(FieldError):
        encode_frame(Frame(version="SAM11", command=2030, body=b"x" * (MAX_BODY + 1)))


def test_a_short_record_hidden_in_the_other_layouts_usercode_is_not_misread() -> None:
    # Without USERCODE, record 2 (MSG of 60 bytes) makes the body exactly as long as
    # the full layout would with record 1's USERCODE swallowing record 2's start and a
    # blank MSG_LEN: both layouts add up; only the legacy one has real records.
    first = events.LmsRecord(grp_id="g", msg_id="a", receiver="01012345678", msg="x")
    second = events.LmsRecord(
        grp_id="g", msg_id="b", receiver="01012345678", msg="y" * 60
    )
    event = events.LmsSend(records=(first, second), legacy=True)
    data = bodies.encode_event(event, "SAM11")
    assert bodies.decode_frame(
        Frame(version="SAM11", command=1044, body=data[76:-1])
    ) == (event)
