"""Requests a front does not serve, passed on as they are to the gateway process's
HTTP server on its Unix socket, and its answers passed back unchanged.

Tokens, uploads, report checks, the IMS face (which stores attachments), provider
callbacks, /healthz, /metrics and /docs keep one owner, the gateway process. Each
request passed on names its client's address in `PEER_HEADER` (the token
endpoint's per-address limit needs it). The pass-on works on bytes: the request's
head is written again without its hop-by-hop headers (RFC 9110 §7.6.1), its body
streamed as it comes (with its own Content-Length, or chunked), and the answer's
head and body relayed as they come, re-framed for the client (chunked, or to the
connection's close for HTTP/1.0) when the gateway did not give a length. Either
way a slow side holds the other back (the reading of one side stops while the
other's writing is full), so a large upload or answer never sits in a front's
memory. The limits on a passed-on body are the gateway's own (an upload's 1 MiB);
the front's deadlines apply as to any request.

It replaces an httpx client (its requests, its pool, its streams), which a front
loaded for this alone. When the gateway process cannot be reached, or closes the
connection or stays silent for `PASS_TIMEOUT` before it answered, the client gets
``503`` with the native API's JSON (`UNAVAILABLE`); a failure after the answer began
drops the client's connection, so that the client sees the answer incomplete.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import cast

import httptools

from umsgate.front.connection import Connection
from umsgate.front.exchange import HIGH_WATER, Exchange, Request, status_line
from umsgate.runtime import PEER_HEADER

log = logging.getLogger("umsgate.front")

#: Headers that belong to one hop, not to the request or answer passed on; the
#: framing (Content-Length, Transfer-Encoding) and ``Expect`` are the front's to say.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"expect",
        b"content-length",
    }
)
_PEER = PEER_HEADER.encode()
#: The longest the gateway process may stay silent with a request to answer.
PASS_TIMEOUT = 120.0
#: The longest a connection to the gateway process may take to open.
CONNECT_TIMEOUT = 10.0
#: Connections to the gateway process at once; more requests wait for one.
MAX_CONNECTIONS = 64
#: Idle connections kept, and for how long: below uvicorn's keep-alive of 5 s at the
#: gateway, so that the gateway never closes one as it is taken again.
MAX_IDLE = 16
IDLE_FOR = 2.0
#: The answer when the gateway process cannot be reached.
UNAVAILABLE = b'{"resultCode":50300,"resultMessage":"service unavailable"}'
#: Statuses whose answers have no body (RFC 9110 §6.4.1).
NO_BODY = frozenset({204, 304})


class Upstream(asyncio.Protocol):
    """One connection to the gateway process's HTTP server; one request at a time."""

    def __init__(self, link: GatewayLink) -> None:
        self.link = link
        self.transport: asyncio.Transport | None = None
        self.exchange: PassOn | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.idle_since = 0.0
        #: Loop time of the last byte from the gateway.
        self.heard = 0.0
        self.usable = True
        self._headers: list[tuple[bytes, bytes]] = []
        self._reason = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._fail("the gateway process closed the connection")

    def data_received(self, data: bytes) -> None:
        if self.exchange is None:
            self.close()  # bytes nobody asked for: not to be trusted any more
            return
        self.heard = self.link.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(f"a malformed answer: {exc}")

    def _fail(self, why: str) -> None:
        """This connection cannot go on: its request (if any) fails."""
        self.close()
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            exchange.up = None
            self.link.release(self)
            exchange.upstream_failed(why)

    def pause_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.conn.pause()

    def resume_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.conn.resume()

    def close(self) -> None:
        self.usable = False
        if self.transport is not None:
            self.transport.close()

    # -- httptools callbacks --------------------------------------------------------

    def on_message_begin(self) -> None:
        self._headers = []
        self._reason = b""

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value.rstrip(b" \t")))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:
            return  # 1xx: the front speaks for itself (100 Continue)
        if not self.parser.should_keep_alive():
            self.usable = False
        if self.exchange is not None:
            self.exchange.upstream_head(status, self._reason, self._headers)

    def on_body(self, body: bytes) -> None:
        if self.exchange is not None:
            self.exchange.upstream_body(body)

    def on_message_complete(self) -> None:
        if self.parser.get_status_code() < 200:
            return
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            exchange.upstream_end(self)


