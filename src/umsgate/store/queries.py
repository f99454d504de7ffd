"""Named queries. Every function takes an open connection inside a transaction and
speaks only in plain values (dicts, tuples, domain objects); the engine never builds
SQL. Claims differ by dialect: PostgreSQL uses ``FOR UPDATE SKIP LOCKED`` so that
several nodes claim disjoint rows; SQLite relies on its single writer
(``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Row,
    case,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from umsgate.domain.lifecycle import Status
from umsgate.domain.message import Channel, Message
from umsgate.store.tables import (
    connector_pace,
    events,
    messages,
    nodes,
    reports,
    send_guards,
)

#: Largest number of bound tuples in one ``IN`` list (SQLite allows 32,766 parameters).
IN_CHUNK = 5000


def _is_pg(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def _insert(conn: AsyncConnection, table: Any) -> Any:
    return (postgresql.insert if _is_pg(conn) else sqlite.insert)(table)


def _chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- connector pacing ----------------------------------------------------------------


async def reserve_pace(
    conn: AsyncConnection, name: str, floor: float, step: float
) -> float:
    """Move the shared schedule of connector ``name`` to ``max(tat, floor) + step``
    in one statement (atomic across nodes) and return the new ``tat``."""
    tat = connector_pace.c.tat
    stmt = (
        update(connector_pace)
        .where(connector_pace.c.name == name)
        .values(tat=case((tat > floor, tat), else_=floor) + step)
        .returning(tat)
    )
    value = (await conn.execute(stmt)).scalar()
    if value is None:
        # The connector's first chunk: create the row (another node may do so at
        # the same moment), then move it.
        await conn.execute(
            _insert(conn, connector_pace)
            .values(name=name, tat=floor)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        value = (await conn.execute(stmt)).scalar_one()
    return float(value)


# -- readiness -----------------------------------------------------------------------


async def ping(conn: AsyncConnection) -> None:
    """A round trip to the database (``/readyz``)."""
    await conn.execute(select(literal(1)))


# -- nodes -------------------------------------------------------------------------


async def node_rows(conn: AsyncConnection) -> list[Row[Any]]:
    return list((await conn.execute(select(nodes))).all())


async def take_free_slot(
    conn: AsyncConnection, slot: int, node_id: str, now: float
) -> bool:
    stmt = _insert(conn, nodes).values(
        slot=slot, node_id=node_id, heartbeat=now, started_at=now
    )
    result = await conn.execute(stmt.on_conflict_do_nothing(index_elements=["slot"]))
    return bool(result.rowcount)


async def take_stale_slot(
    conn: AsyncConnection, slot: int, node_id: str, old_node_id: str, now: float
) -> bool:
    result = await conn.execute(
        update(nodes)
        .where(nodes.c.slot == slot, nodes.c.node_id == old_node_id)
        .values(node_id=node_id, heartbeat=now, started_at=now)
    )
    return bool(result.rowcount)


async def heartbeat(conn: AsyncConnection, slot: int, node_id: str, now: float) -> bool:
    """Refresh our heartbeat; False when another node took our slot (we were dead)."""
    result = await conn.execute(
        update(nodes)
        .where(nodes.c.slot == slot, nodes.c.node_id == node_id)
        .values(heartbeat=now)
    )
    return bool(result.rowcount)


async def release_slot(conn: AsyncConnection, slot: int, node_id: str) -> None:
    await conn.execute(
        delete(nodes).where(nodes.c.slot == slot, nodes.c.node_id == node_id)
    )


# -- duplicate-send guards -----------------------------------------------------------


async def delete_expired_send_guards(conn: AsyncConnection, now: float) -> int:
    """Forget duplicate-send guards whose window has passed."""
    result = await conn.execute(
        delete(send_guards).where(send_guards.c.expires_at < now)
    )
    return int(result.rowcount or 0)


# -- messages --------------------------------------------------------------------------


async def next_due_at(conn: AsyncConnection) -> float | None:
    stmt = select(func.min(messages.c.due_at)).where(
        messages.c.status == Status.QUEUED.value
    )
    value = (await conn.execute(stmt)).scalar()
    return None if value is None else float(value)


async def stalled_claims(
    conn: AsyncConnection, dead_owners: Sequence[str], status: Status, limit: int
) -> list[dict[str, Any]]:
    """Messages in ``status`` owned by dead nodes (locked on PostgreSQL)."""
    if not dead_owners:
        return []
    stmt = (
        select(messages)
        .where(
            messages.c.status == status.value, messages.c.owner.in_(list(dead_owners))
        )
        .limit(limit)
    )
    if _is_pg(conn):
        stmt = stmt.with_for_update(skip_locked=True)
    return [dict(r._mapping) for r in (await conn.execute(stmt)).all()]


async def sent_before(conn: AsyncConnection, cutoff: float, limit: int) -> list[int]:
    """Ids of SENT messages submitted at or before ``cutoff`` (oldest first)."""
    stmt = (
        select(messages.c.id)
        .where(messages.c.status == Status.SENT.value, messages.c.sent_at <= cutoff)
        .order_by(messages.c.sent_at)
        .limit(limit)
    )
    return [int(r[0]) for r in (await conn.execute(stmt)).all()]


async def owners_in(conn: AsyncConnection, statuses: Sequence[Status]) -> list[str]:
    stmt = (
        select(messages.c.owner)
        .where(
            messages.c.status.in_([s.value for s in statuses]),
            messages.c.owner.is_not(None),
        )
        .distinct()
    )
    return [r[0] for r in (await conn.execute(stmt)).all()]


async def get_message(
    conn: AsyncConnection, client_id: str, message_id: int
) -> Row[Any] | None:
    stmt = select(messages).where(
        messages.c.id == message_id, messages.c.client_id == client_id
    )
    return (await conn.execute(stmt)).first()


async def get_message_by_src(
    conn: AsyncConnection, client_id: str, src_msg_id: str
) -> Row[Any] | None:
    """A client's own message (not a fallback) by its client-side id."""
    stmt = select(messages).where(
        messages.c.client_id == client_id,
        messages.c.src_msg_id == src_msg_id,
        messages.c.kind == 0,
    )
    return (await conn.execute(stmt)).first()


