"""A UShot `Session` on the shared TCP driver (`umsgate.protocols._tcp`): it moves
bytes and reads the clock, nothing else. Connector and simulator both use it; all
protocol decisions stay in the session.

Unlike SMPP's, its owner pulls: `SessionStream.next_event` gives the session's next
event and fires the session's timers. Reading stops once ``READ_AHEAD`` bytes came
in that the owner has not asked for yet, so that frames wait in the peer's socket,
not here; it resumes when the session needs data.

Every wait here is bounded: reads by the session's own deadline (there is always one
while the session lives: the idle timeout), writes and connects by explicit timeouts.
Timeouts use ``asyncio.timeout``: Python 3.11's ``wait_for`` can swallow a cancellation
that arrives as its inner await completes, which would leave a stopped lane running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from umsgate.clock import Monotonic
from umsgate.protocols import _tcp
from umsgate.protocols.ushot.events import Event
from umsgate.protocols.ushot.session import (
    ConnectionClosed,
    NeedData,
    Session,
    SessionEvent,
)

#: How long closing waits for the transport to finish.
CLOSE_TIMEOUT = 5.0
#: Bytes taken from the socket beyond what the session has asked for before reading
#: stops (a 300 KB file arrives in a few reads).
READ_AHEAD = 131072


async def _set(event: asyncio.Event) -> None:
    await event.wait()


class SessionStream(_tcp.Connection):
    """A `Session` running over one TCP connection.

    Args:
        session: the state machine (its ``now`` values come from ``clock``).
        clock: the same clock the session was created with.
        write_timeout: how long one write may wait for the peer to take the bytes.
        name: how log lines name the connection.
        opened: called once the connection is up (a server starts serving it).
    """

    def __init__(
        self,
        session: Session,
        *,
        clock: Monotonic,
        write_timeout: float = 30.0,
        name: str = "ushot",
        opened: Callable[[SessionStream], None] | None = None,
    ) -> None:
        super().__init__(name=name)
        self.session = session
        self._clock = clock
        self._write_timeout = write_timeout
        #: Settled when bytes, the end of the stream, or room to write arrive.
        self._news: asyncio.Future[None] | None = None
        self._eof = False
        self._unread = 0
        self._opened = opened

    # -- asyncio side -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self._opened is not None:
            self._opened(self)

    def data_received(self, data: bytes) -> None:
        self._unread += len(data)
        if self._unread > READ_AHEAD:
            self.hold_reading()
        self.session.receive_data(data, self._clock.monotonic())
        self._wake()

    def eof_received(self) -> bool:
        self._end_of_stream("")
        return True  # half-closed: what is still to say may still be written

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_of_stream(f"connection lost: {exc}" if exc else "")
        super().connection_lost(exc)

    def _end_of_stream(self, reason: str) -> None:
        if not self._eof:
            self._eof = True
            self.session.receive_data(b"", self._clock.monotonic(), reason=reason)
        self._wake()

    def _writable(self) -> None:
        self._wake()

    def _wake(self) -> None:
        if self._news is not None and not self._news.done():
            self._news.set_result(None)

    def _wait(self) -> asyncio.Future[None]:
        if self._news is None or self._news.done():
            self._news = self._loop.create_future()
        return self._news

    # -- owner side -----------------------------------------------------------------

    async def send(
        self, event: Event, *, transform: Callable[[bytes], bytes] | None = None
    ) -> None:
        """Encode ``event`` through the session and write it.

        Args:
            transform: changes the bytes before they are written (the simulator's
                corrupt-frame fault); the session has already counted the event sent.

        Raises:
            LocalProtocolError or FieldError from the session; OSError when the
            connection is gone; TimeoutError when the peer does not read.
        """
        data = self.session.send(event, self._clock.monotonic())
        if transform is not None:
            data = transform(data)
        if not self.alive or self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        self.write(data)
        self.flush()
        if self.write_paused:
            async with asyncio.timeout(self._write_timeout):
                while self.write_paused and not self.lost.is_set():
                    await self._wait()
        if self.lost.is_set():
            raise ConnectionResetError("connection lost")

    async def next_event(
        self, *, wake: asyncio.Event | None = None, until: float | None = None
    ) -> SessionEvent | None:
        """The session's next event, reading as needed and firing its timers.

        Returns None, without consuming anything, as soon as ``wake`` is set or the
        clock reaches ``until`` (the caller has work of its own).

        Raises:
            RemoteProtocolError: the peer broke the protocol (see `Session`).
        """
        while True:
            event = self.session.next_event()
            if not isinstance(event, NeedData):
                return event
            self._unread = 0
            if self.session.ended:
                # Its last event is out; more reading would only spin on EOF.
                return ConnectionClosed(reason=f"session {self.session.state.value}")
            if wake is not None and wake.is_set():
                return None
            now = self._clock.monotonic()
            if until is not None and now >= until:
                return None
            deadline = self.session.next_deadline()
            if deadline is not None and now >= deadline:
                self.session.handle_timeout(now)
                continue
            limits = [t for t in (deadline, until) if t is not None]
            timeout = max(0.0, min(limits) - now) if limits else None
            news = self._wait()
            if self.holding:
                self.release_reading()
            waiters: set[asyncio.Future[None]] = {news}
            wake_task: asyncio.Task[None] | None = None
            if wake is not None:
                wake_task = asyncio.ensure_future(_set(wake))
                waiters.add(wake_task)
            try:
                await asyncio.wait(
                    waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                if wake_task is not None and not wake_task.done():
                    wake_task.cancel()

    async def aclose(self) -> None:
        """Close the connection (idempotent); the session is marked closed."""
        self.session.close()
        super().close("closed")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self.lost.wait()
