"""The hot path of the store, on the database driver itself.

Accepting, claiming and recording outcomes touch every message several times, and
SQLAlchemy's per-row parameter processing and per-call overhead cost more than the
database work itself (profiled: about 60 % of the store's share of a message). These
statements are therefore written once here, in the SQL both dialects share, and run on
the driver connection (SQLite's own, or asyncpg) inside a transaction this module
opens: on SQLite a part of the writer's shared transaction (``BEGIN IMMEDIATE``, one
writer at a time, waiting for the lock rather than failing half-way; see
`SqliteWriter`), an asyncpg transaction on PostgreSQL. Placeholders are written
``?`` and numbered ``$n`` for asyncpg. Everything else in the store uses SQLAlchemy
Core (`queries`), and the schema stays defined once, in `tables`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from umsgate.domain.lifecycle import Status
from umsgate.store.database import Database
from umsgate.store.tables import events, messages, reports

#: Largest IN list in one statement (SQLite allows 32,766 parameters).
IN_CHUNK = 5000

MESSAGE_COLUMNS = tuple(c.name for c in messages.columns)
#: What the ledger reads to decide a transition and write a report (no bodies).
STATE_COLUMNS = tuple(
    c
    for c in MESSAGE_COLUMNS
    if c not in ("content", "subject", "file_ids", "content_hash")
)
EVENT_COLUMNS = tuple(c.name for c in events.columns if c.name != "id")
REPORT_COLUMNS = tuple(c.name for c in reports.columns if c.name != "id")
#: The columns a status change may write.
MUTABLE = (
    "status",
    "owner",
    "due_at",
    "connector",
    "provider_msg_id",
    "sent_at",
    "done_at",
    "result_code",
    "raw_code",
    "result_message",
    "carrier",
    "segments",
    "attempts",
)

_QMARK = re.compile(r"\?")


def _numbered(sql: str) -> str:
    counter = iter(range(1, 100_000))
    return _QMARK.sub(lambda _m: f"${next(counter)}", sql)


def _marks(n: int) -> str:
    return ",".join("?" * n)


class Raw:
    """A driver connection inside a transaction, with the dialect's calling style:
    an asyncpg connection, or SQLite's `sqlite3.Connection` whose statements run
    on the loop's thread (see `SqliteWriter`)."""

    def __init__(self, driver: Any, *, postgres: bool) -> None:
        self.driver = driver
        self.postgres = postgres

    def _sql(self, sql: str) -> str:
        return _numbered(sql) if self.postgres else sql

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.postgres:
            await self.driver.executemany(self._sql(sql), rows)
        else:
            self.driver.executemany(sql, rows)

    async def fetch(
        self, sql: str, params: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        if self.postgres:
            return [tuple(r) for r in await self.driver.fetch(self._sql(sql), *params)]
        cursor = self.driver.execute(sql, params)
        try:
            return cursor.fetchall()  # type: ignore[no-any-return]
        finally:
            cursor.close()


class Pending:
    """Where `transaction` leaves the COMMIT of a part on SQLite instead of waiting
    for it: ``commit`` is then the future of that COMMIT, which the caller must
    await before it tells anyone the part is done (None: already committed)."""

    __slots__ = ("commit",)

    def __init__(self) -> None:
        self.commit: asyncio.Future[None] | None = None


@contextlib.asynccontextmanager
async def transaction(
    db: Database, *, pending: Pending | None = None
) -> AsyncIterator[Raw]:
    """A driver-level transaction: committed on normal exit, rolled back on error.

    With ``pending`` on SQLite, the exit does not wait for the COMMIT of the part:
    it leaves its future in ``pending.commit`` (so a caller may write its next part
    while this one waits; both are on the one writer connection, so the next part
    sees this one's rows, and a failed COMMIT fails both)."""
    if db.is_sqlite:
        # The hot path has a connection of its own (see Database.sqlite_writer): a
        # pool checkout and its reset cost more than a small transaction.
        # Its transactions are shared: each caller's statements are a part of the
        # one open transaction (a savepoint), and the parts written within a
        # couple of loop turns commit together (`SqliteWriter.join`).
        async with db.sqlite_writer() as writer:
            try:
                await writer.join()
                yield Raw(writer.conn, postgres=False)
            except BaseException:
                await writer.rollback_part()
                raise
            committed = writer.keep()
        if pending is not None:
            pending.commit = committed
            return
        # Shielded: the COMMIT is the other parts' too.
        await asyncio.shield(committed)
        return
    pool = await db.pg_pool()
    async with pool.acquire() as pg:
        tx = pg.transaction()
        await tx.start()
        try:
            yield Raw(pg, postgres=True)
        except BaseException:
            # A connection that broke cannot roll back; the pool replaces it.
            with contextlib.suppress(Exception):
                await tx.rollback()
            raise
        await tx.commit()


def _chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- accepting -------------------------------------------------------------------------


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({','.join(columns)}) VALUES ({_marks(len(columns))})"


_INSERT_MESSAGE = (
    _insert_sql("messages", MESSAGE_COLUMNS)
    + " ON CONFLICT (client_id, src_msg_id, kind) DO NOTHING"
)
_INSERT_EVENT = _insert_sql("events", EVENT_COLUMNS)
_INSERT_REPORT = _insert_sql("reports", REPORT_COLUMNS)


async def insert_messages(raw: Raw, rows: Sequence[dict[str, Any]]) -> bool:
    """Insert messages; a (client, srcMsgId, kind) that exists is skipped. True when
    every row is known to be inserted (SQLite counts the rows it changed), so that
    nobody needs to read the keys back; False when some were skipped or the count
    is not known (asyncpg's executemany gives none)."""
    params = [tuple(map(r.get, MESSAGE_COLUMNS)) for r in rows]
    if raw.postgres:
        await raw.executemany(_INSERT_MESSAGE, params)
        return False
    before = raw.driver.total_changes
    await raw.executemany(_INSERT_MESSAGE, params)
    return bool(raw.driver.total_changes - before == len(rows))


def _pg_array_type(column: Any) -> str:
    name = type(column.type).__name__.upper()
    if name in ("BIGINTEGER", "BIGINT"):
        return "bigint"
    if name in ("INTEGER", "SMALLINTEGER"):
        return "integer"
    if name in ("FLOAT", "DOUBLE", "DOUBLE_PRECISION", "NUMERIC"):
        return "float8"
    return "text"


#: PostgreSQL: one statement that inserts a group commit's messages (skipping keys
#: that exist), the events of those it inserted, and returns their ids and the
#: messages that were there before under the other keys. In autocommit it is one
#: round trip, COMMIT included, where a transaction of separate statements was
#: six, each a wait of the event loop and of the server under load (BEGIN alone
#: p50 4 ms on `bench/e2e.py`).
_PG_ACCEPT = (
    "WITH new AS (INSERT INTO messages ("
    + ",".join(MESSAGE_COLUMNS)
    + ") SELECT * FROM unnest("
    + ",".join(
        f"${i + 1}::{_pg_array_type(messages.c[c])}[]"
        for i, c in enumerate(MESSAGE_COLUMNS)
    )
    + ") ON CONFLICT (client_id, src_msg_id, kind) DO NOTHING RETURNING id), "
    + "ev AS (INSERT INTO events ("
    + ",".join(EVENT_COLUMNS)
    + ") SELECT e.* FROM unnest("
    + ",".join(
        f"${len(MESSAGE_COLUMNS) + i + 1}::{t}[]"
        for i, t in enumerate(("bigint", "float8", "text", "text", "text"))
    )
    + ") AS e(message_id, at, status, code, detail) "
    + "WHERE e.message_id IN (SELECT id FROM new)) "
    + "SELECT true, id, '', '', '', 0.0 FROM new UNION ALL "
    + "SELECT false, m.id, m.client_id, m.src_msg_id, m.content_hash, m.created_at "
    + "FROM messages m JOIN unnest($2::text[], $3::text[]) AS k(client_id, src_msg_id) "
    + "ON m.client_id = k.client_id AND m.src_msg_id = k.src_msg_id AND m.kind = 0"
)


async def accept_at_once(
    db: Database,
    rows: Sequence[dict[str, Any]],
    events: Sequence[tuple[int, float, str, str | None, str]],
) -> tuple[set[int], dict[tuple[str, str], tuple[int, str, float]]]:
    """PostgreSQL, one statement in its own transaction: insert ``rows`` (skipping
    keys that exist) and the ``events`` of those inserted; (the ids inserted, the
    (client, srcMsgId) → (id, content hash, created_at) of the others that existed
    before). A key in neither was inserted meanwhile by a transaction this one
    waited for (the same request twice at once): read it with `message_keys`."""
    # Column-wise, for unnest (rows and events are never empty-width).
    columns = [[r.get(c) for r in rows] for c in MESSAGE_COLUMNS]
    event_columns = [[e[i] for e in events] for i in range(5)]
    pool = await db.pg_pool()
    async with pool.acquire() as pg:
        found = await pg.fetch(_PG_ACCEPT, *columns, *event_columns)
    inserted: set[int] = set()
    existing: dict[tuple[str, str], tuple[int, str, float]] = {}
    for is_new, mid, client, src, digest, created in found:
        if is_new:
            inserted.add(int(mid))
        else:
            existing[(client, src)] = (int(mid), digest, float(created))
    return inserted, existing


async def message_keys(
    raw: Raw, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, str, float]]:
    """(client, srcMsgId) → (id, content hash, created_at) of clients' own messages."""
    found: dict[tuple[str, str], tuple[int, str, float]] = {}
    by_client: dict[str, list[str]] = {}
    for client, src in dict.fromkeys(keys):
        by_client.setdefault(client, []).append(src)
    for client, srcs in by_client.items():
        for chunk in _chunks(srcs):
            rows = await raw.fetch(
                "SELECT src_msg_id, id, content_hash, created_at FROM messages "
                "WHERE client_id = ? AND kind = 0 "
                f"AND src_msg_id IN ({_marks(len(chunk))})",
                [client, *chunk],
            )
            for src, mid, digest, created in rows:
                found[(client, src)] = (int(mid), digest, float(created))
    return found


