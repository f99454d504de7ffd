"""The webhook client: HTTP/1.1 POSTs over kept-alive connections.

Every final status of every message is one POST (docs/api.md promises one report
object per request), so this client's cost per request is paid once per message.
aiohttp, the best general client measured here, spends about 170 µs of CPU on a POST
(its request and response objects, header multidicts, timers and stream readers);
this client does the one thing webhooks need — write a request whole on an idle
connection, parse the answer with httptools (the C parser uvicorn uses), keep at
most `MAX_ANSWER_BYTES` of it — for a fraction of that (``bench/webhooks.py``
measures both against the same receiver).

What it does and does not do:

* ``http`` and ``https`` (certificates verified with the system's trust store, SNI
  from the URL's host), keep-alive per (scheme, host, port), at most
  `MAX_IDLE_PER_HOST` idle connections kept per host, each for at most
  `IDLE_TIMEOUT` seconds;
* answers framed by Content-Length, chunked encoding or the connection's end;
* no redirects (a webhook must not be sent elsewhere), no proxies, no cookies, no
  compression (``Accept-Encoding`` is not sent);
* the outbound URL policy (`umsgate.targets`): a new connection resolves
  its host once, every address must be allowed (`TargetRefused` otherwise, before
  any byte is sent), and the connection is made to a checked address, tried in the
  resolver's order;
* a request that finds its kept-alive connection closed by the server before any
  answer byte arrived is sent once more on a new connection (the server closed an
  idle connection as we reused it); any other failure is returned to the caller,
  whose retry policy decides.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import time
from collections.abc import Mapping
from typing import cast
from urllib.parse import quote

import httptools

from umsgate import targets
from umsgate.errors import UmsgateError

#: Longest answer body kept; a longer answer ends its connection after it is read.
MAX_ANSWER_BYTES = 1024
#: Longest answer (head and body) read at all before the connection is dropped.
MAX_ANSWER_TOTAL = 64 * 1024
#: Idle connections kept per host, and for how long.
MAX_IDLE_PER_HOST = 64
IDLE_TIMEOUT = 30.0
#: Parsed URLs remembered (report URLs are few; a bound keeps a hostile set small).
MAX_CACHED_URLS = 4096
#: What stays as it is in a request target (already-escaped URLs pass unchanged).
_PATH_SAFE = "/?=&%:@!$'()*+,;~-._"


class RequestError(UmsgateError):
    """The request got no complete answer; the message says why."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Target:
    key: tuple[str, str, int]
    host: str
    port: int
    tls: bool
    head: bytes  # request line and Host header


class _Answer:
    __slots__ = ("body", "close", "complete", "framed", "size", "status", "truncated")

    def __init__(self) -> None:
        self.framed = False
        self.status = 0
        self.body = bytearray()
        self.size = 0
        self.truncated = False
        self.complete = False
        self.close = False


