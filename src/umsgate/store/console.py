"""Named queries of the operator console and the admin API: operators, their
sessions and tokens, the dashboard's figures and the webhook backlog.

Every figure comes from an index range: the last hour of messages by
``created_at`` and ``done_at``, the backlog by ``(status, due_at)``, the webhook
backlog by ``(webhook_state, next_at)``; none counts the whole table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Integer, Row, and_, cast, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from umsgate.domain import ids
from umsgate.domain.lifecycle import Status
from umsgate.store.tables import (
    clients,
    messages,
    operator_sessions,
    operator_tokens,
    operators,
    reports,
)

#: Statuses of messages still on their way (the backlog).
OPEN_STATUSES = tuple(s.value for s in Status if not s.final)
#: Most rows of the webhook lists per state.
WEBHOOK_LIST_LIMIT = 200
#: Most reports of one webhook state counted for the backlog figures (a page load
#: reads at most this many index entries; the console shows "at least" beyond).
BACKLOG_CAP = 100_000

# -- operators ----------------------------------------------------------------------


async def insert_operator(conn: AsyncConnection, row: Mapping[str, Any]) -> None:
    await conn.execute(insert(operators).values(**row))


async def get_operator(conn: AsyncConnection, username: str) -> Row[Any] | None:
    stmt = select(operators).where(operators.c.username == username)
    return (await conn.execute(stmt)).first()


async def list_operators(conn: AsyncConnection) -> list[Row[Any]]:
    stmt = select(operators).order_by(operators.c.username).limit(1000)
    return list((await conn.execute(stmt)).all())


async def update_operator_password(
    conn: AsyncConnection, username: str, password_hash: str, now: float
) -> bool:
    result = await conn.execute(
        update(operators)
        .where(operators.c.username == username)
        .values(password_hash=password_hash, updated_at=now)
    )
    return bool(result.rowcount)


async def delete_operator(conn: AsyncConnection, username: str) -> bool:
    result = await conn.execute(
        delete(operators).where(operators.c.username == username)
    )
    return bool(result.rowcount)


async def delete_operator_credentials(conn: AsyncConnection, username: str) -> None:
    """End every session and token of an operator."""
    await conn.execute(
        delete(operator_sessions).where(operator_sessions.c.username == username)
    )
    await conn.execute(
        delete(operator_tokens).where(operator_tokens.c.username == username)
    )


# -- sessions and tokens ------------------------------------------------------------


async def insert_session(conn: AsyncConnection, row: Mapping[str, Any]) -> None:
    await conn.execute(insert(operator_sessions).values(**row))


async def get_session(conn: AsyncConnection, digest: str) -> Row[Any] | None:
    stmt = select(operator_sessions).where(operator_sessions.c.hash == digest)
    return (await conn.execute(stmt)).first()


async def touch_session(conn: AsyncConnection, digest: str, now: float) -> None:
    await conn.execute(
        update(operator_sessions)
        .where(operator_sessions.c.hash == digest)
        .values(last_seen=now)
    )


async def delete_session(conn: AsyncConnection, digest: str) -> None:
    await conn.execute(
        delete(operator_sessions).where(operator_sessions.c.hash == digest)
    )


async def insert_operator_token(conn: AsyncConnection, row: Mapping[str, Any]) -> None:
    await conn.execute(insert(operator_tokens).values(**row))


async def get_operator_token(conn: AsyncConnection, digest: str) -> Row[Any] | None:
    stmt = select(operator_tokens).where(operator_tokens.c.hash == digest)
    return (await conn.execute(stmt)).first()


async def delete_expired_operator_credentials(
    conn: AsyncConnection, now: float, idle: float
) -> int:
    """Drop sessions past their end or idle too long, and expired tokens."""
    gone = await conn.execute(
        delete(operator_sessions).where(
            (operator_sessions.c.expires_at <= now)
            | (operator_sessions.c.last_seen <= now - idle)
        )
    )
    tokens = await conn.execute(
        delete(operator_tokens).where(operator_tokens.c.expires_at <= now)
    )
    return int(gone.rowcount or 0) + int(tokens.rowcount or 0)


# -- the dashboard --------------------------------------------------------------------


def _minute(column: Any) -> Any:
    return cast(func.floor(column / 60), Integer)


async def accepted_per_minute(
    conn: AsyncConnection, since: float
) -> list[tuple[int, str, int]]:
    """(minute number, channel, messages) of the messages created since ``since``
    (clients' own and fallbacks), by the ``created_at`` index."""
    minute = _minute(messages.c.created_at).label("minute")
    stmt = (
        select(minute, messages.c.channel, func.count())
        .where(messages.c.created_at >= since)
        .group_by(minute, messages.c.channel)
    )
    return [(int(m), str(c), int(n)) for m, c, n in (await conn.execute(stmt)).all()]


async def finals_per_minute(
    conn: AsyncConnection, since: float
) -> list[tuple[int, str, str, str, int]]:
    """(minute, status, channel, connector, messages) of the messages that ended
    since ``since``, by the partial ``done_at`` index."""
    minute = _minute(messages.c.done_at).label("minute")
    connector = func.coalesce(messages.c.connector, "").label("connector")
    stmt = (
        select(minute, messages.c.status, messages.c.channel, connector, func.count())
        .where(messages.c.done_at.is_not(None), messages.c.done_at >= since)
        .group_by(minute, messages.c.status, messages.c.channel, connector)
    )
    return [
        (int(m), str(s), str(c), str(k), int(n))
        for m, s, c, k, n in (await conn.execute(stmt)).all()
    ]


async def backlog_by_status(conn: AsyncConnection) -> dict[str, int]:
    """Messages on their way by status (the ``(status, due_at)`` index; counts the
    backlog only)."""
    out = {}
    for status in OPEN_STATUSES:
        stmt = select(func.count()).where(messages.c.status == status)
        out[status] = int((await conn.execute(stmt)).scalar() or 0)
    return out


# -- webhooks -----------------------------------------------------------------------


async def webhook_backlog(
    conn: AsyncConnection, failed_since: float, cap: int = BACKLOG_CAP
) -> dict[str, Any]:
    """Reports waiting for their webhook (pending; failing: pending after a failed
    try) and given up since ``failed_since``, per client, with the oldest pending
    report's creation time; at most ``cap`` of each state are counted.

    Each count reads an index range of ``(webhook_state, next_at)`` in a bounded
    subquery: grouped directly, a planner that knows the column has three values
    prefers to walk the whole table in client order.
    """
    pending = (
        select(reports.c.client_id, reports.c.attempts, reports.c.created_at)
        .where(reports.c.webhook_state == "pending")
        .order_by(reports.c.next_at)
        .limit(cap)
        .subquery()
    )
    failing = func.sum(cast(pending.c.attempts > 0, Integer))
    pending_stmt = select(
        pending.c.client_id, func.count(), failing, func.min(pending.c.created_at)
    ).group_by(pending.c.client_id)
    failed = (
        select(reports.c.client_id)
        .where(reports.c.webhook_state == "failed", reports.c.next_at >= failed_since)
        .order_by(reports.c.next_at)
        .limit(cap)
        .subquery()
    )
    failed_stmt = select(failed.c.client_id, func.count()).group_by(failed.c.client_id)
    per_client: dict[str, dict[str, Any]] = {}
    oldest: float | None = None
    for client_id, n, n_failing, first in (await conn.execute(pending_stmt)).all():
        per_client[str(client_id)] = {
            "pending": int(n),
            "failing": int(n_failing or 0),
            "failed": 0,
        }
        if first is not None and (oldest is None or first < oldest):
            oldest = float(first)
    for client_id, n in (await conn.execute(failed_stmt)).all():
        entry = per_client.setdefault(
            str(client_id), {"pending": 0, "failing": 0, "failed": 0}
        )
        entry["failed"] = int(n)
    return {"clients": per_client, "oldest_pending": oldest}


async def troubled_reports(
    conn: AsyncConnection,
    *,
    failed_since: float,
    client_id: str | None = None,
    limit: int = WEBHOOK_LIST_LIMIT,
) -> list[Row[Any]]:
    """Reports whose webhook failed at least once: pending again (oldest next try
    first) and given up since ``failed_since`` (latest first)."""
    cols = (
        reports.c.id,
        reports.c.client_id,
        reports.c.ums_msg_id,
        reports.c.channel,
        reports.c.webhook_state,
        reports.c.attempts,
        reports.c.next_at,
        reports.c.last_error,
        reports.c.created_at,
    )
    own = [] if client_id is None else [reports.c.client_id == client_id]
    retrying = (
        select(*cols)
        .where(reports.c.webhook_state == "pending", reports.c.attempts > 0, *own)
        .order_by(reports.c.next_at)
        .limit(limit)
    )
    failed = (
        select(*cols)
        .where(
            reports.c.webhook_state == "failed",
            reports.c.next_at >= failed_since,
            *own,
        )
        .order_by(reports.c.next_at.desc())
        .limit(limit)
    )
    rows: list[Row[Any]] = []
    for stmt in (retrying, failed):
        rows.extend(await conn.execute(stmt))
    return rows


async def resend_report(conn: AsyncConnection, report_id: int, now: float) -> bool:
    """Put a report's webhook back in the queue, due now (delivered ones too: the
    client may have lost it)."""
    result = await conn.execute(
        update(reports)
        .where(reports.c.id == report_id, reports.c.webhook_state != "none")
        .values(webhook_state="pending", next_at=now, last_error="")
    )
    return bool(result.rowcount)


async def get_report(conn: AsyncConnection, report_id: int) -> Row[Any] | None:
    stmt = select(reports).where(reports.c.id == report_id)
    return (await conn.execute(stmt)).first()


async def message_reports(
    conn: AsyncConnection, client_id: str, message_id: int
) -> list[Row[Any]]:
    """The webhook reports of a message the client knows by ``message_id`` (its
    own, and its fallback's), by the ``(client_id, ums_msg_id)`` index."""
    stmt = (
        select(reports)
        .where(
            and_(reports.c.client_id == client_id, reports.c.ums_msg_id == message_id)
        )
        .order_by(reports.c.id)
    )
    return list((await conn.execute(stmt)).all())


async def fallbacks_of(conn: AsyncConnection, message_id: int) -> list[int]:
    """The ids of the fallback messages made from a message (the partial parent
    index)."""
    stmt = select(messages.c.id).where(messages.c.parent_id == message_id).limit(10)
    return [int(r[0]) for r in (await conn.execute(stmt)).all()]


async def get_message(conn: AsyncConnection, message_id: int) -> Row[Any] | None:
    """A message of any client by its umsMsgId."""
    stmt = select(messages).where(messages.c.id == message_id)
    return (await conn.execute(stmt)).first()


# -- messages -----------------------------------------------------------------------


def _id_floor(epoch: float) -> int:
    """The smallest message id made at or after ``epoch`` (seconds)."""
    ms = max(0, int(epoch * 1000) - ids.EPOCH_MS)
    return ids.OFFSET + (ms << (ids.SLOT_BITS + ids.SEQ_BITS))


async def search_messages(
    conn: AsyncConnection,
    *,
    client_id: str | None = None,
    src_msg_id: str | None = None,
    receiver: str | None = None,
    status: str | None = None,
    channel: str | None = None,
    since: float | None = None,
    until: float | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Row[Any]]:
    """Messages of every client (or one), newest first, at most ``limit``.

    Stands in for the store's message lookup until that exists: same filters,
    ``before_id`` as the cursor.
    """
    conds: list[Any] = []
    if client_id:
        conds.append(messages.c.client_id == client_id)
    elif src_msg_id or receiver:
        # The indexes lead with the client: probe them once per client (the
        # clients table is small) instead of walking the table in id order.
        conds.append(messages.c.client_id.in_(select(clients.c.id)))
    if src_msg_id:
        conds.append(messages.c.src_msg_id == src_msg_id)
    if receiver:
        conds.append(messages.c.receiver == receiver)
    if status:
        conds.append(messages.c.status == status)
    if channel:
        conds.append(messages.c.channel == channel)
    # Ids are time-ordered (`umsgate.domain.ids`): a time range is an id range, read
    # from the primary key in the order of the page.
    if since is not None:
        conds.append(messages.c.id >= _id_floor(since))
    if until is not None:
        conds.append(messages.c.id < _id_floor(until))
    if before_id is not None:
        conds.append(messages.c.id < before_id)
    stmt = select(messages).where(*conds).order_by(messages.c.id.desc()).limit(limit)
    return list((await conn.execute(stmt)).all())
