"""The thin asyncio layer under a `Session`: it moves bytes and reads the clock, nothing
else. Connector and simulator both use it; all protocol decisions stay in the session.

Every wait here is bounded: reads by the session's own deadline (there is always one
while the session lives: the idle timeout), writes and connects by explicit timeouts.
Timeouts use ``asyncio.timeout``: Python 3.11's ``wait_for`` can swallow a cancellation
that arrives as its inner await completes, which would leave a stopped lane running.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from umsgate.protocols.ushot.events import Event
from umsgate.protocols.ushot.session import (
    ConnectionClosed,
    NeedData,
    Session,
    SessionEvent,
)

#: Bytes asked of the socket per read (a 300 KB file arrives in a few reads).
READ_SIZE = 65536
#: How long closing waits for the transport to finish.
CLOSE_TIMEOUT = 5.0


async def open_stream(
    host: str, port: int, *, within: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect, giving up after ``within`` seconds.

    Raises:
        OSError: refused or unreachable; TimeoutError after ``within`` seconds.
    """
    async with asyncio.timeout(within):
        return await asyncio.open_connection(host, port)


class SessionStream:
    """A `Session` running over an asyncio stream pair.

    Args:
        session: the state machine (its ``now`` values come from ``clock``).
        reader, writer: the connection.
        clock: monotonic seconds, the same clock the session was created with.
        write_timeout: how long one write may wait for the peer to take the bytes.
    """

    def __init__(
        self,
        session: Session,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        clock: Callable[[], float] = time.monotonic,
        write_timeout: float = 30.0,
    ) -> None:
        self.session = session
        self._reader = reader
        self._writer = writer
        self._clock = clock
        self._write_timeout = write_timeout
        self._read: asyncio.Future[bytes] | None = None
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

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
        data = self.session.send(event, self._clock())
        if transform is not None:
            data = transform(data)
        if self._writer.is_closing():
            raise ConnectionResetError("the connection is closed")
        self._writer.write(data)
        async with asyncio.timeout(self._write_timeout):
            await self._writer.drain()

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
            if self.session.ended:
                # Its last event is out; more reading would only spin on EOF.
                return ConnectionClosed(reason=f"session {self.session.state.value}")
            if wake is not None and wake.is_set():
                return None
            now = self._clock()
            if until is not None and now >= until:
                return None
            deadline = self.session.next_deadline()
            if deadline is not None and now >= deadline:
                self.session.handle_timeout(now)
                continue
            limits = [t for t in (deadline, until) if t is not None]
            timeout = max(0.0, min(limits) - now) if limits else None
            if self._read is None:
                self._read = asyncio.ensure_future(self._reader.read(READ_SIZE))
            waiters: set[asyncio.Future[Any]] = {self._read}
            wake_task: asyncio.Future[Any] | None = None
            if wake is not None:
                wake_task = asyncio.ensure_future(wake.wait())
                waiters.add(wake_task)
            try:
                done, _ = await asyncio.wait(
                    waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                if wake_task is not None and not wake_task.done():
                    wake_task.cancel()
            if self._read in done:
                task, self._read = self._read, None
                try:
                    data = task.result()
                    reason = ""
                except OSError as exc:
                    data, reason = b"", f"connection lost: {exc}"
                self.session.receive_data(data, self._clock(), reason=reason)

    async def close(self) -> None:
        """Close the connection (idempotent); the session is marked closed."""
        self.session.close()
        if self._read is not None:
            read, self._read = self._read, None
            read.cancel()
            # asyncio.wait, unlike awaiting the read, never swallows a cancellation
            # of the task that is closing us.
            await asyncio.wait([read], timeout=CLOSE_TIMEOUT)
            if read.done() and not read.cancelled():
                read.exception()  # retrieved: a reset while closing is no news
        self._writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self._writer.wait_closed()
