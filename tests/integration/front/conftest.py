"""A front in this process on a real loopback port, in front of a real gateway: its
intake socket (`IntakeServer`) and its HTTP server on a Unix socket (uvicorn), as
``umsgate serve --workers`` wires them, with deadlines short enough to wait for."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from starlette.types import ASGIApp

from tests.conftest import Account, Running, Store, make_settings, new_account
from umsgate.app import create_app
from umsgate.front.app import Front, listening_socket
from umsgate.front.listener import Listener
from umsgate.front.server import IntakeServer
from umsgate.runtime import Limits
from umsgate.testing import running_asgi

#: Deadlines of the fronts under test (seconds): short, so that tests can wait them.
FAST_SERVER = {
    "header_timeout": 1.0,
    "body_timeout": 1.0,
    "keepalive_timeout": 1.0,
}


class UnixServer:
    """An ASGI app served by uvicorn on a Unix socket (no lifespan)."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        config = uvicorn.Config(
            app, uds=path, lifespan="off", log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        async with asyncio.timeout(10):
            while not self._server.started:  # uvicorn says it is up by a flag only
                if self._task.done():
                    self._task.result()
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop listening and close the connections (returns once done)."""
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self._task, 10)
        self._task = None


@contextlib.asynccontextmanager
async def serving_unix(app: ASGIApp, path: str) -> AsyncIterator[UnixServer]:
    server = UnixServer(app, path)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@dataclasses.dataclass
class FrontRun:
    host: str
    port: int
    running: Running
    front: Front
    listener: Listener
    account: Account
    #: The gateway's HTTP server on its Unix socket (what the front passes on to).
    gateway_http: UnixServer
    #: The gateway's end of the intake socket (what the front's sends reach).
    intake: IntakeServer

    async def stop_gateway_http(self) -> None:
        await self.gateway_http.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)


@contextlib.asynccontextmanager
async def running_front(
    store: Store,
    tmp_path: Path,
    *,
    server: Mapping[str, Any] | None = None,
    auth: Mapping[str, Any] | None = None,
    gateway_http: ASGIApp | None = None,
) -> AsyncIterator[FrontRun]:
    """A gateway, and a front in front of it on 127.0.0.1 (``server``: the
    ``[server]`` settings over `FAST_SERVER`; ``gateway_http``: another app to pass
    on to instead of the gateway's)."""
    settings = make_settings(
        store,
        server={**FAST_SERVER, **(server or {})},
        auth={"cache_ttl": 60.0, **(auth or {})},
    )
    app = create_app(settings)
    gateway = app.gateway
    intake_path = str(tmp_path / "intake.sock")
    http_path = str(tmp_path / "gateway.sock")
    async with (
        running_asgi(app) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
        serving_unix(gateway_http or app, http_path) as unix_server,
    ):
        running = Running(url=url, gateway=gateway, http=http)
        account = await new_account(running)
        intake = IntakeServer(gateway.intake, on_counts=gateway.metrics.add_counts)
        await intake.start(intake_path)
        front = Front(settings, intake=intake_path, gateway_http=http_path)
        await front.start()
        listener = Listener(front, Limits.of(settings.server))
        sock = listening_socket("127.0.0.1", 0)
        await listener.start(sock)
        try:
            yield FrontRun(
                host="127.0.0.1",
                port=sock.getsockname()[1],
                running=running,
                front=front,
                listener=listener,
                account=account,
                gateway_http=unix_server,
                intake=intake,
            )
        finally:
            await listener.stop(grace=5)
            await front.stop()
            await intake.stop()


def send_request(
    account: Account,
    body: bytes,
    *,
    channel: str = "sms",
    extra: str = "",
    version: str = "1.1",
) -> bytes:
    """A native send as a client writes it (``extra``: more header lines)."""
    return (
        f"POST /v1/message/{channel} HTTP/{version}\r\n"
        "Host: front\r\n"
        "Content-Type: application/json\r\n"
        f"Authorization: Bearer {account.token}\r\n"
        "originCode: 123456789\r\n"
        "billCode: 12345\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"{extra}\r\n"
    ).encode() + body


def sms(src: str, **fields: Any) -> bytes:
    return orjson.dumps(
        {
            "srcMsgId": src,
            "callback": "0212345678",
            "receiver": "01012345678",
            "content": "안녕하세요",
            **fields,
        }
    )


@dataclasses.dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


async def read_answer(
    reader: asyncio.StreamReader, *, head: bool = False, timeout: float = 10.0
) -> Answer:
    """One answer: framed by Content-Length, chunked, or the connection's close."""
    async with asyncio.timeout(timeout):
        line = await reader.readuntil(b"\r\n")
        status = int(line.split(b" ", 2)[1])
        headers: dict[str, str] = {}
        while True:
            line = await reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if head or status < 200 or status in (204, 304):
            return Answer(status, headers, b"")
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = await reader.read()
        return Answer(status, headers, body)


async def closed_within(reader: asyncio.StreamReader, timeout: float) -> float:
    """Seconds until the peer closes (reading and dropping what it sends)."""
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        with contextlib.suppress(ConnectionResetError):
            while await reader.read(65536):
                pass
    return time.monotonic() - started
