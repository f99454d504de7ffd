"""The session state machine, as a pair of sessions without sockets."""

from __future__ import annotations

import pathlib

import pytest
from smpp_pair import SessionPair

from umsgate.errors import LocalProtocolError
from umsgate.protocols.smpp import pdu as pdus
from umsgate.protocols.smpp.codes import CommandId, CommandStatus
from umsgate.protocols.smpp.errors import InvalidPdu
from umsgate.protocols.smpp.session import (
    TRANSITIONS,
    BindTimeout,
    EnquireLinkDue,
    ResponseTimeout,
    Role,
    Session,
    Signal,
    State,
    mermaid,
)

ESME, SMSC = Role.ESME, Role.SMSC


def submit(seq: int) -> pdus.SubmitSm:
    return pdus.SubmitSm(
        sequence=seq, destination_addr="821012345678", short_message=b"x"
    )


@pytest.mark.parametrize(
    ("kind", "state"),
    [
        (pdus.BindTransmitter, State.BOUND_TX),
        (pdus.BindReceiver, State.BOUND_RX),
        (pdus.BindTransceiver, State.BOUND_TRX),
    ],
)
def test_bind(kind: type[pdus.Bind], state: State) -> None:
    pair = SessionPair()
    bind = kind(sequence=1, system_id="esme", password="pw")
    pair.send(ESME, bind)
    assert pair.esme.state is pair.smsc.state
    assert pair.esme.state.name.startswith("BINDING")
    pair.send(SMSC, pdus.BIND_RESPONSE_CLASS[bind.command_id](sequence=1))
    assert pair.esme.state is pair.smsc.state is state
    assert pair.esme.bound and pair.smsc.bound


def test_refused_bind_returns_to_open_and_may_bind_again() -> None:
    pair = SessionPair()
    pair.send(ESME, pdus.BindTransceiver(sequence=1, system_id="esme", password="bad"))
    [resp] = pair.send(
        SMSC, pdus.BindTransceiverResp(sequence=1, status=CommandStatus.RINVPASWD)
    )
    assert isinstance(resp, pdus.Response) and resp.status == CommandStatus.RINVPASWD
    assert pair.states() == (State.OPEN, State.OPEN)
    pair.bind()
    assert pair.states() == (State.BOUND_TRX, State.BOUND_TRX)


def test_generic_nack_to_a_bind_returns_to_open() -> None:
    pair = SessionPair()
    pair.send(ESME, pdus.BindTransmitter(sequence=1, system_id="esme"))
    pair.send(SMSC, pdus.GenericNack(sequence=1, status=CommandStatus.RINVCMDID))
    assert pair.esme.state is pair.smsc.state is State.OPEN


def test_submit_before_bind() -> None:
    pair = SessionPair()
    # Our side refuses to send it ...
    with pytest.raises(LocalProtocolError, match="may not send submit_sm in OPEN"):
        pair.esme.send(submit(1), now=0)
    assert pair.esme.state is State.ERROR
    # ... and an SMSC refuses to take it: ESME_RINVBNDSTS, and the answer may go.
    pair.smsc.receive_data(pdus.encode(submit(2)), now=0)
    with pytest.raises(InvalidPdu) as info:
        pair.smsc.next_event()
    assert info.value.code == CommandStatus.RINVBNDSTS
    assert not info.value.malformed
    answer = pdus.error_reply(info.value)
    assert answer == pdus.SubmitSmResp(sequence=2, status=CommandStatus.RINVBNDSTS)
    pair.smsc.send(answer, now=0)
    assert pair.smsc.state is State.OPEN


def test_second_bind_is_already_bound() -> None:
    pair = SessionPair()
    pair.bind()
    pair.smsc.receive_data(
        pdus.encode(pdus.BindTransmitter(sequence=7, system_id="esme")), now=0
    )
    with pytest.raises(InvalidPdu) as info:
        pair.smsc.next_event()
    assert info.value.code == CommandStatus.RALYBND


def test_transmitter_may_not_receive_deliver_sm() -> None:
    pair = SessionPair()
    pair.bind(pdus.BindTransmitter)
    deliver = pdus.DeliverSm(sequence=1, destination_addr="1", esm_class=4)
    with pytest.raises(LocalProtocolError):
        pair.smsc.send(deliver, now=0)


def test_receiver_may_not_submit() -> None:
    pair = SessionPair()
    pair.bind(pdus.BindReceiver)
    with pytest.raises(LocalProtocolError):
        pair.esme.send(submit(2), now=0)


