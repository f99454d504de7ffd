"""An SMPP `Session` on the shared TCP driver (`umsgate.protocols._tcp`): feeds
each read to the session, drains every PDU in it to a handler without a task switch,
and runs the session's timers. It holds no SMPP rules of its own.

Flow control: when the peer stops reading and the socket buffer fills, the connection
stops reading the peer's requests until it catches up (the driver's rule), and tells
the handler when it may write again. With ``hold_when_full``, it also stops taking
PDUs from the session (and reading the socket) while the peer has a window's worth
of data requests unanswered (`Session.peer_window_full`), and goes on once one is
answered: the peer's requests wait in its own socket buffer, never refused for want
of room.

Faults: a PDU the session refuses without losing the stream is answered with
`pdu.error_reply` and then either passed over (SMSC behaviour, §2.8) or, with
``close_on_invalid``, ends the connection (what the connector wants: a peer that
sends garbage is not trusted with messages). A stream that cannot be framed any more
always ends the connection after a generic_nack. Either way one log line says why
(`logging.getLogger("umsgate.protocols.smpp")`, ``extra={"event": ...}``).
"""

from __future__ import annotations

import logging
from typing import Protocol

from umsgate.errors import ProtocolError
from umsgate.protocols import _tcp
from umsgate.protocols.smpp import pdu as pdus
from umsgate.protocols.smpp.codes import status_name
from umsgate.protocols.smpp.errors import InvalidPdu
from umsgate.protocols.smpp.pdu import Pdu
from umsgate.protocols.smpp.session import Session, Signal, TimerEvent

log = logging.getLogger("umsgate.protocols.smpp")


class Handler(Protocol):
    """What a `Connection` tells its owner."""

    def pdu_received(self, connection: Connection, pdu: Pdu) -> None: ...

    def timer(self, connection: Connection, event: TimerEvent) -> None: ...

    def writable(self, connection: Connection) -> None:
        """The peer reads again after the socket buffer filled up."""
        ...

    def closed(self, connection: Connection, reason: str) -> None:
        """The connection is gone; called exactly once."""
        ...


class Connection(_tcp.Connection):
    """One TCP connection running one `Session`.

    Args:
        session: the session to drive (its role decides which PDUs may flow).
        handler: receives PDUs, timer events and the end of the connection.
        close_on_invalid: end the connection on any malformed PDU, not only on a
            broken stream (PDUs refused for the state or the window never end it).
        name: how log lines name this connection (``"smpp-out"``, ``"sim:esme1"``).
        hold_when_full: hold the peer's requests back while its window is full
            (see the module docstring).
    """

    def __init__(
        self,
        session: Session,
        handler: Handler,
        *,
        close_on_invalid: bool,
        name: str,
        hold_when_full: bool = False,
    ) -> None:
        super().__init__(name=name)
        self.session = session
        self.hold_when_full = hold_when_full
        #: Times the peer's window filled up and reading stopped.
        self.holds = 0
        self.handler = handler
        self.close_on_invalid = close_on_invalid

    # ------------------------------------------------------------ asyncio side

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        self.session.receive_data(data, now=self._loop.time())
        self._drain()

    def eof_received(self) -> bool:
        if not self._closed:
            self.session.receive_data(b"", now=self._loop.time())
            self._drain()
        return False

    # ------------------------------------------------------------ driver hooks

    def _deadline(self) -> float | None:
        return self.session.next_deadline()

    def _timeout(self, now: float) -> None:
        for event in self.session.poll(now):
            if not self.alive:  # an earlier event's handler closed it
                return
            self.handler.timer(self, event)

    def _writable(self) -> None:
        self.handler.writable(self)

    def _ended(self, reason: str) -> None:
        self.handler.closed(self, reason)

    # ------------------------------------------------------------ owner side

    def send(self, pdu: Pdu) -> None:
        """Send ``pdu`` in this loop iteration's write.

        Raises:
            LocalProtocolError: the session refuses it (see `Session.send`).
            ConnectionError: the connection is closed.
        """
        if self._closed:
            raise ConnectionError(f"{self.name}: the connection is closed")
        self._out.append(self.session.send(pdu, now=self._loop.time()))
        if self.holding and not self.session.peer_window_full:
            self.holding = False
            # Not from inside send: the handler may be in the middle of a PDU.
            self._loop.call_soon(self._release)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self.flush)
        if self._timer is None or self._timer_at > (
            self.session.next_deadline() or 1e300
        ):
            self._arm()

    def send_raw(self, data: bytes) -> None:
        """Bytes past the session (fault injection: a malformed PDU on purpose)."""
        self.write(data)

    # ------------------------------------------------------------ internals

    def _release(self) -> None:
        """Room in the peer's window again: take what waits, then read again."""
        if self._closed or self.holding:
            return
        self._drain()
        if not self.holding:
            self.release_reading()

    def _drain(self) -> None:
        session = self.session
        handler = self.handler
        hold = self.hold_when_full
        while not self._closed:
            if hold and session.peer_window_full:
                if not self.holding:
                    self.holds += 1
                    self.hold_reading()
                break
            try:
                event = session.next_event()
            except InvalidPdu as exc:
                self._invalid(exc)
                continue
            except ProtocolError as exc:
                self._fail("smpp.protocol_error", str(exc))
                return
            if event is Signal.NEED_DATA:
                break
            if event is Signal.CLOSED:
                self.close("closed by the peer")
                return
            assert not isinstance(event, Signal)
            try:
                handler.pdu_received(self, event)
            except ProtocolError as exc:
                # The handler's answer broke the protocol (a bug on our side, or
                # a peer that made one unavoidable): end cleanly, with the reason.
                self._fail(
                    "smpp.protocol_error", f"while handling {event!r:.120}: {exc}"
                )
                return
        self._arm()

    def _invalid(self, exc: InvalidPdu) -> None:
        answer = pdus.error_reply(exc)
        try:
            self._out.append(self.session.send(answer, now=self._loop.time()))
        except ProtocolError:
            pass  # nothing more to tell a peer whose stream is broken
        if exc.close_session or (self.close_on_invalid and exc.malformed):
            self._fail(
                "smpp.malformed_pdu",
                f"malformed PDU from the peer: {exc} ({status_name(exc.code)})",
            )
            return
        log.info(
            "%s: refused a PDU from %s: %s (%s)",
            self.name,
            self.peer,
            exc,
            status_name(exc.code),
            extra={"event": "smpp.pdu_refused", "route": self.name},
        )
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self.flush)

    def _fail(self, event: str, why: str) -> None:
        log.warning(
            "%s: closing the session with %s: %s",
            self.name,
            self.peer,
            why,
            extra={"event": event, "route": self.name},
        )
        self.close(why)