async def insert_events(
    raw: Raw, rows: Sequence[tuple[int, float, str, str | None, str]]
) -> None:
    """Events as (message_id, at, status, code, detail)."""
    await raw.executemany(_INSERT_EVENT, rows)


# -- duplicate sends -------------------------------------------------------------------

#: Guard rows in one statement (6 parameters each).
GUARD_CHUNK = 1000
_GUARD_COLUMNS = ("client_id", "receiver", "digest", "src_msg_id", "at", "expires_at")


async def take_send_guards(
    raw: Raw, rows: Sequence[tuple[str, str, str, str, float, float]]
) -> set[tuple[str, str, str]]:
    """Take the guards of (client, receiver, digest, srcMsgId, at, expires_at), at
    most one row per key, sorted by key (so that concurrent transactions lock in
    one order): a key without a guard, or whose guard is older than the new row's
    window (``expires_at - at``), is taken and returned; one taken within that window
    is not (a duplicate). The row lock of the upsert makes concurrent takers of one
    key wait, so only one of them wins, across nodes too."""
    taken: set[tuple[str, str, str]] = set()
    for chunk in _chunks(rows, GUARD_CHUNK):
        values = ",".join(f"({_marks(len(_GUARD_COLUMNS))})" for _ in chunk)
        found = await raw.fetch(
            f"INSERT INTO send_guards ({','.join(_GUARD_COLUMNS)}) VALUES {values} "
            "ON CONFLICT (client_id, receiver, digest) DO UPDATE SET "
            "src_msg_id = excluded.src_msg_id, at = excluded.at, "
            "expires_at = excluded.expires_at "
            "WHERE send_guards.at <= excluded.at - (excluded.expires_at - excluded.at) "
            "RETURNING client_id, receiver, digest",
            [value for row in chunk for value in row],
        )
        taken.update((c, r, d) for c, r, d in found)
    return taken


