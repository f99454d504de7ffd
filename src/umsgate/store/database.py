"""Opening the database: one `Database` for SQLite and PostgreSQL.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL``: a commit is on
disk before the API answers, and group commit (see ``engine/accept.py``) keeps that
cheap. All work goes through one connection, whose transactions start with ``BEGIN
IMMEDIATE`` so that another process on the same file (the CLI editing clients) waits
for the write lock instead of failing half-way. PostgreSQL gets a pool; each test run
or tenant can use its own schema (``store.schema``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from umsgate.config import Settings
from umsgate.errors import ConfigError

#: How long SQLite waits for another process's write lock (ms).
SQLITE_BUSY_TIMEOUT_MS = 30_000
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
)


_T = TypeVar("_T")


class SqliteWriter:
    """The SQLite connection of the hot path (``store/fast.py``).

    Its statements run on the event loop's own thread: each takes micro- to
    milliseconds in SQLite's C code, and a worker-thread hop per statement (as
    aiosqlite makes) cost far more than that. A hop needs the GIL on both sides,
    and on a busy loop each wait for it can take a whole switch interval, so a
    transaction of seven statements spent tens of milliseconds waiting (profiled:
    the accept path's p50 latency was mostly those waits). Only what can wait long
    leaves the loop, for the writer's own thread: ``COMMIT`` (the fsync), and
    ``BEGIN IMMEDIATE`` when another connection holds the write lock. The
    connection's busy timeout is therefore 0: a BEGIN on the loop either takes the
    lock at once or fails, and is then repeated on the thread with the real timeout
    (SQLite releases the GIL while it waits or syncs).
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="sqlite-writer"
        )

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:  # pragma: no cover - open() runs first
            raise RuntimeError("the writer is not open")
        return self._conn

    async def _off_loop(self, fn: Callable[..., _T], *args: Any) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, fn, *args)

    async def open(self) -> None:
        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(
                self._path,
                isolation_level=None,
                timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
                cached_statements=256,
            )
            for pragma in _SQLITE_PRAGMAS:
                conn.execute(pragma)
            conn.execute("PRAGMA busy_timeout=0")
            return conn

        self._conn = await self._off_loop(connect)

    async def begin(self) -> None:
        """``BEGIN IMMEDIATE``: on the loop when the write lock is free, else on the
        writer's thread, waiting up to the busy timeout."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise

        def wait_for_lock() -> None:
            conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            try:
                conn.execute("BEGIN IMMEDIATE")
            finally:
                conn.execute("PRAGMA busy_timeout=0")

        await self._off_loop(wait_for_lock)

    async def run(self, sql: str) -> None:
        """A statement that may take long (COMMIT, ROLLBACK), off the loop."""
        conn = self.conn
        await self._off_loop(conn.execute, sql)

    async def close(self) -> None:
        if self._conn is not None:
            await self._off_loop(self._conn.close)
            self._conn = None
        self._thread.shutdown(wait=True)


class Database:
    """The engine and how to get a transaction from it."""

    def __init__(
        self, engine: AsyncEngine, *, schema: str = "", sqlite_path: str = ""
    ) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.schema = schema
        self._sqlite_path = sqlite_path
        self._writer: SqliteWriter | None = None
        self._writer_lock = asyncio.Lock()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed on normal exit."""
        async with self.engine.begin() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def sqlite_writer(self) -> AsyncIterator[SqliteWriter]:
        """The SQLite connection of the hot path (`SqliteWriter`), one user at a
        time. It has the same settings as the pool's; the two wait for each other
        through SQLite's own lock (``BEGIN IMMEDIATE`` and the busy timeout)."""
        async with self._writer_lock:
            if self._writer is None:
                writer = SqliteWriter(self._sqlite_path)
                await writer.open()
                self._writer = writer
            yield self._writer

    async def close(self) -> None:
        if self._writer is not None:
            async with self._writer_lock:
                await self._writer.close()
                self._writer = None
        await self.engine.dispose()


def open_database(settings: Settings) -> Database:
    """Create the engine for ``settings`` (no connection is made yet).

    Raises:
        ConfigError: an unsupported URL.
    """
    url = make_url(settings.database_url())
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        url = url.set(drivername="sqlite+aiosqlite")
        engine = create_async_engine(
            url,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        _sqlite_events(engine)
        return Database(engine, sqlite_path=url.database or ":memory:")
    if backend in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+asyncpg")
        connect_args: dict[str, Any] = {}
        if settings.store.schema:
            connect_args["server_settings"] = {"search_path": settings.store.schema}
        engine = create_async_engine(
            url,
            pool_size=10,
            max_overflow=10,
            pool_pre_ping=True,
            connect_args=connect_args,
        )
        return Database(engine, schema=settings.store.schema)
    raise ConfigError(
        f"store.url: {backend!r} databases are not supported (sqlite, postgresql)"
    )


def _sqlite_events(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE instead of the driver's
        # implicit deferred BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


async def ensure_schema(db: Database) -> None:
    """Create the PostgreSQL schema named in the settings if it does not exist."""
    if db.schema and not db.is_sqlite:
        async with db.engine.connect() as conn:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{db.schema}"'))
            await conn.commit()