def test_window_full() -> None:
    pair = SessionPair(window=3)
    pair.bind()
    for seq in (2, 3, 4):
        pair.send(ESME, submit(seq))
    assert pair.esme.window_free == 0
    assert pair.smsc.peer_in_flight == 3
    with pytest.raises(LocalProtocolError, match="window of 3"):
        pair.esme.send(submit(5), now=0)
    assert pair.esme.state is State.BOUND_TRX  # a full window is not a broken session
    # Control requests are never held back by the window.
    pair.send(ESME, pdus.EnquireLink(sequence=6))
    pair.send(SMSC, pdus.SubmitSmResp(sequence=3, message_id="a"))
    assert pair.esme.window_free == 1
    pair.send(ESME, submit(5))
    assert pair.esme.window_free == 0


def test_peer_over_the_window_gets_queue_full() -> None:
    esme = Session(Role.ESME, now=0, window=5)
    smsc = Session(Role.SMSC, now=0, peer_window=2)
    smsc.receive_data(
        esme.send(pdus.BindTransceiver(sequence=1, system_id="e"), now=0), now=0
    )
    smsc.next_event()
    esme.receive_data(smsc.send(pdus.BindTransceiverResp(sequence=1), now=0), now=0)
    esme.next_event()
    smsc.receive_data(b"".join(esme.send(submit(s), now=0) for s in (2, 3, 4)), now=0)
    assert smsc.next_event() == submit(2)
    assert smsc.next_event() == submit(3)
    with pytest.raises(InvalidPdu) as info:
        smsc.next_event()
    assert info.value.code == CommandStatus.RMSGQFUL
    # The refusal goes back; the two accepted ones are answered normally.
    smsc.send(pdus.error_reply(info.value), now=0)
    smsc.send(pdus.SubmitSmResp(sequence=2, message_id="m2"), now=0)
    assert smsc.peer_in_flight == 1


def test_responses_must_answer_a_request() -> None:
    pair = SessionPair()
    pair.bind()
    with pytest.raises(LocalProtocolError, match="answers no request"):
        pair.smsc.send(pdus.SubmitSmResp(sequence=99, message_id="x"), now=0)
    pair.send(ESME, submit(2))
    pair.send(SMSC, pdus.SubmitSmResp(sequence=2, message_id="x"))
    with pytest.raises(LocalProtocolError):
        pair.smsc.send(pdus.SubmitSmResp(sequence=2, message_id="x"), now=0)


def test_response_timeout() -> None:
    pair = SessionPair(response_timeout=5.0, enquire_link_interval=None)
    pair.bind()
    pair.now = 10.0
    pair.send(ESME, submit(2))
    pair.now = 11.0
    pair.send(ESME, submit(3))
    assert pair.esme.next_deadline() == 15.0
    assert pair.esme.poll(14.9) == []
    assert pair.esme.poll(15.0) == [
        ResponseTimeout(sequence=2, command_id=CommandId.SUBMIT_SM)
    ]
    assert pair.esme.in_flight == 1
    assert pair.esme.next_deadline() == 16.0
    # A late response is still read (the driver drops what it no longer waits for).
    assert pair.send(SMSC, pdus.SubmitSmResp(sequence=2, message_id="late")) == [
        pdus.SubmitSmResp(sequence=2, message_id="late")
    ]
    assert pair.esme.in_flight == 1
    pair.send(SMSC, pdus.SubmitSmResp(sequence=3, message_id="ok"))
    assert pair.esme.in_flight == 0
    assert pair.esme.next_deadline() is None


def test_enquire_link_due_after_silence_only() -> None:
    pair = SessionPair(enquire_link_interval=30.0, response_timeout=5.0)
    pair.bind()
    assert pair.esme.next_deadline() == 30.0
    pair.now = 20.0
    pair.send(SMSC, pdus.EnquireLink(sequence=1))  # traffic from the peer
    assert pair.esme.next_deadline() == 50.0
    assert pair.esme.poll(49.0) == []
    assert pair.esme.poll(50.0) == [EnquireLinkDue()]
    # Once per interval, not on every poll.
    assert pair.esme.poll(50.5) == []
    pair.now = 50.0
    pair.send(ESME, pdus.EnquireLink(sequence=pair.esme.next_sequence()))
    # Unanswered: the enquire_link itself times out.
    [timeout] = pair.esme.poll(55.0)
    assert timeout == ResponseTimeout(sequence=2, command_id=CommandId.ENQUIRE_LINK)


