"""Malformed PDUs give typed errors carrying the SMPP command_status that names the
fault, and the answer that goes back to the peer; nothing else ever escapes."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from umsgate.errors import LocalProtocolError, RemoteProtocolError
from umsgate.protocols.smpp import pdu as pdus
from umsgate.protocols.smpp.codes import CommandId, CommandStatus, Tag
from umsgate.protocols.smpp.errors import InvalidPdu
from umsgate.protocols.smpp.session import (
    MAX_COMMAND_LENGTH,
    Role,
    Session,
    Signal,
    State,
)


def header(length: int, command_id: int, status: int = 0, seq: int = 1) -> bytes:
    return struct.pack(">IIII", length, command_id, status, seq)


def frame(command_id: int, body: bytes, seq: int = 1) -> bytes:
    return header(16 + len(body), command_id, 0, seq) + body


def bound_smsc() -> Session:
    smsc = Session(Role.SMSC, now=0)
    smsc.receive_data(
        pdus.encode(pdus.BindTransceiver(sequence=1, system_id="e")), now=0
    )
    smsc.next_event()
    smsc.send(pdus.BindTransceiverResp(sequence=1, system_id="s"), now=0)
    return smsc


def refuse(session: Session, data: bytes) -> InvalidPdu:
    session.receive_data(data, now=1)
    with pytest.raises(InvalidPdu) as info:
        session.next_event()
    return info.value


def submit_body(**fields: object) -> bytes:
    pdu = pdus.SubmitSm(sequence=5, destination_addr="821012345678", **fields)  # type: ignore[arg-type]
    return pdus.encode(pdu)[16:]


def test_length_under_the_header_closes_the_session() -> None:
    smsc = bound_smsc()
    error = refuse(smsc, header(15, CommandId.ENQUIRE_LINK, seq=3))
    assert error.code == CommandStatus.RINVCMDLEN
    assert error.close_session
    assert error.sequence == 3
    assert smsc.state is State.ERROR
    # The stream is lost, but the peer may still be told why (§4.3).
    nack = pdus.error_reply(error)
    assert isinstance(nack, pdus.GenericNack)
    assert nack.status == CommandStatus.RINVCMDLEN
    assert smsc.send(nack, now=1) == header(16, CommandId.GENERIC_NACK, 2, 3)
    with pytest.raises(RemoteProtocolError):
        smsc.next_event()


def test_length_over_the_named_maximum_closes_the_session() -> None:
    smsc = bound_smsc()
    # Only the first 4 octets are needed to refuse it: no waiting for 16 MB.
    error = refuse(smsc, struct.pack(">I", MAX_COMMAND_LENGTH + 1))
    assert error.code == CommandStatus.RINVCMDLEN
    assert error.close_session
    assert error.sequence == 0


def test_unknown_command_id_is_nacked_and_the_session_goes_on() -> None:
    smsc = bound_smsc()
    error = refuse(smsc, frame(0x00000103, b"", seq=9))  # data_sm: not served
    assert error.code == CommandStatus.RINVCMDID
    assert not error.close_session
    assert error.command_id == 0x00000103
    nack = pdus.error_reply(error)
    assert nack == pdus.GenericNack(sequence=9, status=CommandStatus.RINVCMDID)
    smsc.send(nack, now=1)
    assert smsc.state is State.BOUND_TRX
    smsc.receive_data(pdus.encode(pdus.EnquireLink(sequence=10)), now=1)
    assert smsc.next_event() == pdus.EnquireLink(sequence=10)


def test_truncated_tlv() -> None:
    smsc = bound_smsc()
    body = submit_body() + struct.pack(">HH", Tag.MESSAGE_PAYLOAD, 50) + b"short"
    error = refuse(smsc, frame(CommandId.SUBMIT_SM, body, seq=5))
    assert error.code == CommandStatus.RINVOPTPARSTREAM
    assert not error.close_session
    # A known request gets its own response carrying the error.
    answer = pdus.error_reply(error)
    assert answer == pdus.SubmitSmResp(
        sequence=5, status=CommandStatus.RINVOPTPARSTREAM
    )
    assert smsc.send(answer, now=1) == header(16, CommandId.SUBMIT_SM_RESP, 0xC0, 5)


def test_tlv_header_cut_short() -> None:
    error = refuse(
        bound_smsc(), frame(CommandId.SUBMIT_SM, submit_body() + b"\x04\x24\x00")
    )
    assert error.code == CommandStatus.RINVOPTPARSTREAM


@pytest.mark.parametrize(
    ("tag", "value", "status"),
    [
        (Tag.MESSAGE_STATE, b"\x02\x00", CommandStatus.RINVPARLEN),
        (Tag.MESSAGE_STATE, b"\x09", CommandStatus.RINVOPTPARAMVAL),
        (Tag.SAR_MSG_REF_NUM, b"\x01", CommandStatus.RINVPARLEN),
        (Tag.NETWORK_ERROR_CODE, b"\x03\x00", CommandStatus.RINVPARLEN),
        (Tag.RECEIPTED_MESSAGE_ID, b"x" * 66, CommandStatus.RINVPARLEN),
    ],
)
def test_bad_known_tlv(tag: int, value: bytes, status: int) -> None:
    body = submit_body() + struct.pack(">HH", tag, len(value)) + value
    assert refuse(bound_smsc(), frame(CommandId.SUBMIT_SM, body)).code == status


def test_body_shorter_than_its_mandatory_fields() -> None:
    body = submit_body()[:10]
    error = refuse(bound_smsc(), frame(CommandId.SUBMIT_SM, body))
    assert error.code == CommandStatus.RINVCMDLEN


def test_field_over_its_maximum_gets_the_fields_status() -> None:
    # source_addr: 21 octets with its NULL (§4.4.1); 25 digits and no NULL in reach.
    body = b"\x00" + b"\x01\x01" + b"1" * 25 + b"\x00" + submit_body()[24:]
    error = refuse(bound_smsc(), frame(CommandId.SUBMIT_SM, body))
    assert error.code == CommandStatus.RINVSRCADR


def test_sm_length_past_the_end() -> None:
    body = bytearray(submit_body(short_message=b"hello"))
    body[-6] = 200  # sm_length
    error = refuse(bound_smsc(), frame(CommandId.SUBMIT_SM, bytes(body)))
    assert error.code == CommandStatus.RINVMSGLEN


def test_trailing_octets_after_a_header_only_pdu() -> None:
    error = refuse(bound_smsc(), frame(CommandId.ENQUIRE_LINK, b"\x00"))
    assert error.code == CommandStatus.RINVCMDLEN
    assert pdus.error_reply(error) == pdus.EnquireLinkResp(
        sequence=1, status=CommandStatus.RINVCMDLEN
    )


def test_bad_password_field_in_bind() -> None:
    smsc = Session(Role.SMSC, now=0)
    body = b"esme\x00" + b"p" * 12 + b"\x00\x00\x34\x00\x00\x00"
    error = refuse(smsc, frame(CommandId.BIND_TRANSCEIVER, body))
    assert error.code == CommandStatus.RINVPASWD
    answer = pdus.error_reply(error)
    assert isinstance(answer, pdus.BindTransceiverResp)
    smsc.send(answer, now=1)  # allowed in OPEN: it answers the refused bind
    assert smsc.state is State.OPEN


def test_peer_closing_mid_pdu() -> None:
    smsc = bound_smsc()
    smsc.receive_data(pdus.encode(pdus.EnquireLink(sequence=4))[:10], now=1)
    assert smsc.next_event() is Signal.NEED_DATA
    smsc.receive_data(b"", now=1)
    with pytest.raises(RemoteProtocolError, match="10 octets into a PDU"):
        smsc.next_event()


def test_encode_refuses_values_that_do_not_fit() -> None:
    with pytest.raises(LocalProtocolError) as info:
        pdus.encode(pdus.SubmitSm(sequence=1, destination_addr="1" * 21))
    assert info.value.code == CommandStatus.RINVDSTADR
    with pytest.raises(LocalProtocolError):
        pdus.encode(pdus.SubmitSm(sequence=1, destination_addr="1", esm_class=256))
    with pytest.raises(LocalProtocolError) as info:
        pdus.encode(
            pdus.SubmitSm(sequence=1, destination_addr="1", short_message=b"x" * 255)
        )
    assert info.value.code == CommandStatus.RINVMSGLEN
    with pytest.raises(LocalProtocolError):
        pdus.encode(pdus.EnquireLink(sequence=0))
    with pytest.raises(LocalProtocolError):
        pdus.encode(
            pdus.SubmitSm(sequence=1, destination_addr="1", validity_period="1h")
        )
    with pytest.raises(LocalProtocolError):
        pdus.encode(pdus.BindTransmitter(sequence=1, system_id="한국"))


@settings(max_examples=300)
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=64))
def test_garbage_never_escapes_the_error_tree(data: bytes, chunk: int) -> None:
    # Random octets, fed in chunks: the session returns PDUs or NEED_DATA, or raises
    # a RemoteProtocolError; it never loops, never raises anything else.
    smsc = bound_smsc()
    for start in range(0, len(data), chunk):
        smsc.receive_data(data[start : start + chunk], now=1)
        for _ in range(len(data) + 1):
            try:
                event = smsc.next_event()
            except InvalidPdu as exc:
                if exc.close_session:
                    return
                continue
            except RemoteProtocolError:
                return
            if event is Signal.NEED_DATA:
                break
        else:
            pytest.fail("next_event did not settle")


@settings(max_examples=300)
@given(st.binary(min_size=16, max_size=300))
def test_random_frames_decode_or_raise_invalid_pdu(data: bytes) -> None:
    # Any frame with a right command_length: decode gives a PDU or InvalidPdu.
    wire = struct.pack(">I", len(data)) + data[4:]
    try:
        pdus.decode(wire)
    except InvalidPdu as exc:
        assert isinstance(exc.code, int)
