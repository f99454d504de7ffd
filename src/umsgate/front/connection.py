"""One client connection to a front: HTTP/1.1 on an `asyncio.Protocol`, requests
parsed by httptools (llhttp, the C parser uvicorn uses), answered in order.

Why not uvicorn: a front exists to run the send path on another core, and uvicorn
cost half of a front's CPU per send (py-spy on ``bench/accept.py --workload reserve
--workers 2``, 116–132 µs per message in the fronts): an asyncio task per request,
ASGI messages passed through the event loop (22 % of the front's samples in the loop
itself), two ``transport.write`` calls per answer (``RequestResponseCycle.send``,
18 % self), the ASGI scope and header lists. A send needs none of it: its body is a
few hundred bytes and its answer is one small JSON document. Here a send is
parsed, authenticated from the token cache, validated and handed to the gateway
process in the callback that received its last byte, and answered in one write from
the callback that reads the gateway's answer, with no task (`umsgate.front.sends`);
the other requests are passed on to the gateway process (`umsgate.front.passon`).
uvicorn also set no limit on a request's head and no deadline on its head or body
with httptools, so a client trickling one header byte a second held a front's
connection for ever. Measured after (docs/benchmarks.md, alternating runs): 62–80
µs per native send in the fronts (median 70) against 89–134 (median 107) on
uvicorn; with the answer from a timer and no send work, 40 µs a request against
58–74.

Theory of operation
-------------------
Each request is an `Exchange` (`umsgate.front.exchange`), created when its head is
complete (`Router` picks its kind from the method and path) and queued on its
connection until its answer is written. Answers go out in the order of the
requests (pipelining, RFC 9112 §9.3.2): only the first exchange of the queue writes
to the socket, the others keep what they have to write until the ones before them
are done. A connection reads on while requests are answered, up to `MAX_PIPELINED`
exchanges; then it stops reading until the first is done.

What the connection waits for from the client decides its deadline (`Phase`; the
`Listener` sweeps the deadlines every `TICK` seconds, so none costs a timer):

* ``IDLE``, no request begun and none unanswered: ``keepalive_timeout`` after the
  last answer, ``header_timeout`` after the connection opened; then it is closed.
* ``HEAD``, a request's first byte came: its head must be complete within
  ``header_timeout``, and at most `MAX_HEAD` bytes (431 otherwise).
* ``BODY``, the head came: the whole body within ``body_timeout`` (the exchange
  answers: each kind in its protocol's vocabulary).
* ``WAIT``, the request is complete: no deadline on the client; the exchange's own
  (the gateway's answer) holds.

An answer written while its request's body is still coming (an early refusal), or to
a request that asked for it (``Connection: close``, HTTP/1.0), or by a front that is
stopping, says ``Connection: close``; the connection then stops writing and
discards what the client still sends for at most `LINGER` seconds before it closes
(so that the client reads the answer rather than a reset). A client that reads none
of a long answer for `WRITE_STALL` seconds is dropped.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
from typing import TYPE_CHECKING, Protocol, cast

import httptools

from umsgate.errors import UmsgateError
from umsgate.front.exchange import Exchange, Request
from umsgate.runtime import LINGER, MAX_HEAD

if TYPE_CHECKING:
    from umsgate.front.listener import Listener

log = logging.getLogger("umsgate.front")


#: Exchanges a connection holds before it stops reading: a pipelining client gets
#: this many requests served at once, and no more memory than that.
MAX_PIPELINED = 32
#: A client that takes no byte of a long answer for this long is dropped: a passed-on
#: answer would otherwise hold its gateway connection for ever (nginx's
#: ``send_timeout`` is 60 s; uvicorn had none).
WRITE_STALL = 30.0

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
#: The headers a connection reads itself: the body's framing, and ``Expect``.
_FRAMING = {b"content-length": 0, b"transfer-encoding": 1, b"expect": 2}


class Phase(enum.IntEnum):
    """What a connection waits for from its client (the deadline that applies)."""

    #: No request begun and none unanswered: ``keepalive_timeout``.
    IDLE = 0
    #: A request's head: ``header_timeout`` from its first byte.
    HEAD = 1
    #: A request's body: ``body_timeout`` from the end of its head.
    BODY = 2
    #: Nothing: the answers are ours to give.
    WAIT = 3
    #: A closing connection discarding input: `LINGER`.
    LINGER = 4


# The phases as plain names: an enum member's attribute lookup costs every request.
_IDLE, _HEAD, _BODY, _WAIT, _LINGER = Phase

#: Why a connection does not read (bits; an `enum.IntFlag` costs a microsecond an
#: operation): its exchanges are `MAX_PIPELINED`, or one of them waits for the
#: destination of its body (`Connection.pause`).
_PIPELINE = 1
_EXCHANGE = 2


class Router(Protocol):
    def exchange(self, conn: Connection, request: Request) -> Exchange:
        """The exchange that serves ``request`` on ``conn``."""
        ...


class _Refused(UmsgateError):
    """Stops the parser: the request is answered with ``status`` and the connection
    closes."""

    def __init__(self, status: int, text: bytes) -> None:
        super().__init__(f"{status} {text.decode('latin-1')}")
        self.status = status
        self.text = text


class Connection(asyncio.Protocol):
    """One client connection (see the module's theory of operation)."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.limits = limits = listener.limits
        self._loop = listener.loop
        self._router = listener.router
        self._header_timeout = limits.header_timeout
        self._body_timeout = limits.body_timeout
        self._keepalive_timeout = limits.keepalive_timeout
        self.transport: asyncio.Transport | None = None
        #: The client's address (the key of the per-address cap).
        self.client = ""
        self._parser = httptools.HttpRequestParser(self)
        self._queue: collections.deque[Exchange] = collections.deque()
        #: The exchange whose request is being read (head done, body coming).
        self._current: Exchange | None = None
        self.phase = _IDLE
        #: Loop time at which the phase's deadline passes (0: none).
        self.deadline = 0.0
        #: Loop time since which the client has not taken our writes (0: it has).
        self.write_paused_at = 0.0
        #: The connection closes once its answers are written.
        self.closing = False
        #: What the endpoint that served the last request keeps for the next one on
        #: this connection (a client sends the same headers again and again).
        self.memo: object = None
        #: Requests are read (not once the connection is closing or refused one).
        self._reading = True
        #: Counted by the listener (not when refused at once).
        self._open = False
        self._paused = 0
        #: The client closed its side (it reads what is due, then we close).
        self._eof = False
        self._refused: _Refused | None = None
        # The head being read.
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._head_seen = 0
        self._began = False
        self._ended = False
        self._content_length: int | None = None
        self._chunked = False
        self._expect = False

    # -- asyncio.Protocol -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport; they have its
        # methods.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.client = str(peer[0]) if isinstance(peer, tuple) else ""
        self._open = self.listener.opened(self)
        if not self._open:
            self.transport = None
            self._reading = False
            cast(asyncio.Transport, transport).abort()
            return
        self.deadline = self._loop.time() + self.limits.header_timeout

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._open:
            return
        self._open = False
        self.transport = None
        self._current = None
        queue, self._queue = self._queue, collections.deque()
        for exchange in queue:
            exchange.done = True
            exchange.on_lost()
        self.listener.closed(self)

    def eof_received(self) -> bool | None:
        # The client closed its side. While answers are due it may still read
        # them (a half-close); otherwise the connection ends.
        if self.phase is _LINGER or not self._queue:
            return None
        if self._current is not None:
            # In the middle of a request: it will never be complete.
            self.abort()
            return None
        self._stop_reading()
        self._eof = True
        return True

    def pause_writing(self) -> None:
        self.write_paused_at = self._loop.time()
        first = self.first()
        if first is not None:
            first.on_write_paused()

    def resume_writing(self) -> None:
        self.write_paused_at = 0.0
        first = self.first()
        if first is not None:
            first.on_write_resumed()

    def data_received(self, data: bytes) -> None:
        if not self._reading:
            return  # closing: what the client still sends is dropped
        self._began = self._ended = False
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # CONNECT or an Upgrade: served as a plain request (passed on without
            # the upgrade), after which the connection cannot go on.
            self.closing = True
            if self._queue and self._queue[-1].complete:
                self._queue[-1].close_after = True
            self._stop_reading()
            return
        except httptools.HttpParserError:
            refused = self._refused or _Refused(400, b"Invalid HTTP request received.")
            self._refuse(refused)
            return
        if self.phase is _HEAD:
            # httptools keeps a header until it is complete: count what came. A
            # head begun in this read took all of it, unless a request ended in it
            # too (then what is known for sure: its URL and complete headers).
            if not self._began:
                self._head_seen += len(data)
            elif self._ended:
                self._head_seen = self._head_size + len(self._url)
            else:
                self._head_seen = len(data)
            if self._head_seen > MAX_HEAD:
                self._refuse(_Refused(431, b"request head larger than 16384 bytes"))

    # -- httptools callbacks --------------------------------------------------------

    def on_message_begin(self) -> None:
        if not self._reading:
            return
        self._began = True
        self._url = b""
        self._headers = []
        self._head_size = 0
        self._content_length = None
        self._chunked = False
        self._expect = False
        self.phase = _HEAD
        self.deadline = self._loop.time() + self._header_timeout

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.phase is not _HEAD:
            return  # a chunked body's trailer: not passed on
        name = name.lower()
        # llhttp keeps trailing whitespace, which RFC 9110 §5.5 excludes.
        value = value.rstrip(b" \t")
        self._head_size += len(name) + len(value) + 4
        framing = _FRAMING.get(name)
        if framing is None:
            self._headers.append((name, value))
        elif framing == 0:
            self._content_length = int(value)  # llhttp checked the digits
        elif framing == 1:
            self._chunked = b"chunked" in value.lower()
        else:
            self._expect = value.lower() == b"100-continue"

    def on_headers_complete(self) -> None:
        if not self._reading:
            return
        if self._head_size + len(self._url) > MAX_HEAD:
            self._refused = _Refused(431, b"request head larger than 16384 bytes")
            raise self._refused
        parser = self._parser
        version = parser.get_http_version()
        http11 = version == "1.1"
        chunked = self._chunked
        length = self._content_length
        request = Request(
            parser.get_method(),
            self._url,
            version,
            self._headers,
            # HTTP/1.0 is answered once and closed, as uvicorn does.
            http11 and parser.should_keep_alive(),
            self._expect and http11,
            length,
            chunked,
        )
        exchange = self._router.exchange(self, request)
        queue = self._queue
        queue.append(exchange)
        self._current = exchange
        if chunked or length:
            self.phase = _BODY
            self.deadline = self._loop.time() + self._body_timeout
        else:
            self.phase = _WAIT
            self.deadline = 0.0
        if len(queue) >= MAX_PIPELINED:
            self.pause(_PIPELINE)
        try:
            exchange.on_head()
        except Exception:
            self._failed(exchange)

    def on_body(self, body: bytes) -> None:
        exchange = self._current
        if exchange is not None:
            try:
                exchange.on_body(body)
            except Exception:
                self._failed(exchange)

    def on_message_complete(self) -> None:
        if not self._reading:
            return
        self._ended = True
        exchange = self._current
        self._current = None
        self.phase = _WAIT
        self.deadline = 0.0
        if exchange is None:
            return
        exchange.complete = True
        try:
            exchange.on_end()
        except Exception:
            self._failed(exchange)

    # -- for exchanges --------------------------------------------------------------

    def first(self) -> Exchange | None:
        """The exchange whose answer is being written."""
        return self._queue[0] if self._queue else None

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def send_continue(self, exchange: Exchange) -> None:
        """``100 Continue`` for ``exchange`` (RFC 9110 §10.1.1), when the client may
        read it now: before its final answer, and no answer before it pending."""
        if self.first() is exchange and not exchange.started:
            self.write(CONTINUE)

    def done(self, exchange: Exchange) -> None:
        """The first exchange's answer is written: the next one's turn."""
        queue = self._queue
        queue.popleft()
        exchange.done = True
        while True:
            if exchange.close_after:
                self._close_after(exchange)
                return
            if not queue:
                break
            exchange = queue[0]
            if exchange.pending:
                self.write(b"".join(exchange.pending))
                exchange.pending = None
                exchange.pending_size = 0
            if not exchange.ended:
                exchange.on_turn()
                break
            queue.popleft()
            exchange.done = True
        if self._paused & _PIPELINE and len(queue) < MAX_PIPELINED:
            self.resume(_PIPELINE)
        if not queue and self.phase is _WAIT:
            if self.closing:
                self._close_after(None)
                return
            self.phase = _IDLE
            self.deadline = self._loop.time() + self._keepalive_timeout

    def pause(self, reason: int = _EXCHANGE) -> None:
        """Stop reading from the client (until `resume` with the same reason)."""
        was = self._paused
        self._paused |= reason
        if not was and self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume(self, reason: int = _EXCHANGE) -> None:
        if not self._paused & reason:
            return
        self._paused &= ~reason
        if (
            not self._paused
            and self.transport is not None
            and not self.transport.is_closing()
        ):
            self.transport.resume_reading()

    def abort(self) -> None:
        """Drop the connection at once (what is unwritten is lost)."""
        if self.transport is not None:
            self.transport.abort()

    # -- deadlines and closing ------------------------------------------------------

    def expire(self, now: float) -> None:
        """The phase's deadline passed (`Listener` calls this)."""
        phase = self.phase
        self.deadline = 0.0
        if phase is _IDLE or phase is _LINGER:
            if self.transport is not None:
                self.transport.close()
        elif phase is _HEAD:
            self._refuse(_Refused(408, b"request head not received in time"))
        elif phase is _BODY:
            exchange = self._current
            self._stop_reading()
            if exchange is None:
                self.abort()
                return
            exchange.close_after = True
            try:
                exchange.on_expired()
            except Exception:
                self._failed(exchange)
            if not exchange.ended and exchange.started:
                # It could not answer what it had begun: nothing else to say.
                self.abort()

    def _refuse(self, refused: _Refused) -> None:
        """Answer a request that could not be read, then close."""
        broken = self._current
        self._stop_reading()
        if broken is not None:
            # In the middle of a request's body: it will never be complete, and its
            # answer cannot say so.
            self.abort()
            return
        if self._queue:
            # The answers due go out, then the connection closes: this request's
            # answer would have to come after them, and the client learns enough
            # from the close.
            return
        exchange = Exchange(self, _UNREAD)
        exchange.close_after = True
        self._queue.append(exchange)
        exchange.answer_plain(refused.status, refused.text)

    def _stop_reading(self) -> None:
        """No further request is read; the connection closes after the answers
        due."""
        self._reading = False
        self.closing = True
        self._current = None
        self.phase = _WAIT
        self.deadline = 0.0

    def _close_after(self, exchange: Exchange | None) -> None:
        """Close after the last answer: drop what follows it, tell the client we
        are done writing, and discard what it still sends for `LINGER` seconds."""
        transport = self.transport
        queue, self._queue = self._queue, collections.deque()
        for later in queue:
            later.done = True
            later.on_lost()
        self._current = None
        self._reading = False
        self.closing = True
        if transport is None:
            return
        self.phase = _LINGER
        self.deadline = self._loop.time() + LINGER
        if self._eof or not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        # Read (and drop) until the client closes too.
        if self._paused:
            self._paused = 0
            transport.resume_reading()

    def shutdown(self) -> None:
        """The front is stopping: close now if nothing is due, else after the
        answers due."""
        self.closing = True
        if not self._queue and self.phase is not _HEAD:
            if self.transport is not None:
                self.transport.close()

    def _failed(self, exchange: Exchange) -> None:
        """An exchange's callback failed: logged, and answered 500 if it can be."""
        log.exception(
            "serving a request failed", extra={"event": "front_request_error"}
        )
        if not exchange.started and not exchange.done:
            exchange.close_after = True
            exchange.answer_plain(500, b"internal error")
        else:
            self.abort()


#: The request of an answer to bytes that were not a request (400, 408, 431).
_UNREAD = Request(b"", b"", "1.1", [], False, False, None, False)
