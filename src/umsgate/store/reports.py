"""Reports in the store: the reports of final messages and their webhook
deliveries, and the provider reports parked until their message is known.

The ledger and the notifier write these on the driver inside a
`umsgate.store.transactions.transaction`; the counts and the report check read
on the driver's own connection (`umsgate.store.driver`).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Sequence

from umsgate.domain.records import ReportRow
from umsgate.domain.transitions import EventRow
from umsgate.store.driver import Source, chunks, fetch, insert_sql, marks, unnest
from umsgate.store.messages import insert_events
from umsgate.store.transactions import Transaction

#: The columns of ``reports`` but its id, in the schema's order (a test compares
#: them with `umsgate.store.tables`, SQLAlchemy's, which is loaded only to migrate).
REPORT_COLUMNS = (
    "message_id",
    "client_id",
    "ums_msg_id",
    "channel",
    "origin_channel",
    "body",
    "created_at",
    "webhook_state",
    "attempts",
    "next_at",
    "last_error",
    "face",
    "target_url",
)

#: PostgreSQL's types of `REPORT_COLUMNS` (compared with the schema by a test).
REPORT_PG_TYPES = (
    "bigint",
    "text",
    "bigint",
    "text",
    "text",
    "text",
    "float8",
    "text",
    "integer",
    "float8",
    "text",
    "text",
    "text",
)

_INSERT_REPORT = insert_sql("reports", REPORT_COLUMNS)
_PG_INSERT_REPORTS = (
    f"INSERT INTO reports ({','.join(REPORT_COLUMNS)}) "
    f"SELECT * FROM {unnest(REPORT_PG_TYPES)}"
)
#: A `ReportRow`'s values in the order of `REPORT_COLUMNS` (its fields are named
#: after them).
_report_values = operator.attrgetter(*REPORT_COLUMNS)


async def insert_reports(tx: Transaction, rows: Sequence[ReportRow]) -> None:
    await tx.write_rows(
        _INSERT_REPORT, _PG_INSERT_REPORTS, [_report_values(r) for r in rows]
    )


# -- webhooks --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookDue:
    """A report whose webhook delivery is due, claimed for one try."""

    id: int
    client_id: str
    body: str
    attempts: int
    #: The compatible face whose rule pushes it ("" for the native report).
    face: str
    target_url: str
    message_id: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookResult:
    """What a try (or a decision not to try) leaves of a delivery."""

    id: int
    #: ``done``, ``pending`` (tried again at ``next_at``), ``failed`` or ``none``.
    state: str
    attempts: int
    next_at: float
    error: str
    #: The client whose failed try counts in the notifier's failure log.
    client: str | None = None
    #: The try as an event of its message's timeline (None: nothing was sent).
    attempt: EventRow | None = None


async def claim_webhooks(
    tx: Transaction, now: float, lease_until: float, limit: int
) -> list[WebhookDue]:
    """Claim due deliveries (``next_at`` moves to ``lease_until``)."""
    lock = " FOR UPDATE SKIP LOCKED" if tx.postgres else ""
    rows = await tx.fetch(
        "UPDATE reports SET next_at = ? WHERE id IN (SELECT id FROM reports "
        "WHERE webhook_state = 'pending' AND next_at <= ? "
        f"ORDER BY next_at LIMIT ?{lock}) "
        "RETURNING id, client_id, body, attempts, face, target_url, message_id",
        [lease_until, now, limit],
    )
    return [
        WebhookDue(
            id=int(i),
            client_id=c,
            body=b,
            attempts=int(n),
            face=f,
            target_url=t,
            message_id=int(m),
        )
        for i, c, b, n, f, t, m in rows
    ]


async def webhook_results(tx: Transaction, rows: Sequence[WebhookResult]) -> None:
    """Record webhook results, and their tries as events of their messages'
    timelines (see `umsgate.store.lookup.webhook_event`)."""
    await tx.write_rows(
        "UPDATE reports "
        "SET webhook_state = ?, attempts = ?, next_at = ?, last_error = ? WHERE id = ?",
        _PG_WEBHOOK_RESULTS,
        [(r.state, r.attempts, r.next_at, r.error, r.id) for r in rows],
    )
    await insert_events(tx, [r.attempt for r in rows if r.attempt is not None])


#: PostgreSQL: webhook results in one statement.
_PG_WEBHOOK_RESULTS = (
    "UPDATE reports AS r SET webhook_state = v.state, attempts = v.attempts, "
    "next_at = v.next_at, last_error = v.error FROM "
    + unnest(("text", "integer", "float8", "text", "bigint"))
    + " AS v(state, attempts, next_at, error, id) WHERE r.id = v.id"
)


async def next_webhook_at(db: Source) -> float | None:
    """When the next webhook delivery is due (None: none is pending)."""
    rows = await fetch(
        db, "SELECT min(next_at) FROM reports WHERE webhook_state = 'pending'"
    )
    value = rows[0][0] if rows else None
    return None if value is None else float(value)


@dataclasses.dataclass(frozen=True, slots=True)
class WebhookBacklog:
    """Reports waiting to be pushed: how many, and when the oldest was written
    (None when there is none)."""

    waiting: int
    oldest: float | None


async def webhook_backlog(db: Source) -> WebhookBacklog:
    """The reports waiting for their webhook: a range of the (webhook_state,
    next_at) index."""
    rows = await fetch(
        db,
        "SELECT count(*), min(created_at) FROM reports WHERE webhook_state = 'pending'",
    )
    count, oldest = rows[0]
    return WebhookBacklog(int(count or 0), None if oldest is None else float(oldest))


async def reports_for_check(
    db: Source,
    client_id: str,
    ums_ids: Sequence[int],
    channels: Sequence[str],
    origin_channels: Sequence[str],
) -> list[str]:
    """Bodies of the client's native reports for ``ums_ids`` whose channel, or whose
    original message's channel, is one of those given (reports of messages that came
    in by a compatible face are in that face's format, and are not among them)."""
    either = [
        f"{column} IN ({marks(len(values))})"
        for column, values in (
            ("channel", channels),
            ("origin_channel", origin_channels),
        )
        if values
    ]
    if not either:
        return []
    out: list[str] = []
    async with db.driver.snapshot() as snap:
        for chunk in chunks(list(ums_ids)):
            rows = await snap.fetch(
                "SELECT body FROM reports WHERE client_id = ?"
                f" AND ums_msg_id IN ({marks(len(chunk))}) AND face = ''"
                f" AND ({' OR '.join(either)}) ORDER BY id",
                (client_id, *chunk, *channels, *origin_channels),
            )
            out.extend(str(r[0]) for r in rows)
    return out


