"""Every query of the console's pages reads an index range, also when SQLite's
planner believes the tables hold a million messages (the statistics of the store
`bench/console_store.py` fills), and never walks a whole table."""

from __future__ import annotations

import contextlib
import time
import types
from collections.abc import AsyncIterator, Sequence

from sqlalchemy import insert

from tests.conftest import Store, make_settings
from tests.integration.lookup.test_store_lookup import _row
from umsgate.console import data
from umsgate.store import migrate
from umsgate.store.database import open_database
from umsgate.store.driver import Driver, Row, Tx, Value
from umsgate.store.tables import messages

#: sqlite_stat1 of the bench's million-message store, after ANALYZE.
MILLION = [
    ("reports", "ix_reports_webhook_state_next_at", "420045 140015 1"),
    ("reports", "ix_reports_client_id_ums_msg_id", "420045 21003 1"),
    ("messages", "ix_messages_done_at", "999988 1"),
    ("messages", "ix_messages_created_at", "1000000 1"),
    ("messages", "ix_messages_status_due_at", "1000000 200000 1"),
    ("messages", "sqlite_autoindex_messages_1", "1000000 25000 1 1"),
    ("events", "ix_events_message_id", "3000000 3"),
]


#: The tables the console reads (a SCAN of anything else walks a subquery's rows).
TABLES = {"messages", "reports", "events", "clients"}
Seen = list[tuple[str, tuple[Value, ...]]]


class _RecordingTx(Tx):
    __slots__ = ("_seen", "_tx")

    def __init__(self, tx: Tx, seen: Seen) -> None:
        self._tx = tx
        self._seen = seen

    async def fetch(self, sql: str, params: Sequence[Value] = ()) -> list[Row]:
        self._seen.append((sql, tuple(params)))
        return await self._tx.fetch(sql, params)

    async def execute(self, sql: str, params: Sequence[Value] = ()) -> int:
        return await self._tx.execute(sql, params)


class RecordingDriver:
    """A driver that notes every query it runs (on its own or in a transaction)."""

    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self.seen: Seen = []

    @property
    def driver(self) -> RecordingDriver:
        return self

    async def fetch(self, sql: str, params: Sequence[Value] = ()) -> list[Row]:
        self.seen.append((sql, tuple(params)))
        return await self._driver.fetch(sql, params)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self._driver.transaction() as tx:
            yield _RecordingTx(tx, self.seen)

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Tx]:
        async with self._driver.snapshot() as snap:
            yield _RecordingTx(snap, self.seen)

    async def close(self) -> None:
        await self._driver.close()


async def test_console_queries_use_indexes(sqlite_store: Store) -> None:
    db = open_database(make_settings(sqlite_store))
    try:
        await migrate.upgrade(db)
        async with db.transaction() as conn:
            await conn.exec_driver_sql("ANALYZE")
            await conn.exec_driver_sql("DELETE FROM sqlite_stat1")
            for row in MILLION:
                await conn.exec_driver_sql(
                    "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", row
                )
            # A message and its fallback: the story reads events, reports and
            # fallbacks only for a message that exists.
            parent = _row(10**17 + 1, "acme", "a-1", "+821012345678", "FAILED")
            child = _row(10**17 + 2, "acme", "a-1", "+821012345678", "SENT")
            child.update(kind=1, parent_id=10**17 + 1, channel="LMS")
            for row in (parent, child):
                await conn.execute(insert(messages).values(row))
        await db.close()
        db = open_database(make_settings(sqlite_store))  # reads the statistics
        recording = RecordingDriver(db.driver)
        gw = types.SimpleNamespace(db=recording)
        await data.stats(gw, now=time.time())  # type: ignore[arg-type]
        await data.webhooks(gw)  # type: ignore[arg-type]
        story = await data.message_timeline(gw, 10**17 + 1)  # type: ignore[arg-type]
        assert story is not None and story["fallbacks"] == [str(10**17 + 2)]
        await data.search_messages(gw, data.Search.parse({}))  # type: ignore[arg-type]
        await data.search_messages(gw, data.Search.parse({"srcMsgId": "a-1"}))  # type: ignore[arg-type]
        await data.search_messages(
            gw,  # type: ignore[arg-type]
            data.Search.parse({"since": "1700000000", "until": "1800000000"}),
        )
        await data.search_messages(
            gw,  # type: ignore[arg-type]
            data.Search.parse({"receiver": "01012345678", "status": "SENT"}),
        )
        seen = [(s, p) for s, p in recording.seen if s.upper().startswith("SELECT")]
        assert len(seen) >= 18
        for statement, params in seen:
            plan = await db.driver.fetch("EXPLAIN QUERY PLAN " + statement, params)
            steps = [str(row[3]) for row in plan]
            # Walks of a table or an index (SCAN), not of a bounded subquery: only
            # the newest-first search may walk (the primary key, in order, until it
            # has its page: ORDER BY … LIMIT).
            walks = [
                s for s in steps if s.startswith("SCAN") and s.split()[1] in TABLES
            ]
            if walks:
                where = statement.split("WHERE", 1)[-1]
                assert "ORDER BY" in statement and "LIMIT" in statement, steps
                # …and only without a filter an index could find instead.
                assert "src_msg_id =" not in where, (statement, steps)
                assert "receiver =" not in where, (statement, steps)
    finally:
        await db.close()
