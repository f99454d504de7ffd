"""The one way to open a transaction on the store.

The hot path (accepting, claiming, recording outcomes) touches every message several
times, and SQLAlchemy's per-row parameter processing and per-call overhead cost more
than the database work itself (profiled: about 60 % of the store's share of a
message). Its statements (`umsgate.store.messages`, `umsgate.store.reports`) are
therefore written in the SQL both dialects share and run on the driver connection
(SQLite's own, or asyncpg) inside the `transaction` this module opens: on SQLite a
part of the writer's shared transaction (``BEGIN IMMEDIATE``, one writer at a time,
waiting for the lock rather than failing half-way; see `SqliteWriter`), an asyncpg
transaction on PostgreSQL. Placeholders are written ``?`` and numbered ``$n`` for
asyncpg. The operations that are not on the hot path open their own SQLAlchemy
connection inside the store, so callers outside it open transactions one way only;
the schema stays defined once, in `tables`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from umsgate.store.database import Database
from umsgate.store.driver import numbered

#: A value in a row as the driver returns it (int, float, str or None).
Cell = Any


class PgConnection(Protocol):
    """The part of an asyncpg connection the store uses."""

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...

    async def fetch(self, sql: str, *params: object) -> list[Sequence[Cell]]: ...


class Transaction:
    """A driver connection inside a transaction, with the dialect's calling style:
    an asyncpg connection, or SQLite's `sqlite3.Connection` whose statements run
    on the loop's thread (see `SqliteWriter`)."""

    __slots__ = ("_lite", "_pg", "postgres")

    def __init__(
        self,
        *,
        sqlite: sqlite3.Connection | None = None,
        pg: PgConnection | None = None,
    ) -> None:
        self._lite = sqlite
        self._pg = pg
        self.postgres = pg is not None

    def _sql(self, sql: str) -> str:
        return numbered(sql) if self.postgres else sql

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if not rows:
            return
        if self._pg is not None:
            await self._pg.executemany(self._sql(sql), rows)
        else:
            assert self._lite is not None
            self._lite.executemany(sql, rows)

    async def fetch(
        self, sql: str, params: Sequence[object] = ()
    ) -> list[tuple[Cell, ...]]:
        if self._pg is not None:
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
        tx = pg.transaction()
        await tx.start()
        try:
            yield Transaction(pg=pg)
        except BaseException:
            # A connection that broke cannot roll back; the pool replaces it.
            with contextlib.suppress(Exception):
                await tx.rollback()
            raise
        await tx.commit()
