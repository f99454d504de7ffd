"""A front's public port: its listening socket, its connections
(`umsgate.front.connection`), the cap on connections per client address, the sweep
that enforces their deadlines, and the stop."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import socket
import ssl as ssl_module
import time

from umsgate.front.connection import WRITE_STALL, Connection, Router
from umsgate.runtime import REFUSAL_LOG_INTERVAL, Limits

log = logging.getLogger("umsgate.front")

#: How often the deadlines are looked at: a connection is closed at most this long
#: after its deadline (a timer per connection would cost every request a timer).
TICK = 0.25
#: Connections the kernel queues before they are accepted (uvicorn's default).
BACKLOG = 2048
#: How long a stopping front lets its connections finish their answers (uvicorn's
#: ``timeout_graceful_shutdown`` of the servers before it).
STOP_GRACE = 30.0


class Listener:
    def __init__(self, router: Router, limits: Limits) -> None:
        self.router = router
        self.limits = limits
        self.loop = asyncio.get_running_loop()
        self.connections: set[Connection] = set()
        self._per_client: dict[str, int] = {}
        self._refusals_logged: dict[str, float] = {}
        #: The Date header's value (RFC 9110 §6.6.1), as of the last tick.
        self.date = b""
        self._second = 0
        self._server: asyncio.AbstractServer | None = None
        self._tick_handle: asyncio.TimerHandle | None = None
        self._empty = asyncio.Event()
        self._empty.set()
        #: Connections closed at once because their address had too many.
        self.refused = 0

    async def start(
        self, sock: socket.socket, *, ssl: ssl_module.SSLContext | None = None
    ) -> None:
        """Serve on ``sock`` (bound, not yet listening), over TLS with ``ssl``."""
        self._tick()
        self._server = await self.loop.create_server(
            lambda: Connection(self),
            sock=sock,
            backlog=BACKLOG,
            ssl=ssl,
            # The TLS handshake is part of the head's time (header_timeout).
            ssl_handshake_timeout=self.limits.header_timeout if ssl else None,
        )

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop accepting; close idle connections at once and the others after the
        answers due, waiting for them at most ``grace`` seconds."""
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.shutdown()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._empty.wait()
        for conn in list(self.connections):
            conn.abort()
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        if self._server is not None:
            await self._server.wait_closed()

    # -- connections ----------------------------------------------------------------

    def opened(self, conn: Connection) -> bool:
        """Count a new connection; False when its address is over the cap (it is
        then closed)."""
        held = self._per_client.get(conn.client, 0)
        if held >= self.limits.max_connections_per_client:
            self.refused += 1
            now = self.loop.time()
            if now - self._refusals_logged.get(conn.client, -1e9) >= (
                REFUSAL_LOG_INTERVAL
            ):
                self._refusals_logged[conn.client] = now
                log.warning(
                    "refusing connections from %s: it holds %d "
                    "(server.max_connections_per_client)",
                    conn.client,
                    held,
                    extra={"event": "front_connection_refused"},
                )
            return False
        self._per_client[conn.client] = held + 1
        self.connections.add(conn)
        self._empty.clear()
        return True

    def closed(self, conn: Connection) -> None:
        self.connections.discard(conn)
        held = self._per_client.get(conn.client, 0) - 1
        if held > 0:
            self._per_client[conn.client] = held
        else:
            self._per_client.pop(conn.client, None)
        if not self.connections:
            self._empty.set()

    # -- the sweep ------------------------------------------------------------------

    def _tick(self) -> None:
        now = time.time()
        if int(now) != self._second:
            self._second = int(now)
            self.date = email.utils.formatdate(now, usegmt=True).encode("ascii")
            if self._refusals_logged:
                cutoff = self.loop.time() - REFUSAL_LOG_INTERVAL
                for client, at in list(self._refusals_logged.items()):
                    if at < cutoff:
                        del self._refusals_logged[client]
        loop_now = self.loop.time()
        for conn in list(self.connections):
            if conn.deadline and loop_now >= conn.deadline:
                conn.expire(loop_now)
            elif conn.write_paused_at and loop_now - conn.write_paused_at > WRITE_STALL:
                log.info(
                    "dropping a connection from %s: it read nothing for %.0f s",
                    conn.client,
                    WRITE_STALL,
                    extra={"event": "front_write_stalled"},
                )
                conn.abort()
        self._tick_handle = self.loop.call_later(TICK, self._tick)
