"""Helpers for tests, ours and users': serve an ASGI app on a loopback port, wait for a
condition without sleeping blind, and stand in for the gateway around a connector
(`connector_gateway`: a recording report sink, in-memory files, and a served app
that carries the routes a connector adds for its provider's callbacks).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from umsgate.clock import SystemClock as SystemClock  # for tests' imports
from umsgate.protocols.registry import ConnectorContext, Endpoint
from umsgate.types import ProviderReport

#: How long `running_asgi` waits for the server to come up.
STARTUP_TIMEOUT = 10.0


@contextlib.asynccontextmanager
async def running_asgi(app: ASGIApp, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on ``host`` and a free port, in this event loop.

    Yields the base URL (``http://127.0.0.1:PORT``); stops the server on exit.
    """
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so,
    # and without it every answer waits for the client's delayed ACK (40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped before it started")
            if time.monotonic() > deadline:
                raise TimeoutError("server did not start")
            await asyncio.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        sock.close()


async def wait_for(
    condition: Callable[[], bool | Awaitable[bool]],
    *,
    timeout: float = 10.0,
    interval: float = 0.02,
    what: str = "condition",
) -> None:
    """Poll ``condition`` until it is true; raise TimeoutError naming ``what`` after
    ``timeout`` seconds. For conditions that have no event to wait on (a row in a
    database, a count in another process)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


class RecordingSink:
    """A `umsgate.types.ReportSink` that keeps every report in memory."""

    def __init__(self) -> None:
        self.reports: list[ProviderReport] = []
        self._changed = asyncio.Condition()

    async def report(self, report: ProviderReport) -> None:
        await self.report_many([report])

    async def report_many(self, reports: Sequence[ProviderReport]) -> None:
        async with self._changed:
            self.reports.extend(reports)
            self._changed.notify_all()

    async def wait_for_count(self, count: int, *, within: float = 10.0) -> None:
        """Wait until at least ``count`` reports arrived.

        Raises:
            TimeoutError: naming how many came, after ``within`` seconds.
        """
        try:
            async with asyncio.timeout(within), self._changed:
                await self._changed.wait_for(lambda: len(self.reports) >= count)
        except TimeoutError:
            raise TimeoutError(
                f"{len(self.reports)} of {count} reports after {within} s"
            ) from None

    def by_message(self) -> dict[int | str | None, list[ProviderReport]]:
        """Reports grouped by message id (or provider id when the id is unknown)."""
        grouped: dict[int | str | None, list[ProviderReport]] = {}
        for report in self.reports:
            key = (
                report.message_id
                if report.message_id is not None
                else (report.provider_msg_id)
            )
            grouped.setdefault(key, []).append(report)
        return grouped


class MemoryFiles:
    """A `umsgate.protocols.registry.FileSource` over a dict of id → (name, bytes)."""

    def __init__(self, files: Mapping[str, tuple[str, bytes]] | None = None) -> None:
        self.files = dict(files or {})

    async def load(self, file_id: str) -> tuple[str, bytes]:
        try:
            return self.files[file_id]
        except KeyError:
            raise KeyError(f"no file {file_id!r}") from None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorGateway:
    """What `connector_gateway` yields."""

    context: ConnectorContext
    sink: RecordingSink
    files: MemoryFiles
    app: Starlette
    #: Base URL of the served app (the context's ``public_url``).
    url: str


@contextlib.asynccontextmanager
async def connector_gateway(
    files: Mapping[str, tuple[str, bytes]] | None = None,
) -> AsyncIterator[ConnectorGateway]:
    """Stand in for the gateway around a connector under test: a Starlette app served
    on a loopback port receives the routes the connector adds (provider callbacks),
    its URL is the context's ``public_url``, reports go to a `RecordingSink`."""
    app = Starlette()

    def add_route(path: str, endpoint: Endpoint, methods: Sequence[str]) -> None:
        app.add_route(path, endpoint, methods=list(methods))

    memory = MemoryFiles(files)
    async with running_asgi(app) as url, httpx.AsyncClient() as http:
        context = ConnectorContext(
            http=http,
            files=memory,
            add_route=add_route,
            public_url=url,
            clock=SystemClock(),
        )
        yield ConnectorGateway(
            context=context, sink=RecordingSink(), files=memory, app=app, url=url
        )
