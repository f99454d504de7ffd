"""Messages in the store: accepting them, claiming them, reading and writing their
state, their parts and their timelines.

The operations of the hot path (accept, claim, lock, apply changes) run on the
driver inside a `umsgate.store.transactions.transaction`; the others (sweeps,
look-ups, counts) on the driver's own connections (`umsgate.store.driver`), which
read without waiting for the hot path's write lock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import operator
from collections.abc import Mapping, Sequence
from typing import Any, cast

import orjson

from umsgate.domain.lifecycle import Status
from umsgate.domain.message import Channel, Message
from umsgate.domain.records import FallbackRow, StoredMessage
from umsgate.domain.transitions import MessageState, PartResult, PartState
from umsgate.store.database import Database
from umsgate.store.driver import Source, chunks, fetch, insert_sql, marks, unnest
from umsgate.store.transactions import Cell, Transaction

#: The columns of ``messages`` in the order of the schema (`umsgate.store.tables`,
#: which a test compares): that module is SQLAlchemy's, and the gateway process
#: loads SQLAlchemy only to migrate.
MESSAGE_COLUMNS = (
    "id",
    "client_id",
    "src_msg_id",
    "kind",
    "parent_id",
    "cmp_msg_id",
    "channel",
    "status",
    "sender",
    "receiver",
    "subject",
    "content",
    "charset",
    "file_ids",
    "extra",
    "fallback",
    "content_hash",
    "created_at",
    "due_at",
    "expires_at",
    "attempts",
    "connector",
    "provider_msg_id",
    "owner",
    "claimed_at",
    "sent_at",
    "done_at",
    "result_code",
    "raw_code",
    "result_message",
    "carrier",
    "segments",
)

#: What the ledger reads to decide a transition and write a report (no bodies).
STATE_COLUMNS = tuple(
    c
    for c in MESSAGE_COLUMNS
    if c not in ("content", "subject", "file_ids", "content_hash")
)

#: The columns of ``events`` but its id (also compared with the schema by a test).
EVENT_COLUMNS = ("message_id", "at", "status", "code", "detail")

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


# -- accepting -------------------------------------------------------------------------

_INSERT_MESSAGE = (
    insert_sql("messages", MESSAGE_COLUMNS)
    + " ON CONFLICT (client_id, src_msg_id, kind) DO NOTHING"
)

_INSERT_EVENT = insert_sql("events", EVENT_COLUMNS)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Stored:
    """The message stored under a client's (client, srcMsgId) key."""

    id: int
    content_hash: str
    created_at: float


async def insert_messages(
    tx: Transaction, rows: Sequence[Mapping[str, object]]
) -> bool:
    """Insert messages; a (client, srcMsgId, kind) that exists is skipped. True when
    every row is known to be inserted (SQLite counts the rows it changed), so that
    nobody needs to read the keys back; False when some were skipped or the count
    is not known (asyncpg's executemany gives none)."""
    params = [tuple(map(r.get, MESSAGE_COLUMNS)) for r in rows]
    if tx.postgres:
        await tx.executemany(_INSERT_MESSAGE, params)
        return False
    before = tx.changes()
    await tx.executemany(_INSERT_MESSAGE, params)
    after = tx.changes()
    return before is not None and after is not None and after - before == len(rows)


async def insert_fallbacks(tx: Transaction, rows: Sequence[FallbackRow]) -> None:
    """Insert fallback messages (their keys are new: the kind is 1)."""
    await tx.executemany(
        _INSERT_MESSAGE,
        [tuple(getattr(r, c, None) for c in MESSAGE_COLUMNS) for r in rows],
    )


#: PostgreSQL's types of the columns of ``messages`` that are not text (compared
#: with the schema by a test), for the arrays of `_PG_ACCEPT`.
_PG_TYPES = {
    "id": "bigint",
    "kind": "integer",
    "parent_id": "bigint",
    "created_at": "float8",
    "due_at": "float8",
    "expires_at": "float8",
    "attempts": "integer",
    "claimed_at": "float8",
    "sent_at": "float8",
    "done_at": "float8",
    "segments": "integer",
}


