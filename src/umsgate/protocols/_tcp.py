"""The one asyncio TCP driver under the SMPP and UShot sessions: it moves bytes
between a socket and an I/O-free session, runs the session's timer, holds reading
back when asked, and closes once. It knows neither protocol.

It is an `asyncio.Protocol` rather than a stream pair because an SMPP simulator
turns thousands of PDUs a second on a small machine: each read goes straight to the
session with no task switch, and everything sent while handling it leaves in one
``write`` at the end of the loop iteration (`write`; `flush` sends at once).

What a protocol adds, in a subclass: ``data_received``/``eof_received`` (feed the
session and take its frames: the session holds the frame-length rule), and the hooks
`_deadline` (when the session's timer is due, on the loop's clock), `_timeout` (it
is due), `_writable` (the peer reads again) and `_ended` (the connection is gone,
called exactly once).

Back-pressure: when the peer stops reading and the socket buffer fills, reading
stops too until it catches up (a peer that does not read gets no more answers
queued up). `hold_reading` stops reading for the protocol's own reasons (SMPP: the
peer's window is full; UShot: the session has a frame to give before it needs more);
`release_reading` reads again once neither reason holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar, cast

#: How early a timer may fire (``call_at`` runs a hair before the deadline).
EARLY = 0.001

C = TypeVar("C", bound="Connection")


async def connect(
    factory: Callable[[], C], host: str, port: int, *, within: float
) -> C:
    """Connect; ``factory`` builds the connection once the socket is up.

    Raises:
        OSError: refused or unreachable; TimeoutError after ``within`` seconds.
    """
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(within):
        _, connection = await loop.create_connection(factory, host, port)
    return connection


class Connection(asyncio.Protocol):
    """One TCP connection; see the module docstring for what a subclass adds.

    Args:
        name: how log lines name this connection (``"smpp-out"``, ``"sim:esme1"``).
    """

    def __init__(self, *, name: str) -> None:
        self.name = name
        self.peer = ""
        self.transport: asyncio.Transport | None = None
        #: The peer does not read: the socket buffer is full.
        self.write_paused = False
        #: Reading held back by the protocol (`hold_reading`).
        self.holding = False
        self._loop = asyncio.get_running_loop()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._closed = False
        self._reason = ""
        #: Set once the connection is gone (closed by either side).
        self.done = asyncio.Event()
        #: Set once the socket itself is closed.
        self.lost = asyncio.Event()

    # ------------------------------------------------------------ hooks

    def _deadline(self) -> float | None:
        """When the session's timer is next due (loop time), or None."""
        return None

    def _timeout(self, now: float) -> None:
        """The session's timer is due (``now``: loop time, a hair late)."""

    def _writable(self) -> None:
        """The peer reads again after the socket buffer filled up."""

    def _ended(self, reason: str) -> None:
        """The connection is gone; called exactly once."""

    # ------------------------------------------------------------ asyncio side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._reason:
            self._reason = f"connection lost: {exc}" if exc else "closed by the peer"
        self.lost.set()
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
            self._writable()

    # ------------------------------------------------------------ owner side

    @property
    def alive(self) -> bool:
        return not self._closed

    def write(self, data: bytes) -> None:
        """Send ``data`` in this loop iteration's write (nothing once closed)."""
        if not self._closed:
            self._out.append(data)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self._loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write what is queued now."""
        self._flush_scheduled = False
        if self._out and self.transport is not None and not self.transport.is_closing():
            data = self._out[0] if len(self._out) == 1 else b"".join(self._out)
            self.transport.write(data)
        self._out.clear()

    def hold_reading(self) -> None:
        """Stop reading the peer until `release_reading`."""
        if not self.holding:
            self.holding = True
            if self.transport is not None:
                self.transport.pause_reading()

    def release_reading(self) -> None:
        """Read the peer again, unless it does not read ours."""
        self.holding = False
        if not self._closed and not self.write_paused and self.transport is not None:
            self.transport.resume_reading()

    def close(self, reason: str) -> None:
        """Flush what is queued, then close."""
        if self._closed:
            return
        self._reason = self._reason or reason
        self.flush()
        if self.transport is not None:
            self.transport.close()
        self._finish()

    def abort(self, reason: str) -> None:
        """Drop the connection now, queued bytes and all."""
        if self._closed:
            return
        self._reason = self._reason or reason
        self._out.clear()
        if self.transport is not None:
            self.transport.abort()
        self._finish()

    # ------------------------------------------------------------ internals

    def _arm(self) -> None:
        if self._closed:
            return
        deadline = self._deadline()
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
        self._timeout(self._loop.time() + EARLY)
        self._arm()

    def _finish(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.done.set()
        self._ended(self._reason or "closed")
