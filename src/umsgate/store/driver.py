"""The store on the database driver alone, without SQLAlchemy: what the front
processes need (clients, tokens, files) and the account and file operations of the
gateway process (`umsgate.store.accounts`, `umsgate.store.files`).

A front process imports this and never SQLAlchemy (about 27 MiB of its memory).
SQLite keeps its rules: WAL, a busy timeout, and writes that begin with ``BEGIN
IMMEDIATE`` on a connection of their own, which waits for the gateway's hot-path
writer (`umsgate.store.database.SqliteWriter`) through SQLite's lock as the
SQLAlchemy engine's connection did; reads begin deferred on another connection and
never take the write lock. Each connection runs its statements on a thread of its
own. On PostgreSQL the statements run on an asyncpg pool (the gateway's hot-path
pool when the gateway opens it). Placeholders are written ``?`` and numbered ``$n``
for asyncpg.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    import asyncpg  # type: ignore[import-untyped]

#: A value a statement binds or a row holds.
Value = str | int | float | bytes | None
Row = tuple[Value, ...]

#: How long SQLite waits for another connection's write lock (ms).
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    # Temporary data (savepoint journals, sorts) in memory, not in files.
    "PRAGMA temp_store=MEMORY",
)
#: Connections of a front's own PostgreSQL pool (it only looks clients and files up).
FRONT_PG_CONNECTIONS = 2

_QMARK = re.compile(r"\?")
_T = TypeVar("_T")


#: Largest IN list in one statement (SQLite allows 32,766 parameters).
IN_CHUNK = 5000


def chunks(items: Sequence[_T], size: int = IN_CHUNK) -> Iterable[Sequence[_T]]:
    """``items`` in slices of at most ``size``: one IN list each."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(n: int) -> str:
    """``?,?,…``: the placeholders of ``n`` values."""
    return ",".join("?" * n)


def insert_sql(table: str, columns: Sequence[str]) -> str:
    """``INSERT INTO table (columns) VALUES (?,…)``."""
    return f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks(len(columns))})"


def unnest(types: Sequence[str], first: int = 1) -> str:
    """``unnest($first::type[], …)``: PostgreSQL's rows of one array parameter per
    column. A statement over a batch of rows written with it is one execution on
    the server, where asyncpg's ``executemany`` is one per row (a portal, an
    executor and a plan each). A statement that joins it to a table is planned
    at each call (`umsgate.store.transactions.transaction`)."""
    return (
        "unnest(" + ",".join(f"${first + i}::{t}[]" for i, t in enumerate(types)) + ")"
    )


def numbered(sql: str) -> str:
    """``?`` placeholders as asyncpg's ``$1, $2, …``."""
    counter = iter(range(1, 100_000))
    return _QMARK.sub(lambda _m: f"${next(counter)}", sql)


class Tx:
    """A transaction of a `Driver`: the handle the store's operations take when
    several statements must be atomic."""

    __slots__ = ()

    async def fetch(self, sql: str, params: Sequence[Value] = ()) -> list[Row]:
        """The rows of a query."""
        raise NotImplementedError

    async def execute(self, sql: str, params: Sequence[Value] = ()) -> int:
        """Run a statement; the number of rows it changed."""
        raise NotImplementedError


class Driver(Protocol):
    """Statements on the driver: reads outside any write lock, and transactions."""

    async def fetch(self, sql: str, params: Sequence[Value] = ()) -> list[Row]:
        """The rows of a read-only query (it never waits for the write lock)."""

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Tx]:
        """A transaction, committed on normal exit and rolled back on error."""

    def snapshot(self) -> contextlib.AbstractAsyncContextManager[Tx]:
        """A read-only transaction: its queries see one commit, and it never
        waits for the write lock (for reads of several statements that must
        agree, such as a message and its events)."""

    async def close(self) -> None: ...


class Source(Protocol):
    """Whatever gives the store's operations their `Driver`: a `Driver` itself, or
    the gateway's `umsgate.store.database.Database`."""

    @property
    def driver(self) -> Driver: ...


async def fetch(q: Source | Tx, sql: str, params: Sequence[Value] = ()) -> list[Row]:
    """A query in the transaction ``q``, or a read on its own."""
    if isinstance(q, Tx):
        return await q.fetch(sql, params)
    return await q.driver.fetch(sql, params)


# -- SQLite -------------------------------------------------------------------------


