"""The console's figures and lists (`umsgate.store.console`) on SQLite and
PostgreSQL: minutes, groups and counts of the dashboard, the webhook backlog and its
troubled reports, a resend, and a message's story."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from tests.conftest import Store, make_settings
from tests.integration.lookup.test_store_lookup import _row
from umsgate.store import console, migrate
from umsgate.store.database import Database, open_database
from umsgate.store.tables import events, messages, reports

#: A whole minute (30,000,000 × 60), the start of the dashboard's window.
S = 1_800_000_000.0
MINUTE = 30_000_000
#: The reports given up before this are not counted (the failed window's start).
FAILED_SINCE = S + 100


def _message(mid: int, status: str, created: float, **values: Any) -> dict[str, Any]:
    row = _row(mid, "acme", f"s-{mid}", "+821012345678", status)
    return row | {"created_at": created, "due_at": created} | values


def _report(
    rid: int, client: str, state: str, attempts: int, next_at: float, created: float
) -> dict[str, Any]:
    return {
        "id": rid,
        "message_id": 10**17 + rid,
        "client_id": client,
        "ums_msg_id": 10**17 + rid,
        "channel": "SMS",
        "origin_channel": "SMS",
        "body": "{}",
        "created_at": created,
        "webhook_state": state,
        "attempts": attempts,
        "next_at": next_at,
        "last_error": f"error {rid}" if attempts else "",
    }


async def _filled(store: Store) -> Database:
    db = open_database(make_settings(store))
    await migrate.upgrade(db)
    base = 10**17
    rows = [
        # Accepted: the window's first minute (59.9 s in: still that minute, where
        # a cast that rounds would make it the next), the next minute, and one
        # before the window that is not counted.
        _message(base + 1, "ACCEPTED", S + 59.9),
        _message(base + 2, "QUEUED", S + 60, channel="LMS"),
        _message(base + 3, "QUEUED", S - 1),
        # Ended in the window: without a connector (NULL and "" are one group) …
        _message(base + 4, "DELIVERED", S + 1, done_at=S + 30),
        _message(base + 5, "DELIVERED", S + 2, done_at=S + 31, connector=""),
        # … with one, in the next minute; and one that ended before the window.
        _message(base + 6, "FAILED", S + 3, done_at=S + 119.5, connector="c1"),
        _message(base + 7, "DELIVERED", S - 9, done_at=S - 5, connector="c1"),
        _message(base + 8, "SENT", S + 4, connector="c1"),
    ]
    report_rows = [
        _report(1, "acme", "pending", 0, S + 10, S + 5),
        _report(2, "acme", "pending", 2, S + 20, S + 1),
        _report(3, "beta", "pending", 1, S + 5, S + 3),
        _report(4, "acme", "failed", 5, S + 200, S),
        _report(5, "acme", "failed", 5, S + 300, S),
        _report(6, "beta", "failed", 5, S + 50, S),  # before the failed window
        _report(7, "beta", "done", 1, S, S),
        _report(8, "beta", "none", 0, S, S),
    ]
    async with db.transaction() as conn:
        for row in rows:
            await conn.execute(insert(messages).values(row))
        for report in report_rows:
            await conn.execute(insert(reports).values(report))
    return db


async def test_the_dashboard(store: Store) -> None:
    db = await _filled(store)
    try:
        board = await console.dashboard(db, S, FAILED_SINCE)
    finally:
        await db.close()
    accepted = sorted((a.minute, a.channel, a.count) for a in board.accepted)
    assert accepted == [
        (MINUTE, "SMS", 5),
        (MINUTE + 1, "LMS", 1),
    ]
    assert all(type(a.minute) is int and type(a.count) is int for a in board.accepted)
    finished = sorted(
        (f.minute, f.status, f.channel, f.connector, f.count) for f in board.finished
    )
    assert finished == [
        (MINUTE, "DELIVERED", "SMS", "", 2),
        (MINUTE + 1, "FAILED", "SMS", "c1", 1),
    ]
    assert board.backlog == tuple(
        console.StatusCount(status=s, count=n)
        for s, n in (("ACCEPTED", 1), ("QUEUED", 2), ("SENDING", 0), ("SENT", 1))
    )
    assert board.webhooks == console.WebhookBacklog(
        clients=(
            console.ClientWebhooks(client_id="acme", pending=2, failing=1, failed=2),
            console.ClientWebhooks(client_id="beta", pending=1, failing=1, failed=0),
        ),
        oldest_pending=S + 1,
    )


async def test_the_backlog_counts_at_most_its_cap(store: Store) -> None:
    """The cap takes the reports of the earliest next tries."""
    db = await _filled(store)
    try:
        async with db.driver.snapshot() as snap:
            capped = await console._webhook_backlog(snap, FAILED_SINCE, cap=2)
        empty = await console.dashboard(db, S + 3600, S + 3600)
    finally:
        await db.close()
    # Pending by next try: 3 (beta, S+5), 1 (acme, S+10); failed: 4 and 5 (acme).
    assert capped == console.WebhookBacklog(
        clients=(
            console.ClientWebhooks(client_id="acme", pending=1, failing=0, failed=2),
            console.ClientWebhooks(client_id="beta", pending=1, failing=1, failed=0),
        ),
        oldest_pending=S + 3,
    )
    assert (empty.accepted, empty.finished) == ((), ())
    assert empty.webhooks.clients[0] == console.ClientWebhooks(
        client_id="acme", pending=2, failing=1
    )


async def test_the_troubled_reports_and_a_resend(store: Store) -> None:
    db = await _filled(store)
    try:
        every = await console.webhooks(db, failed_since=FAILED_SINCE)
        beta = await console.webhooks(db, failed_since=S, client_id="beta")
        one = await console.webhooks(db, failed_since=FAILED_SINCE, limit=1)
        resent = [
            await console.resend_report(db, rid, S + 999) for rid in (5, 7, 8, 99)
        ]
        async with db.read() as conn:
            after = (
                await conn.execute(
                    select(
                        reports.c.id,
                        reports.c.webhook_state,
                        reports.c.next_at,
                        reports.c.last_error,
                    )
                    .where(reports.c.id.in_((5, 7, 8)))
                    .order_by(reports.c.id)
                )
            ).all()
    finally:
        await db.close()
    # Pending again after a failed try, oldest next try first; then given up in
    # the window, latest first.
    assert [r.id for r in every.troubled] == [3, 2, 5, 4]
    assert every.troubled[0] == console.ReportState(
        id=3,
        client_id="beta",
        ums_msg_id=10**17 + 3,
        channel="SMS",
        state="pending",
        attempts=1,
        next_at=S + 5,
        last_error="error 3",
        created_at=S + 3,
    )
    assert [r.id for r in beta.troubled] == [3, 6]
    assert [r.id for r in one.troubled] == [3, 5]
    # Delivered reports may be sent again; one without a webhook may not.
    assert resent == [True, True, False, False]
    assert [tuple(r) for r in after] == [
        (5, "pending", S + 999, ""),
        (7, "pending", S + 999, ""),
        (8, "none", S, ""),
    ]


async def test_a_story_of_a_message_and_its_fallback(store: Store) -> None:
    parent, child, other = 10**17 + 11, 10**17 + 12, 10**17 + 13
    db = open_database(make_settings(store))
    await migrate.upgrade(db)
    try:
        async with db.transaction() as conn:
            await conn.execute(insert(messages).values(_message(parent, "FAILED", S)))
            await conn.execute(
                insert(messages).values(
                    _message(child, "SENT", S + 1, kind=1, parent_id=parent)
                    | {"src_msg_id": f"s-{parent}", "channel": "LMS"}
                )
            )
            await conn.execute(insert(messages).values(_message(other, "SENT", S)))
            for mid, at, status in (
                (parent, S, "ACCEPTED"),
                (child, S + 1, "ACCEPTED"),
                (parent, S + 0.5, "FAILED"),
            ):
                await conn.execute(
                    insert(events).values(message_id=mid, at=at, status=status)
                )
            # The fallback's report carries the parent's umsMsgId (the one its
            # client knows), so the two stories show the same reports.
            # Another message's report is not in the story.
            for rid, mid, known_as in (
                (21, child, parent),
                (20, parent, parent),
                (22, other, other),
            ):
                await conn.execute(
                    insert(reports).values(
                        _report(rid, "acme", "done", 1, S, S)
                        | {"message_id": mid, "ums_msg_id": known_as}
                    )
                )
        told = await console.story(db, parent)
        fallback = await console.story(db, child)
        missing = await console.story(db, 10**17 + 99)
    finally:
        await db.close()
    assert missing is None
    assert told is not None and fallback is not None
    assert told.message.id == parent and told.fallbacks == (child,)
    assert [(e.status, e.at) for e in told.events] == [
        ("ACCEPTED", S),
        ("FAILED", S + 0.5),
    ]
    assert [r.id for r in told.reports] == [20, 21]
    assert fallback.message.is_fallback and fallback.message.fallback_of == parent
    assert fallback.fallbacks == ()
    assert [e.status for e in fallback.events] == ["ACCEPTED"]
    assert [r.id for r in fallback.reports] == [20, 21]
