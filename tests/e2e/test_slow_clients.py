"""``umsgate serve`` cuts off slow clients on its public port, with and without
fronts: a request head trickled a byte a second is answered 408 and closed
``server.header_timeout`` after its first byte, a connection that sends nothing is
closed as long after it opened, and one address may hold only
``server.max_connections_per_client`` connections; other clients are served
meanwhile."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import Store, trickle, until_closed
from tests.e2e.conftest import server

HEADER_TIMEOUT = 1.0
#: What a deadline may be late by: the fronts' sweep (0.25 s), a loaded machine.
SLACK = 1.5
ENV = {
    "UMSGATE_SERVER_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
    "UMSGATE_SERVER_MAX_CONNECTIONS_PER_CLIENT": "20",
}
HEAD = b"POST /v1/auth/token HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\n\r\n{}"


@pytest.mark.parametrize("workers", [0, 1])
async def test_slow_clients_are_cut_off(
    sqlite_store: Store, tmp_path: Path, workers: int
) -> None:
    async with server(sqlite_store, tmp_path, env=ENV, workers=workers) as srv:
        trickling = [
            await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(5)
        ]
        silent = await asyncio.open_connection("127.0.0.1", srv.port)
        started = time.monotonic()
        senders = [asyncio.create_task(trickle(w, HEAD)) for _, w in trickling]
        try:
            # Meanwhile other requests are served.
            async with httpx.AsyncClient(base_url=srv.url, timeout=5) as http:
                assert (await http.get("/healthz")).status_code == 200
            answers = await asyncio.gather(
                *(until_closed(r, HEADER_TIMEOUT + SLACK + 1) for r, _ in trickling)
            )
            elapsed = time.monotonic() - started
            assert await until_closed(silent[0], SLACK) == b""
        finally:
            for task in senders:
                task.cancel()
            for _, writer in [*trickling, silent]:
                writer.close()
        for answer in answers:
            assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert elapsed < HEADER_TIMEOUT + SLACK


@pytest.mark.parametrize("workers", [0, 1])
async def test_connections_per_address_are_capped(
    sqlite_store: Store, tmp_path: Path, workers: int
) -> None:
    env = {**ENV, "UMSGATE_SERVER_MAX_CONNECTIONS_PER_CLIENT": "3"}
    async with server(sqlite_store, tmp_path, env=env, workers=workers) as srv:
        await asyncio.sleep(0.5)  # the readiness probe's connection is gone
        held = [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(3)]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            assert await until_closed(reader, 2.0) == b""
            writer.close()
        finally:
            for _, w in held:
                w.close()
