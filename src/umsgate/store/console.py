"""What the operator console and the admin API read and change beyond operators
(`umsgate.store.operators`) and the message searches (`umsgate.store.lookup`): the
dashboard's figures, the webhook backlog and its troubled reports, and a message's
whole story.

Each operation opens its own read or transaction. Every figure comes from an index
range: the last hour of messages by ``created_at`` and ``done_at``, the backlog by
``(status, due_at)``, the webhook backlog by ``(webhook_state, next_at)``; none
counts the whole table.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import (
    ColumnElement,
    Integer,
    RowMapping,
    and_,
    cast,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from umsgate.domain.lifecycle import Status
from umsgate.store import lookup
from umsgate.store.database import Database
from umsgate.store.tables import messages, reports

#: Statuses of messages still on their way (the backlog).
OPEN_STATUSES = tuple(s.value for s in Status if not s.final)
#: Most rows of the webhook lists per state.
WEBHOOK_LIST_LIMIT = 200
#: Most reports of one webhook state counted for the backlog figures (a page load
#: reads at most this many index entries; the console shows "at least" beyond).
BACKLOG_CAP = 100_000


# -- the dashboard --------------------------------------------------------------------


def _minute(column: ColumnElement[float]) -> ColumnElement[int]:
    return cast(func.floor(column / 60), Integer)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Dashboard:
    """The figures of the dashboard since a time."""

    accepted: tuple[Accepted, ...]
    finished: tuple[Finished, ...]
    #: Messages on their way, for each status of `OPEN_STATUSES` in order.
    backlog: tuple[StatusCount, ...]
    webhooks: WebhookBacklog


async def dashboard(db: Database, since: float, failed_since: float) -> Dashboard:
    """Messages created and ended since ``since``, the backlog, and the webhook
    backlog with the reports given up since ``failed_since``, in one read."""
    async with db.read() as conn:
        return Dashboard(
            accepted=await _accepted_per_minute(conn, since),
            finished=await _finals_per_minute(conn, since),
            backlog=await _backlog_by_status(conn),
            webhooks=await _webhook_backlog(conn, failed_since),
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    """Messages created in one minute on one channel."""

    #: Minutes since the epoch.
    minute: int
    channel: str
    count: int


async def _accepted_per_minute(
    conn: AsyncConnection, since: float
) -> tuple[Accepted, ...]:
    """The messages created since ``since`` (clients' own and fallbacks), by the
    ``created_at`` index."""
    minute = _minute(messages.c.created_at).label("minute")
    stmt = (
        select(minute, messages.c.channel, func.count())
        .where(messages.c.created_at >= since)
        .group_by(minute, messages.c.channel)
    )
    return tuple(
        Accepted(minute=int(m), channel=str(c), count=int(n))
        for m, c, n in (await conn.execute(stmt)).all()
    )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Finished:
    """Messages that ended in one minute with one status, channel and connector."""

    minute: int
    status: str
    channel: str
    #: "" when none took it.
    connector: str
    count: int


async def _finals_per_minute(
    conn: AsyncConnection, since: float
) -> tuple[Finished, ...]:
    """The messages that ended since ``since``, by the partial ``done_at`` index."""
    minute = _minute(messages.c.done_at).label("minute")
    connector = func.coalesce(messages.c.connector, "").label("connector")
    stmt = (
        select(minute, messages.c.status, messages.c.channel, connector, func.count())
        .where(messages.c.done_at.is_not(None), messages.c.done_at >= since)
        .group_by(minute, messages.c.status, messages.c.channel, connector)
    )
    return tuple(
        Finished(
            minute=int(m), status=str(s), channel=str(c), connector=str(k), count=int(n)
        )
        for m, s, c, k, n in (await conn.execute(stmt)).all()
    )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StatusCount:
    status: str
    count: int


async def _backlog_by_status(conn: AsyncConnection) -> tuple[StatusCount, ...]:
    """Messages on their way by status (the ``(status, due_at)`` index; counts the
    backlog only)."""
    out = []
    for status in OPEN_STATUSES:
        stmt = select(func.count()).where(messages.c.status == status)
        count = int((await conn.execute(stmt)).scalar() or 0)
        out.append(StatusCount(status=status, count=count))
    return tuple(out)


# -- webhooks -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReportState:
    """Where the webhook of one report stands."""

    id: int
    client_id: str
    ums_msg_id: int
    channel: str
    #: pending, done, failed or none.
    state: str
    attempts: int
    next_at: float
    last_error: str
    created_at: float


_REPORT_COLUMNS = (
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


def _report_state(row: RowMapping) -> ReportState:
    """The state of a row of `_REPORT_COLUMNS`."""
    return ReportState(
        id=int(row["id"]),
        client_id=str(row["client_id"]),
        ums_msg_id=int(row["ums_msg_id"]),
        channel=str(row["channel"]),
        state=str(row["webhook_state"]),
        attempts=int(row["attempts"]),
        next_at=float(row["next_at"]),
        last_error=str(row["last_error"]),
        created_at=float(row["created_at"]),
    )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClientWebhooks:
    """A client's reports waiting for their webhook (pending; failing: pending
    after a failed try) and given up."""

    client_id: str
    pending: int = 0
    failing: int = 0
    failed: int = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookBacklog:
    #: By client id.
    clients: tuple[ClientWebhooks, ...]
    #: When the oldest pending report was made; None when none is pending.
    oldest_pending: float | None


async def _webhook_backlog(
    conn: AsyncConnection, failed_since: float, cap: int = BACKLOG_CAP
) -> WebhookBacklog:
    """Reports waiting for their webhook and given up since ``failed_since``, per
    client, with the oldest pending report's creation time; at most ``cap`` of each
    state are counted.

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
    per_client: dict[str, ClientWebhooks] = {}
    oldest: float | None = None
    for client_id, n, n_failing, first in (await conn.execute(pending_stmt)).all():
        per_client[str(client_id)] = ClientWebhooks(
            client_id=str(client_id), pending=int(n), failing=int(n_failing or 0)
        )
        if first is not None and (oldest is None or first < oldest):
            oldest = float(first)
    for client_id, n in (await conn.execute(failed_stmt)).all():
        entry = per_client.get(str(client_id), ClientWebhooks(client_id=str(client_id)))
        per_client[str(client_id)] = dataclasses.replace(entry, failed=int(n))
    return WebhookBacklog(
        clients=tuple(per_client[c] for c in sorted(per_client)),
        oldest_pending=oldest,
    )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Webhooks:
    backlog: WebhookBacklog
    #: Reports pending again after a failed try, then those given up.
    troubled: tuple[ReportState, ...]


