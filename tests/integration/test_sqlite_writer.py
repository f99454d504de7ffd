"""The SQLite hot path's connection: it waits for a write lock another connection
holds (off the loop, which keeps serving), and never leaves a transaction open."""

from __future__ import annotations

import asyncio
import errno
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from umsgate import config
from umsgate.store import database
from umsgate.store import migrate as store_migrate
from umsgate.store.database import Database, SqliteWriter, open_database
from umsgate.store.transactions import transaction


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite store in ``tmp_path`` (``umsgate.db``)."""
    database = open_database(config.load(env={"UMSGATE_STORE_DATA_DIR": str(tmp_path)}))
    try:
        await store_migrate.upgrade(database)
        yield database
    finally:
        await database.close()


async def test_begin_waits_for_another_connections_write_lock(
    db: Database, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "umsgate.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    loop = asyncio.get_running_loop()
    loop.call_later(0.5, other.execute, "COMMIT")
    started = time.monotonic()
    async with transaction(db) as raw:
        rows = await raw.fetch("SELECT count(*) FROM messages")
    waited = time.monotonic() - started
    ticker.cancel()
    assert rows == [(0,)]
    assert waited >= 0.45  # it did wait for the lock …
    assert ticks >= 20  # … and the loop went on meanwhile
    other.close()


async def test_a_failed_statement_rolls_back(db: Database, tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError):
        async with transaction(db) as raw:
            await raw.executemany("INSERT INTO nodes_missing_table VALUES (?)", [(1,)])
    async with db.sqlite_writer() as writer:
        assert not writer.conn.in_transaction
    async with transaction(db) as raw:  # the lock was given back
        assert await raw.fetch("SELECT 1") == [(1,)]


async def test_the_wal_is_checkpointed_while_writing(tmp_path: Path) -> None:
    # The writer's automatic checkpoint is off; its own checkpoints must still move
    # the WAL's pages into the database file as it writes.
    db = open_database(config.load(env={"UMSGATE_STORE_DATA_DIR": str(tmp_path)}))
    main_file = tmp_path / "umsgate.db"
    try:
        await store_migrate.upgrade(db)
        async with transaction(db) as raw:
            await raw.executemany("CREATE TABLE pad (x TEXT)", [()])
        await asyncio.sleep(0.1)
        before = main_file.stat().st_size
        deadline = time.monotonic() + 10
        while main_file.stat().st_size <= before + 100_000:
            assert time.monotonic() < deadline, "nothing was checkpointed"
            async with transaction(db) as raw:
                await raw.executemany(
                    "INSERT INTO pad VALUES (?)", [("x" * 1000,)] * 50
                )
            await asyncio.sleep(0.01)
    finally:
        await db.close()
    # Closing leaves the WAL empty.
    wal = tmp_path / "umsgate.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0


async def _pad_table(db: Database, *extra: str) -> None:
    async with transaction(db) as raw:
        await raw.executemany("CREATE TABLE pad (x INTEGER PRIMARY KEY)", [()])
        for sql in extra:
            await raw.executemany(sql, [()])


def _stored(path: Path, table: str = "pad") -> list[int]:
    """What another connection reads: only what was committed."""
    other = sqlite3.connect(path)
    try:
        return [x for (x,) in other.execute(f"SELECT x FROM {table} ORDER BY x")]
    finally:
        other.close()


async def _insert(db: Database, x: int, table: str = "pad") -> None:
    """One transaction that inserts ``x`` into ``table``."""
    async with transaction(db) as raw:
        await raw.executemany(f"INSERT INTO {table} VALUES (?)", [(x,)])


async def _writer(db: Database) -> SqliteWriter:
    """The hot path's writer (opened if it is not yet)."""
    async with db.sqlite_writer() as writer:
        return writer


async def _traced(db: Database) -> list[str]:
    """Every statement the writer's connection runs from now on."""
    statements: list[str] = []
    (await _writer(db)).conn.set_trace_callback(statements.append)
    return statements


async def test_concurrent_transactions_share_one_commit(
    db: Database, tmp_path: Path
) -> None:
    # Ten tasks' transactions, written in the same loop turns, are parts of one
    # transaction: one COMMIT (one fsync), and each caller goes on only after it.
    await _pad_table(db)
    statements = await _traced(db)
    seen_after: dict[int, list[int]] = {}

    async def write(x: int) -> None:
        await _insert(db, x)
        seen_after[x] = _stored(tmp_path / "umsgate.db")

    await asyncio.gather(*(write(x) for x in range(10)))
    assert statements.count("COMMIT") == 1
    assert statements.count("BEGIN IMMEDIATE") == 1
    for x in range(10):
        assert x in seen_after[x]  # committed before its caller went on
    assert _stored(tmp_path / "umsgate.db") == list(range(10))


