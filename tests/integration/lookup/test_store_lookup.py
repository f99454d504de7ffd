"""The store's message lookup (`umsgate.store.lookup`): the queries use indexes (the
plans of SQLite and PostgreSQL say so), and pages cover a search without gaps."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import insert

from tests.conftest import Store, make_settings
from umsgate.domain.ids import IdGenerator
from umsgate.store import lookup, migrate
from umsgate.store.database import Database, open_database
from umsgate.store.tables import clients, messages

SEARCHES = {
    "client": lookup.Search(client_id="acme"),
    "client and receiver": lookup.Search(client_id="acme", receiver="+821012345678"),
    "client and srcMsgId": lookup.Search(client_id="acme", src_msg_id="s-1"),
    "client, status and channel": lookup.Search(
        client_id="acme", status="FAILED", channel="SMS"
    ),
    "client and time range": lookup.Search(
        client_id="acme", since=time.time() - 3600, until=time.time()
    ),
    "client, next page": lookup.Search(
        client_id="acme", after=lookup.encode_cursor(10**17 + 12345)
    ),
    "any client by receiver": lookup.Search(receiver="+821012345678"),
    "any client by srcMsgId": lookup.Search(src_msg_id="s-1"),
    "any client, newest": lookup.Search(),
}


def _row(mid: int, client: str, src: str, receiver: str, status: str) -> dict[str, Any]:
    now = time.time()
    return {
        "id": mid,
        "client_id": client,
        "src_msg_id": src,
        "channel": "SMS",
        "status": status,
        "sender": "+8221234567",
        "receiver": receiver,
        "content": "hello",
        "charset": "euc-kr",
        "content_hash": "0" * 64,
        "created_at": now,
        "due_at": now,
        "expires_at": now + 86400,
    }


async def _filled(store: Store, count: int = 3000, bulk: int = 0) -> Database:
    """``count`` messages: acme has one in 30 (the small client beside big ones, whose
    searches must not read the others'), one in 25 goes to the receiver searched;
    on PostgreSQL ``bulk`` more of other clients."""
    db = open_database(make_settings(store))
    await migrate.upgrade(db)
    gen = IdGenerator(1)
    rows = []
    for i in range(count):
        client = "acme" if i % 30 == 0 else ("beta", "gamma")[i % 2]
        receiver = "+821012345678" if i % 25 == 0 else f"+82101000{i:04d}"
        status = "FAILED" if i % 7 == 0 else "DELIVERED"
        rows.append(_row(gen.next_id(), client, f"s-{i}", receiver, status))
    async with db.transaction() as conn:
        for cid in ("acme", "beta", "gamma"):
            await conn.execute(
                insert(clients).values(
                    id=cid,
                    secret_hash="x",
                    key_hash="x",
                    signing_key="00",
                    tps="{}",
                    created_at=0.0,
                    updated_at=0.0,
                )
            )
        await conn.execute(insert(messages), rows)
        if bulk and not db.is_sqlite:
            # PostgreSQL plans by cost: on a few thousand rows reading the primary
            # key is cheapest whatever the indexes. Other clients' messages in
            # bulk make the table the size where the choice shows.
            await conn.exec_driver_sql(
                "INSERT INTO messages (id, client_id, src_msg_id, channel, status, "
                "sender, receiver, content, charset, content_hash, created_at, "
                "due_at, expires_at) SELECT 1000 + g, "
                "CASE WHEN g % 2 = 0 THEN 'beta' ELSE 'gamma' END, 'b-' || g, "
                "'SMS', 'DELIVERED', '+8221234567', '+8210' || (20000000 + g), "
                "'hello', 'euc-kr', '', 0, 0, 0 "
                f"FROM generate_series(1, {bulk}) AS g"
            )
            await conn.exec_driver_sql("ANALYZE messages")
    return db


async def _plan(db: Database, query: lookup.Search) -> str:
    sql, params = lookup.search_statement(query)
    async with db.driver.snapshot() as snap:
        if db.is_sqlite:
            rows = await snap.fetch("EXPLAIN QUERY PLAN " + sql, params)
            return "\n".join(str(r[-1]) for r in rows)
        # On a small table the planner may prefer reading it all: forbid that, so
        # that a plan without a usable index shows as a sequential scan.
        await snap.execute("SET LOCAL enable_seqscan = off")
        rows = await snap.fetch("EXPLAIN " + sql, params)
        return "\n".join(str(r[0]) for r in rows)


#: The index a search of one client must use (by dialect), where only one will do.
EXPECTED = {
    "client": "ix_messages_client_id_id",
    "client and receiver": "ix_messages_client_id_receiver_id",
    "client and time range": "ix_messages_client_id_id",
}
#: The unique key (client_id, src_msg_id, kind), as each dialect names it.
UNIQUE_SRC = {"sqlite": "sqlite_autoindex_messages_2", "postgres": "uq_messages_"}


async def test_every_search_reads_an_index_not_the_whole_table(store: Store) -> None:
    db = await _filled(store, bulk=100_000)
    try:
        for name, query in SEARCHES.items():
            _check_plan(store.backend, name, await _plan(db, query))
    finally:
        await db.close()


def _check_plan(backend: str, name: str, plan: str) -> None:
    where = f"{name}: {plan}"
    if backend == "sqlite":
        lines = [line for line in plan.splitlines() if "messages" in line]
        assert lines, where
        for line in lines:
            # "SCAN messages" without an index is a full scan; "SCAN ... USING
            # INDEX" walks an index in order and stops at the page's end.
            assert "USING" in line and "INDEX" in line, where
        # Sorted only when the index yields a few rows out of id order.
        assert "TEMP B-TREE" not in plan or "srcMsgId" in name or "any" in name, where
    else:
        assert "Seq Scan on messages" not in plan, where
        assert "Index" in plan, where
    if name in EXPECTED:
        assert EXPECTED[name] in plan, where
    if "srcMsgId" in name:
        assert UNIQUE_SRC[backend] in plan, where


async def test_pages_cover_a_search_without_gaps_or_repeats(store: Store) -> None:
    db = await _filled(store)
    try:
        everything = await lookup.search(
            db, lookup.Search(client_id="acme", limit=lookup.MAX_LIMIT)
        )
        seen: list[int] = []
        cursor = None
        pages = 0
        while True:
            page = await lookup.search(
                db, lookup.Search(client_id="acme", limit=7, after=cursor)
            )
            pages += 1
            seen.extend(m.id for m in page.messages)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        by_receiver = await lookup.search(
            db, lookup.Search(receiver="+821012345678", limit=lookup.MAX_LIMIT)
        )
    finally:
        await db.close()
    assert pages == 15  # 100 messages of acme, 7 a page
    assert len(seen) == len(set(seen)) == 100
    assert seen == sorted(seen, reverse=True)
    assert seen == [m.id for m in everything.messages]
    assert everything.next_cursor is None
    # Across clients, every client's messages to that receiver.
    assert {m.client_id for m in by_receiver.messages} == {"acme", "beta", "gamma"}
    assert len(by_receiver.messages) == 120


def test_a_cursor_that_was_not_given_out_is_refused() -> None:
    assert lookup.decode_cursor(lookup.encode_cursor(10**17 + 5)) == 10**17 + 5
    for bad in ("", "123", "m1.", "m1.!!", "m1." + "A" * 70, "m1.YWJj"):
        with pytest.raises(lookup.BadCursor):
            lookup.decode_cursor(bad)
    with pytest.raises(ValueError, match="limit"):
        lookup.Search(limit=lookup.MAX_LIMIT + 1)
