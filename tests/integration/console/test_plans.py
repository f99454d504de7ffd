"""Every query of the console's pages reads an index range, also when SQLite's
planner believes the tables hold a million messages (the statistics of the store
`bench/console_store.py` fills), and never walks a whole table."""

from __future__ import annotations

import time
import types
from typing import Any

from sqlalchemy import event

from tests.conftest import Store, make_settings
from umsgate.console import data
from umsgate.store import migrate
from umsgate.store.database import open_database

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
        await db.close()
        db = open_database(make_settings(sqlite_store))  # reads the statistics
        seen: list[tuple[str, Any]] = []

        def record(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append((statement, params))

        for engine in {db.engine, db.reader}:
            event.listen(engine.sync_engine, "before_cursor_execute", record)
        gw = types.SimpleNamespace(db=db)
        await data.stats(gw, now=time.time())  # type: ignore[arg-type]
        await data.webhooks(gw)  # type: ignore[arg-type]
        await data.message_timeline(gw, 10**17 + 1)  # type: ignore[arg-type]
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
        assert len(seen) >= 8
        async with db.read() as conn:
            for statement, params in seen:
                plan = await conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + statement, params
                )
                steps = [row[3] for row in plan]
                # Walks of a table or an index (SCAN), not of a bounded subquery:
                # only the newest-first search may walk (the primary key, in
                # order, until it has its page: ORDER BY … LIMIT).
                walks = [s for s in steps if s.startswith("SCAN") and "anon" not in s]
                if walks:
                    where = statement.split("WHERE", 1)[-1]
                    assert "ORDER BY" in statement and "LIMIT" in statement, steps
                    # …and only without a filter an index could find instead.
                    assert "src_msg_id =" not in where, (statement, steps)
                    assert "receiver =" not in where, (statement, steps)
    finally:
        await db.close()