async def test_a_failed_part_is_undone_alone(db: Database, tmp_path: Path) -> None:
    await _pad_table(db)
    statements = await _traced(db)

    async def write(x: int) -> None:
        async with transaction(db) as raw:
            await raw.executemany("INSERT INTO pad VALUES (?)", [(x,)])
            if x == 2:
                await raw.executemany("INSERT INTO pad VALUES (?)", [(1,)])

    results = await asyncio.gather(
        *(write(x) for x in range(4)), return_exceptions=True
    )
    assert [type(r) for r in results] == [
        type(None),
        type(None),
        sqlite3.IntegrityError,
        type(None),
    ]
    assert statements.count("COMMIT") == 1
    assert _stored(tmp_path / "umsgate.db") == [0, 1, 3]  # not 2, nor its 1


async def test_a_failed_commit_fails_every_part(db: Database, tmp_path: Path) -> None:
    # A deferred foreign key fails at COMMIT: the parts that shared it are all
    # lost, and every caller is told so; the writer goes on afterwards.
    await _pad_table(
        db,
        "CREATE TABLE child (x INTEGER REFERENCES pad (x) "
        "DEFERRABLE INITIALLY DEFERRED)",
    )
    async with db.sqlite_writer() as writer:
        writer.conn.execute("PRAGMA foreign_keys=ON")

    results = await asyncio.gather(
        _insert(db, 1),
        _insert(db, 99, "child"),  # no such parent
        _insert(db, 2),
        return_exceptions=True,
    )
    assert all(isinstance(r, sqlite3.IntegrityError) for r in results), results
    assert _stored(tmp_path / "umsgate.db") == []
    await _insert(db, 3)
    assert _stored(tmp_path / "umsgate.db") == [3]


async def test_a_transaction_sqlite_ended_fails_the_parts_before(
    db: Database, tmp_path: Path
) -> None:
    # RAISE(ROLLBACK) in a trigger ends the whole transaction, so the parts kept
    # before the failing one are gone: their callers must not be told "committed".
    await _pad_table(
        db,
        "CREATE TABLE trap (x INTEGER)",
        "CREATE TRIGGER trapped BEFORE INSERT ON trap "
        "BEGIN SELECT RAISE(ROLLBACK, 'trapped'); END",
    )

    results = await asyncio.gather(
        _insert(db, 1),
        _insert(db, 1, "trap"),
        return_exceptions=True,
    )
    assert [type(r) for r in results] == [
        sqlite3.OperationalError,
        sqlite3.IntegrityError,
    ], results
    assert "rolled back" in str(results[0])
    assert _stored(tmp_path / "umsgate.db") == []
    await _insert(db, 3)
    assert _stored(tmp_path / "umsgate.db") == [3]


async def test_a_cancelled_caller_does_not_cancel_the_commit(
    db: Database, tmp_path: Path
) -> None:
    await _pad_table(db)

    first = asyncio.create_task(_insert(db, 1))
    second = asyncio.create_task(_insert(db, 2))
    await asyncio.sleep(0)  # both parts written, the COMMIT not yet run
    first.cancel()
    await second
    with pytest.raises(asyncio.CancelledError):
        await first
    assert _stored(tmp_path / "umsgate.db") == [1, 2]


async def test_a_read_does_not_wait_for_the_write_lock(
    db: Database, tmp_path: Path
) -> None:
    """`Database.read` begins deferred: while another connection holds the write
    lock with a row not yet committed, a read answers at once with the last commit;
    a `Database.transaction` (BEGIN IMMEDIATE) waits for the lock."""
    other = sqlite3.connect(tmp_path / "umsgate.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute(
        "INSERT INTO nodes (slot, node_id, heartbeat, started_at) VALUES (7, 'x', 0, 0)"
    )
    try:

        async def count(ctx: Any) -> int:
            async with ctx as conn:
                result = await conn.execute(text("SELECT count(*) FROM nodes"))
                return int(result.scalar_one())

        started = time.monotonic()
        assert await asyncio.wait_for(count(db.read()), 2) == 0
        assert time.monotonic() - started < 1.0
        writing = asyncio.create_task(count(db.transaction()))
        await asyncio.sleep(0.5)
        assert not writing.done()  # BEGIN IMMEDIATE waits for the lock
        other.execute("COMMIT")
        assert await asyncio.wait_for(writing, 10) == 1
    finally:
        other.close()


