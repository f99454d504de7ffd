"""PostgreSQL keeps one plan of a prepared statement for every later call once it
has planned it a few times, and a plan made while a table was empty must not read
the whole table at every call once it is full."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.conftest import PG_URL, Store
from umsgate import config
from umsgate.store import messages as message_store
from umsgate.store import migrate as store_migrate
from umsgate.store.database import open_database

pytestmark = pytest.mark.postgres

EVENT_TYPES = ("bigint", "float8", "text", "text", "text")


def _group(first: int, n: int, ids: int | None = None) -> list[Any]:
    """The parameters of `message_store._PG_ACCEPT` for the srcMsgIds ``first`` …
    of one client, with the ids ``ids`` … (the same numbers by default) and an
    ACCEPTED event each."""
    rows: list[dict[str, object]] = []
    for i in range(n):
        row: dict[str, object] = dict.fromkeys(message_store.MESSAGE_COLUMNS)
        row.update(
            id=(first if ids is None else ids) + i,
            client_id="c1",
            src_msg_id=f"s{first + i}",
            kind=0,
            cmp_msg_id="",
            channel="SMS",
            status="QUEUED",
            sender="0212345678",
            receiver="01012345678",
            subject="",
            content="hello",
            charset="utf-8",
            file_ids="[]",
            extra="{}",
            content_hash="h",
            created_at=1.0,
            due_at=1.0,
            expires_at=9e9,
            attempts=0,
            carrier="",
            segments=1,
        )
        rows.append(row)
    columns = [[r[c] for r in rows] for c in message_store.MESSAGE_COLUMNS]
    events = [
        [r["id"] for r in rows],
        [1.0] * n,
        ["ACCEPTED"] * n,
        [None] * n,
        [""] * n,
    ]
    return [*columns, *events]


async def _connect(store: Store) -> asyncpg.Connection:
    """A connection to a migrated schema of ``store`` that keeps the plan of its
    prepared statements' first call (as the server does after a few calls of
    asyncpg's), and no ANALYZE meanwhile (it would make the server plan again)."""
    settings = config.load(
        env={}, overrides={"store": {"url": PG_URL, "schema": store.schema}}
    )
    db = open_database(settings)
    try:
        await store_migrate.upgrade(db)
    finally:
        await db.close()
    conn = await asyncpg.connect(PG_URL, server_settings={"search_path": store.schema})
    for table in ("messages", "events"):
        await conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = off)")
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    return conn


async def _read(
    conn: asyncpg.Connection,
    statement: asyncpg.prepared_stmt.PreparedStatement,
    table: str,
    params: list[Any],
) -> tuple[int, list[Any]]:
    """(rows of ``table`` the statement read by scans and through indexes, its
    answer), in a transaction of its own."""
    counted = (
        "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
        f"FROM pg_stat_xact_user_tables WHERE relid = '{table}'::regclass"
    )
    async with conn.transaction():
        before = await conn.fetchval(counted)
        found = await statement.fetch(*params)
        return await conn.fetchval(counted) - before, found


async def test_accept_plan_made_on_an_empty_table_reads_only_its_keys(
    pg_store: Store,
) -> None:
    conn = await _connect(pg_store)
    try:
        accept = await conn.prepare(message_store._PG_ACCEPT)
        await accept.fetch(*_group(1, 10))  # planned on an empty table
        for first in range(11, 3011, 500):
            await accept.fetch(*_group(first, 500))
        assert await conn.fetchval("SELECT count(*) FROM messages") == 3010

        async def read(params: list[Any]) -> tuple[int, list[Any]]:
            return await _read(conn, accept, "messages", params)

        # Fourteen new keys: none skipped, so none is looked up.
        reads, found = await read(_group(10_000, 14))
        assert reads == 0
        assert sorted(int(r[0]) for r in found) == list(range(10_000, 10_014))
        # Fourteen keys of which four exist: each found by the unique index, and
        # returned with the id it was stored under.
        reads, found = await read(_group(3007, 14, ids=50_000))
        assert reads <= 14
        assert sorted(int(r[0]) for r in found) == [
            *range(3007, 3011),
            *range(50_004, 50_014),
        ]
        events = await conn.fetchval(
            "SELECT count(*) FROM events WHERE message_id >= 50000"
        )
        assert events == 10
    finally:
        await conn.close()
