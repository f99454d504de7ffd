"""The one asyncio driver of an SMPP `Session`: moves bytes between a socket and the
session, runs its timers, and hands PDUs to a handler. It holds no SMPP logic.

It is an `asyncio.Protocol` rather than a stream pair because a simulator has to
turn thousands of PDUs a second on a small machine: the protocol feeds each read to
the session and drains every PDU in it without a task switch, and everything sent
while handling one read leaves in one ``write`` at the end of the loop iteration.

Flow control: when the peer stops reading and the socket buffer fills, the connection
stops reading the peer's requests until it catches up, and tells the handler when it
may write again. With ``hold_when_full``, it also stops taking PDUs from the session
(and reading the socket) while the peer has a window's worth of data requests
unanswered (`Session.peer_window_full`), and goes on once one is answered: the
peer's requests wait in its own socket buffer, never refused for want of room.

Faults: a PDU the session refuses without losing the stream is answered with
`pdu.error_reply` and then either passed over (SMSC behaviour, §2.8) or, with
``close_on_invalid``, ends the connection (what the connector wants: a peer that
sends garbage is not trusted with messages). A stream that cannot be framed any more
always ends the connection after a generic_nack. Either way one log line says why
(`logging.getLogger("umsgate.protocols.smpp")`, ``extra={"event": ...}``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol, cast

from umsgate.errors import ProtocolError
from umsgate.protocols.smpp import pdu as pdus
from umsgate.protocols.smpp.codes import status_name
from umsgate.protocols.smpp.errors import InvalidPdu
from umsgate.protocols.smpp.pdu import Pdu
from umsgate.protocols.smpp.session import Session, Signal, TimerEvent

log = logging.getLogger("umsgate.protocols.smpp")

_EARLY = 0.001


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


class Connection(asyncio.Protocol):
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
        self.session = session
        self.hold_when_full = hold_when_full
        #: Not taking the peer's PDUs: its window is full.
        self.holding = False
        #: Times the peer's window filled up and reading stopped.
        self.holds = 0
        self.handler = handler
        self.close_on_invalid = close_on_invalid
        self.name = name
        self.peer = ""
        self.transport: asyncio.Transport | None = None
        self.write_paused = False
        self._loop = asyncio.get_running_loop()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._closed = False
        self._reason = ""
        #: Set once the connection is gone.
        self.done = asyncio.Event()

    # ------------------------------------------------------------ asyncio side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._arm()

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

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._reason:
            self._reason = f"connection lost: {exc}" if exc else "closed by the peer"
        self._finish()

    def pause_writing(self) -> None:
        # A peer that does not read gets no more of our answers queued up: stop
        # reading its requests until it catches up.
        self.write_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.transport is not None and not self._closed:
            if not self.holding:
                self.transport.resume_reading()
            self.handler.writable(self)

    # ------------------------------------------------------------ owner side

    @property
    def alive(self) -> bool:
        return not self._closed

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
            self._loop.call_soon(self._flush)
        if self._timer is None or self._timer_at > (
            self.session.next_deadline() or 1e300
        ):
            self._arm()

    def send_raw(self, data: bytes) -> None:
        """Bytes past the session (fault injection: a malformed PDU on purpose)."""
        if not self._closed:
            self._out.append(data)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self._loop.call_soon(self._flush)

    def close(self, reason: str) -> None:
        """Flush what is queued, then close."""
        if self._closed:
            return
        self._reason = self._reason or reason
        self._flush()
        if self.transport is not None:
            self.transport.close()
        self._finish()

    def abort(self, reason: str) -> None:
        """Drop the connection now, queued bytes and all (fault injection)."""
        if self._closed:
            return
        self._reason = self._reason or reason
        self._out.clear()
        if self.transport is not None:
            self.transport.abort()
        self._finish()

    # ------------------------------------------------------------ internals

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out and self.transport is not None and not self.transport.is_closing():
            data = self._out[0] if len(self._out) == 1 else b"".join(self._out)
            self.transport.write(data)
        self._out.clear()

    def _release(self) -> None:
        """Room in the peer's window again: take what waits, then read again."""
        if self._closed or self.holding:
            return
        self._drain()
        if not self.holding and not self.write_paused and self.transport is not None:
            self.transport.resume_reading()

    def _drain(self) -> None:
        session = self.session
        handler = self.handler
        hold = self.hold_when_full
        while not self._closed:
            if hold and session.peer_window_full:
                if not self.holding:
                    self.holding = True
                    self.holds += 1
                    if self.transport is not None:
                        self.transport.pause_reading()
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
            self._loop.call_soon(self._flush)

    def _fail(self, event: str, why: str) -> None:
        log.warning(
            "%s: closing the session with %s: %s",
            self.name,
            self.peer,
            why,
            extra={"event": event, "route": self.name},
        )
        self.close(why)

    def _arm(self) -> None:
        if self._closed:
            return
        deadline = self.session.next_deadline()
        if deadline is None:
            return
        if self._timer is not None:
            if self._timer_at <= deadline:
                return  # fires first; _fire re-arms for the rest
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if self._closed:
            return
        # call_at may run a hair before the deadline (clock resolution).
        for event in self.session.poll(self._loop.time() + _EARLY):
            if not self.alive:  # an earlier event's handler closed it
                return
            self.handler.timer(self, event)
        self._arm()

    def _finish(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.done.set()
        self.handler.closed(self, self._reason or "closed")