class _Connection(asyncio.Protocol):
    """One connection; one request at a time."""

    def __init__(self, key: tuple[str, str, int]) -> None:
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.idle_since = 0.0
        self.used = False
        self._answer: _Answer | None = None
        self._waiter: asyncio.Future[_Answer] | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._received = False
        self.lost = False

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport; they have
        # its methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._parser is None or self._answer is None:
            # Bytes nobody asked for: the connection cannot be trusted any more.
            self._drop()
            return
        self._received = True
        self._answer.size += len(data)
        if self._answer.size > MAX_ANSWER_TOTAL:
            self._fail(RequestError(f"answer longer than {MAX_ANSWER_TOTAL} bytes"))
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(RequestError("the receiver switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(RequestError(f"malformed answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        answer = self._answer
        if answer is not None and self._waiter is not None and answer.status:
            if not self._waiter.done() and not answer.complete and not answer.framed:
                # An answer without a length ends with its connection.
                answer.complete = True
                answer.close = True
                self._waiter.set_result(answer)
                return
        if self._waiter is not None and not self._waiter.done():
            reason = f": {exc}" if exc else ""
            self._waiter.set_exception(
                _Closed(f"connection closed before the answer{reason}", self._received)
            )

    # -- httptools callbacks ----------------------------------------------------------

    def on_header(self, name: bytes, _value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            assert self._answer is not None
            self._answer.framed = True

    def on_headers_complete(self) -> None:
        assert self._answer is not None and self._parser is not None
        self._answer.status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        answer = self._answer
        assert answer is not None
        room = MAX_ANSWER_BYTES - len(answer.body)
        if room > 0:
            answer.body += body[:room]
        if len(body) > room:
            answer.truncated = True

    def on_message_complete(self) -> None:
        answer = self._answer
        assert answer is not None and self._parser is not None
        if answer.status < 200:  # an interim 1xx answer: the real one follows
            answer.status = 0
            return
        answer.complete = True
        answer.close = answer.truncated or not self._parser.should_keep_alive()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(answer)

    # -- use --------------------------------------------------------------------------

    async def request(self, data: bytes) -> _Answer:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self._answer = _Answer()
        self._parser = httptools.HttpResponseParser(self)
        self._received = False
        self._waiter = loop.create_future()
        self.transport.write(data)
        try:
            return await self._waiter
        finally:
            self._waiter = None
            self._parser = None
            self._answer = None
            self.used = True

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self._drop()

    def _drop(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()


class _Closed(RequestError):
    def __init__(self, message: str, received: bool) -> None:
        super().__init__(message)
        self.received = received


class Http11Client:
    """POSTs over pooled keep-alive connections. Not thread-safe; one event loop.

    Args:
        user_agent: the ``User-Agent`` header's value.
        ssl_context: how ``https`` servers are verified (the system's trust store
            when None).
        policy: the outbound URL policy (`umsgate.targets`); by default
            private addresses are refused. The attribute may be replaced; it applies
            to connections made after.
    """

    def __init__(
        self,
        *,
        user_agent: str,
        ssl_context: ssl.SSLContext | None = None,
        policy: targets.Policy | None = None,
    ):
        self._agent = user_agent.encode("latin-1")
        self._ssl = ssl_context
        self.policy = policy or targets.Policy()
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._targets: dict[str, _Target] = {}
        self._open: set[_Connection] = set()
        self._closed = False

    def _target(self, url: str) -> _Target:
        target = self._targets.get(url)
        if target is not None:
            return target
        parts = targets.check_url(url)  # TargetRefused: never callable as it is
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        path = quote(parts.path or "/", safe=_PATH_SAFE)
        if parts.query:
            path += "?" + quote(parts.query, safe=_PATH_SAFE)
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise RequestError("the URL's host is not a valid name") from None
        if any(c in ascii_host for c in " \r\n/"):
            raise RequestError("the URL's host is not a valid name")
        default = 443 if scheme == "https" else 80
        netloc = ascii_host if ":" not in ascii_host else f"[{ascii_host}]"
        if port != default:
            netloc += f":{port}"
        head = f"POST {path} HTTP/1.1\r\nHost: {netloc}\r\n".encode("ascii")
        target = _Target((scheme, host, port), host, port, scheme == "https", head)
        if len(self._targets) >= MAX_CACHED_URLS:
            self._targets.clear()
        self._targets[url] = target
        return target

    async def _connect(self, target: _Target) -> _Connection:
        loop = asyncio.get_running_loop()
        context: ssl.SSLContext | None = None
        if target.tls:
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        # Resolved and checked once; the connection goes to a checked address,
        # never to the name again (which could resolve to another).
        addresses = await self.policy.addresses(target.host, target.port)
        error: OSError | None = None
        for address in addresses:
            try:
                _, conn = await loop.create_connection(
                    lambda: _Connection(target.key),
                    address,
                    target.port,
                    ssl=context,
                    server_hostname=target.host if context else None,
                )
            except OSError as exc:
                error = exc
                continue
            self._open.add(conn)
            return conn
        assert error is not None
        raise error

    def _take_idle(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.lost or conn.transport is None or conn.transport.is_closing():
                self._open.discard(conn)
                continue
            if now - conn.idle_since > IDLE_TIMEOUT:
                conn.close()
                self._open.discard(conn)
                continue
            return conn
        return None

    def _release(self, conn: _Connection, reusable: bool) -> None:
        if self._closed or not reusable or conn.lost:
            conn.close()
            self._open.discard(conn)
            return
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) >= MAX_IDLE_PER_HOST:
            conn.close()
            self._open.discard(conn)
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> tuple[int, bytes]:
        """POST ``body`` to ``url``; (status, the answer's first `MAX_ANSWER_BYTES`).

        Raises:
            RequestError: no complete answer (refused, closed, malformed, too long).
            TimeoutError: no complete answer within ``timeout`` seconds.
            TargetRefused: the outbound URL policy does not allow the URL or an
                address its host resolves to (nothing was sent).
        """
        if self._closed:
            raise RequestError("the client is closed")
        target = self._target(url)
        lines = [target.head, b"User-Agent: ", self._agent, b"\r\n"]
        for name, value in headers.items():
            line = f"{name}: {value}\r\n".encode("latin-1")
            if line.count(b"\n") != 1 or b"\r" in line[:-2]:
                raise RequestError(f"header {name!r} holds a line break")
            lines.append(line)
        lines.append(b"Content-Length: %d\r\n\r\n" % len(body))
        lines.append(body)
        data = b"".join(lines)
        async with asyncio.timeout(timeout):
            for _ in range(2):
                conn = self._take_idle(target.key)
                reused = conn is not None
                if conn is None:
                    try:
                        conn = await self._connect(target)
                    except (OSError, ssl.SSLError) as exc:
                        raise RequestError(f"{type(exc).__name__}: {exc}") from None
                try:
                    answer = await conn.request(data)
                except _Closed as exc:
                    self._open.discard(conn)
                    if reused and not exc.received:
                        continue  # the server closed it while idle: once more
                    raise
                except BaseException:
                    # Timed out, cancelled or failed mid-answer: the connection is
                    # in an unknown state.
                    conn.close()
                    self._open.discard(conn)
                    raise
                self._release(conn, not answer.close)
                return answer.status, bytes(answer.body)
        raise RequestError("the connection closed twice before an answer")

    async def close(self) -> None:
        self._closed = True
        for conn in list(self._open):
            conn.close()
        self._open.clear()
        self._idle.clear()
        # Let the transports finish closing (TLS shutdown) before the loop ends.
        await asyncio.sleep(0)
