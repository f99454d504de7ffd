"""The sends a front serves itself: the native ``POST /v1/message/{channel}`` and
ToBeText's ``POST /sms``, with the steps of `umsgate.protocols.apigw.send` and
`umsgate.protocols.tobetext.send` (the same answers as the gateway's faces).

A send is served without a task: when its last byte comes (`Buffered.on_end`) it is
authenticated from the token cache (`Directory.authenticate_cached`), validated and
handed to the gateway process (`RemoteIntake.enqueue`), and the callback that reads
the gateway's answer writes the send's. Only what must wait for a read takes a
task: a token or client not cached (or older than ``auth.cache_ttl``), a ToBeText
token not verified yet (scrypt), an MMS's files.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Protocol

from umsgate.clients import AuthError, ClientInfo, sha256_hex
from umsgate.errors import RemoteProtocolError
from umsgate.front.connection import Connection
from umsgate.front.exchange import Exchange, Request
from umsgate.front.intake import Outcome
from umsgate.protocols.apigw import codec as native_codec
from umsgate.protocols.apigw import send as native
from umsgate.protocols.tobetext import codec as tobetext_codec
from umsgate.protocols.tobetext import send as tobetext

if TYPE_CHECKING:
    from umsgate.front.app import Front

log = logging.getLogger("umsgate.front")

JSON = b"application/json"
XML = tobetext.XML_TYPE.encode("ascii")
#: The native send's path, before its channel.
NATIVE_PREFIX = "/v1/message/"


class Endpoint(Protocol):
    #: Longest body served; a longer one is served as None, at once.
    max_body: int

    def serve(self, exchange: Buffered, body: bytes | None) -> None:
        """Answer the request (now or later) from its whole body; None when it was
        longer than `max_body`."""
        ...

    def late(self, exchange: Buffered) -> None:
        """Answer a request whose body did not come within ``body_timeout``."""
        ...


class Buffered(Exchange):
    """A request served from its whole body (read up to ``endpoint.max_body``)."""

    __slots__ = ("_chunks", "_size", "endpoint", "served")

    def __init__(self, conn: Connection, request: Request, endpoint: Endpoint) -> None:
        Exchange.__init__(self, conn, request)
        self.endpoint = endpoint
        self._chunks: list[bytes] = []
        self._size = 0
        self.served = False

    def on_head(self) -> None:
        request = self.request
        declared = request.content_length
        if declared is not None and declared > self.endpoint.max_body:
            self._serve(None)  # answered without the body; the connection closes
        elif request.expect_continue and request.has_body:
            self.conn.send_continue(self)

    def on_body(self, chunk: bytes) -> None:
        if self.served:
            return
        self._size += len(chunk)
        if self._size > self.endpoint.max_body:
            self._chunks = []
            self._serve(None)
            return
        self._chunks.append(chunk)

    def on_end(self) -> None:
        if self.served:
            return
        self.served = True
        chunks, self._chunks = self._chunks, []
        self.endpoint.serve(self, chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def on_expired(self) -> None:
        if not self.served:
            self.served = True
            self.endpoint.late(self)

    def _serve(self, body: bytes | None) -> None:
        self.served = True
        self._chunks = []
        self.endpoint.serve(self, body)


class Tasks:
    """The sends that wait for a read, each a task, kept until done."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks))


class _Headers:
    """A connection's last send headers, decoded, and its token's digest: the next
    send on it most often has the same (`Connection.memo`)."""

    __slots__ = ("digest", "headers", "raw", "token")

    def __init__(
        self,
        raw: list[tuple[bytes, bytes]],
        headers: dict[str, str],
        token: str | None,
        digest: str,
    ) -> None:
        self.raw = raw
        self.headers = headers
        self.token = token
        self.digest = digest