class _SqliteConnection:
    """One sqlite3 connection and the thread its statements run on."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="sqlite-store"
        )
        self.lock = asyncio.Lock()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False
            )
            for pragma in SQLITE_PRAGMAS:
                conn.execute(pragma)
            self._conn = conn
        return self._conn

    def fetch_now(self, sql: str, params: Sequence[Value]) -> list[Row]:
        cursor = self._connection().execute(sql, tuple(params))
        try:
            return cursor.fetchall()
        finally:
            cursor.close()

    def execute_now(self, sql: str, params: Sequence[Value]) -> int:
        cursor = self._connection().execute(sql, tuple(params))
        try:
            return cursor.rowcount
        finally:
            cursor.close()

    def run(self, fn: Callable[..., _T], *args: object) -> Awaitable[_T]:
        return asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    @contextlib.asynccontextmanager
    async def transaction(self, begin: str, *, undo: str) -> AsyncIterator[Tx]:
        """A transaction opened by ``begin``, committed on normal exit and ended by
        ``undo`` on error, one at a time on this connection."""
        async with self.lock:
            await self.run(self.execute_now, begin, ())
            try:
                yield _SqliteTx(self)
            except BaseException:
                await self.run(self.execute_now, undo, ())
                raise
            await self.run(self.execute_now, "COMMIT", ())

    def close_now(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()

    async def close(self) -> None:
        await self.run(self.close_now)
        self._thread.shutdown(wait=True)


class _SqliteTx(Tx):
    __slots__ = ("_conn",)

    def __init__(self, conn: _SqliteConnection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, params: Sequence[Value] = ()) -> list[Row]:
        return await self._conn.run(self._conn.fetch_now, sql, params)

    async def execute(self, sql: str, params: Sequence[Value] = ()) -> int:
        return await self._conn.run(self._conn.execute_now, sql, params)


class SqliteDriver:
    """SQLite: reads on one connection (deferred), writes on another (``BEGIN
    IMMEDIATE``, one transaction at a time)."""

    def __init__(self, path: str) -> None:
        self._reader = _SqliteConnection(path)
        self._writer = _SqliteConnection(path)

    @property
    def driver(self) -> Driver:
        return self

    async def fetch(self, sql: str, params: Sequence[Value] = ()) -> list[Row]:
        # In autocommit mode each query is its own deferred transaction: it sees
        # the last commit and never takes the write lock. It waits for a snapshot
        # on the connection to end, which it would otherwise join (and see that
        # snapshot's older commit).
        reader = self._reader
        async with reader.lock:
            return await reader.run(reader.fetch_now, sql, params)

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Tx]:
        return self._writer.transaction("BEGIN IMMEDIATE", undo="ROLLBACK")

    def snapshot(self) -> contextlib.AbstractAsyncContextManager[Tx]:
        # Deferred: a read transaction in WAL mode, which takes no lock. It wrote
        # nothing, so it ends by COMMIT whether its reads succeeded or not.
        return self._reader.transaction("BEGIN", undo="COMMIT")

    async def close(self) -> None:
        await self._reader.close()
        await self._writer.close()


# -- PostgreSQL ---------------------------------------------------------------------


class _PgTx(Tx):
    __slots__ = ("_conn",)

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, params: Sequence[Value] = ()) -> list[Row]:
        return [tuple(r) for r in await self._conn.fetch(numbered(sql), *params)]

    async def execute(self, sql: str, params: Sequence[Value] = ()) -> int:
        status = await self._conn.execute(numbered(sql), *params)
        # "UPDATE 3", "INSERT 0 1", "DELETE 0": the count is the last word.
        last = str(status).rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0


async def create_pg_pool(
    dsn: str, schema: str, *, min_size: int, max_size: int
) -> asyncpg.Pool:
    """An asyncpg pool on ``dsn``, its connections in ``schema`` ("" for the
    default)."""
    import asyncpg

    settings = {"search_path": schema} if schema else {}
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings=settings,
        reset=_keep_session,
    )


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """A released connection's session is left as it is. The store's statements
    change nothing in a session (no SET, LISTEN, advisory lock or cursor), and
    asyncpg still rolls back a transaction left open before it calls this; its
    default reset (``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET
    ALL``) is a round trip to the server at every release, and the hot path
    releases a connection for every part it writes."""


class PgDriver:
    """PostgreSQL on an asyncpg pool, given (``pool``: a coroutine function that
    returns it, the gateway's hot-path pool) or made on first use from ``dsn``."""

    def __init__(
        self,
        *,
        dsn: str = "",
        schema: str = "",
        pool: Callable[[], Awaitable[asyncpg.Pool]] | None = None,
    ) -> None:
        self._dsn = dsn
        self._schema = schema
        self._given = pool
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    @property
    def driver(self) -> Driver:
        return self

    async def _get_pool(self) -> asyncpg.Pool:
        if self._given is not None:
            return await self._given()
        async with self._lock:
            if self._pool is None:
                self._pool = await create_pg_pool(
                    self._dsn, self._schema, min_size=1, max_size=FRONT_PG_CONNECTIONS
                )
            return self._pool

    async def fetch(self, sql: str, params: Sequence[Value] = ()) -> list[Row]:
        pool = await self._get_pool()
        return [tuple(r) for r in await pool.fetch(numbered(sql), *params)]

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction():
            yield _PgTx(conn)

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Tx]:
        pool = await self._get_pool()
        async with (
            pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            yield _PgTx(conn)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


def sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite://`` URL (``sqlite:///rel``, ``sqlite:////abs``, with
    or without ``+driver``); None for any other URL."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] != "sqlite":
        return None
    path = rest[1:] if rest.startswith("/") else rest
    return path.split("?", 1)[0] or ":memory:"


def pg_dsn(url: str) -> str | None:
    """A PostgreSQL URL as asyncpg takes it (no ``+driver``); None for another."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        return None
    return f"postgresql://{rest}"


def open_driver(url: str, *, schema: str = "") -> SqliteDriver | PgDriver:
    """A `Driver` for the store at ``url`` (no connection is made yet).

    Raises:
        ValueError: neither SQLite nor PostgreSQL.
    """
    path = sqlite_path(url)
    if path is not None:
        return SqliteDriver(path)
    dsn = pg_dsn(url)
    if dsn is not None:
        return PgDriver(dsn=dsn, schema=schema)
    raise ValueError(f"not a SQLite or PostgreSQL URL: {url.split(':', 1)[0]!r}")
