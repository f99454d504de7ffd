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
from umsgate.store.tables import clients, events, messages, reports

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


#: When the messages of `_few` were made (a whole minute: 30,000,000 × 60).
T = 1_800_000_000.0
R1, R2 = "+821011110001", "+821022220002"
EVENT_COLUMNS = ("message_id", "at", "status", "code", "detail")


def _at(second: float) -> int:
    """The id of a message made ``second`` seconds after `T`."""
    return lookup.id_floor(T + second)


async def _few(store: Store) -> Database:
    """Five messages of two clients, a fallback among them, with events and
    reports (see the test below for what each is)."""
    db = open_database(make_settings(store))
    await migrate.upgrade(db)
    m1, m2, m3, m4, m5 = (_at(s) for s in range(1, 6))
    rows = [
        _row(m1, "acme", "a", R1, "DELIVERED")
        | {"connector": "c1", "sent_at": T + 1.5, "done_at": T + 9, "attempts": 1},
        _row(m2, "acme", "b", R2, "FAILED") | {"result_code": "2010"},
        _row(m3, "acme", "b", R2, "SENT")
        | {"channel": "LMS", "kind": 1, "parent_id": m2, "connector": "c2"},
        _row(m4, "beta", "a", R1, "DELIVERED"),
        _row(m5, "acme", "c", R1, "FAILED") | {"channel": "LMS"},
    ]
    report = {
        "client_id": "acme",
        "channel": "SMS",
        "origin_channel": "SMS",
        "body": "{}",
        "created_at": T,
        "next_at": T,
    }
    async with db.transaction() as conn:
        for cid in ("acme", "beta"):
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
        for row in rows:
            await conn.execute(insert(messages).values(row))
        # Out of time order on purpose: a timeline is in the order of the events'
        # ids (the order they were written).
        for at, status, code in ((T + 3, "ACCEPTED", None), (T + 2, "FAILED", "2010")):
            await conn.execute(
                insert(events).values(message_id=m2, at=at, status=status, code=code)
            )
        webhook = lookup.webhook_event(m2, T + 4, 1, "HTTP 500")
        await conn.execute(
            insert(events).values(dict(zip(EVENT_COLUMNS, webhook, strict=True)))
        )
        # m2's own report, then two of its fallback m3 (carrying m2's umsMsgId):
        # the newest is the one shown.
        for message_id, state, attempts in (
            (m2, "done", 1),
            (m3, "failed", 3),
            (m3, "pending", 4),
        ):
            await conn.execute(
                insert(reports).values(
                    {
                        **report,
                        "message_id": message_id,
                        "ums_msg_id": m2,
                        "webhook_state": state,
                        "attempts": attempts,
                        "last_error": f"{state} {attempts}",
                    }
                )
            )
    return db


def _ids(page: lookup.Page) -> list[int]:
    return [m.id for m in page.messages]


async def test_each_filter_of_a_search(store: Store) -> None:
    m1, m2, m3, m4, m5 = (_at(s) for s in range(1, 6))
    searches = {
        lookup.Search(client_id="acme"): [m5, m3, m2, m1],
        lookup.Search(client_id="acme", status="FAILED"): [m5, m2],
        lookup.Search(client_id="acme", channel="LMS"): [m5, m3],
        lookup.Search(client_id="acme", status="FAILED", channel="SMS"): [m2],
        lookup.Search(client_id="acme", receiver=R2, status="SENT"): [m3],
        lookup.Search(client_id="acme", since=T + 2, until=T + 5): [m3, m2],
        lookup.Search(client_id="acme", before=m3): [m2, m1],
        lookup.Search(client_id="acme", after=lookup.encode_cursor(m2)): [m1],
        lookup.Search(client_id="acme", src_msg_id="b"): [m3, m2],
        lookup.Search(client_id="beta", src_msg_id="b"): [],
        lookup.Search(client_id="acme", src_msg_id="B"): [],
        lookup.Search(src_msg_id="a"): [m4, m1],
        lookup.Search(receiver=R1): [m5, m4, m1],
        lookup.Search(receiver=R1, since=T + 2): [m5, m4],
        lookup.Search(until=T + 2): [m1],
        lookup.Search(): [m5, m4, m3, m2, m1],
    }
    db = await _few(store)
    try:
        for query, expected in searches.items():
            assert _ids(await lookup.search(db, query)) == expected, query
        pages: list[list[int]] = []
        cursor = None
        while True:
            page = await lookup.search(db, lookup.Search(limit=2, after=cursor))
            pages.append(_ids(page))
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        # A full last page has no next one: the row past the page decides.
        exact = await lookup.search(db, lookup.Search(client_id="acme", limit=4))
        (fallback,) = (
            await lookup.search(db, lookup.Search(client_id="acme", channel="LMS"))
        ).messages[1:]
    finally:
        await db.close()
    assert pages == [[m5, m4], [m3, m2], [m1]]
    assert exact.next_cursor is None and len(exact.messages) == 4
    assert fallback.id == m3
    assert (fallback.is_fallback, fallback.fallback_of) == (True, m2)
    # A search shows no fallback made from a message (only `message` looks).
    assert fallback.fallback_to is None


async def test_a_message_with_its_timeline_fallback_and_report(store: Store) -> None:
    m1, m2, m3 = (_at(s) for s in range(1, 4))
    db = await _few(store)
    try:
        parent = await lookup.message(db, m2)
        child = await lookup.message(db, m3, client_id="acme")
        sent = await lookup.message(db, m1)
        others = await lookup.message(db, m2, client_id="beta")
        missing = await lookup.message(db, _at(99))
    finally:
        await db.close()
    assert others is None and missing is None
    assert parent is not None and child is not None and sent is not None
    assert parent.message == lookup.MessageView(
        id=m2,
        client_id="acme",
        src_msg_id="b",
        channel="SMS",
        status="FAILED",
        sender="+8221234567",
        receiver=R2,
        result_code="2010",
        raw_code=None,
        result_message=None,
        connector=None,
        provider_msg_id=None,
        carrier="",
        attempts=0,
        segments=1,
        created_at=parent.message.created_at,
        expires_at=parent.message.expires_at,
        sent_at=None,
        done_at=None,
        fallback_of=None,
        fallback_to=m3,
        is_fallback=False,
    )
    assert [(e.status, e.code, e.at) for e in parent.events] == [
        ("ACCEPTED", None, T + 3),
        ("FAILED", "2010", T + 2),
        (lookup.WEBHOOK, None, T + 4),
    ]
    assert [e.is_webhook for e in parent.events] == [False, False, True]
    assert parent.events[0].id < parent.events[1].id < parent.events[2].id
    assert parent.webhook == lookup.WebhookView(
        state="done", attempts=1, last_error="done 1", face=""
    )
    assert child.message.is_fallback is True
    assert (child.message.fallback_of, child.message.fallback_to) == (m2, None)
    assert child.events == ()
    # The fallback's report carries its parent's umsMsgId; the newest is shown.
    assert child.webhook == lookup.WebhookView(
        state="pending", attempts=4, last_error="pending 4", face=""
    )
    assert sent.webhook is None
    assert (sent.message.sent_at, sent.message.done_at) == (T + 1.5, T + 9)
    assert (sent.message.connector, sent.message.attempts) == ("c1", 1)
    assert sent.message.is_fallback is False and sent.message.fallback_to is None