class NativeSends:
    """``POST /v1/message/{channel}`` (`umsgate.protocols.apigw.send`)."""

    def __init__(self, front: Front, tasks: Tasks) -> None:
        self.front = front
        self.tasks = tasks
        self.max_body = front.settings.server.max_body

    def serve(self, exchange: Buffered, body: bytes | None) -> None:
        request = exchange.request
        kind = request.path[len(NATIVE_PREFIX) :]
        conn = exchange.conn
        memo = conn.memo
        if isinstance(memo, _Headers) and memo.raw == request.headers:
            headers, token, digest = memo.headers, memo.token, memo.digest
        else:
            headers = request.header_map()
            token = native.bearer_value(headers.get("authorization"))
            digest = sha256_hex(token) if token else ""
            conn.memo = _Headers(request.headers, headers, token, digest)
        if not token:
            _answer(exchange, native.no_token())
            return
        try:
            client = self.front.directory.authenticate_cached(token, digest=digest)
        except AuthError as exc:
            _answer(exchange, native.unauthorized(exc))
            return
        if client is None:
            self.tasks.start(self._authenticate(exchange, token, kind, headers, body))
            return
        self._send(exchange, client, kind, headers, body)

    def late(self, exchange: Buffered) -> None:
        limit = self.front.settings.server.body_timeout
        exchange.answer(
            408,
            JSON,
            b'{"resultCode":"40000","resultMessage":"the request body did not '
            b'arrive within %g s"}' % limit,
        )

    async def _authenticate(
        self,
        exchange: Buffered,
        token: str,
        kind: str,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> None:
        try:
            client = await self.front.directory.authenticate(token)
        except AuthError as exc:
            _answer(exchange, native.unauthorized(exc))
            return
        except Exception:
            _failed(exchange)
            return
        self._send(exchange, client, kind, headers, body)

    def _send(
        self,
        exchange: Buffered,
        client: ClientInfo,
        kind: str,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> None:
        now = time.time()
        req = native.check_send(self.front, kind, headers, body, now=now)
        if isinstance(req, tuple):
            _answer(exchange, req)
        elif native.needs_files(req):
            self.tasks.start(self._check_files(exchange, client, kind, req, now))
        else:
            self._submit(exchange, client, kind, req, now)

    async def _check_files(
        self,
        exchange: Buffered,
        client: ClientInfo,
        kind: str,
        req: native_codec.SendRequest,
        now: float,
    ) -> None:
        try:
            problem = await native.check_files(self.front, client, kind, req, now=now)
        except Exception:
            _failed(exchange)
            return
        if problem is not None:
            _answer(exchange, problem)
            return
        self._submit(exchange, client, kind, req, now)

    def _submit(
        self,
        exchange: Buffered,
        client: ClientInfo,
        kind: str,
        req: native_codec.SendRequest,
        now: float,
    ) -> None:
        item, tps_key, tps = native.submission(self.front, client, req, now=now)
        then = functools.partial(self._answered, exchange, kind, req)
        try:
            self.front.intake.enqueue(item, tps_key, tps, then)
        except Exception as exc:
            _answer(exchange, native.refused(self.front, kind, exc))

    def _answered(
        self,
        exchange: Buffered,
        kind: str,
        req: native_codec.SendRequest,
        outcome: Outcome,
    ) -> None:
        if isinstance(outcome, Exception):
            status, body = native.refused(self.front, kind, outcome)
        else:
            status, body = native.sent(self.front, req, outcome)
        exchange.answer(status, JSON, body)


class ToBeTextSends:
    """``POST /sms`` (`umsgate.protocols.tobetext.send`)."""

    def __init__(self, front: Front, tasks: Tasks) -> None:
        self.front = front
        self.tasks = tasks
        self.max_body = tobetext_codec.MAX_REQUEST_BYTES

    def serve(self, exchange: Buffered, body: bytes | None) -> None:
        if body is None:
            _answer(exchange, tobetext.too_large(self.front), XML)
            return
        content_type = exchange.request.header(b"content-type") or ""
        fields = tobetext_codec.decode_form(body, content_type)
        try:
            cid, token = tobetext_codec.credentials(fields)
            try:
                client = self.front.directory.authenticate_tobetext_cached(cid, token)
            except AuthError:
                raise tobetext.auth_failed() from None
        except RemoteProtocolError as exc:
            self._refused(exchange, fields, exc)
            return
        if client is None:
            self.tasks.start(self._authenticate(exchange, fields, cid, token))
            return
        self._prepare(exchange, client, fields)

    def late(self, exchange: Buffered) -> None:
        _answer(exchange, tobetext.too_large(self.front), XML)

    async def _authenticate(
        self, exchange: Buffered, fields: dict[str, str], cid: str, token: str
    ) -> None:
        try:
            client = await self.front.directory.authenticate_tobetext(cid, token)
        except AuthError:
            self._refused(exchange, fields, tobetext.auth_failed())
            return
        except Exception:
            _failed(exchange)
            return
        self._prepare(exchange, client, fields)

    def _prepare(
        self, exchange: Buffered, client: ClientInfo, fields: dict[str, str]
    ) -> None:
        """Hand the message of an authenticated client's fields over, or answer why
        it is refused."""
        try:
            prepared = tobetext.prepare(
                fields,
                allow_private_targets=(
                    self.front.settings.webhook.allow_private_targets
                ),
            )
        except RemoteProtocolError as exc:
            self._refused(exchange, fields, exc)
            return
        self._submit(exchange, client, fields, prepared)

    def _refused(
        self, exchange: Buffered, fields: dict[str, str], exc: RemoteProtocolError
    ) -> None:
        _answer(exchange, tobetext.refused(self.front, fields, exc), XML)

    def _submit(
        self,
        exchange: Buffered,
        client: ClientInfo,
        fields: dict[str, str],
        prepared: tobetext.Prepared,
    ) -> None:
        item, tps_key, tps = tobetext.submission(
            self.front, client, prepared, now=time.time()
        )
        then = functools.partial(self._answered, exchange, fields, prepared)
        try:
            self.front.intake.enqueue(item, tps_key, tps, then)
        except Exception as exc:
            self._answered(exchange, fields, prepared, exc)

    def _answered(
        self,
        exchange: Buffered,
        fields: dict[str, str],
        prepared: tobetext.Prepared,
        outcome: Outcome,
    ) -> None:
        answer = tobetext.outcome(self.front, fields, prepared, outcome)
        _answer(exchange, answer, XML)


def _failed(exchange: Buffered) -> None:
    """A read failed unexpectedly (the store): logged, and answered as the
    gateway's Starlette answers an exception."""
    log.exception("serving a send failed", extra={"event": "front_request_error"})
    exchange.answer(500, b"text/plain; charset=utf-8", b"Internal Server Error")


def _answer(
    exchange: Buffered, answer: tuple[int, bytes], content_type: bytes = JSON
) -> None:
    status, body = answer
    exchange.answer(status, content_type, body)
