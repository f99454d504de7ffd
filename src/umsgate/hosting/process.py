"""The connector process: one connector, run for the gateway process over a socket
it inherited (`umsgate.hosting.wire`), started by
`umsgate.hosting.connector.HostedConnector`.

It builds the connector from the settings of the first frame and starts it with a
`ReportSink` that hands every report to the gateway and returns once the gateway
answered that it is committed, so the connector acknowledges a report to its
provider only after the commit, as in the gateway process. Submits are run as
they come, several at once, and answered by tag.

It stops on ``{"x": 1}`` or SIGTERM (the connector answers the receipts in hand
and closes its sessions), and also when the gateway's end of the socket closes:
the gateway process is gone, so nothing more can be committed; the reports not
yet committed are refused to the provider, which sends them again to the next
gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import signal
import socket
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, cast

from umsgate.clock import SystemClock
from umsgate.domain.message import Message
from umsgate.errors import ConnectorError, TransientConnectorError, UmsgateError
from umsgate.errors import GatewayGone as GatewayGone  # named here for callers
from umsgate.hosting import wire
from umsgate.protocols.registry import (
    ConnectorContext,
    Endpoint,
    NoFiles,
    NoHttp,
    build_connector,
)
from umsgate.types import Connector, Health, ProviderReport

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("umsgate.hosting")

#: Why a report the gateway process did not answer failed.
_GONE = "The gateway process is gone: the report was not committed."
#: How often the connector's health is looked at (and sent when it changed).
HEALTH_INTERVAL = 0.2
#: Longest wait for the connector to stop.
STOP_TIMEOUT = 30.0


def _no_routes(path: str, endpoint: Endpoint, methods: Sequence[str]) -> None:
    # Nor do they serve callbacks.
    raise RuntimeError(f"a connector process serves no HTTP route ({path})")


class Host:
    """The connector process's side of the socket; the connector's `ReportSink`."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._outbox = wire.Outbox(writer, on_error=self._lost)
        self._tags = itertools.count()
        self._reports: dict[int, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._gone = False
        self._stop = asyncio.Event()
        self.connector: Connector | None = None

    # -- the sink ----------------------------------------------------------------------

    async def report(self, report: ProviderReport) -> None:
        await self.report_many([report])

    async def report_many(self, reports: Sequence[ProviderReport]) -> None:
        await self.report_soon(reports)

    def report_soon(self, reports: Sequence[ProviderReport]) -> asyncio.Future[None]:
        """`QueueingSink`: the reports go in this turn's frame; the future is
        resolved when the gateway answers that they are committed."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._gone:
            fut.set_exception(GatewayGone(_GONE))
            return fut
        tag = next(self._tags)
        self._reports[tag] = fut
        fut.add_done_callback(lambda _f: self._reports.pop(tag, None))
        self._outbox.put("p", [tag, [wire.report_to_wire(r) for r in reports]])
        return fut

    # -- running -----------------------------------------------------------------------

    async def run(self, connector: Connector) -> None:
        """Start ``connector``, serve the gateway until told to stop or gone, stop
        it."""
        self.connector = connector
        await connector.start(self)
        self._outbox.put("u", 1)
        watch = asyncio.create_task(self._watch_health(connector), name="health")
        read = asyncio.create_task(self._read(), name="read")
        stop = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait([read, stop], return_when=asyncio.FIRST_COMPLETED)
            if self._tasks:
                # Submits running when the stop came: their answers go out first.
                await asyncio.wait(set(self._tasks), timeout=STOP_TIMEOUT)
            try:
                await asyncio.wait_for(connector.stop(), STOP_TIMEOUT)
            except Exception as exc:
                log.warning(
                    "%s: the connector did not stop cleanly (%s)",
                    connector.name,
                    exc,
                    extra={"event": "hosting.stop_error", "route": connector.name},
                )
        finally:
            for task in (watch, read, stop, *self._tasks):
                task.cancel()
            self._outbox.flush()
            with contextlib.suppress(Exception):
                await self._writer.drain()
            self._writer.close()

    def request_stop(self) -> None:
        self._stop.set()

    def _lost(self) -> None:
        if self._gone:
            return
        self._gone = True
        self._outbox.writer = None
        reports, self._reports = self._reports, {}
        for fut in reports.values():
            if not fut.done():
                fut.set_exception(GatewayGone(_GONE))
        self._stop.set()

    async def _watch_health(self, connector: Connector) -> None:
        last: Health | None = None
        while True:
            health = connector.health()
            if health != last:
                self._outbox.put("h", wire.health_to_wire(health))
                last = health
            await asyncio.sleep(HEALTH_INTERVAL)

    async def _read(self) -> None:
        try:
            while True:
                payload = await wire.read_to_connector(self._reader)
                self._handle(payload)
                if payload.get("x"):
                    self._stop.set()
                    return
        except asyncio.IncompleteReadError:
            if not self._stop.is_set():
                log.error(
                    "the gateway process closed its socket; stopping",
                    extra={"event": "hosting.gateway_gone"},
                )
        except (wire.FrameError, KeyError, IndexError, TypeError, ValueError) as exc:
            log.error(
                "a bad frame from the gateway process (%s); stopping",
                exc,
                extra={"event": "hosting.bad_frame"},
            )
        except ConnectionError as exc:
            log.error(
                "the gateway process's socket failed (%s); stopping",
                exc,
                extra={"event": "hosting.gateway_gone"},
            )
        self._lost()

    def _handle(self, payload: wire.ToConnector) -> None:
        for tag, messages in payload.get("s", ()):
            self._spawn(
                self._submit(tag, [wire.message_from_wire(m) for m in messages])
            )
        for tag, error in payload.get("a", ()):
            fut = self._reports.get(tag)
            if fut is None or fut.done():
                continue
            if error is None:
                fut.set_result(None)
            else:
                fut.set_exception(ConnectorError(str(error)))
        for tag, messages in payload.get("q", ()):
            self._spawn(
                self._resume(tag, [wire.message_from_wire(m) for m in messages])
            )

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _submit(self, tag: int, messages: list[Message]) -> None:
        assert self.connector is not None
        try:
            results = await self.connector.submit(messages)
        except TransientConnectorError as exc:
            self._outbox.put("r", [tag, None, str(exc)])
            return
        except Exception as exc:
            # The gateway process would have logged it; so does this one, and the
            # batch goes back as not tried.
            log.exception(
                "%s: submit failed",
                self.connector.name,
                extra={"event": "submit_error", "route": self.connector.name},
            )
            self._outbox.put("r", [tag, None, f"{type(exc).__name__}: {exc}"])
            return
        self._outbox.put("r", [tag, [wire.result_to_wire(r) for r in results]])

    async def _resume(self, tag: int, messages: list[Message]) -> None:
        assert self.connector is not None
        try:
            await self.connector.resume(messages)
        except Exception:
            log.exception(
                "%s: resume failed",
                self.connector.name,
                extra={"event": "resume_error", "route": self.connector.name},
            )
        self._outbox.put("d", tag)


async def serve(fd: int) -> int:
    """Run the connector process on the socket ``fd``; its exit status."""
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_connection(sock=sock, limit=wire.MAX_FRAME)
    try:
        hello = await wire.read_to_connector(reader)
        settings = wire.settings_from_wire(hello["c"])
    except (asyncio.IncompleteReadError, wire.FrameError, KeyError, TypeError) as exc:
        log.error(
            "no settings from the gateway process (%s)",
            exc,
            extra={"event": "hosting.bad_frame"},
        )
        writer.close()
        return 2
    host = Host(reader, writer)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, host.request_stop)
    with contextlib.suppress(ValueError, OSError):
        # A terminal's Ctrl-C is the gateway's to handle: it stops this process in
        # order, after its last submits.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    context = ConnectorContext(
        # `registry.OWN_PROCESS` holds only protocols that make no HTTP request
        # and never load files.
        http=cast("httpx.AsyncClient", NoHttp()),
        files=NoFiles(),
        add_route=_no_routes,
        public_url="",
        clock=SystemClock(),
    )
    try:
        connector = build_connector(settings, context)
    except UmsgateError as exc:
        log.error(
            "%s: the connector cannot be built: %s",
            settings.name,
            exc,
            extra={"event": "hosting.config_error", "route": settings.name},
        )
        writer.close()
        return 2
    await host.run(connector)
    return 0


def run(fd: int) -> int:
    """The connector process's main: `serve` on uvloop, after `runtime.tune_process`."""
    import uvloop

    from umsgate.runtime import tune_process

    tune_process()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(serve(fd))