def _pg_array_type(column: str) -> str:
    return _PG_TYPES.get(column, "text")


#: PostgreSQL's types of `EVENT_COLUMNS`.
EVENT_PG_TYPES = ("bigint", "float8", "text", "text", "text")

#: PostgreSQL: a batch of events in one statement.
_PG_INSERT_EVENTS = (
    f"INSERT INTO events ({','.join(EVENT_COLUMNS)}) "
    f"SELECT * FROM {unnest(EVENT_PG_TYPES)}"
)


#: PostgreSQL: one statement that inserts a group commit's messages, the events of
#: those it inserted, and returns every message under the keys it was given: the
#: new ones, and those that were there before (their own id, hash and time). In
#: autocommit it is one round trip, COMMIT included, where a transaction of
#: separate statements was six, each a wait of the event loop and of the server
#: under load (BEGIN alone p50 4 ms on `bench/e2e.py`).
#:
#: A key that exists is found by the insert itself, through the unique index it
#: conflicts on (the update sets the key to itself: it only makes RETURNING give
#: the stored row), not by a look-up the server plans: asyncpg prepares the
#: statement, the server soon keeps one plan for every call, and a plan made while
#: the table was empty finds nothing to tell its indexes apart and read every
#: message of the client per key with the (client_id, id) index (38 ms a call on
#: average over a run of 20,000 messages, against 2.2 ms now; the end-to-end rate
#: fell over a run, to 500 msg/s). A key may appear once in the statement (the
#: update may not touch a row twice).
_PG_ACCEPT = (
    "WITH new AS (INSERT INTO messages ("
    + ",".join(MESSAGE_COLUMNS)
    + ") SELECT * FROM "
    + unnest([_pg_array_type(c) for c in MESSAGE_COLUMNS])
    + " ON CONFLICT (client_id, src_msg_id, kind) DO UPDATE "
    + "SET client_id = excluded.client_id "
    + "RETURNING id, client_id, src_msg_id, content_hash, created_at), "
    + "ev AS (INSERT INTO events ("
    + ",".join(EVENT_COLUMNS)
    + ") SELECT e.* FROM "
    + unnest(EVENT_PG_TYPES, len(MESSAGE_COLUMNS) + 1)
    + " AS e(message_id, at, status, code, detail) "
    + "WHERE e.message_id IN (SELECT id FROM new)) "
    + "SELECT id, client_id, src_msg_id, content_hash, created_at FROM new"
)


async def accept_at_once(
    db: Database,
    rows: Sequence[Mapping[str, object]],
    events: Sequence[tuple[int, float, str, str | None, str]],
) -> tuple[set[int], dict[tuple[str, str], Stored]]:
    """PostgreSQL, one statement in its own transaction: insert ``rows`` (skipping
    keys that exist) and the ``events`` of those inserted; (the ids inserted, the
    (client, srcMsgId) → `Stored` of the others that existed before). A key given
    twice is written once, by its first row: the later ones are in neither (read
    them with `message_keys`)."""
    firsts: dict[tuple[object, object], Mapping[str, object]] = {}
    for row in rows:
        firsts.setdefault((row["client_id"], row["src_msg_id"]), row)
    once = list(firsts.values())
    # Column-wise, for unnest (rows and events are never empty-width).
    columns = [[r.get(c) for r in once] for c in MESSAGE_COLUMNS]
    event_columns = [[e[i] for e in events] for i in range(5)]
    given = {r["id"] for r in once}
    pool = await db.pg_pool()
    async with pool.acquire() as pg:
        found = await pg.fetch(_PG_ACCEPT, *columns, *event_columns)
    inserted: set[int] = set()
    existing: dict[tuple[str, str], Stored] = {}
    for mid, client, src, digest, created in found:
        if mid in given:
            inserted.add(int(mid))
        else:
            existing[(client, src)] = Stored(
                id=int(mid), content_hash=digest, created_at=float(created)
            )
    return inserted, existing