async def message_events(conn: AsyncConnection, message_id: int) -> list[Row[Any]]:
    stmt = select(events).where(events.c.message_id == message_id).order_by(events.c.id)
    return list((await conn.execute(stmt)).all())


async def status_counts(conn: AsyncConnection) -> dict[str, int]:
    stmt = select(messages.c.status, func.count()).group_by(messages.c.status)
    return {status: int(n) for status, n in (await conn.execute(stmt)).all()}


#: The statuses of a message that is not final yet (its backlog).
BACKLOG_STATUSES = tuple(s.value for s in Status if not s.final)


async def backlog(conn: AsyncConnection) -> list[tuple[str, str, int]]:
    """(status, channel, count) of the messages not final yet: a range of the
    (status, due_at) index, so the final ones, most of the table, are not read."""
    stmt = (
        select(messages.c.status, messages.c.channel, func.count())
        .where(messages.c.status.in_(BACKLOG_STATUSES))
        .group_by(messages.c.status, messages.c.channel)
    )
    return [(st, ch, int(n)) for st, ch, n in (await conn.execute(stmt)).all()]


async def webhook_backlog(conn: AsyncConnection) -> tuple[int, float | None]:
    """Reports waiting to be pushed: how many, and when the oldest was written
    (None when there is none). A range of the (webhook_state, next_at) index."""
    stmt = select(func.count(), func.min(reports.c.created_at)).where(
        reports.c.webhook_state == "pending"
    )
    count, oldest = (await conn.execute(stmt)).one()
    return int(count), (None if oldest is None else float(oldest))


_CHANNELS = {c.value: c for c in Channel}
_STATUSES = {s.value: s for s in Status}


def _json(text: str, empty: Any) -> Any:
    # Most messages have no files and an empty extra: skip the parser for those.
    return empty if text in ("[]", "{}") else orjson.loads(text)


def message_from_row(row: Mapping[str, Any]) -> Message:
    utc = dt.UTC
    return Message(
        id=int(row["id"]),
        client_id=row["client_id"],
        src_msg_id=row["src_msg_id"],
        channel=_CHANNELS[row["channel"]],
        sender=row["sender"],
        receiver=row["receiver"],
        content=row["content"],
        status=_STATUSES[row["status"]],
        subject=row["subject"],
        charset=row["charset"],
        cmp_msg_id=row["cmp_msg_id"],
        file_ids=tuple(_json(row["file_ids"], ())),
        extra=_json(row["extra"], {}),
        fallback=orjson.loads(row["fallback"]) if row["fallback"] else None,
        parent_id=row["parent_id"],
        created_at=dt.datetime.fromtimestamp(row["created_at"], utc),
        due_at=dt.datetime.fromtimestamp(row["due_at"], utc),
        expires_at=dt.datetime.fromtimestamp(row["expires_at"], utc),
        attempts=int(row["attempts"]),
        connector=row["connector"],
        provider_msg_id=row["provider_msg_id"],
        segments=int(row["segments"]),
    )


# -- reports and webhooks --------------------------------------------------------------


async def reports_for_check(
    conn: AsyncConnection,
    client_id: str,
    ums_ids: Sequence[int],
    channels: Sequence[str],
    origin_channels: Sequence[str],
) -> list[str]:
    """Bodies of the client's native reports for ``ums_ids`` whose channel, or whose
    original message's channel, is one of those given (reports of messages that came
    in by a compatible face are in that face's format, and are not among them)."""
    out: list[str] = []
    for chunk in _chunks(list(ums_ids)):
        cond: ColumnElement[bool] = reports.c.channel.in_(list(channels))
        if origin_channels:
            cond = cond | reports.c.origin_channel.in_(list(origin_channels))
        stmt = (
            select(reports.c.body)
            .where(
                reports.c.client_id == client_id,
                reports.c.ums_msg_id.in_(list(chunk)),
                reports.c.face == "",
                cond,
            )
            .order_by(reports.c.id)
        )
        out.extend(r[0] for r in (await conn.execute(stmt)).all())
    return out


async def next_webhook_at(conn: AsyncConnection) -> float | None:
    stmt = select(func.min(reports.c.next_at)).where(
        reports.c.webhook_state == "pending"
    )
    value = (await conn.execute(stmt)).scalar()
    return None if value is None else float(value)


async def webhook_counts(conn: AsyncConnection) -> dict[str, int]:
    stmt = select(reports.c.webhook_state, func.count()).group_by(
        reports.c.webhook_state
    )
    return {state: int(n) for state, n in (await conn.execute(stmt)).all()}
