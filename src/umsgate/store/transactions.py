"""The one way to open a transaction on the store.

The hot path (accepting, claiming, recording outcomes) touches every message several
times, and SQLAlchemy's per-row parameter processing and per-call overhead cost more
than the database work itself (profiled: about 60 % of the store's share of a
message). Its statements (`umsgate.store.messages`, `umsgate.store.reports`) are
therefore written in the SQL both dialects share and run on the driver connection
(SQLite's own, or asyncpg) inside the `transaction` this module opens: on SQLite a
part of the writer's shared transaction (``BEGIN IMMEDIATE``, one writer at a time,
waiting for the lock rather than failing half-way; see `SqliteWriter`), on
PostgreSQL a transaction on an asyncpg connection whose statements are planned at
each call (`_PG_BEGIN`), where a batch of rows is written by one statement
(`Transaction.write_rows`). Placeholders are written ``?`` and numbered ``$n`` for
asyncpg. The operations that are not on the hot path open their own SQLAlchemy
connection inside the store, so callers outside it open transactions one way only;
the schema stays defined once, in `tables`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from umsgate.store.database import Database
from umsgate.store.driver import marks, numbered

#: A value in a row as the driver returns it (int, float, str or None).
Cell = Any


class PgConnection(Protocol):
    """The part of an asyncpg connection the store uses."""

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...

    async def execute(self, sql: str, *params: object) -> str: ...

    async def fetch(self, sql: str, *params: object) -> list[Sequence[Cell]]: ...


class Transaction:
    """A driver connection inside a transaction, with the dialect's calling style:
    an asyncpg connection, or SQLite's `sqlite3.Connection` whose statements run
    on the loop's thread (see `SqliteWriter`)."""

    __slots__ = ("_lite", "_pg", "_writes", "postgres")

    def __init__(
        self,
        *,
        sqlite: sqlite3.Connection | None = None,
        pg: PgConnection | None = None,
    ) -> None:
        self._lite = sqlite
        self._pg = pg
        self.postgres = pg is not None
        #: PostgreSQL: the statements of `write_rows` not sent yet, and their
        #: parameters.
        self._writes: list[tuple[str, list[list[object]]]] = []

    def _sql(self, sql: str) -> str:
        return numbered(sql) if self.postgres else sql

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if not rows:
            return
        if self._pg is not None:
            await self.flush()
            await self._pg.executemany(self._sql(sql), rows)
        else:
            assert self._lite is not None
            self._lite.executemany(sql, rows)

    async def write_rows(
        self, sql: str, bulk: str, rows: Sequence[Sequence[object]]
    ) -> None:
        """Write ``rows``: SQLite runs ``sql`` for each row; PostgreSQL runs ``bulk``,
        a statement written with `umsgate.store.driver.unnest` over the rows'
        columns, with the other writes of this kind before the next statement of
        the transaction or its COMMIT (`flush`). Those writes must not depend on
        each other's changes (they see the transaction as it was before them)
        nor change the same rows."""
        if not rows:
            return
        if self._pg is not None:
            self._writes.append((bulk, [list(c) for c in zip(*rows, strict=True)]))
        else:
            assert self._lite is not None
            self._lite.executemany(sql, rows)

    async def flush(self) -> None:
        """PostgreSQL: send the writes of `write_rows` not sent yet, as one
        statement (each a part of a ``WITH``): one round trip, where a statement
        each was one each, and on a busy event loop each round trip waits for a
        loop turn (the ledger's writes of a batch were three to five of them)."""
        writes, self._writes = self._writes, []
        if not writes or self._pg is None:
            return
        parts: list[str] = []
        every: list[list[object]] = []
        for i, (sql, params) in enumerate(writes):
            parts.append(f"w{i} AS ({_shifted(sql, len(every))})")
            every.extend(params)
        await self._pg.execute(f"WITH {', '.join(parts)} SELECT 1", *every)

    def among(
        self, column: str, values: Sequence[object], pg_type: str
    ) -> tuple[str, list[object]]:
        """A condition that ``column`` is one of ``values``, and its parameters.

        SQLite: an IN list, a placeholder a value. PostgreSQL: ``= ANY`` of one
        array parameter of ``pg_type``, so the statement's text is the same for
        any count of values. asyncpg prepares each new text in a round trip of
        its own and keeps the last 100: with an IN list each batch size was a
        statement of its own, and a ledger batch spent a round trip preparing
        the lookup of its receipts (8 ms a call on `bench/e2e.py` at 0-ms
        receipts) and the server planning it anew."""
        if self.postgres:
            return f"{column} = ANY(?::{pg_type}[])", [list(values)]
        return f"{column} IN ({marks(len(values))})", list(values)

    async def fetch(
        self, sql: str, params: Sequence[object] = ()
    ) -> list[tuple[Cell, ...]]:
        if self._pg is not None:
            await self.flush()
            return [tuple(r) for r in await self._pg.fetch(self._sql(sql), *params)]
        assert self._lite is not None
        cursor = self._lite.execute(sql, params)
        try:
            return cursor.fetchall()
        finally:
            cursor.close()

    @property
    def sqlite(self) -> sqlite3.Connection | None:
        """SQLite's connection (None on PostgreSQL)."""
        return self._lite

    def changes(self) -> int | None:
        """SQLite: the rows changed on this connection so far (None on PostgreSQL,
        whose ``executemany`` counts none)."""
        return None if self._lite is None else self._lite.total_changes


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
) -> AsyncIterator[Transaction]:
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
                yield Transaction(sqlite=writer.conn)
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
        await pg.execute(_PG_BEGIN)
        try:
            tx = Transaction(pg=pg)
            yield tx
            await tx.flush()
        except BaseException:
            # A connection that broke cannot roll back; the pool replaces it.
            with contextlib.suppress(Exception):
                await pg.execute("ROLLBACK")
            raise
        await pg.execute("COMMIT")


_PARAMETER = re.compile(r"\$(\d+)")


def _shifted(sql: str, by: int) -> str:
    """A statement's ``$n`` parameters numbered from ``by + 1``."""
    return _PARAMETER.sub(lambda m: f"${int(m.group(1)) + by}", sql)


#: PostgreSQL: a transaction whose statements are planned at each call. The server
#: keeps one plan of a prepared statement (asyncpg prepares every statement) once
#: it has planned it a few times, made with the table's size of that moment: a
#: statement that joins a batch (`umsgate.store.driver.unnest`) to ``messages``,
#: planned while the table was nearly empty, kept a scan of the whole table for
#: every later call (10 ms a call at 30,000 rows, against 1 ms planned at each
#: call; planning a batch's statement costs about 0.1 ms). One round trip, as
#: asyncpg's own BEGIN is.
_PG_BEGIN = "BEGIN; SET LOCAL plan_cache_mode = force_custom_plan"