async def message_keys(
    tx: Transaction, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Stored]:
    """(client, srcMsgId) → `Stored` of clients' own messages."""
    found: dict[tuple[str, str], Stored] = {}
    by_client: dict[str, list[str]] = {}
    for client, src in dict.fromkeys(keys):
        by_client.setdefault(client, []).append(src)
    for client, srcs in by_client.items():
        for chunk in chunks(srcs):
            among, params = tx.among("src_msg_id", chunk, "text")
            rows = await tx.fetch(
                "SELECT src_msg_id, id, content_hash, created_at FROM messages "
                f"WHERE client_id = ? AND kind = 0 AND {among}",
                [client, *params],
            )
            for src, mid, digest, created in rows:
                found[(client, src)] = Stored(
                    id=int(mid), content_hash=digest, created_at=float(created)
                )
    return found


async def insert_events(
    tx: Transaction, rows: Sequence[tuple[int, float, str, str | None, str]]
) -> None:
    """Events as (message_id, at, status, code, detail)."""
    await tx.write_rows(_INSERT_EVENT, _PG_INSERT_EVENTS, rows)


# -- duplicate sends -------------------------------------------------------------------

#: Guard rows in one statement (6 parameters each).
GUARD_CHUNK = 1000
_GUARD_COLUMNS = ("client_id", "receiver", "digest", "src_msg_id", "at", "expires_at")


async def take_send_guards(
    tx: Transaction, rows: Sequence[tuple[str, str, str, str, float, float]]
) -> set[tuple[str, str, str]]:
    """Take the guards of (client, receiver, digest, srcMsgId, at, expires_at), at
    most one row per key, sorted by key (so that concurrent transactions lock in
    one order): a key without a guard, or whose guard is older than the new row's
    window (``expires_at - at``), is taken and returned; one taken within that window
    is not (a duplicate). The row lock of the upsert makes concurrent takers of one
    key wait, so only one of them wins, across nodes too."""
    taken: set[tuple[str, str, str]] = set()
    for chunk in chunks(rows, GUARD_CHUNK):
        values = ",".join(f"({marks(len(_GUARD_COLUMNS))})" for _ in chunk)
        found = await tx.fetch(
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


async def delete_messages(tx: Transaction, ids: Sequence[int]) -> None:
    """Remove messages inserted in this transaction (refused before the commit)."""
    await tx.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in ids])


async def delete_expired_send_guards(db: Source, now: float) -> int:
    """Forget duplicate-send guards whose window has passed."""
    async with db.driver.transaction() as tx:
        return await tx.execute("DELETE FROM send_guards WHERE expires_at < ?", (now,))


# -- claiming and applying changes -----------------------------------------------------


async def claim_due(
    tx: Transaction, node_id: str, now: float, limit: int
) -> list[dict[str, Any]]:
    """Claim up to ``limit`` due QUEUED messages (they become SENDING, owned by
    ``node_id``); returns their rows. A claim is not an attempt: the ledger counts
    one when a connector answers (`umsgate.engine.ledger`)."""
    lock = " FOR UPDATE SKIP LOCKED" if tx.postgres else ""
    rows = await tx.fetch(
        "UPDATE messages "
        "SET status = ?, owner = ?, claimed_at = ? "
        f"WHERE id IN (SELECT id FROM messages WHERE status = ? AND due_at <= ? "
        f"ORDER BY due_at LIMIT ?{lock}) RETURNING {','.join(MESSAGE_COLUMNS)}",
        [Status.SENDING.value, node_id, now, Status.QUEUED.value, now, limit],
    )
    return [dict(zip(MESSAGE_COLUMNS, r, strict=True)) for r in rows]


async def lock_messages(tx: Transaction, ids: Sequence[int]) -> dict[int, MessageState]:
    """State rows of ``ids`` (locked for update on PostgreSQL until commit); each
    a new dict, for the rules to change in place (`umsgate.domain.transitions`)."""
    found: dict[int, MessageState] = {}
    lock = " FOR UPDATE" if tx.postgres else ""
    for chunk in chunks(list(ids)):
        among, params = tx.among("id", chunk, "bigint")
        rows = await tx.fetch(
            f"SELECT {','.join(STATE_COLUMNS)} FROM messages WHERE {among}{lock}",
            params,
        )
        for r in rows:
            row = cast(MessageState, dict(zip(STATE_COLUMNS, r, strict=True)))
            found[row["id"]] = row
    return found


