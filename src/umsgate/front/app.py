"""A front process: the public HTTP port, shared with the other fronts.

It serves the native sends (``POST /v1/message/{channel}``) and ToBeText's
(``POST /sms``) itself: it reads the body, authenticates the client, parses and
validates the message, checks its files, and hands the row to the gateway process
(`RemoteIntake`), which applies the client's TPS and commits it; the answer goes out
only after that commit, as in one process. Every other request (tokens, uploads,
report checks, the IMS face, which stores attachments, provider callbacks,
/healthz, /metrics) is passed as it is to the gateway process's own HTTP server on
a Unix socket, so those keep one owner.

Theory: the send path is most of a gateway's CPU (HTTP, JSON, validation), and it
needs nothing that only the owner has but the commit; a front's row costs the
owner a few microseconds of frame decoding instead of the whole request.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from umsgate.clients import Directory
from umsgate.config import Settings
from umsgate.files import FileStore
from umsgate.front.intake import RemoteIntake
from umsgate.protocols.apigw.face import FastSend
from umsgate.protocols.tobetext import face as tobetext_face
from umsgate.store.database import Database, open_database

log = logging.getLogger("umsgate.front")

#: Headers that belong to one hop, not to the request or answer passed on.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
    }
)
#: How often a quiet front sends its refusal counts.
COUNTS_EVERY = 1.0
#: The longest a passed-on request may take at the gateway process.
PASS_TIMEOUT = 120.0


class Counts:
    """The accepted and refused sends of a front since its last frame."""

    def __init__(self) -> None:
        self._accepted: collections.Counter[tuple[str, bool]] = collections.Counter()
        self._rejected: collections.Counter[tuple[str, str]] = collections.Counter()

    def accepted(self, channel: str, repeated: bool) -> None:
        self._accepted[(channel, repeated)] += 1

    def rejected(self, channel: str, reason: str) -> None:
        self._rejected[(channel, str(reason))] += 1

    def take(self) -> dict[str, Any] | None:
        if not self._accepted and not self._rejected:
            return None
        counts = {
            "a": [[c, r, n] for (c, r), n in self._accepted.items()],
            "r": [[c, r, n] for (c, r), n in self._rejected.items()],
        }
        self._accepted.clear()
        self._rejected.clear()
        return counts


def _nothing() -> None:
    return None


class Front:
    """What a front's sends need (`umsgate.protocols.apigw.face.SendHost`)."""

    def __init__(self, settings: Settings, *, intake: str, gateway_http: str) -> None:
        self.settings = settings
        # The fronts only read (tokens, clients, files); the gateway process writes.
        self.db: Database = open_database(settings, reads_only=True)
        self.directory = Directory(
            self.db,
            token_ttl=settings.auth.token_ttl,
            cache_ttl=settings.auth.cache_ttl,
        )
        self.files = FileStore(self.db)
        self.metrics = Counts()
        self.intake = RemoteIntake(intake, counts=self.metrics.take, on_lost=self.lost)
        self.http = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=gateway_http),
            base_url="http://gateway",
            timeout=httpx.Timeout(PASS_TIMEOUT),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )
        #: Called once when the gateway process is gone (the front then exits).
        self.on_lost: Callable[[], None] = _nothing
        self._counts_task: asyncio.Task[None] | None = None

    def lost(self) -> None:
        self.on_lost()

    async def start(self) -> None:
        await self.intake.connect()
        self._counts_task = asyncio.create_task(self._send_counts())

    async def stop(self) -> None:
        if self._counts_task is not None:
            self._counts_task.cancel()
        await self.intake.close()
        await self.http.aclose()
        await self.db.close()

    async def _send_counts(self) -> None:
        while True:
            await asyncio.sleep(COUNTS_EVERY)
            self.intake.send_counts()


class PassOn:
    """ASGI app: every request passed on, as it is, to the gateway process."""

    def __init__(self, front: Front) -> None:
        self.front = front

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._pass(scope, receive, send)
        else:  # websockets: not served
            await send({"type": "websocket.close", "code": 1003})

    async def _pass(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in scope["headers"] if k not in HOP_BY_HOP]
        disconnected = False

        async def body() -> Any:
            nonlocal disconnected
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected = True
                    raise ConnectionAbortedError("the client went away")
                yield message.get("body", b"")
                if not message.get("more_body", False):
                    return

        target = scope["raw_path"] or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        request = self.front.http.build_request(
            scope["method"],
            httpx.URL("http://gateway").copy_with(raw_path=target),
            headers=headers,
            content=body(),
        )
        try:
            response = await self.front.http.send(request, stream=True)
        except (httpx.HTTPError, ConnectionAbortedError) as exc:
            if disconnected:
                return
            log.error(
                "passing %s %s to the gateway process failed: %s",
                scope["method"],
                scope["path"],
                exc,
                extra={"event": "front_pass_error"},
            )
            payload = b'{"resultCode":50300,"resultMessage":"service unavailable"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [
                        (k.lower(), v)
                        for k, v in response.headers.raw
                        if k.lower() not in HOP_BY_HOP and k.lower() != b"date"
                    ],
                }
            )
            async for chunk in response.aiter_raw():
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": True}
                )
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()


def create_front_app(
    settings: Settings, *, intake: str, gateway_http: str
) -> tuple[FastSend[Front], Front]:
    """The native sends (`FastSend`) and ToBeText's ``POST /sms`` are served here;
    every other request goes to `PassOn`."""
    front = Front(settings, intake=intake, gateway_http=gateway_http)
    pass_on = PassOn(front)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            await front.start()
        except Exception as exc:
            log.error(
                "cannot reach the gateway process: %s",
                exc,
                extra={"event": "front_start_error"},
            )
            raise
        try:
            yield
        finally:
            await front.stop()

    faces = Starlette(routes=tobetext_face.routes, lifespan=lifespan)
    faces.state.gateway = front
    # Anything the routes do not match is the gateway process's to answer.
    faces.router.default = pass_on
    return FastSend(faces, front), front


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` with SO_REUSEPORT: every front binds its own
    and the kernel spreads new connections over them."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    # IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that name it.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def run_front(settings: Settings, *, intake: str, gateway_http: str, port: int) -> int:
    """Serve one front until it is told to stop or the gateway process is gone;
    returns the exit status (1 when the gateway went away)."""
    import uvicorn
    import uvloop

    from umsgate.runtime import SERVER_OPTIONS, tune_gc

    application, front = create_front_app(
        settings, intake=intake, gateway_http=gateway_http
    )
    tune_gc()
    sock = listening_socket(settings.server.host, port)
    config = uvicorn.Config(application, lifespan="on", **SERVER_OPTIONS)
    server = uvicorn.Server(config)
    lost = False

    def on_lost() -> None:
        nonlocal lost
        lost = True
        server.should_exit = True

    front.on_lost = on_lost

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        # uvicorn's Server says it is listening by a flag, not an event.
        while not server.started and not task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        if server.started:
            front.intake.send_ready()
        await task

    with (
        contextlib.closing(sock),
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        runner.run(serve())
    return 1 if lost or not server.started else 0