class GatewayLink:
    """The connections to the gateway process's HTTP server: opened when needed,
    kept while idle for `IDLE_FOR` seconds, at most `MAX_CONNECTIONS`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.loop = asyncio.get_running_loop()
        self._idle: list[Upstream] = []
        self._busy = 0
        self._waiting: collections.deque[PassOn] = collections.deque()
        self._connecting: set[asyncio.Task[None]] = set()

    @property
    def busy(self) -> int:
        """Connections serving a request (or being opened for one)."""
        return self._busy

    @property
    def idle(self) -> int:
        """Connections kept for the next request."""
        return len(self._idle)

    def acquire(self, exchange: PassOn) -> None:
        """Give ``exchange`` a connection (`PassOn.upstream_ready`), now or once one
        is free; or tell it none can be opened (`PassOn.upstream_failed`)."""
        now = self.loop.time()
        while self._idle:
            up = self._idle.pop()
            fresh = now - up.idle_since < IDLE_FOR
            if up.usable and up.transport is not None and fresh:
                self._busy += 1
                exchange.upstream_ready(up)
                return
            up.close()
        if self._busy >= MAX_CONNECTIONS:
            self._waiting.append(exchange)
            return
        self._busy += 1
        task = self.loop.create_task(self._connect(exchange))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    async def _connect(self, exchange: PassOn) -> None:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                _, protocol = await self.loop.create_unix_connection(
                    lambda: Upstream(self), self.path
                )
        except (OSError, TimeoutError) as exc:
            self._busy -= 1
            self._next()
            exchange.upstream_failed(f"cannot connect: {exc or 'timed out'}")
            return
        up = protocol
        if exchange.gone:
            self.release(up)
            return
        exchange.upstream_ready(up)

    def release(self, up: Upstream) -> None:
        """A connection is done with its request: kept for the next if it may be."""
        self._busy -= 1
        up.exchange = None
        if up.usable and up.transport is not None and len(self._idle) < MAX_IDLE:
            up.idle_since = self.loop.time()
            self._idle.append(up)
        else:
            up.close()
        self._next()

    def _next(self) -> None:
        while self._waiting and self._busy < MAX_CONNECTIONS:
            exchange = self._waiting.popleft()
            if not exchange.gone:
                self.acquire(exchange)
                return

    def close(self) -> None:
        for up in self._idle:
            up.close()
        self._idle.clear()
        for task in self._connecting:
            task.cancel()


class PassOn(Exchange):
    """One request passed on (see the module's docstring)."""

    __slots__ = (
        "_chunked_answer",
        "_early",
        "_early_size",
        "_held_input",
        "_timer",
        "gone",
        "link",
        "up",
    )

    def __init__(self, conn: Connection, request: Request, link: GatewayLink) -> None:
        super().__init__(conn, request)
        self.link = link
        self.up: Upstream | None = None
        #: The client is gone, or the exchange gave up.
        self.gone = False
        #: What came of the request before its connection was ready.
        self._early: list[bytes] = []
        self._early_size = 0
        self._held_input = False
        self._chunked_answer = False
        self._timer: asyncio.TimerHandle | None = None

    # -- the request ----------------------------------------------------------------

    def on_head(self) -> None:
        request = self.request
        if request.expect_continue and request.has_body:
            self.conn.send_continue(self)
        lines = [b"%s %s HTTP/1.1\r\n" % (request.method, request.target or b"/")]
        for name, value in request.headers:
            if name not in HOP_BY_HOP and name != _PEER:
                lines.append(b"%s: %s\r\n" % (name, value))
        if self.conn.client:
            lines.append(b"%s: %s\r\n" % (_PEER, self.conn.client.encode()))
        if request.chunked:
            lines.append(b"transfer-encoding: chunked\r\n")
        elif request.content_length is not None:
            lines.append(b"content-length: %d\r\n" % request.content_length)
        lines.append(b"\r\n")
        self._send(b"".join(lines))
        self.link.acquire(self)

    def on_body(self, chunk: bytes) -> None:
        if self.request.chunked:
            chunk = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        self._send(chunk)

    def on_end(self) -> None:
        if self.request.chunked:
            self._send(b"0\r\n\r\n")

    def _send(self, data: bytes) -> None:
        if self.gone:
            return
        up = self.up
        if up is not None and up.transport is not None:
            up.transport.write(data)
            return
        self._early.append(data)
        self._early_size += len(data)
        if self._early_size > HIGH_WATER and not self._held_input:
            # The gateway connection is not there yet: the client waits.
            self._held_input = True
            self.conn.pause()

    def upstream_ready(self, up: Upstream) -> None:
        if self.gone:
            self.link.release(up)
            return
        self.up = up
        up.exchange = self
        up.heard = self.link.loop.time()
        assert up.transport is not None
        if self._early:
            up.transport.write(b"".join(self._early))
            self._early.clear()
            self._early_size = 0
        if self._held_input:
            self._held_input = False
            self.conn.resume()
        self._timer = self.link.loop.call_later(PASS_TIMEOUT, self._check_silence)

    def _check_silence(self) -> None:
        up = self.up
        if up is None or self.gone:
            return
        silent = self.link.loop.time() - up.heard
        if silent < PASS_TIMEOUT:
            self._timer = self.link.loop.call_later(
                PASS_TIMEOUT - silent, self._check_silence
            )
            return
        self.up = None
        up.exchange = None
        up.close()
        self.link.release(up)
        self.upstream_failed(f"no answer for {PASS_TIMEOUT:g} s")

    # -- the answer -----------------------------------------------------------------

    def upstream_head(
        self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]]
    ) -> None:
        request = self.request
        lines = [status_line(status, reason)]
        length = False
        for name, value in headers:
            if name == b"content-length":
                length = True
                lines.append(b"%s: %s\r\n" % (name, value))
            elif name not in HOP_BY_HOP:
                lines.append(b"%s: %s\r\n" % (name, value))
        bodiless = request.method == b"HEAD" or status in NO_BODY
        close = self.must_close()
        if not bodiless and not length:
            if request.version == "1.1":
                self._chunked_answer = True
                lines.append(b"transfer-encoding: chunked\r\n")
            else:
                close = True  # HTTP/1.0: the body ends with the connection
        self.close_after = close
        if close:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        self.write(b"".join(lines))
        if request.method == b"HEAD":
            # httptools cannot be told that this answer has no body: it is done,
            # and its connection is not used again.
            up, self.up = self.up, None
            if up is not None:
                up.exchange = None
                up.close()
                self.link.release(up)
            self._stop_timer()
            self.finish()

    def upstream_body(self, chunk: bytes) -> None:
        if self._chunked_answer:
            chunk = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        self.write(chunk)
        if self.held() and self.up is not None and self.up.transport is not None:
            # Not this exchange's turn yet: the gateway waits.
            self.up.transport.pause_reading()

    def upstream_end(self, up: Upstream) -> None:
        self.up = None
        self._stop_timer()
        if not self.complete:
            # Answered before the request was all sent: the gateway's connection
            # is in the middle of it, and the rest of the body goes nowhere.
            up.usable = False
            self.gone = True
        self.link.release(up)
        if self._chunked_answer:
            self.write(b"0\r\n\r\n")
        self.finish()

    def upstream_failed(self, why: str) -> None:
        self._stop_timer()
        self.up = None
        if self.gone or self.ended:
            return
        if self._held_input:
            self._held_input = False
            self.conn.resume()
        log.error(
            "the gateway process failed in the middle of an answer to %s %s: %s"
            if self.started
            else "passing %s %s to the gateway process failed: %s",
            self.request.method.decode("latin-1"),
            self.request.path,
            why,
            extra={"event": "front_pass_error"},
        )
        self.gone = True
        if self.started:
            self.conn.abort()
        else:
            self.answer(503, b"application/json", UNAVAILABLE)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- the client -----------------------------------------------------------------

    def on_expired(self) -> None:
        self._give_up()
        if not self.started:
            self.answer_plain(408, b"request body not received in time")

    def on_lost(self) -> None:
        self._give_up()

    def _give_up(self) -> None:
        self.gone = True
        self._stop_timer()
        up, self.up = self.up, None
        if up is not None:
            up.exchange = None
            up.close()
            self.link.release(up)

    def on_turn(self) -> None:
        if self.up is not None and self.up.transport is not None:
            self.up.transport.resume_reading()

    def on_write_paused(self) -> None:
        if self.up is not None and self.up.transport is not None:
            self.up.transport.pause_reading()

    def on_write_resumed(self) -> None:
        self.on_turn()