_mutable = operator.itemgetter(*MUTABLE)


def mutable_values(row: MessageState) -> tuple[Cell, ...]:
    """The `MUTABLE` columns of a state row, to compare with after a change."""
    return cast("tuple[Cell, ...]", _mutable(row))


@functools.cache
def _update_sql(columns: tuple[int, ...]) -> str:
    sets = ", ".join(f"{MUTABLE[i]} = ?" for i in columns)
    return f"UPDATE messages SET {sets} WHERE id = ?"


@functools.cache
def _pg_update_sql(columns: tuple[int, ...]) -> str:
    """PostgreSQL: `_update_sql` over a batch of rows, in one statement."""
    names = [MUTABLE[i] for i in columns]
    sets = ", ".join(f"{name} = v.{name}" for name in names)
    types = [*map(_pg_array_type, names), "bigint"]
    return (
        f"UPDATE messages AS m SET {sets} FROM {unnest(types)} "
        f"AS v({','.join(names)}, id) WHERE m.id = v.id"
    )


async def update_messages(
    tx: Transaction,
    rows: Sequence[MessageState],
    before: Mapping[int, tuple[Cell, ...]],
) -> None:
    """Write the columns of each row that differ from ``before`` (its
    `mutable_values` when it was read), one statement per set of columns. A
    column left out of the SET list leaves its indexes alone: a final status does
    not rewrite the provider id's index entry, for one."""
    groups: dict[tuple[int, ...], list[tuple[Cell, ...]]] = {}
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
        await tx.write_rows(_update_sql(columns), _pg_update_sql(columns), params)


# -- parts of multi-part messages -----------------------------------------------------


async def ids_by_provider(
    tx: Transaction, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, int | None]]:
    """(connector, provider id) → (message id, part number; None for a whole
    message)."""
    found: dict[tuple[str, str], tuple[int, int | None]] = {}
    by_connector: dict[str, list[str]] = {}
    for connector, pid in dict.fromkeys(keys):
        by_connector.setdefault(connector, []).append(pid)
    for connector, pids in by_connector.items():
        for chunk in chunks(pids):
            among, params = tx.among("provider_msg_id", chunk, "text")
            for pid, mid, part in await tx.fetch(
                "SELECT provider_msg_id, message_id, part FROM message_parts "
                f"WHERE connector = ? AND {among}",
                [connector, *params],
            ):
                found[(connector, pid)] = (int(mid), int(part))
            rest = [p for p in chunk if (connector, p) not in found]
            if not rest:
                continue
            among, params = tx.among("provider_msg_id", rest, "text")
            for pid, mid in await tx.fetch(
                "SELECT provider_msg_id, id FROM messages "
                f"WHERE connector = ? AND {among}",
                [connector, *params],
            ):
                found[(connector, pid)] = (int(mid), None)
    return found


async def parts_of(
    tx: Transaction, message_ids: Sequence[int]
) -> dict[int, list[PartState]]:
    """The known parts of messages sent in parts, by message id."""
    out: dict[int, list[PartState]] = {}
    cols = (
        "connector",
        "provider_msg_id",
        "message_id",
        "part",
        "result_code",
        "raw_code",
    )
    for chunk in chunks(list(message_ids)):
        among, params = tx.among("message_id", chunk, "bigint")
        for r in await tx.fetch(
            f"SELECT {','.join(cols)} FROM message_parts WHERE {among}", params
        ):
            part = cast(PartState, dict(zip(cols, r, strict=True)))
            out.setdefault(int(part["message_id"]), []).append(part)
    return out


async def insert_parts(tx: Transaction, rows: Sequence[PartState]) -> None:
    await tx.executemany(
        "INSERT INTO message_parts (connector, provider_msg_id, message_id, part) "
        "VALUES (?,?,?,?) "
        "ON CONFLICT (connector, provider_msg_id) DO NOTHING",
        [
            (r["connector"], r["provider_msg_id"], r["message_id"], r["part"])
            for r in rows
        ],
    )


