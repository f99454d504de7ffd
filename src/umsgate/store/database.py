"""Opening the database: one `Database` for SQLite and PostgreSQL.

SQLite (the embedded default) runs in WAL mode, and a commit is on disk before the
API answers: ``synchronous=FULL`` on every connection but the hot path's writer,
which syncs the WAL itself after its COMMITs (`SqliteWriter`); group commit (see
``engine/accept.py``) keeps that cheap. All work goes through one connection, whose
transactions start with ``BEGIN IMMEDIATE`` so that another process on the same file
(the CLI editing clients) waits for the write lock instead of failing half-way.
PostgreSQL gets a pool; each test run or tenant can use its own schema
(``store.schema``).

The store's operations run on the driver (the hot path's connection here, the
others' in `umsgate.store.driver`). SQLAlchemy's engines are made on first use only:
the migrations (`umsgate.store.migrate`) and the schema (`umsgate.store.tables`) are
SQLAlchemy's, and a gateway process that finds its store up to date never loads it
(about 24 MiB of the process).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from umsgate.config import Settings
from umsgate.errors import ConfigError
from umsgate.store.driver import (
    SQLITE_BUSY_TIMEOUT_MS,
    PgDriver,
    SqliteDriver,
    create_pg_pool,
    pg_dsn,
    sqlite_path,
)
from umsgate.store.driver import SQLITE_PRAGMAS as _SQLITE_PRAGMAS

if TYPE_CHECKING:
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_T = TypeVar("_T")
log = logging.getLogger("umsgate.store")


#: Most connections of PostgreSQL's hot-path pool (`Database.pg_pool`): the
#: acceptor's group commits in flight, the ledger's, the dispatcher's claims and the
#: notifier's.
PG_HOT_CONNECTIONS = 12

#: Seconds between WAL checkpoints of the hot path's writes (see `SqliteWriter`).
CHECKPOINT_EVERY = 1.0
#: Loop turns between the first part of a shared transaction and its COMMIT
#: (measured on `bench/e2e.py`: 1 turn left 2,000 COMMITs for 20,000 messages, 2
#: turns 1,300 with 2.3 parts each, 8 turns 900 COMMITs that took as long in all:
#: a COMMIT's cost is mostly the pages it writes).
COMMIT_HOPS = 2


class SqliteWriter:
    """The SQLite connection of the hot path (``store/transactions.py``).

    Its statements run on the event loop's own thread. Each takes micro- to
    milliseconds in SQLite's C code, and a hop to a worker thread costs more than
    that: it needs the GIL on both sides and a wake-up of the busy loop for the
    answer (with aiosqlite's hop per statement a group commit spent tens of
    milliseconds waiting). What can wait long leaves the loop, for the writer's
    threads:

    * the fsync of the WAL (`sync`). The connection runs with
      ``synchronous=NORMAL``: its COMMIT appends the transaction to the WAL
      without waiting for the disk (0.1 ms on the loop), and the transaction's
      callers are told "committed" only once a ``fdatasync`` of the WAL that
      began after that COMMIT has returned, on the sync thread. Meanwhile the next
      transaction is written and committed: the disk's wait no longer stands
      between one group commit and the next (with ``synchronous=FULL`` the COMMIT
      held the write lock through its fsync, p50 1.4 ms and p99 5 ms under the
      load of `bench/e2e.py`, and nearly every next transaction waited for it).
      One fsync covers every COMMIT before it, so the syncs group themselves too.
      What a caller is told is what ``synchronous=FULL`` tells it: its rows are
      on disk, and after a power cut SQLite's WAL recovery keeps them (WAL mode
      with ``NORMAL`` never corrupts the database; it only leaves the last
      commits to the next fsync, which here the callers wait for). Other
      connections may read a transaction before its fsync ends, about a
      millisecond: nobody has been told about it yet, and the gateway acts on a
      change only through the callers' futures. An fsync that fails leaves the
      WAL's pages in an unknown state, so every later commit fails too, with the
      same error (logged) until the process restarts. A database its file system
      keeps out of WAL mode (a rollback journal) keeps ``synchronous=FULL``: its
      COMMIT is its sync, on the loop, and a warning says so at start;
    * ``BEGIN IMMEDIATE`` when another connection holds the write lock. The
      connection's busy timeout is 0: a BEGIN on the loop takes the lock at once or
      fails, and is then repeated on the thread with the real timeout (SQLite
      releases the GIL while it waits);
    * WAL checkpoints, on a thread and a connection of their own. The writer's
      automatic checkpoint is off (it would copy up to a thousand pages into the
      database inside some COMMIT); a PASSIVE checkpoint runs at most every
      `CHECKPOINT_EVERY` seconds after a commit, and never blocks a writer. It
      syncs the WAL before it copies pages into the database.

    Its transactions are shared. The acceptor, the dispatcher's claims, the ledger
    and the notifier each commit their own batches: on `bench/e2e.py` they made
    3,300 COMMITs for 20,000 messages. So each `transactions.transaction` is a *part* of
    the one open transaction (`join`: a SAVEPOINT, after a BEGIN IMMEDIATE if none
    is open), and the transaction commits `COMMIT_HOPS` loop turns after its first
    part was kept, with every part written meanwhile (1,300 COMMITs on the same
    run). A part's caller goes on only after that COMMIT and its fsync, so
    "committed" still means on disk. A part that fails is rolled back to its
    savepoint alone; a COMMIT that fails fails every part in it, and so does an
    error after which SQLite itself ended the transaction.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._checkpointer: sqlite3.Connection | None = None
        self._thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="sqlite-writer"
        )
        self._checkpoint_thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="sqlite-checkpoint"
        )
        self._sync_thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="sqlite-sync"
        )
        #: The WAL, opened for its fsync (see `sync`), where SQLite keeps it: beside
        #: the database file a symbolic link points to, not beside the link.
        #: None when the database is not in WAL mode: its COMMIT then syncs.
        self._wal: str | None = os.path.realpath(path) + "-wal"
        self._wal_fd: int | None = None
        #: Committed transactions waiting for an fsync to begin, and the fsync
        #: running (with the transactions it covers); the first fsync error.
        self._unsynced: list[asyncio.Future[None]] = []
        self._syncing: asyncio.Future[None] | None = None
        self._sync_error: OSError | None = None
        self._begin_off_loop: asyncio.Future[None] | None = None
        self._last_checkpoint = time.monotonic()
        self._checkpoint: asyncio.Future[None] | None = None
        #: The open shared transaction: the future its parts wait on for its
        #: COMMIT, how many parts it keeps, whether a part's body is running, and
        #: the scheduled COMMIT.
        self._shared: asyncio.Future[None] | None = None
        self._kept = 0
        self._in_part = False
        self._commit_at: asyncio.Handle | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:  # pragma: no cover - open() runs first
            raise RuntimeError("the writer is not open")
        return self._conn

    async def _off_loop(self, fn: Callable[..., _T], *args: Any) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, fn, *args)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path,
            isolation_level=None,
            timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
            cached_statements=256,
        )
        for pragma in _SQLITE_PRAGMAS:
            conn.execute(pragma)
        return conn

    async def open(self) -> None:
        def connect() -> tuple[sqlite3.Connection, sqlite3.Connection]:
            writer = self._connect()
            writer.execute("PRAGMA busy_timeout=0")
            writer.execute("PRAGMA wal_autocheckpoint=0")
            (mode,) = writer.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() == "wal":
                # The COMMIT does not wait for the disk; its callers do (`sync`).
                writer.execute("PRAGMA synchronous=NORMAL")
            else:
                self._wal = None
                log.warning(
                    "the store at %s is in %s journal mode, not WAL (its file system "
                    "may not allow it): every COMMIT waits for the disk",
                    self._path,
                    mode,
                    extra={"event": "store_journal"},
                )
            return writer, self._connect()

        self._conn, self._checkpointer = await self._off_loop(connect)

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

        loop = asyncio.get_running_loop()
        self._begin_off_loop = loop.run_in_executor(self._thread, wait_for_lock)
        await self._begin_off_loop
        self._begin_off_loop = None

    # -- the shared transaction -----------------------------------------------------

    async def join(self) -> None:
        """Start a part: join the open transaction, or begin one, and mark the
        part with a savepoint. The caller holds the writer
        (`Database.sqlite_writer`)."""
        if self._sync_error is not None:
            raise self._sync_failed()
        if self._shared is None:
            await self.begin()
            self._shared = asyncio.get_running_loop().create_future()
        self.conn.execute("SAVEPOINT part")
        self._in_part = True

    def keep(self) -> asyncio.Future[None]:
        """End a part that succeeded; the future of the COMMIT that will hold it."""
        self._in_part = False
        fut = self._shared
        assert fut is not None
        self.conn.execute("RELEASE part")
        self._kept += 1
        if self._commit_at is None:
            self._commit_at = asyncio.get_running_loop().call_soon(
                self._commit_soon, COMMIT_HOPS
            )
        return fut

    def undo(self) -> None:
        """End a part that failed: undo its statements alone. If SQLite ended the
        whole transaction itself (it does on some errors), the parts kept before
        are gone too, and their waiters are told."""
        self._in_part = False
        conn = self.conn
        if conn.in_transaction:
            conn.execute("ROLLBACK TO part")
            conn.execute("RELEASE part")
            if self._kept:
                return  # the scheduled COMMIT ends it
            conn.execute("ROLLBACK")
        elif self._kept:
            self._end_shared(
                sqlite3.OperationalError("the transaction was rolled back by SQLite")
            )
            return
        self._end_shared(None)

    async def rollback_part(self) -> None:
        """After an error in a part, or in `join` itself."""
        if self._in_part:
            self.undo()
            return
        if self._shared is not None:  # its SAVEPOINT failed
            if self._kept:
                return
            self._end_shared(None)
        await self.rollback()

    def _commit_soon(self, hops: int) -> None:
        """Commit the shared transaction, ``hops`` loop turns after its first part
        was kept: the parts that other tasks write meanwhile ride on the same
        COMMIT. A part whose body is running is waited for. The COMMIT runs here,
        on the loop (it does not wait for the disk); its parts are told once the
        fsync after it ends (`sync`)."""
        if hops > 1 or self._in_part:
            self._commit_at = asyncio.get_running_loop().call_soon(
                self._commit_soon, max(1, hops - 1)
            )
            return
        self._commit_at = None
        shared, self._shared = self._shared, None
        self._kept = 0
        if shared is None:
            return
        try:
            self.commit()
        except BaseException as exc:
            _settle([shared], exc)
            return
        if self._wal is None:  # synchronous=FULL: the COMMIT was the sync
            _settle([shared], None)
            return
        self._unsynced.append(shared)
        if self._syncing is None:
            self._sync_next()

    def _sync_next(self) -> None:
        """Begin an fsync of the WAL for every transaction committed so far."""
        covered, self._unsynced = self._unsynced, []
        loop = asyncio.get_running_loop()
        syncing = loop.run_in_executor(self._sync_thread, self.sync)
        self._syncing = syncing

        def done(fut: asyncio.Future[None]) -> None:
            self._syncing = None
            exc = fut.exception() if not fut.cancelled() else asyncio.CancelledError()
            _settle(covered, exc)
            if exc is None:
                self._checkpoint_soon()
            if self._unsynced:
                self._sync_next()

        syncing.add_done_callback(done)

    def sync(self) -> None:
        """fdatasync the WAL (on the sync thread): every transaction committed
        before it began is then on disk. The first error stays: after a failed
        fsync the kernel may have dropped the pages it could not write, so a later
        fsync that succeeds proves nothing."""
        if self._sync_error is not None:
            raise self._sync_failed()
        wal = self._wal
        if wal is None:
            return
        try:
            fd = self._wal_fd
            # SQLite keeps the WAL while a connection is open, but the file could
            # be replaced meanwhile (another process in another journal mode):
            # sync the one at the path.
            if fd is None or os.fstat(fd).st_ino != os.stat(wal).st_ino:
                if fd is not None:
                    os.close(fd)
                    self._wal_fd = None
                self._wal_fd = fd = os.open(wal, os.O_RDONLY | os.O_CLOEXEC)
            os.fdatasync(fd)
        except OSError as exc:
            self._sync_error = exc
            log.critical(
                "the store's WAL could not be synced to disk (%s): every write "
                "fails until the gateway restarts",
                exc,
                extra={"event": "store_error"},
            )
            raise

    def _sync_failed(self) -> OSError:
        """The error of every write after a failed fsync: a new one each time (one
        raised again and again would keep every traceback it went through)."""
        first = self._sync_error
        assert first is not None
        return OSError(
            first.errno, f"an earlier fsync of the store's WAL failed: {first.strerror}"
        )

    def _end_shared(self, exc: BaseException | None) -> None:
        fut, self._shared = self._shared, None
        self._kept = 0
        if self._commit_at is not None:
            self._commit_at.cancel()
            self._commit_at = None
        if fut is not None:
            _settle([fut], exc)

    def commit(self) -> None:
        """COMMIT, or ROLLBACK what is left of a transaction whose COMMIT
        failed."""
        conn = self.conn
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _checkpoint_soon(self) -> None:
        if (
            time.monotonic() - self._last_checkpoint > CHECKPOINT_EVERY
            and self._checkpoint is None
        ):
            self._last_checkpoint = time.monotonic()
            self._checkpoint = asyncio.ensure_future(self._run_checkpoint())

    async def _run_checkpoint(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                self._checkpoint_thread, self._checkpoint_now, "PASSIVE"
            )
        except sqlite3.Error:
            log.exception("WAL checkpoint failed", extra={"event": "store_error"})
        finally:
            self._checkpoint = None

    def _checkpoint_now(self, mode: str) -> None:
        if self._checkpointer is not None:
            self._checkpointer.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()

    async def rollback(self) -> None:
        """ROLLBACK whatever state the transaction is in; after a BEGIN that is
        still waiting on the thread (its caller was cancelled), it follows it
        there."""
        conn = self.conn
        pending = self._begin_off_loop
        if pending is not None:
            self._begin_off_loop = None
            with contextlib.suppress(BaseException):
                await asyncio.shield(pending)
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    async def close(self) -> None:
        if self._shared is not None and not self._in_part:
            if self._commit_at is not None:
                self._commit_at.cancel()
            self._commit_soon(1)
        while self._syncing is not None:
            with contextlib.suppress(BaseException):
                await asyncio.shield(self._syncing)
        if self._checkpoint is not None:
            with contextlib.suppress(BaseException):
                await self._checkpoint
        if self._conn is not None:
            conn, self._conn = self._conn, None
            checkpointer, self._checkpointer = self._checkpointer, None

            def shut() -> None:
                if checkpointer is not None:
                    with contextlib.suppress(sqlite3.Error):
                        checkpointer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    checkpointer.close()
                conn.close()
                if self._wal_fd is not None:
                    os.close(self._wal_fd)
                    self._wal_fd = None

            await self._off_loop(shut)
        self._thread.shutdown(wait=True)
        self._checkpoint_thread.shutdown(wait=True)
        self._sync_thread.shutdown(wait=True)


