"""Deadlines and a cap per client address for the HTTP servers uvicorn runs: the
gateway's own port with ``--workers 0``, and every HTTP simulator's
(`umsgate.protocols._http.server`).

uvicorn (0.3x to 0.55) reads a request's head and body without a deadline: its only
timer is the keep-alive one, armed after an answer and cancelled by any byte that
arrives, so a client that trickles a byte a second (slowloris) holds its connection,
and the memory of what it sent, for as long as it likes; nor does it limit the
connections of one address. `guarded` makes a uvicorn HTTP protocol class that
enforces the fronts' own rules (`umsgate.runtime.Limits`, the ``[server]``
settings ``header_timeout``, ``body_timeout``, ``keepalive_timeout`` and
``max_connections_per_client``; docs/operations.md):

* a connection's first request must begin within ``header_timeout`` of its opening
  (otherwise it is closed), and every request's head must be complete within
  ``header_timeout`` of its first byte (otherwise 408, and it is closed);
* a head larger than `MAX_HEAD` is answered 431 and the connection closes (noticed
  at most one read after it passed the limit);
* a request's body must be complete within ``body_timeout`` of its head; otherwise
  the connection is dropped (the application sees the client go);
* a connection idle after its last answer for ``keepalive_timeout`` is closed, bytes
  that begin no request (stray line ends) notwithstanding;
* an address that holds ``max_connections_per_client`` connections to this server
  has any further one closed at once (a Unix socket's peers have no address and are
  not counted).

While the application works on a complete request no deadline runs: that time is
the gateway's, not the client's.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from umsgate.runtime import LINGER, MAX_HEAD, REFUSAL_LOG_INTERVAL, Limits

log = logging.getLogger("umsgate.deadlines")

__all__ = ["MAX_HEAD", "AddressCap", "Limits", "guarded"]


class _Phase(enum.Enum):
    """What the connection waits for from its client."""

    IDLE = "idle"  #: a request to begin: header_timeout at first, then keep-alive
    HEAD = "head"  #: the rest of a request's head: header_timeout
    BODY = "body"  #: the rest of a request's body: body_timeout
    WAIT = "wait"  #: nothing: the application is answering
    LINGER = "linger"  #: a refusal was sent: what comes is dropped, then close


def _answer(status: bytes, text: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n" % len(text) + text
    )


_TIMED_OUT = _answer(b"408 Request Timeout", b"request head not received in time")
_TOO_LARGE = _answer(
    b"431 Request Header Fields Too Large",
    b"request head larger than %d bytes" % MAX_HEAD,
)


class AddressCap:
    """Connections held per client address by one server, at most ``limit`` each
    (``server.max_connections_per_client``); refusals are logged at most once per
    `REFUSAL_LOG_INTERVAL` per address. The HTTP protocol of `guarded` and the TCP
    simulators (SMPP, UShot) use it.

    Args:
        limit: most connections one address may hold.
        name: the server, for the log line.
    """

    def __init__(self, limit: int, name: str = "server") -> None:
        self.limit = limit
        self.name = name
        self.held: dict[str, int] = {}
        self._logged: dict[str, float] = {}
        #: Connections refused so far.
        self.refused = 0

    def take(self, peername: object, now: float) -> str | None:
        """Count a new connection from ``peername`` (a transport's ``peername``);
        the key to `release` it with, "" for a peer without an address (a Unix
        socket's, not counted), or None when the address holds ``limit``
        connections already: the caller closes it."""
        if not isinstance(peername, tuple) or not peername:
            return ""
        address = str(peername[0])
        held = self.held.get(address, 0)
        if held >= self.limit:
            self.refused += 1
            self._log(address, held, now)
            return None
        self.held[address] = held + 1
        return address

    def release(self, key: str | None) -> None:
        """A connection counted by `take` ended."""
        if not key:
            return
        held = self.held.get(key, 0) - 1
        if held > 0:
            self.held[key] = held
        else:
            self.held.pop(key, None)

    def _log(self, address: str, held: int, now: float) -> None:
        if now - self._logged.get(address, -1e9) < REFUSAL_LOG_INTERVAL:
            return
        if len(self._logged) > 10_000:
            self._logged.clear()
        self._logged[address] = now
        log.warning(
            "%s: refusing connections from %s: it holds %d "
            "(max_connections_per_client)",
            self.name,
            address,
            held,
            extra={"event": "connection_refused"},
        )


class _Guarded(HttpToolsProtocol):
    """uvicorn's httptools protocol with `Limits` enforced (see the module
    docstring). A subclass made by `guarded` carries its server's limits and
    counts."""

    limits: ClassVar[Limits]
    #: Connections held per client address, for one server.
    cap: ClassVar[AddressCap]

    # Each connection's own, from these starting values (set on the instance as
    # they change).
    _phase: _Phase = _Phase.IDLE
    _timer: asyncio.TimerHandle | None = None
    _address: str | None = ""
    _head_bytes: int = 0

    # -- deadlines -------------------------------------------------------------------

    def _arm(self, phase: _Phase, seconds: float | None) -> None:
        self._phase = phase
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if seconds is not None:
            self._timer = self.loop.call_later(seconds, self._expired)

    def _expired(self) -> None:
        self._timer = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        phase = self._phase
        if phase is _Phase.HEAD and (
            self.cycle is None or self.cycle.response_complete
        ):
            self._refuse(_TIMED_OUT)
        elif phase is _Phase.BODY:
            transport.abort()
        else:
            transport.close()

    def _refuse(self, answer: bytes) -> None:
        """Answer a request that will not be read, and close: after the answer,
        our side of the stream ends, and what the client still sends is read and
        dropped for `LINGER` seconds (closing with unread bytes would reset the
        connection, and the client could lose the answer)."""
        transport = self.transport
        transport.write(answer)
        if not transport.can_write_eof():
            self._arm(_Phase.WAIT, None)
            transport.close()
            return
        transport.write_eof()
        self._arm(_Phase.LINGER, LINGER)

    # -- asyncio.Protocol ------------------------------------------------------------

    def connection_made(  # type: ignore[override]
        self, transport: asyncio.Transport
    ) -> None:
        super().connection_made(transport)
        self._address = self.cap.take(self.client, self.loop.time())
        if self._address is None:
            transport.abort()
            return
        self._arm(_Phase.IDLE, self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._arm(_Phase.WAIT, None)
        self.cap.release(self._address)
        self._address = ""
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase is _Phase.LINGER:
            return
        counting = self._phase is _Phase.HEAD
        super().data_received(data)
        if counting and self._phase is _Phase.HEAD:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD:
                self._refuse(_TOO_LARGE)

    # -- parser callbacks ------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._arm(_Phase.HEAD, self.limits.header_timeout)

    def on_headers_complete(self) -> None:
        self._arm(_Phase.BODY, self.limits.body_timeout)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._arm(_Phase.WAIT, None)
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn armed its keep-alive timer: no request is pending (pipelined
        # ones are served first, and one being read has its own deadline).
        if self.timeout_keep_alive_task is not None and self._phase is _Phase.WAIT:
            self._arm(_Phase.IDLE, self.limits.keepalive_timeout)


def guarded(limits: Limits) -> type[HttpToolsProtocol]:
    """A uvicorn HTTP protocol class (``uvicorn.Config(http=...)``) enforcing
    ``limits``; one per server, since it counts that server's connections."""

    class GuardedHttpToolsProtocol(_Guarded):
        pass

    GuardedHttpToolsProtocol.limits = limits
    GuardedHttpToolsProtocol.cap = AddressCap(limits.max_connections_per_client, "http")
    return GuardedHttpToolsProtocol
