"""What the operator console and the admin API read and change beyond operators
(`umsgate.store.operators`) and the message searches (`umsgate.store.lookup`): the
dashboard's figures, the webhook backlog and its troubled reports, and a message's
whole story.

The queries run on the database driver (`umsgate.store.driver`) in SQL that SQLite
and PostgreSQL both accept. Each operation opens its own read or transaction; the
figures of one page are read in one snapshot, so they agree. Every figure comes
from an index range: the last hour of messages by ``created_at`` and ``done_at``,
the backlog by ``(status, due_at)``, the webhook backlog by ``(webhook_state,
next_at)``; none counts the whole table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from umsgate.domain.lifecycle import Status
from umsgate.store import lookup
from umsgate.store.driver import Source, Tx, Value

#: Statuses of messages still on their way (the backlog).
OPEN_STATUSES = tuple(s.value for s in Status if not s.final)
#: Most rows of the webhook lists per state.
WEBHOOK_LIST_LIMIT = 200
#: Most reports of one webhook state counted for the backlog figures (a page load
#: reads at most this many index entries; the console shows "at least" beyond).
BACKLOG_CAP = 100_000


# -- the dashboard --------------------------------------------------------------------


def _minute(column: str) -> str:
    """The minute since the epoch of a time column, as an integer. ``floor`` first:
    PostgreSQL rounds a float it casts to an integer, SQLite truncates it."""
    return f"CAST(floor({column} / 60.0) AS INTEGER)"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Dashboard:
    """The figures of the dashboard since a time."""

    accepted: tuple[Accepted, ...]
    finished: tuple[Finished, ...]
    #: Messages on their way, for each status of `OPEN_STATUSES` in order.
    backlog: tuple[StatusCount, ...]
    webhooks: WebhookBacklog


async def dashboard(db: Source, since: float, failed_since: float) -> Dashboard:
    """Messages created and ended since ``since``, the backlog, and the webhook
    backlog with the reports given up since ``failed_since``, in one read."""
    async with db.driver.snapshot() as snap:
        return Dashboard(
            accepted=await _accepted_per_minute(snap, since),
            finished=await _finals_per_minute(snap, since),
            backlog=await _backlog_by_status(snap),
            webhooks=await _webhook_backlog(snap, failed_since),
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    """Messages created in one minute on one channel."""

    #: Minutes since the epoch.
    minute: int
    channel: str
    count: int


async def _accepted_per_minute(snap: Tx, since: float) -> tuple[Accepted, ...]:
    """The messages created since ``since`` (clients' own and fallbacks), by the
    ``created_at`` index."""
    minute = _minute("created_at")
    rows = await snap.fetch(
        f"SELECT {minute}, channel, count(*) FROM messages WHERE created_at >= ?"
        f" GROUP BY {minute}, channel",
        (since,),
    )
    return tuple(
        Accepted(minute=int(m or 0), channel=str(c), count=int(n or 0))
        for m, c, n in rows
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


async def _finals_per_minute(snap: Tx, since: float) -> tuple[Finished, ...]:
    """The messages that ended since ``since``, by the partial ``done_at`` index."""
    minute = _minute("done_at")
    # Grouped by the expressions, not their names: both databases read a name in
    # GROUP BY as the table's column first, and ``connector`` is one (NULL and ""
    # would stay apart).
    connector = "coalesce(connector, '')"
    rows = await snap.fetch(
        f"SELECT {minute}, status, channel, {connector}, count(*) FROM messages"
        " WHERE done_at IS NOT NULL AND done_at >= ?"
        f" GROUP BY {minute}, status, channel, {connector}",
        (since,),
    )
    return tuple(
        Finished(
            minute=int(m or 0),
            status=str(s),
            channel=str(c),
            connector=str(k),
            count=int(n or 0),
        )
        for m, s, c, k, n in rows
    )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StatusCount:
    status: str
    count: int


async def _backlog_by_status(snap: Tx) -> tuple[StatusCount, ...]:
    """Messages on their way by status (the ``(status, due_at)`` index; counts the
    backlog only)."""
    out = []
    for status in OPEN_STATUSES:
        rows = await snap.fetch(
            "SELECT count(*) FROM messages WHERE status = ?", (status,)
        )
        out.append(StatusCount(status=status, count=int(rows[0][0] or 0)))
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


#: The columns of ``reports`` a `ReportState` is made of, in its order.
_REPORT_COLUMNS = (
    "id",
    "client_id",
    "ums_msg_id",
    "channel",
    "webhook_state",
    "attempts",
    "next_at",
    "last_error",
    "created_at",
)
_SELECT_REPORT = f"SELECT {', '.join(_REPORT_COLUMNS)} FROM reports"


def _report_state(row: Sequence[Value]) -> ReportState:
    """The state of a row of `_REPORT_COLUMNS`."""
    (
        id_,
        client_id,
        ums_msg_id,
        channel,
        state,
        attempts,
        next_at,
        last_error,
        created_at,
    ) = row
    return ReportState(
        id=int(id_ or 0),
        client_id=str(client_id),
        ums_msg_id=int(ums_msg_id or 0),
        channel=str(channel),
        state=str(state),
        attempts=int(attempts or 0),
        next_at=float(next_at or 0.0),
        last_error=str(last_error),
        created_at=float(created_at or 0.0),
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
    snap: Tx, failed_since: float, cap: int = BACKLOG_CAP
) -> WebhookBacklog:
    """Reports waiting for their webhook and given up since ``failed_since``, per
    client, with the oldest pending report's creation time; at most ``cap`` of each
    state are counted.

    Each count reads an index range of ``(webhook_state, next_at)`` in a bounded
    subquery: grouped directly, a planner that knows the column has three values
    prefers to walk the whole table in client order.
    """
    pending = await snap.fetch(
        "SELECT client_id, count(*),"
        " sum(CASE WHEN attempts > 0 THEN 1 ELSE 0 END), min(created_at)"
        " FROM (SELECT client_id, attempts, created_at FROM reports"
        " WHERE webhook_state = 'pending' ORDER BY next_at LIMIT ?) AS pending"
        " GROUP BY client_id",
        (cap,),
    )
    failed = await snap.fetch(
        "SELECT client_id, count(*)"
        " FROM (SELECT client_id FROM reports"
        " WHERE webhook_state = 'failed' AND next_at >= ? ORDER BY next_at LIMIT ?)"
        " AS failed GROUP BY client_id",
        (failed_since, cap),
    )
    per_client: dict[str, ClientWebhooks] = {}
    oldest: float | None = None
    for client_id, n, n_failing, first in pending:
        per_client[str(client_id)] = ClientWebhooks(
            client_id=str(client_id), pending=int(n or 0), failing=int(n_failing or 0)
        )
        if first is not None and (oldest is None or float(first) < oldest):
            oldest = float(first)
    for client_id, n in failed:
        entry = per_client.get(str(client_id), ClientWebhooks(client_id=str(client_id)))
        per_client[str(client_id)] = dataclasses.replace(entry, failed=int(n or 0))
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
    db: Source,
    *,
    failed_since: float,
    client_id: str | None = None,
    limit: int = WEBHOOK_LIST_LIMIT,
) -> Webhooks:
    """The webhook backlog, and the reports whose webhook failed at least once:
    pending again (oldest next try first) and given up since ``failed_since``
    (latest first), of every client or one."""
    own = "" if client_id is None else " AND client_id = ?"
    owner: tuple[Value, ...] = () if client_id is None else (client_id,)
    retrying = (
        f"{_SELECT_REPORT} WHERE webhook_state = 'pending' AND attempts > 0{own}"
        " ORDER BY next_at LIMIT ?",
        (*owner, limit),
    )
    failed = (
        f"{_SELECT_REPORT} WHERE webhook_state = 'failed' AND next_at >= ?{own}"
        " ORDER BY next_at DESC LIMIT ?",
        (failed_since, *owner, limit),
    )
    troubled: list[ReportState] = []
    async with db.driver.snapshot() as snap:
        backlog = await _webhook_backlog(snap, failed_since)
        for sql, params in (retrying, failed):
            troubled.extend(_report_state(r) for r in await snap.fetch(sql, params))
    return Webhooks(backlog=backlog, troubled=tuple(troubled))


async def resend_report(db: Source, report_id: int, now: float) -> bool:
    """Put a report's webhook back in the queue, due now (delivered ones too: the
    client may have lost it). False: no such report with a webhook."""
    async with db.driver.transaction() as tx:
        changed = await tx.execute(
            "UPDATE reports SET webhook_state = 'pending', next_at = ?,"
            " last_error = '' WHERE id = ? AND webhook_state <> 'none'",
            (now, report_id),
        )
    return bool(changed)


# -- a message -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Story:
    """A message with its events, its webhook reports and the fallbacks made
    from it."""

    message: lookup.MessageView
    events: tuple[lookup.EventView, ...]
    reports: tuple[ReportState, ...]
    fallbacks: tuple[int, ...]


async def story(db: Source, message_id: int) -> Story | None:
    """A message of any client by its umsMsgId, with its events, its webhook
    reports (those of the umsMsgId its client knows: its own, or its parent's for a
    fallback, by the ``(client_id, ums_msg_id)`` index) and the fallbacks made from
    it (the partial parent index); None if there is no such message."""
    async with db.driver.snapshot() as snap:
        rows = await snap.fetch(f"{lookup.SELECT_VIEW} WHERE id = ?", (message_id,))
        if not rows:
            return None
        message = lookup.view(rows[0])
        events = await lookup.timeline(snap, message_id)
        known_as = message_id
        if message.is_fallback and message.fallback_of is not None:
            known_as = message.fallback_of
        report_rows = await snap.fetch(
            f"{_SELECT_REPORT} WHERE client_id = ? AND ums_msg_id = ? ORDER BY id",
            (message.client_id, known_as),
        )
        fallbacks = await snap.fetch(
            "SELECT id FROM messages WHERE parent_id = ? ORDER BY id LIMIT 10",
            (message_id,),
        )
    return Story(
        message=message,
        events=events,
        reports=tuple(_report_state(r) for r in report_rows),
        fallbacks=tuple(int(f or 0) for (f,) in fallbacks),
    )