async def test_callers_hear_of_their_commit_after_the_wal_is_synced(
    db: Database, tmp_path: Path
) -> None:
    # The COMMIT does not wait for the disk, its callers do: while the fsync of one
    # transaction runs, the next is written and committed, and neither caller goes
    # on before an fsync that began after its COMMIT has ended.
    await _pad_table(db)
    writer = await _writer(db)
    statements = await _traced(db)
    entered = threading.Event()
    release = threading.Event()
    synced: list[int] = []
    real_sync = writer.sync

    def slow_sync() -> None:
        entered.set()
        assert release.wait(10)
        real_sync()
        synced.append(len(_stored(tmp_path / "umsgate.db")))

    writer.sync = slow_sync  # type: ignore[method-assign]
    first = asyncio.create_task(_insert(db, 1))
    await asyncio.to_thread(entered.wait, 10)
    second = asyncio.create_task(_insert(db, 2))
    deadline = time.monotonic() + 10
    while statements.count("COMMIT") < 2:  # the second commits during the fsync
        assert time.monotonic() < deadline, statements
        await asyncio.sleep(0.01)
    assert _stored(tmp_path / "umsgate.db") == [1, 2]
    assert not first.done() and not second.done()
    release.set()
    await asyncio.wait_for(asyncio.gather(first, second), 10)
    # Two fsyncs: the one running at the second COMMIT did not cover it.
    assert synced == [2, 2]


async def test_a_failed_fsync_fails_its_callers_and_every_write_after_it(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    await _pad_table(db)

    def broken(_fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(database.os, "fdatasync", broken)
    with pytest.raises(OSError, match="Input/output"):
        await _insert(db, 1)
    assert any(
        r.levelname == "CRITICAL" and "could not be synced" in r.getMessage()
        for r in caplog.records
    )
    monkeypatch.undo()  # the disk answers again: proves nothing about the pages lost
    for x in (2, 3):
        with pytest.raises(OSError, match=r"earlier fsync .* Input/output") as later:
            await _insert(db, x)
        assert later.value.errno == errno.EIO
    writer = await _writer(db)
    assert not writer.conn.in_transaction


async def test_the_fsync_follows_the_wal_at_its_path(
    db: Database, tmp_path: Path
) -> None:
    await _pad_table(db)
    writer = await _writer(db)
    # A descriptor of another file, as if the WAL had been replaced: the writer
    # syncs the file at the WAL's path instead.
    writer._wal_fd = os.open(tmp_path / "stray", os.O_RDWR | os.O_CREAT)
    await _insert(db, 1)
    fd = writer._wal_fd
    assert fd is not None
    assert os.fstat(fd).st_ino == (tmp_path / "umsgate.db-wal").stat().st_ino
    assert (tmp_path / "stray").stat().st_ino != os.fstat(fd).st_ino


async def test_a_database_behind_a_symbolic_link_syncs_its_wal(tmp_path: Path) -> None:
    # SQLite keeps the WAL beside the file the link points to.
    real = tmp_path / "disk"
    real.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    (real / "store.db").touch()
    (data / "umsgate.db").symlink_to(real / "store.db")
    db = open_database(config.load(env={"UMSGATE_STORE_DATA_DIR": str(data)}))
    try:
        await store_migrate.upgrade(db)
        await _pad_table(db)
        await _insert(db, 1)
        writer = await _writer(db)
        fd = writer._wal_fd
        assert fd is not None
        assert os.fstat(fd).st_ino == (real / "store.db-wal").stat().st_ino
    finally:
        await db.close()
    assert _stored(real / "store.db") == [1]


async def test_a_database_not_in_wal_mode_commits_with_its_own_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    # A file system that refuses WAL leaves SQLite in a rollback journal: the
    # writer then keeps synchronous=FULL and says so, and its writes still work.
    monkeypatch.setattr(
        database,
        "_SQLITE_PRAGMAS",
        tuple(
            p.replace("journal_mode=WAL", "journal_mode=DELETE")
            for p in database._SQLITE_PRAGMAS
        ),
    )
    db = open_database(config.load(env={"UMSGATE_STORE_DATA_DIR": str(tmp_path)}))
    try:
        await _pad_table(db)
        await asyncio.gather(*(_insert(db, x) for x in range(3)))
        writer = await _writer(db)
        assert writer.conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert not (tmp_path / "umsgate.db-wal").exists()
    finally:
        await db.close()
    assert _stored(tmp_path / "umsgate.db") == [0, 1, 2]
    assert any("not WAL" in r.getMessage() for r in caplog.records)