def _settle(waiters: list[asyncio.Future[None]], exc: BaseException | None) -> None:
    """Tell the parts of transactions that their COMMIT (and fsync) ended."""
    for fut in waiters:
        if fut.done():
            continue
        if exc is None:
            fut.set_result(None)
        else:
            fut.set_exception(exc)
            fut.exception()  # retrieved: a part with no waiter is no error


class Database:
    """The store at one URL: its drivers, and SQLAlchemy's engines when asked."""

    def __init__(self, url: str, *, schema: str = "") -> None:
        """Args:
        url: the store's URL, SQLite or PostgreSQL (see `open_database`).
        schema: PostgreSQL: the schema the connections use ("" for the default).
        """
        self.url = url
        path = sqlite_path(url)
        self.dialect = "sqlite" if path is not None else "postgresql"
        self.schema = schema
        self._sqlite_path = path or ""
        self._pg_dsn = pg_dsn(url) or ""
        self._engine: AsyncEngine | None = None
        self._reader: AsyncEngine | None = None
        self._writer: SqliteWriter | None = None
        self._writer_lock = asyncio.Lock()
        self._pg_pool: Any = None
        self._pg_lock = asyncio.Lock()
        self._driver: SqliteDriver | PgDriver | None = None

    @property
    def engine(self) -> AsyncEngine:
        """SQLAlchemy's engine (made, and SQLAlchemy loaded, on first use)."""
        if self._engine is None:
            self._engine, self._reader = _engines(self.url, self.schema)
        return self._engine

    @property
    def reader(self) -> AsyncEngine:
        """The engine of `read`: on SQLite a pool of its own."""
        engine = self.engine
        return self._reader or engine

    @property
    def driver(self) -> SqliteDriver | PgDriver:
        """The store on the driver alone (`umsgate.store.driver`): every
        operation outside the hot path runs on it."""
        if self._driver is None:
            if self.is_sqlite:
                self._driver = SqliteDriver(self._sqlite_path)
            else:
                self._driver = PgDriver(pool=self.pg_pool)
        return self._driver

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed on normal exit."""
        async with self.engine.begin() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction that only reads.

        On SQLite it begins deferred, on a connection of its own: a reader never
        waits for the write lock. The writer holds that lock nearly all the time
        under load (its transactions are shared, and the next begins as the last
        commits), and SQLite's busy handler, which polls with growing sleeps, kept
        a read of the notifier's waiting for it for over 2 s on `bench/e2e.py`. In
        WAL mode a reader sees the last commit, never a half-written one."""
        async with self.reader.begin() as conn:
            yield conn

    async def ping(self) -> None:
        """A round trip to the database (``/readyz``)."""
        await self.driver.fetch("SELECT 1")

    @contextlib.asynccontextmanager
    async def sqlite_writer(self) -> AsyncIterator[SqliteWriter]:
        """The SQLite connection of the hot path (`SqliteWriter`), one user at a
        time. It has the same settings as the driver's writer (`driver`); the two
        wait for each other through SQLite's own lock (``BEGIN IMMEDIATE`` and the
        busy timeout)."""
        async with self._writer_lock:
            if self._writer is None:
                writer = SqliteWriter(self._sqlite_path)
                await writer.open()
                self._writer = writer
            yield self._writer

    async def pg_pool(self) -> Any:
        """PostgreSQL: the hot path's pool (`store.transactions`), asyncpg's own.

        Apart from SQLAlchemy's: a checkout there costs a ``SELECT 1`` (its
        pre-ping) and its pool's bookkeeping, and every message goes through
        several transactions of the hot path; on `bench/e2e.py` the checkout and
        BEGIN were a fifth of a group commit's time. asyncpg's pool hands out a
        connection without a round trip and replaces one that broke."""
        if self._pg_pool is None:
            async with self._pg_lock:
                if self._pg_pool is None:
                    self._pg_pool = await create_pg_pool(
                        self._pg_dsn,
                        self.schema,
                        min_size=2,
                        max_size=PG_HOT_CONNECTIONS,
                    )
        return self._pg_pool

    async def close(self) -> None:
        if self._driver is not None:
            await self._driver.close()
            self._driver = None
        if self._pg_pool is not None:
            await self._pg_pool.close()
            self._pg_pool = None
        if self._writer is not None:
            async with self._writer_lock:
                await self._writer.close()
                self._writer = None
        engine, reader = self._engine, self._reader
        self._engine = self._reader = None
        if engine is not None:
            await engine.dispose()
        if reader is not None:
            await reader.dispose()


