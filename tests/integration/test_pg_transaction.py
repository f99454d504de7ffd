"""The hot path's transactions on PostgreSQL (`umsgate.store.transactions`): the
writes over batches wait and go together before the transaction's next read and
before its COMMIT, a failed one undoes the whole transaction, and a batch joined
to a table is planned with the table's size of the moment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import asyncpg
import pytest

from tests.conftest import PG_URL, Store
from umsgate import config
from umsgate.domain.transitions import MessageState
from umsgate.store import messages as message_store
from umsgate.store import migrate as store_migrate
from umsgate.store.database import Database, open_database
from umsgate.store.transactions import transaction

pytestmark = pytest.mark.postgres


@pytest.fixture
async def db(pg_store: Store) -> AsyncIterator[Database]:
    settings = config.load(
        env={}, overrides={"store": {"url": PG_URL, "schema": pg_store.schema}}
    )
    database = open_database(settings)
    await store_migrate.upgrade(database)
    try:
        yield database
    finally:
        await database.close()


async def _insert(db: Database, ids: range) -> None:
    async with transaction(db) as tx:
        await tx.executemany(
            "INSERT INTO messages (id, client_id, src_msg_id, channel, status, "
            "sender, receiver, content, charset, content_hash, created_at, "
            "due_at, expires_at) VALUES (?, 'c', ?, 'SMS', 'SENT', '0212345678', "
            "'01012345678', 'hi', 'utf-8', 'h', 1.0, 1.0, 9e9)",
            [(i, f"s{i}") for i in ids],
        )


async def _finish(db: Database, ids: list[int], status: str) -> None:
    """In one transaction: ``ids`` become ``status`` with an event each, and a read
    of the transaction sees both."""
    async with transaction(db) as tx:
        rows = await message_store.lock_messages(tx, ids)
        before = {m: message_store.mutable_values(r) for m, r in rows.items()}
        for row in rows.values():
            row["status"] = status
        await message_store.update_messages(tx, list(rows.values()), before)
        await message_store.insert_events(tx, [(m, 2.0, status, None, "") for m in ids])
        seen = await tx.fetch(
            "SELECT count(*) FROM messages m JOIN events e ON e.message_id = m.id "
            "WHERE m.status = ? AND e.status = ?",
            [status, status],
        )
        assert seen[0][0] >= len(ids)


async def _count(db: Database, sql: str) -> int:
    async with transaction(db) as tx:
        return int((await tx.fetch(sql))[0][0])


async def test_batch_writes_are_read_back_in_the_transaction_and_committed(
    db: Database,
) -> None:
    await _insert(db, range(1, 11))
    await _finish(db, [1, 2, 3], "DELIVERED")
    await _finish(db, [4, 5], "FAILED")
    assert await _count(db, "SELECT count(*) FROM messages WHERE status = 'SENT'") == 5
    assert await _count(db, "SELECT count(*) FROM events") == 5
    assert (
        await _count(db, "SELECT count(*) FROM messages WHERE status = 'DELIVERED'")
        == 3
    )


async def test_a_failed_batch_write_undoes_its_transaction(db: Database) -> None:
    await _insert(db, range(1, 4))
    with pytest.raises(asyncpg.NotNullViolationError):
        async with transaction(db) as tx:
            await tx.executemany(
                "UPDATE messages SET status = 'FAILED' WHERE id = ?", [(1,), (2,)]
            )
            await message_store.insert_events(tx, [(1, 2.0, "FAILED", None, "")])
            # No status: refused by the schema, when the writes go at the COMMIT.
            await message_store.insert_events(tx, [(2, 2.0, cast(str, None), None, "")])
    assert await _count(db, "SELECT count(*) FROM messages WHERE status = 'SENT'") == 3
    assert await _count(db, "SELECT count(*) FROM events") == 0


async def test_a_batch_update_reads_only_its_rows_after_the_table_grew(
    db: Database,
) -> None:
    # Planned many times while the table is empty: the server would keep a plan
    # made then for every later call of a prepared statement. (At a few thousand
    # rows a scan of the table is what the server rightly finds cheapest.)
    ghosts = [
        cast(MessageState, {**dict.fromkeys(message_store.MUTABLE), "id": 10**9 + i})
        for i in range(20)
    ]
    for _ in range(12):
        async with transaction(db) as tx:
            await message_store.update_messages(tx, ghosts, {})
    await _insert(db, range(1, 30_001))
    ids = list(range(1000, 1014))
    counted = (
        "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
        "FROM pg_stat_xact_user_tables WHERE relid = 'messages'::regclass"
    )
    async with transaction(db) as tx:
        # Planned at each call, whatever the server did before.
        assert await tx.fetch("SHOW plan_cache_mode") == [("force_custom_plan",)]
        rows = await message_store.lock_messages(tx, ids)
        before = {m: message_store.mutable_values(r) for m, r in rows.items()}
        for row in rows.values():
            row["status"] = "DELIVERED"
        read_before: Any = (await tx.fetch(counted))[0][0]
        await message_store.update_messages(tx, list(rows.values()), before)
        read_after: Any = (await tx.fetch(counted))[0][0]
    assert read_after - read_before <= 2 * len(ids)
    assert (
        await _count(db, "SELECT count(*) FROM messages WHERE status = 'DELIVERED'")
        == 14
    )


async def test_a_lookup_is_one_prepared_statement_whatever_its_count(
    db: Database,
) -> None:
    # asyncpg prepares each new statement text in a round trip of its own: the
    # lookups of the hot path keep one text for any count of values.
    await _insert(db, range(1, 41))
    async with transaction(db) as tx:
        await tx.executemany(
            "UPDATE messages SET connector = 'smsc', provider_msg_id = ? WHERE id = ?",
            [(f"p{i}", i) for i in range(1, 41)],
        )
        await tx.executemany(
            "INSERT INTO message_parts (connector, provider_msg_id, message_id, "
            "part) VALUES ('smsc', ?, ?, 1)",
            [(f"q{i}", i) for i in range(1, 41)],
        )
    async with transaction(db) as tx:
        for n in range(1, 9):
            ids = list(range(1, n + 1))
            assert sorted(await message_store.lock_messages(tx, ids)) == ids
            found = await message_store.ids_by_provider(
                tx, [("smsc", f"p{i}") for i in ids] + [("smsc", f"q{n}")]
            )
            assert found[("smsc", f"p{n}")] == (n, None)
            assert found[("smsc", f"q{n}")] == (n, 1)
            assert sorted(await message_store.parts_of(tx, ids)) == ids
            keys = await message_store.message_keys(tx, [("c", f"s{i}") for i in ids])
            assert keys[("c", f"s{n}")].id == n
        prepared = await tx.fetch(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE ? "
            "OR statement LIKE ?",
            ["%FROM messages WHERE%", "%FROM message_parts WHERE%"],
        )
    texts = [str(r[0]) for r in prepared]
    # The lookups of messages by id, by provider id and by key, of parts by
    # provider id and by message: five texts (forty with an IN list each count).
    assert len(texts) == 5, texts
