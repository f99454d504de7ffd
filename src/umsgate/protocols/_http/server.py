"""The HTTP side of a simulator: a server that can go down and come back on the same
port, and the foreground loop behind ``umsgate sim <protocol>``.

`Served` runs uvicorn inside the caller's event loop on a socket it binds itself, so
the port is known before the first request (port 0 picks a free one) and stays the
same across `Served.stop` / `Served.start`: a test can take the provider down, see
connections refused, and bring it back where the connector expects it. Its
connections have the gateway's deadlines and cap per address (`umsgate.deadlines`,
the ``[server]`` defaults unless told otherwise): a simulator left listening on a
network is no easier to hold open than the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import socket
import time
from collections.abc import Iterator
from typing import Protocol

import uvicorn
from starlette.types import ASGIApp

from umsgate import deadlines
from umsgate.config import ServerSettings
from umsgate.deadlines import Limits

#: How long `Served.start` waits for uvicorn to come up.
STARTUP_TIMEOUT = 10.0
#: How long a stopping server lets running requests finish before cancelling them.
GRACEFUL_SHUTDOWN = 1.0


class _Server(uvicorn.Server):
    # The simulator's owner (a test, or `run_foreground`) decides about signals;
    # uvicorn must not take SIGINT/SIGTERM over while it runs inside that loop.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Served:
    """One ASGI app served on ``host:port`` in the running event loop.

    Args:
        app: the Starlette app.
        host: address to listen on.
        port: port to listen on; 0 picks a free one, kept across restarts.
        limits: deadlines and the cap per client address (`umsgate.deadlines`);
            the ``[server]`` settings' defaults when None.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: Limits | None = None,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.limits = limits or Limits.of(ServerSettings())
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        """Listen (again) and return once requests are served.

        Raises:
            OSError: the address cannot be bound.
            RuntimeError: uvicorn stopped or did not start in time.
        """
        if self._server is not None:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=int(GRACEFUL_SHUTDOWN),
            http=deadlines.guarded(self.limits),
            timeout_keep_alive=max(1, math.ceil(self.limits.keepalive_timeout)),
        )
        server = _Server(config)
        task = asyncio.create_task(
            server.serve(sockets=[sock]), name=f"serve {self.address}"
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if task.done():
                sock.close()
                task.result()
                raise RuntimeError(
                    f"server on {self.address} stopped before it started"
                )
            if time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise RuntimeError(f"server on {self.address} did not start")
            await asyncio.sleep(0.005)
        self._server, self._task, self._sock = server, task, sock

    async def stop(self) -> None:
        """Stop listening and close every connection; the port is kept for `start`."""
        server, task, sock = self._server, self._task, self._sock
        self._server = self._task = self._sock = None
        if server is None or task is None:
            return
        server.should_exit = True
        try:
            await asyncio.wait_for(task, timeout=GRACEFUL_SHUTDOWN + 5.0)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            if sock is not None:
                sock.close()


class Runnable(Protocol):
    async def start(self) -> None: ...

    def listening(self) -> str:
        """``name=host:port`` for every address served, space-separated."""
        ...

    async def close(self) -> None: ...


def run_foreground(simulator: Runnable) -> None:
    """Run ``simulator`` until SIGINT or SIGTERM, printing ``listening ...`` (flushed)
    as soon as it serves."""
    asyncio.run(_foreground(simulator))


async def _foreground(simulator: Runnable) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        await simulator.start()
        print(f"listening {simulator.listening()}", flush=True)
        await stop.wait()
    finally:
        await simulator.close()
        for sig in signals:
            loop.remove_signal_handler(sig)