def test_no_enquire_link_before_bind() -> None:
    session = Session(Role.ESME, now=0, enquire_link_interval=1.0)
    assert session.next_deadline() is None
    assert session.poll(100.0) == []


def test_bind_timeout_for_a_peer_that_never_binds() -> None:
    session = Session(Role.SMSC, now=0, enquire_link_interval=30.0, bind_timeout=5.0)
    assert session.next_deadline() == 5.0
    assert session.poll(4.9) == []
    assert session.poll(5.0) == [BindTimeout()]
    assert session.poll(6.0) == []  # once
    assert session.next_deadline() is None


def test_no_bind_timeout_once_bound() -> None:
    pair = SessionPair(enquire_link_interval=None, bind_timeout=5.0)
    pair.now = 4.0
    pair.bind()
    assert pair.smsc.next_deadline() is None
    assert pair.smsc.poll(100.0) == []
    # Unbinding later does not bring the timer back.
    pair.send(ESME, pdus.Unbind(sequence=9))
    pair.send(SMSC, pdus.UnbindResp(sequence=9))
    assert pair.smsc.poll(200.0) == []


def test_unbind_from_either_side() -> None:
    for who in (ESME, SMSC):
        pair = SessionPair()
        pair.bind()
        pair.send(who, pdus.Unbind(sequence=50))
        assert pair.states() == (State.UNBINDING, State.UNBINDING)
        pair.send(who.peer, pdus.UnbindResp(sequence=50))
        assert pair.states() == (State.CLOSED, State.CLOSED)


def test_outstanding_answers_pass_while_unbinding() -> None:
    pair = SessionPair()
    pair.bind()
    pair.send(ESME, submit(2))
    pair.send(ESME, pdus.Unbind(sequence=3))
    pair.send(SMSC, pdus.SubmitSmResp(sequence=2, message_id="m"))
    with pytest.raises(LocalProtocolError):
        pair.esme.send(submit(4), now=0)


def test_end_of_stream() -> None:
    pair = SessionPair()
    pair.bind()
    pair.esme.receive_data(b"", now=0)
    assert pair.esme.next_event() is Signal.CLOSED
    assert pair.esme.state is State.CLOSED


def test_sequence_numbers_wrap_and_skip_pending() -> None:
    session = Session(Role.ESME, now=0)
    session._last_sequence = pdus.MAX_SEQUENCE - 1
    assert session.next_sequence() == pdus.MAX_SEQUENCE
    assert session.next_sequence() == 1
    session._sent[2] = (CommandId.SUBMIT_SM, 1.0)
    assert session.next_sequence() == 3


def test_outbind_then_bind_receiver() -> None:
    pair = SessionPair()
    [outbind] = pair.send(
        SMSC, pdus.Outbind(sequence=1, system_id="smsc", password="pw")
    )
    assert isinstance(outbind, pdus.Outbind)
    assert pair.states() == (State.OPEN, State.OPEN)
    pair.bind(pdus.BindReceiver)
    assert pair.states() == (State.BOUND_RX, State.BOUND_RX)


def test_table_is_symmetric_for_link_checks() -> None:
    # Every bound state lets either side check the link.
    for state in (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX):
        for role in Role:
            assert (state, role, CommandId.ENQUIRE_LINK) in TRANSITIONS
            assert (state, role, CommandId.ENQUIRE_LINK_RESP) in TRANSITIONS


def test_docs_diagram_is_generated_from_the_table() -> None:
    doc = pathlib.Path(__file__).parents[3] / "docs" / "protocols" / "smpp.md"
    block = doc.read_text("utf-8").split("```mermaid\n", 1)[1].split("\n```", 1)[0]
    assert block == mermaid()


def test_a_repeated_sequence_number_gets_an_answer_each_time() -> None:
    pair = SessionPair(peer_window=5)
    pair.bind()
    pair.send(ESME, submit(2))
    # A peer that reuses a number still waiting for its answer (§5.1.4 asks it not
    # to): both requests are answered, and both count in the window meanwhile.
    pair.smsc.receive_data(pdus.encode(submit(2)), now=0)
    assert pair.smsc.next_event() == submit(2)
    assert pair.smsc.peer_in_flight == 2
    pair.smsc.send(pdus.SubmitSmResp(sequence=2, message_id="a"), now=0)
    pair.smsc.send(pdus.SubmitSmResp(sequence=2, message_id="b"), now=0)
    assert pair.smsc.peer_in_flight == 0
    with pytest.raises(LocalProtocolError):
        pair.smsc.send(pdus.SubmitSmResp(sequence=2, message_id="c"), now=0)