async def update_parts(tx: Transaction, rows: Sequence[PartResult]) -> None:
    await tx.executemany(
        "UPDATE message_parts SET result_code = ?, raw_code = ? "
        "WHERE connector = ? AND provider_msg_id = ?",
        [
            (r["result_code"], r["raw_code"], r["connector"], r["provider_msg_id"])
            for r in rows
        ],
    )


# -- sweeps of the engine --------------------------------------------------------------


async def next_due_at(db: Source) -> float | None:
    """When the next QUEUED message is due (None: none is queued)."""
    rows = await fetch(
        db, "SELECT min(due_at) FROM messages WHERE status = ?", (Status.QUEUED.value,)
    )
    value = rows[0][0] if rows else None
    return None if value is None else float(value)


async def stalled_claims(
    db: Database, dead_owners: Sequence[str], limit: int
) -> tuple[list[Message], list[Message]]:
    """Messages owned by dead nodes: (those SENDING, those SENT), at most ``limit``
    of each (on PostgreSQL, rows another node holds locked are skipped)."""
    if not dead_owners:
        return [], []
    owners = list(dead_owners)
    reading = db.driver.snapshot() if db.is_sqlite else db.driver.transaction()
    lock = "" if db.is_sqlite else " FOR UPDATE SKIP LOCKED"
    found: list[list[Message]] = []
    async with reading as tx:
        for status in (Status.SENDING, Status.SENT):
            rows = await tx.fetch(
                f"SELECT {','.join(MESSAGE_COLUMNS)} FROM messages"
                f" WHERE status = ? AND owner IN ({marks(len(owners))})"
                f" LIMIT ?{lock}",
                (status.value, *owners, limit),
            )
            found.append(
                [
                    message_from_row(dict(zip(MESSAGE_COLUMNS, r, strict=True)))
                    for r in rows
                ]
            )
    return found[0], found[1]


async def sent_before(db: Source, cutoff: float, limit: int) -> list[int]:
    """Ids of SENT messages submitted at or before ``cutoff`` (oldest first)."""
    rows = await fetch(
        db,
        "SELECT id FROM messages WHERE status = ? AND sent_at <= ?"
        " ORDER BY sent_at LIMIT ?",
        (Status.SENT.value, cutoff, limit),
    )
    return [int(r[0] or 0) for r in rows]


async def owners_in(db: Source, statuses: Sequence[Status]) -> list[str]:
    """The nodes that own messages in ``statuses``."""
    rows = await fetch(
        db,
        f"SELECT DISTINCT owner FROM messages WHERE status IN ({marks(len(statuses))})"
        " AND owner IS NOT NULL",
        [s.value for s in statuses],
    )
    return [str(r[0]) for r in rows]


# -- look-ups and counts --------------------------------------------------------------

_BY_SRC = (
    f"SELECT {','.join(STATE_COLUMNS)}, content FROM messages"
    " WHERE client_id = ? AND src_msg_id = ? AND kind = 0"
)


async def message_by_src(
    db: Source, client_id: str, src_msg_id: str
) -> StoredMessage | None:
    """A client's own message (not a fallback) by its client-side id."""
    rows = await fetch(db, _BY_SRC, (client_id, src_msg_id))
    if not rows:
        return None
    *values, content = rows[0]
    state = cast(MessageState, dict(zip(STATE_COLUMNS, values, strict=True)))
    return StoredMessage(state=state, content=str(content))


#: The statuses of a message that is not final yet (its backlog).
BACKLOG_STATUSES = tuple(s.value for s in Status if not s.final)


@dataclasses.dataclass(frozen=True, slots=True)
class BacklogCount:
    """How many messages of a channel are in a status that is not final."""

    status: str
    channel: str
    count: int


async def backlog(db: Source) -> list[BacklogCount]:
    """The messages not final yet, by status and channel: a range of the
    (status, due_at) index, so the final ones, most of the table, are not read."""
    rows = await fetch(
        db,
        "SELECT status, channel, count(*) FROM messages"
        f" WHERE status IN ({marks(len(BACKLOG_STATUSES))}) GROUP BY status, channel",
        BACKLOG_STATUSES,
    )
    return [BacklogCount(str(st), str(ch), int(n or 0)) for st, ch, n in rows]


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