async def delete_messages(raw: Raw, ids: Sequence[int]) -> None:
    """Remove messages inserted in this transaction (refused before the commit)."""
    await raw.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in ids])


# -- claiming --------------------------------------------------------------------------


async def claim_due(
    raw: Raw, node_id: str, now: float, limit: int
) -> list[dict[str, Any]]:
    """Claim up to ``limit`` due QUEUED messages (they become SENDING, owned by
    ``node_id``); returns their rows. A claim is not an attempt: the ledger counts
    one when a connector answers (`umsgate.engine.ledger`)."""
    lock = " FOR UPDATE SKIP LOCKED" if raw.postgres else ""
    rows = await raw.fetch(
        "UPDATE messages "
        "SET status = ?, owner = ?, claimed_at = ? "
        f"WHERE id IN (SELECT id FROM messages WHERE status = ? AND due_at <= ? "
        f"ORDER BY due_at LIMIT ?{lock}) RETURNING {','.join(MESSAGE_COLUMNS)}",
        [Status.SENDING.value, node_id, now, Status.QUEUED.value, now, limit],
    )
    return [dict(zip(MESSAGE_COLUMNS, r, strict=True)) for r in rows]


# -- the ledger ------------------------------------------------------------------------


async def lock_messages(raw: Raw, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """State rows of ``ids`` (locked for update on PostgreSQL until commit)."""
    found: dict[int, dict[str, Any]] = {}
    lock = " FOR UPDATE" if raw.postgres else ""
    for chunk in _chunks(list(ids)):
        rows = await raw.fetch(
            f"SELECT {','.join(STATE_COLUMNS)} FROM messages "
            f"WHERE id IN ({_marks(len(chunk))}){lock}",
            list(chunk),
        )
        for r in rows:
            row = dict(zip(STATE_COLUMNS, r, strict=True))
            found[row["id"]] = row
    return found


def mutable_values(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """The `MUTABLE` columns of a state row, to compare with after a change."""
    return tuple(row[c] for c in MUTABLE)


@functools.cache
def _update_sql(columns: tuple[int, ...]) -> str:
    sets = ", ".join(f"{MUTABLE[i]} = ?" for i in columns)
    return f"UPDATE messages SET {sets} WHERE id = ?"


async def update_messages(
    raw: Raw,
    rows: Sequence[dict[str, Any]],
    before: Mapping[int, tuple[Any, ...]],
) -> None:
    """Write the columns of each row that differ from ``before`` (its
    `mutable_values` when it was read), one statement per set of columns. A
    column left out of the SET list leaves its indexes alone: a final status does
    not rewrite the provider id's index entry, for one."""
    groups: dict[tuple[int, ...], list[tuple[Any, ...]]] = {}
    for row in rows:
        now = mutable_values(row)
        was = before.get(row["id"])
        changed = tuple(
            i for i, value in enumerate(now) if was is None or value != was[i]
        )
        if changed:
            groups.setdefault(changed, []).append(
                (*(now[i] for i in changed), row["id"])
            )
    for columns, params in groups.items():
        await raw.executemany(_update_sql(columns), params)


async def insert_reports(raw: Raw, rows: Sequence[dict[str, Any]]) -> None:
    await raw.executemany(
        _INSERT_REPORT, [tuple(r[c] for c in REPORT_COLUMNS) for r in rows]
    )


# -- webhooks --------------------------------------------------------------------------


async def claim_webhooks(
    raw: Raw, now: float, lease_until: float, limit: int
) -> list[tuple[Any, ...]]:
    """Claim due deliveries (``next_at`` moves to ``lease_until``); rows of (id,
    client, body, attempts, face, target URL, message id)."""
    lock = " FOR UPDATE SKIP LOCKED" if raw.postgres else ""
    return await raw.fetch(
        "UPDATE reports SET next_at = ? WHERE id IN (SELECT id FROM reports "
        "WHERE webhook_state = 'pending' AND next_at <= ? "
        f"ORDER BY next_at LIMIT ?{lock}) "
        "RETURNING id, client_id, body, attempts, face, target_url, message_id",
        [lease_until, now, limit],
    )


async def webhook_results(
    raw: Raw,
    rows: Sequence[dict[str, Any]],
    tries: Sequence[tuple[int, float, str, str | None, str]] = (),
) -> None:
    """Record webhook results, and the ``tries`` as events of their messages' timelines
    (see `umsgate.store.lookup.webhook_event`)."""
    await raw.executemany(
        "UPDATE reports "
        "SET webhook_state = ?, attempts = ?, next_at = ?, last_error = ? WHERE id = ?",
        [(r["state"], r["attempts"], r["next_at"], r["error"], r["id"]) for r in rows],
    )
    if tries:
        await raw.executemany(_INSERT_EVENT, tries)


# -- parts of multi-part messages, and reports waiting for their message ---------------


async def ids_by_provider(
    raw: Raw, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, int | None]]:
    """(connector, provider id) → (message id, part number; None for a whole
    message)."""
    found: dict[tuple[str, str], tuple[int, int | None]] = {}
    by_connector: dict[str, list[str]] = {}
    for connector, pid in dict.fromkeys(keys):
        by_connector.setdefault(connector, []).append(pid)
    for connector, pids in by_connector.items():
        for chunk in _chunks(pids):
            marks = _marks(len(chunk))
            for pid, mid, part in await raw.fetch(
                "SELECT provider_msg_id, message_id, part FROM message_parts "
                f"WHERE connector = ? AND provider_msg_id IN ({marks})",
                [connector, *chunk],
            ):
                found[(connector, pid)] = (int(mid), int(part))
            rest = [p for p in chunk if (connector, p) not in found]
            if not rest:
                continue
            for pid, mid in await raw.fetch(
                "SELECT provider_msg_id, id FROM messages "
                f"WHERE connector = ? AND provider_msg_id IN ({_marks(len(rest))})",
                [connector, *rest],
            ):
                found[(connector, pid)] = (int(mid), None)
    return found


async def parts_of(
    raw: Raw, message_ids: Sequence[int]
) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    cols = (
        "connector",
        "provider_msg_id",
        "message_id",
        "part",
        "result_code",
        "raw_code",
    )
    for chunk in _chunks(list(message_ids)):
        for r in await raw.fetch(
            f"SELECT {','.join(cols)} FROM message_parts "
            f"WHERE message_id IN ({_marks(len(chunk))})",
            list(chunk),
        ):
            row = dict(zip(cols, r, strict=True))
            out.setdefault(int(row["message_id"]), []).append(row)
    return out


async def insert_parts(raw: Raw, rows: Sequence[dict[str, Any]]) -> None:
    await raw.executemany(
        "INSERT INTO message_parts (connector, provider_msg_id, message_id, part) "
        "VALUES (?,?,?,?) "
        "ON CONFLICT (connector, provider_msg_id) DO NOTHING",
        [
            (r["connector"], r["provider_msg_id"], r["message_id"], r["part"])
            for r in rows
        ],
    )


async def update_parts(raw: Raw, rows: Sequence[dict[str, Any]]) -> None:
    await raw.executemany(
        "UPDATE message_parts SET result_code = ?, raw_code = ? "
        "WHERE connector = ? AND provider_msg_id = ?",
        [
            (r["result_code"], r["raw_code"], r["connector"], r["provider_msg_id"])
            for r in rows
        ],
    )


async def insert_pending_reports(raw: Raw, rows: Sequence[dict[str, Any]]) -> None:
    await raw.executemany(
        "INSERT INTO pending_reports (connector, provider_msg_id, body, created_at) "
        "VALUES (?,?,?,?)",
        [
            (r["connector"], r["provider_msg_id"], r["body"], r["created_at"])
            for r in rows
        ],
    )


async def take_pending_reports(
    raw: Raw, limit: int, *, after: int = 0, before: float | None = None
) -> list[tuple[Any, ...]]:
    """(id, connector, provider id, body, created_at) of parked reports, in the
    order they were parked: from row id ``after`` on, parked before ``before``."""
    lock = " FOR UPDATE SKIP LOCKED" if raw.postgres else ""
    since = "" if before is None else " AND created_at <= ?"
    params: list[Any] = [after] if before is None else [after, before]
    return await raw.fetch(
        "SELECT id, connector, provider_msg_id, body, created_at FROM pending_reports "
        f"WHERE id > ?{since} ORDER BY id LIMIT ?{lock}",
        [*params, limit],
    )


async def pending_report_bodies(raw: Raw, limit: int) -> list[str]:
    """The bodies of the first ``limit`` parked reports."""
    rows = await raw.fetch(
        "SELECT body FROM pending_reports ORDER BY id LIMIT ?", [limit]
    )
    return [str(r[0]) for r in rows]


async def delete_pending_reports(raw: Raw, ids: Sequence[int]) -> None:
    await raw.executemany(
        "DELETE FROM pending_reports WHERE id = ?", [(i,) for i in ids]
    )


async def delete_pending_by_key(raw: Raw, keys: Sequence[tuple[str, str]]) -> None:
    """Delete the parked reports of these (connector, provider id)s."""
    await raw.executemany(
        "DELETE FROM pending_reports WHERE connector = ? AND provider_msg_id = ?",
        list(keys),
    )