def open_database(settings: Settings) -> Database:
    """The `Database` of ``settings`` (no connection is made yet), its SQLite file
    and directory created private to the gateway's user if missing.

    Raises:
        ConfigError: an unsupported URL.
    """
    url = settings.database_url()
    path = sqlite_path(url)
    if path is not None:
        if path != ":memory:":
            private_files(Path(path))
        return Database(url)
    if pg_dsn(url) is not None:
        return Database(url, schema=settings.store.schema)
    raise ConfigError(
        f"store.url: {url.split(':', 1)[0]!r} databases are not supported"
        " (sqlite, postgresql)"
    )


def _engines(url: str, schema: str) -> tuple[AsyncEngine, AsyncEngine | None]:
    """SQLAlchemy's engines of the store at ``url``: the engine, and on SQLite the
    reader's of `Database.read` (None: the engine reads too)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
        engine = _sqlite_engine(parsed, pool_size=1, begin="BEGIN IMMEDIATE")
        reader = None
        if parsed.database and parsed.database != ":memory:":
            reader = _sqlite_engine(parsed, pool_size=2, begin="BEGIN")
        return engine, reader
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["server_settings"] = {"search_path": schema}
    engine = create_async_engine(
        parsed.set(drivername="postgresql+asyncpg"),
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        connect_args=connect_args,
    )
    return engine, None


#: Modes of what the store creates: the data directory and the database (SQLite
#: gives its -wal and -shm files the database file's mode). Nobody but the
#: gateway's user needs them: they hold every message and client.
DIR_MODE = 0o700
FILE_MODE = 0o600


def private_files(path: Path) -> None:
    """Create the SQLite database ``path`` (empty) and its directory if they are
    missing, readable by their owner alone; warn about existing ones that others
    may read (their modes are the operator's: they are not changed)."""
    directory = path.parent
    if not directory.exists():
        directory.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        # mkdir's mode passes through the umask, which may only take bits away;
        # set it exactly in case the umask was unusual.
        directory.chmod(DIR_MODE)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        pass
    else:
        os.close(fd)
        return
    for existing, private in ((directory, DIR_MODE), (path, FILE_MODE)):
        mode = existing.stat().st_mode & 0o777
        if mode & ~private & 0o077:
            log.warning(
                "%s has mode %04o: other users may read the store (chmod %o)",
                existing,
                mode,
                private,
                extra={"event": "store_mode"},
            )


def _sqlite_engine(url: URL, *, pool_size: int, begin: str) -> AsyncEngine:
    """An engine of ``pool_size`` connections to the SQLite database at ``url``, each
    set up with the pragmas, whose transactions start with ``begin``."""
    from sqlalchemy import event
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=60,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue ``begin`` (BEGIN IMMEDIATE for a
        # writer) instead of the driver's implicit BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


async def ensure_schema(db: Database) -> None:
    """Create the PostgreSQL schema named in the settings if it does not exist."""
    if db.schema and not db.is_sqlite:
        async with db.driver.transaction() as tx:
            await tx.execute(f'CREATE SCHEMA IF NOT EXISTS "{db.schema}"')
