"""Shared fixtures: stores (SQLite per test, PostgreSQL schema per test), a gateway
served on a loopback port, and a webhook receiver.

PostgreSQL tests run against ``UMSGATE_TEST_PG`` (default the local server,
``postgresql://postgres@127.0.0.1:5432/test``); each test gets its own schema, dropped
afterwards. When the server cannot be reached they are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import secrets
import threading
from collections.abc import (
    AsyncIterator,
    Callable,
    Iterator,
    Mapping,
)
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import hypothesis
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from umsgate import clients, config
from umsgate.app import Gateway, create_app
from umsgate.testing import running_asgi
from umsgate.types import Connector

PG_URL = os.environ.get("UMSGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
#: A longer fuzz campaign: this many examples in every property and schema test
#: that asks `examples` (docs/testing.md); unset, each keeps its own small number.
FUZZ_EXAMPLES = int(os.environ.get("UMSGATE_FUZZ_EXAMPLES", "0") or 0)


def examples(default: int) -> int:
    """``max_examples`` for a fuzz test: ``default``, or ``UMSGATE_FUZZ_EXAMPLES``."""
    return FUZZ_EXAMPLES or default


def fuzz_settings(default: int) -> hypothesis.settings:
    """Settings of a property test over hostile input: ``default`` examples (or the
    campaign's), no deadline (a shared machine is slow at times), and, in the suite,
    the same examples on every run with no example database (CI repeats itself); a
    campaign draws new ones each time."""
    return hypothesis.settings(
        max_examples=examples(default),
        deadline=None,
        derandomize=not FUZZ_EXAMPLES,
        database=None,
        suppress_health_check=[
            hypothesis.HealthCheck.too_slow,
            hypothesis.HealthCheck.data_too_large,
        ],
    )


def _pg_available() -> str | None:
    async def probe() -> None:
        conn = await asyncpg.connect(PG_URL, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"PostgreSQL at {PG_URL} is not reachable: {exc}"
    return None


_PG_SKIP: str | bool | None = False


def pg_skip_reason() -> str | None:
    global _PG_SKIP
    if _PG_SKIP is False:
        _PG_SKIP = _pg_available()
    return _PG_SKIP  # type: ignore[return-value]


@dataclasses.dataclass
class Store:
    """Where a test's gateway keeps its data."""

    backend: str
    data_dir: Path
    url: str = ""
    schema: str = ""

    def overrides(self) -> dict[str, Any]:
        return {"data_dir": str(self.data_dir), "url": self.url, "schema": self.schema}

    def cli_args(self) -> list[str]:
        if self.backend == "sqlite":
            return ["--data-dir", str(self.data_dir)]
        return ["--db", self.url]

    def env(self) -> dict[str, str]:
        return {"UMSGATE_STORE_SCHEMA": self.schema} if self.schema else {}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store: an SQLite directory, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield Store(backend="sqlite", data_dir=tmp_path / "data")
        return
    reason = pg_skip_reason()
    if reason:
        pytest.skip(reason)
    schema = "t_" + secrets.token_hex(6)
    yield Store(
        backend="postgres", data_dir=tmp_path / "data", url=PG_URL, schema=schema
    )

    async def drop() -> None:
        conn = await asyncpg.connect(PG_URL, timeout=10)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(drop())


@pytest.fixture
def pg_store(tmp_path: Path) -> Iterator[Store]:
    """A PostgreSQL schema of its own."""
    reason = pg_skip_reason()
    if reason:
        pytest.skip(reason)
    schema = "t_" + secrets.token_hex(6)
    yield Store(
        backend="postgres", data_dir=tmp_path / "data", url=PG_URL, schema=schema
    )
    asyncio.run(_drop_schema(schema))


async def _drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(PG_URL, timeout=10)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Store:
    return Store(backend="sqlite", data_dir=tmp_path / "data")


def make_settings(store: Store, **sections: dict[str, Any]) -> config.Settings:
    """Settings for a test gateway: fast timings, the given store, then ``sections``."""
    overrides: dict[str, dict[str, Any]] = {
        "store": store.overrides(),
        "engine": {
            "poll_interval": 0.05,
            "heartbeat_interval": 0.5,
            "node_timeout": 5.0,
            "retry_base": 0.2,
            "retry_max": 2.0,
        },
        "auth": {"cache_ttl": 0.0},
        "sandbox": {"delay": 0.05},
        # The receivers of the tests listen on 127.0.0.1.
        "webhook": {
            "retry_interval": 0.2,
            "timeout": 5.0,
            "allow_private_targets": True,
        },
        "report_check": {"interval": 30.0},
        "breaker": {"cooldown": 0.2, "cooldown_max": 1.0},
    }
    for name, values in sections.items():
        overrides.setdefault(name, {}).update(values)
    return config.load(None, env={}, overrides=overrides)


@dataclasses.dataclass
class Running:
    url: str
    gateway: Gateway
    http: httpx.AsyncClient


@contextlib.asynccontextmanager
async def running_gateway(
    settings: config.Settings, connectors: Mapping[str, Connector] | None = None
) -> AsyncIterator[Running]:
    app = create_app(settings, connectors=connectors)
    async with (
        running_asgi(app) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        yield Running(url=url, gateway=app.gateway, http=http)


@dataclasses.dataclass
class Account:
    client_id: str
    secret: str
    key: str
    token: str = ""

    def headers(self, **extra: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "originCode": "123456789",
            "billCode": "12345",
            **extra,
        }

    def rcs_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "agencyId": "standard",
            "agencyKey": "agencyKey",
            "billCode": "12345",
        }


async def new_account(
    running: Running,
    client_id: str = "acme",
    *,
    report_url: str = "",
    tps: dict[str, int] | None = None,
) -> Account:
    creds = await clients.add_client(
        running.gateway.db,
        client_id,
        tps=tps or {"SMS": 1000, "MMS": 1000},
        report_url=report_url,
    )
    acct = Account(
        client_id=creds.client_id, secret=creds.client_secret, key=creds.client_key
    )
    acct.token = await get_token(running.http, acct)
    return acct


async def get_token(http: httpx.AsyncClient, acct: Account) -> str:
    r = await http.post(
        "/v1/auth/token",
        json={
            "clientId": acct.client_id,
            "clientSecret": acct.secret,
            "clientKey": acct.key,
        },
    )
    assert r.status_code == 200, r.text
    token: str = r.json()["accessToken"]
    return token


class Receiver:
    """A client's webhook endpoint: records every POST; answers ``OK`` unless told to
    fail the first ``fail_first`` requests (answering ``status``/``body`` instead)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.reports: list[dict[str, Any]] = []
        self.fail_first = 0
        self.fail_status = 500
        self.fail_body = b"NO"
        self.changed = asyncio.Event()
        self.url = ""

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        self.requests.append((dict(request.headers), body))
        self.changed.set()
        if len(self.requests) <= self.fail_first:
            return Response(self.fail_body, status_code=self.fail_status)
        doc = orjson.loads(body)
        self.reports.extend(doc if isinstance(doc, list) else [doc])
        return PlainTextResponse("OK")

    def by_id(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for rep in self.reports:
            out.setdefault(rep["umsMsgId"], []).append(rep)
        return out

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/{path:path}", self.endpoint, methods=["POST"])]
        )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    async with running_asgi(rec.app()) as url:
        rec.url = url
        yield rec


def sms_body(src: str, **fields: Any) -> dict[str, Any]:
    body = {
        "srcMsgId": src,
        "callback": "01059120601",
        "receiver": "01012345678",
        "content": "hello",
    }
    body.update(fields)
    return body


T = TypeVar("T")


@contextlib.contextmanager
def served_in_thread(
    serve: Callable[[], contextlib.AbstractAsyncContextManager[T]],
) -> Iterator[T]:
    """What ``serve()`` yields, kept open in a thread with its own event loop until
    the block ends: for synchronous clients (schemathesis, hypothesis tests that make
    blocking HTTP calls) of a gateway. Only plain values (URLs, tokens) should cross
    to the calling thread."""
    ready = threading.Event()
    out: dict[str, Any] = {}
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        async with serve() as value:
            out["value"] = value
            ready.set()
            await stop.wait()

    def run() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # raised in the calling thread below
            out["error"] = exc
            ready.set()

    thread = threading.Thread(target=run, name="served", daemon=True)
    thread.start()
    if not ready.wait(60):
        raise TimeoutError("the server did not start within 60 s")
    try:
        if "error" in out:
            raise out["error"]
        yield out["value"]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()
    if "error" in out:
        raise out["error"]


async def until_closed(reader: asyncio.StreamReader, within: float) -> bytes:
    """Everything the server sent until it closed the connection (a reset
    counts as a close)."""
    data = b""
    async with asyncio.timeout(within):
        while True:
            try:
                chunk = await reader.read(65536)
            except ConnectionResetError:
                return data
            if not chunk:
                return data
            data += chunk


async def trickle(writer: asyncio.StreamWriter, data: bytes) -> None:
    """``data`` a byte a second, until the server closes."""
    for byte in data:
        writer.write(bytes([byte]))
        try:
            await writer.drain()
        except ConnectionError:
            return
        await asyncio.sleep(1.0)


async def status_counts(gateway: Gateway) -> dict[str, int]:
    """How many of the gateway's messages are in each status."""
    rows = await gateway.db.driver.fetch(
        "SELECT status, count(*) FROM messages GROUP BY status"
    )
    return {str(status): int(n or 0) for status, n in rows}


async def webhook_states(gateway: Gateway) -> dict[str, int]:
    """How many of the gateway's reports are in each webhook state."""
    rows = await gateway.db.driver.fetch(
        "SELECT webhook_state, count(*) FROM reports GROUP BY webhook_state"
    )
    return {str(state): int(n or 0) for state, n in rows}
