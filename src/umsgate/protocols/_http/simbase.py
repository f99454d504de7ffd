"""What the HTTP simulators share: serve their app, go down and come back on the same
port, release requests held by a stall fault on the way down, and (for providers that
call back) run a `Pusher` with its own HTTP client."""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import ASGIApp

from umsgate.protocols._http.pusher import Pusher, PushPolicy
from umsgate.protocols._http.server import Served


class SimulatorBase:
    """Lifecycle of one simulator.

    Args:
        app: its Starlette app.
        host, port: where to listen (port 0: a free one, kept across restarts).
        push: how callbacks are pushed; None for a provider without callbacks.
    """

    def __init__(
        self, app: ASGIApp, *, host: str, port: int, push: PushPolicy | None = None
    ) -> None:
        self.app = app
        self.served = Served(app, host=host, port=port)
        #: Set while down or closing: stalled requests wait on it.
        self._release = asyncio.Event()
        self._push_policy = push
        self._client: httpx.AsyncClient | None = None
        self.pusher: Pusher | None = None

    @property
    def port(self) -> int:
        return self.served.port

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