async def webhooks(
    db: Database,
    *,
    failed_since: float,
    client_id: str | None = None,
    limit: int = WEBHOOK_LIST_LIMIT,
) -> Webhooks:
    """The webhook backlog, and the reports whose webhook failed at least once:
    pending again (oldest next try first) and given up since ``failed_since``
    (latest first), of every client or one."""
    own = [] if client_id is None else [reports.c.client_id == client_id]
    retrying = (
        select(*_REPORT_COLUMNS)
        .where(reports.c.webhook_state == "pending", reports.c.attempts > 0, *own)
        .order_by(reports.c.next_at)
        .limit(limit)
    )
    failed = (
        select(*_REPORT_COLUMNS)
        .where(
            reports.c.webhook_state == "failed",
            reports.c.next_at >= failed_since,
            *own,
        )
        .order_by(reports.c.next_at.desc())
        .limit(limit)
    )
    troubled: list[ReportState] = []
    async with db.read() as conn:
        backlog = await _webhook_backlog(conn, failed_since)
        for stmt in (retrying, failed):
            result = await conn.execute(stmt)
            troubled.extend(_report_state(r) for r in result.mappings())
    return Webhooks(backlog=backlog, troubled=tuple(troubled))


async def resend_report(db: Database, report_id: int, now: float) -> bool:
    """Put a report's webhook back in the queue, due now (delivered ones too: the
    client may have lost it). False: no such report with a webhook."""
    async with db.transaction() as conn:
        result = await conn.execute(
            update(reports)
            .where(reports.c.id == report_id, reports.c.webhook_state != "none")
            .values(webhook_state="pending", next_at=now, last_error="")
        )
    return bool(result.rowcount)


# -- a message -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Story:
    """A message with its events, its webhook reports and the fallbacks made
    from it."""

    message: lookup.MessageView
    events: tuple[lookup.EventView, ...]
    reports: tuple[ReportState, ...]
    fallbacks: tuple[int, ...]


async def story(db: Database, message_id: int) -> Story | None:
    """A message of any client by its umsMsgId, with its events, its webhook
    reports (those of the umsMsgId its client knows: its own, or its parent's for a
    fallback, by the ``(client_id, ums_msg_id)`` index) and the fallbacks made from
    it (the partial parent index); None if there is no such message."""
    async with db.read() as conn:
        row = (
            (
                await conn.execute(
                    select(*lookup.VIEW_COLUMNS).where(messages.c.id == message_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        message = lookup.view(row)
        events = await lookup.timeline(conn, message_id)
        known_as = message_id
        if message.is_fallback and message.fallback_of is not None:
            known_as = message.fallback_of
        report_rows = await conn.execute(
            select(*_REPORT_COLUMNS)
            .where(
                and_(
                    reports.c.client_id == message.client_id,
                    reports.c.ums_msg_id == known_as,
                )
            )
            .order_by(reports.c.id)
        )
        fallbacks = await conn.execute(
            select(messages.c.id).where(messages.c.parent_id == message_id).limit(10)
        )
        return Story(
            message=message,
            events=events,
            reports=tuple(_report_state(r) for r in report_rows.mappings()),
            fallbacks=tuple(int(f[0]) for f in fallbacks),
        )
