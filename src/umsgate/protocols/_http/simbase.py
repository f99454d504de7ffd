"""What the HTTP simulators share: serve their app, go down and come back on the same
port, keep the requests they received, the fault switches a test flips (answer 500,
stall, garble) and the release of requests held by a stall on the way down, and (for
providers that call back) run a `Pusher` with its own HTTP client; and, for a
simulator that serves an app of its own behind the fault switches, the answer that
app wrote sent late and garbled as the faults say."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from collections.abc import Awaitable, Callable
from typing import ClassVar, Generic, TypeVar

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from umsgate.protocols._http.pusher import Pusher, PushPolicy
from umsgate.protocols._http.server import Served

#: Requests kept in a simulator's ``received`` (oldest dropped first).
MAX_RECORDED = 100_000

R = TypeVar("R")


@dataclasses.dataclass(slots=True)
class Faults:
    """Switches a test flips; all off by default."""

    #: Answer HTTP 500 (with the provider's internal-error code) without taking the
    #: request.
    status_500: bool = False
    #: Take the request, then hold the answer this many seconds.
    stall: float = 0.0
    #: Take the request, then answer a truncated document.
    malformed: bool = False


class SimulatorBase(Generic[R]):
    """Lifecycle of one simulator, its fault switches and the requests it received
    (``R``: what it records of one).

    Args:
        app: its Starlette app.
        host, port: where to listen (port 0: a free one, kept across restarts).
        push: how callbacks are pushed; None for a provider without callbacks.
    """

    #: Its name in the ``listening`` line (the protocol's).
    name: ClassVar[str]

    def __init__(
        self, app: ASGIApp, *, host: str, port: int, push: PushPolicy | None = None
    ) -> None:
        self.app = app
        self.faults = Faults()
        self.received: collections.deque[R] = collections.deque(maxlen=MAX_RECORDED)
        self.served = Served(app, host=host, port=port)
        #: Set while down or closing: stalled requests wait on it.
        self._release = asyncio.Event()
        self._push_policy = push
        self._client: httpx.AsyncClient | None = None
        self.pusher: Pusher | None = None

    @property
    def port(self) -> int:
        return self.served.port

    @property
    def url(self) -> str:
        """Base URL (``http://host:port``)."""
        return self.served.url

    def listening(self) -> str:
        return f"{self.name}={self.served.address}"

    async def _hold(self) -> None:
        """Hold an answer while the stall fault says (released on the way down)."""
        if self.faults.stall > 0:
            try:
                async with asyncio.timeout(self.faults.stall):
                    await self._release.wait()
            except TimeoutError:
                pass

    def _garbled(self, content: bytes) -> bytes:
        """``content`` cut in half when the malformed fault is on."""
        return content[: len(content) // 2] if self.faults.malformed else content

    async def _answer_held(self, send: Send, start: Message, body: bytes) -> None:
        """Send an answer an app wrote and the simulator held (its
        ``http.response.start`` message and its whole body) once the stall fault
        lets it go, garbled as the malformed fault says (its length counted
        again)."""
        await self._hold()
        headers = [
            (k, v) for k, v in start["headers"] if k.lower() != b"content-length"
        ]
        await respond(send, start["status"], headers, self._garbled(body))

    async def start(self) -> None:
        self._release.clear()
        if self._push_policy is not None:
            self._client = httpx.AsyncClient()
            self.pusher = Pusher(self._client, self._push_policy)
            self.pusher.start()
        await self.served.start()

    async def close(self) -> None:
        self._release.set()
        await self.served.stop()
        if self.pusher is not None:
            await self.pusher.stop()
        if self._client is not None:
            await self._client.aclose()

    async def go_down(self) -> None:
        """Stop listening (connections are refused) until `come_back`."""
        self._release.set()
        await self.served.stop()

    async def come_back(self) -> None:
        self._release.clear()
        await self.served.start()


async def held_answer(
    app: ASGIApp, scope: Scope, receive: Receive
) -> tuple[Message, bytes]:
    """What ``app`` answers a request, held instead of sent: its
    ``http.response.start`` message and its whole body."""
    held: list[Message] = []

    async def hold(message: Message) -> None:
        held.append(message)

    await app(scope, receive, hold)
    return held[0], b"".join(m.get("body", b"") for m in held[1:])


async def respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    """Send a whole answer: ``headers`` and the length of ``body``, then ``body``."""
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Asgi:
    """An ASGI 3 app around a coroutine function (uvicorn takes a bound method for
    an ASGI 2 app)."""

    def __init__(self, handle: Callable[[Scope, Receive, Send], Awaitable[None]]):
        self._handle = handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._handle(scope, receive, send)