# -- reports waiting for their message -------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ParkedReport:
    """A provider's report parked until its message is known (``pending_reports``)."""

    connector: str
    provider_msg_id: str
    #: The report, as JSON.
    body: str
    created_at: float
    #: Its row id (0 before it is stored).
    id: int = 0


async def insert_pending_reports(tx: Transaction, rows: Sequence[ParkedReport]) -> None:
    await tx.executemany(
        "INSERT INTO pending_reports (connector, provider_msg_id, body, created_at) "
        "VALUES (?,?,?,?)",
        [(r.connector, r.provider_msg_id, r.body, r.created_at) for r in rows],
    )


async def take_pending_reports(
    tx: Transaction, limit: int, *, after: int = 0, before: float | None = None
) -> list[ParkedReport]:
    """Parked reports in the order they were parked: from row id ``after`` on,
    parked before ``before``."""
    lock = " FOR UPDATE SKIP LOCKED" if tx.postgres else ""
    since = "" if before is None else " AND created_at <= ?"
    params: list[object] = [after] if before is None else [after, before]
    rows = await tx.fetch(
        "SELECT id, connector, provider_msg_id, body, created_at FROM pending_reports "
        f"WHERE id > ?{since} ORDER BY id LIMIT ?{lock}",
        [*params, limit],
    )
    return [
        ParkedReport(
            id=int(i), connector=c, provider_msg_id=p, body=b, created_at=float(at)
        )
        for i, c, p, b, at in rows
    ]


async def pending_report_bodies(tx: Transaction, limit: int) -> list[str]:
    """The bodies of the first ``limit`` parked reports."""
    rows = await tx.fetch(
        "SELECT body FROM pending_reports ORDER BY id LIMIT ?", [limit]
    )
    return [str(r[0]) for r in rows]


async def delete_pending_reports(tx: Transaction, ids: Sequence[int]) -> None:
    await tx.executemany(
        "DELETE FROM pending_reports WHERE id = ?", [(i,) for i in ids]
    )


async def delete_pending_by_key(
    tx: Transaction, keys: Sequence[tuple[str, str]]
) -> None:
    """Delete the parked reports of these (connector, provider id)s."""
    await tx.executemany(
        "DELETE FROM pending_reports WHERE connector = ? AND provider_msg_id = ?",
        list(keys),
    )
