"""Property tests: every PDU survives encode → decode, and the session reads a stream
the same whether it comes whole, in random chunks or one byte at a time."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st
from smpp_strategies import PDUS, SHORT_MESSAGES

from umsgate.protocols.smpp import pdu as pdus
from umsgate.protocols.smpp.session import Role, Session, Signal


@given(PDUS)
def test_encode_decode_round_trip(pdu: pdus.Pdu) -> None:
    wire = pdus.encode(pdu)
    assert int.from_bytes(wire[:4], "big") == len(wire)
    assert pdus.decode(wire) == pdu


@given(PDUS)
def test_encode_is_stable(pdu: pdus.Pdu) -> None:
    # Decoding and encoding again gives the same octets: no field is normalised.
    wire = pdus.encode(pdu)
    assert pdus.encode(pdus.decode(wire)) == wire


def _frames(session: Session) -> list[pdus.Pdu]:
    out: list[pdus.Pdu] = []
    while True:
        event = session.next_event()
        if event is Signal.NEED_DATA:
            return out
        assert not isinstance(event, Signal)
        out.append(event)


# Requests an SMSC may receive in any order once bound as a transceiver: the
# session must accept each of them whatever the chunking.
_BOUND_TRAFFIC = st.lists(
    st.sampled_from(
        [
            pdus.EnquireLink(sequence=7),
            pdus.SubmitSm(
                sequence=8, destination_addr="821012345678", short_message=b"hi"
            ),
            pdus.QuerySm(sequence=9, message_id="abc"),
            pdus.GenericNack(sequence=0, status=3),
        ]
    ),
    min_size=1,
    max_size=6,
)


def _bound_smsc() -> Session:
    session = Session(Role.SMSC, now=0.0, peer_window=100)
    session.receive_data(
        pdus.encode(pdus.BindTransceiver(sequence=1, system_id="e")), now=0
    )
    assert isinstance(session.next_event(), pdus.BindTransceiver)
    session.send(pdus.BindTransceiverResp(sequence=1, system_id="s"), now=0)
    return session


@given(_BOUND_TRAFFIC, st.data())
def test_any_chunking_gives_the_same_pdus(
    traffic: list[pdus.Pdu], data: st.DataObject
) -> None:
    # Distinct sequence numbers, as a real peer would use.
    traffic = [
        p
        if isinstance(p, pdus.GenericNack)
        else dataclasses.replace(p, sequence=i + 10)
        for i, p in enumerate(traffic)
    ]
    stream = b"".join(pdus.encode(p) for p in traffic)
    cuts = sorted(
        data.draw(
            st.sets(st.integers(min_value=1, max_value=len(stream) - 1), max_size=20)
        )
    )
    session = _bound_smsc()
    got: list[pdus.Pdu] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        session.receive_data(stream[start:cut], now=1)
        got.extend(_frames(session))
        start = cut
    assert got == traffic


@settings(max_examples=50)
@given(SHORT_MESSAGES)
def test_byte_at_a_time(pdu: pdus.Pdu) -> None:
    # A deliver_sm to a bound transceiver ESME, or a submit_sm to a bound SMSC,
    # fed one byte per call: NEED_DATA until the last byte, then the PDU.
    role = Role.ESME if isinstance(pdu, pdus.DeliverSm) else Role.SMSC
    esme = Session(Role.ESME, now=0)
    smsc = Session(Role.SMSC, now=0)
    smsc.receive_data(
        esme.send(pdus.BindTransceiver(sequence=1, system_id="e"), now=0), now=0
    )
    smsc.next_event()
    esme.receive_data(smsc.send(pdus.BindTransceiverResp(sequence=1), now=0), now=0)
    esme.next_event()
    receiver = esme if role is Role.ESME else smsc
    wire = pdus.encode(pdu)
    for i, byte in enumerate(wire):
        receiver.receive_data(bytes((byte,)), now=1)
        event = receiver.next_event()
        if i < len(wire) - 1:
            assert event is Signal.NEED_DATA
        else:
            assert event == pdu
    assert receiver.next_event() is Signal.NEED_DATA
