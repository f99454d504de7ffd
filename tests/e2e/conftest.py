"""End-to-end helpers: ``umsgate`` as a real subprocess."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from tests.conftest import Store
from umsgate import config as config_module
from umsgate.store.driver import numbered

#: Timings that keep end-to-end tests short.
FAST_ENV = {
    "UMSGATE_SANDBOX_DELAY": "0.2",
    "UMSGATE_ENGINE_POLL_INTERVAL": "0.05",
    "UMSGATE_ENGINE_HEARTBEAT_INTERVAL": "0.5",
    "UMSGATE_ENGINE_NODE_TIMEOUT": "5",
    "UMSGATE_ENGINE_RETRY_BASE": "0.2",
    "UMSGATE_ENGINE_RETRY_MAX": "2",
    "UMSGATE_WEBHOOK_RETRY_INTERVAL": "0.5",
    "UMSGATE_WEBHOOK_TIMEOUT": "2",
    "UMSGATE_AUTH_CACHE_TTL": "0",
    "UMSGATE_BREAKER_COOLDOWN": "0.5",
    "UMSGATE_BREAKER_COOLDOWN_MAX": "2",
    # The tests' report and callback receivers listen on 127.0.0.1.
    "UMSGATE_WEBHOOK_ALLOW_PRIVATE_TARGETS": "1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def db_rows(store: Store, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (``?`` placeholders) on a store's database, read while or
    after it runs."""
    if store.backend == "postgres":
        # From a thread of its own: the caller may be a coroutine on this one's loop.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, _pg_rows(store, sql, args)).result()
    with contextlib.closing(sqlite3.connect(store.data_dir / "umsgate.db")) as db:
        return list(db.execute(sql, args).fetchall())


async def _pg_rows(
    store: Store, sql: str, args: Sequence[Any]
) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(
        store.url, server_settings={"search_path": store.schema}, timeout=10
    )
    try:
        return [tuple(r) for r in await conn.fetch(numbered(sql), *args)]
    finally:
        await conn.close()


def status_counts(store: Store) -> dict[str, int]:
    """Messages by status in a SQLite store."""
    return dict(db_rows(store, "select status, count(*) from messages group by status"))


def cli(store: Store, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run ``umsgate ARGS`` against ``store``; its standard output."""
    full_env = {**os.environ, **FAST_ENV, **store.env(), **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "umsgate", *args, *store.cli_args()],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def add_client(
    store: Store, client_id: str, report_url: str, tps: int = 100_000
) -> dict[str, str]:
    out = cli(
        store,
        "client",
        "add",
        "--id",
        client_id,
        "--report-url",
        report_url,
        "--tps-sms",
        str(tps),
        "--tps-mms",
        str(tps),
        "--create",
    )
    creds: dict[str, str] = orjson.loads(out)
    return creds


class Server:
    """One ``umsgate serve`` process."""

    def __init__(
        self,
        store: Store,
        port: int,
        log: Path,
        env: Mapping[str, str] | None = None,
        config: Path | None = None,
        workers: int | None = 0,
    ) -> None:
        """Args:
        workers: ``--workers``; None leaves it out (serve's default, "auto").
        """
        self.store = store
        self.config = config
        self.workers = workers
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.env = {**os.environ, **FAST_ENV, **store.env(), **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self, timeout: float = 30.0) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "umsgate",
                    "serve",
                    "--port",
                    str(self.port),
                    *self.store.cli_args(),
                    *(["--config", str(self.config)] if self.config else []),
                    *(
                        ["--workers", str(self.workers)]
                        if self.workers is not None
                        else []
                    ),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"umsgate serve exited: {self.log.read_text()[-2000:]}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    health = await http.get(self.url + "/healthz", timeout=1)
                    fronts = (
                        config_module.auto_workers()
                        if self.workers is None
                        else self.workers
                    )
                    if health.status_code == 200 and (
                        not fronts or health.json()["fronts"]["ready"] == fronts
                    ):
                        return
                await asyncio.sleep(0.1)
        raise TimeoutError("umsgate serve did not become ready")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@contextlib.asynccontextmanager
async def server(
    store: Store,
    tmp_path: Path,
    name: str = "serve",
    env: Mapping[str, str] | None = None,
    config: Path | None = None,
    workers: int | None = 0,
) -> AsyncIterator[Server]:
    """``umsgate serve`` on a free port (``config``: a TOML settings file, e.g. with
    ``[[connectors]]`` and ``[[routes]]`` pointing at simulators; ``workers``: its
    HTTP front processes)."""
    srv = Server(store, free_port(), tmp_path / f"{name}.log", env, config, workers)
    await srv.start()
    try:
        yield srv
    finally:
        srv.stop()


async def token(http: httpx.AsyncClient, url: str, creds: Mapping[str, str]) -> str:
    r = await http.post(
        url + "/v1/auth/token",
        json={
            "clientId": creds["clientId"],
            "clientSecret": creds["clientSecret"],
            "clientKey": creds["clientKey"],
        },
    )
    assert r.status_code == 200, r.text
    return str(r.json()["accessToken"])
