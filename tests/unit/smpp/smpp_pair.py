"""Two sessions wired back to back, without sockets (h11's ConnectionPair, for SMPP)."""

from __future__ import annotations

from umsgate.protocols.smpp import pdu as pdus
from umsgate.protocols.smpp.session import Role, Session, Signal, State


class SessionPair:
    """An ESME session and an SMSC session; `send` carries a PDU across and returns
    what the other side read from it."""

    def __init__(self, **options: object) -> None:
        self.now = 0.0
        self.esme = Session(Role.ESME, now=self.now, **options)  # type: ignore[arg-type]
        self.smsc = Session(Role.SMSC, now=self.now, **options)  # type: ignore[arg-type]

    def states(self) -> tuple[State, State]:
        """(ESME state, SMSC state), read fresh (no type narrowing across calls)."""
        return self.esme.state, self.smsc.state

    def side(self, role: Role) -> Session:
        return self.esme if role is Role.ESME else self.smsc

    def send(self, role: Role, pdu: pdus.Pdu) -> list[pdus.Pdu]:
        """``role`` sends ``pdu``; the PDUs the other side reads."""
        wire = self.side(role).send(pdu, now=self.now)
        other = self.side(role.peer)
        other.receive_data(wire, now=self.now)
        got: list[pdus.Pdu] = []
        while True:
            event = other.next_event()
            if event is Signal.NEED_DATA:
                return got
            assert not isinstance(event, Signal)
            got.append(event)

    def bind(self, kind: type[pdus.Bind] = pdus.BindTransceiver) -> None:
        bind = kind(sequence=self.esme.next_sequence(), system_id="esme", password="pw")
        assert self.send(Role.ESME, bind) == [bind]
        resp = pdus.BIND_RESPONSE_CLASS[bind.command_id](
            sequence=bind.sequence, system_id="smsc"
        )
        assert self.send(Role.SMSC, resp) == [resp]
