"""The SQLite hot path's connection: it waits for a write lock another connection
holds (off the loop, which keeps serving), and never leaves a transaction open."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from umsgate import config
from umsgate.store import fast
from umsgate.store import migrate as store_migrate
from umsgate.store.database import open_database


async def test_begin_waits_for_another_connections_write_lock(tmp_path: Path) -> None:
    db = open_database(config.load(env={"UMSGATE_STORE_DATA_DIR": str(tmp_path)}))
    try:
        await store_migrate.upgrade(db)
        other = sqlite3.connect(tmp_path / "umsgate.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        loop = asyncio.get_running_loop()
        loop.call_later(0.5, other.execute, "COMMIT")
        started = time.monotonic()
        async with fast.transaction(db) as raw:
            rows = await raw.fetch("SELECT count(*) FROM messages")
        waited = time.monotonic() - started
        ticker.cancel()
        assert rows == [(0,)]
        assert waited >= 0.45  # it did wait for the lock …
        assert ticks >= 20  # … and the loop went on meanwhile
        other.close()
    finally:
        await db.close()


async def test_a_failed_statement_rolls_back(tmp_path: Path) -> None:
    db = open_database(config.load(env={"UMSGATE_STORE_DATA_DIR": str(tmp_path)}))
    try:
        await store_migrate.upgrade(db)
        with pytest.raises(sqlite3.OperationalError):
            async with fast.transaction(db) as raw:
                await raw.executemany(
                    "INSERT INTO nodes_missing_table VALUES (?)", [(1,)]
                )
        async with db.sqlite_writer() as writer:
            assert not writer.conn.in_transaction
        async with fast.transaction(db) as raw:  # the lock was given back
            assert await raw.fetch("SELECT 1") == [(1,)]
    finally:
        await db.close()


async def test_the_wal_is_checkpointed_while_writing(tmp_path: Path) -> None:
    # The writer's automatic checkpoint is off; its own checkpoints must still move
    # the WAL's pages into the database file as it writes.
    db = open_database(config.load(env={"UMSGATE_STORE_DATA_DIR": str(tmp_path)}))
    main_file = tmp_path / "umsgate.db"
    try:
        await store_migrate.upgrade(db)
        async with fast.transaction(db) as raw:
            await raw.executemany("CREATE TABLE pad (x TEXT)", [()])
        await asyncio.sleep(0.1)
        before = main_file.stat().st_size
        deadline = time.monotonic() + 10
        while main_file.stat().st_size <= before + 100_000:
            assert time.monotonic() < deadline, "nothing was checkpointed"
            async with fast.transaction(db) as raw:
                await raw.executemany(
                    "INSERT INTO pad VALUES (?)", [("x" * 1000,)] * 50
                )
            await asyncio.sleep(0.01)
    finally:
        await db.close()
    # Closing leaves the WAL empty.
    wal = tmp_path / "umsgate.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
