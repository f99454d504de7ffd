"""The account and file operations on the database driver, on SQLite and
PostgreSQL; and a front process that never loads SQLAlchemy: it builds its `Front`
(the client directory and the file store, opening the database) in a fresh
interpreter and looks a client, a token and a file up."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys

import pytest

from tests.conftest import Store, make_settings
from umsgate import clients
from umsgate.files import FileStore
from umsgate.store import accounts, migrate
from umsgate.store import files as stored
from umsgate.store.database import Database, open_database

JPEG = b"\xff\xd8\xff\xe0\x00\x04ab\xff\xda\x00\x02rest"

FRONT = """
import asyncio, json, sys
from umsgate import config
from umsgate.front.app import Front

async def main(store, token, file_id):
    settings = config.load(None, env={}, overrides={"store": store})
    front = Front(settings, intake="/nonexistent", gateway_http="/nonexistent")
    try:
        info = await front.directory.authenticate(token)
        meta = await front.files.meta(info.id, file_id)
        missing = await front.directory.client("nobody")
    finally:
        front.directory.close()
        await front.db.close()
    return {"client": info.id, "file": meta and meta["fileId"],
            "missing": missing, "sqlalchemy": "sqlalchemy" in sys.modules}

print(json.dumps(asyncio.run(main(*json.loads(sys.argv[1])))))
"""


async def _opened(store: Store) -> Database:
    db = open_database(make_settings(store))
    await migrate.upgrade(db)
    return db


async def test_a_front_never_loads_sqlalchemy(store: Store) -> None:
    db = await _opened(store)
    try:
        creds = await clients.add_client(db, "acme")
        directory = clients.Directory(db, token_ttl=600, cache_ttl=0)
        try:
            issued = await directory.issue_token(
                "acme", creds.client_secret, creds.client_key
            )
        finally:
            directory.close()
        kept = await FileStore(db).put("acme", "a.jpg", JPEG)
    finally:
        await db.close()
    arg = json.dumps([store.overrides(), issued.token, kept.file_id])
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        FRONT,
        arg,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, **store.env()},
    )
    stdout, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    assert json.loads(stdout) == {
        "client": "acme",
        "file": kept.file_id,
        "missing": None,
        "sqlalchemy": False,
    }


async def test_the_account_operations(store: Store) -> None:
    db = await _opened(store)
    try:
        assert await accounts.get_client(db, "acme") is None
        await clients.add_client(
            db, "acme", tps={"SMS": 5}, imsms_key="key-1", dup_window=60
        )
        record = await accounts.get_client(db, "acme")
        assert record is not None
        assert (record.id, record.version, record.dup_window) == ("acme", 1, 60.0)
        assert json.loads(record.tps) == {"SMS": 5}
        assert record.disabled is False and record.last_report_check is None
        by_key = await accounts.client_by_imsms_key(db, clients.sha256_hex("key-1"))
        assert by_key == record
        async with accounts.transaction(db) as tx:
            assert await accounts.update_client(
                tx, "acme", {"report_url": "https://x.test/r"}, revoke=True
            )
            assert not await accounts.update_client(
                tx, "nobody", {"report_url": ""}, revoke=False
            )
        changed = await accounts.get_client(db, "acme")
        assert changed is not None
        assert (changed.report_url, changed.version) == ("https://x.test/r", 2)
        assert await accounts.set_client_disabled(db, "acme", True, 5.0)
        assert await accounts.disabled_clients(db) == {"acme"}
        assert [c.id for c in await accounts.list_clients(db)] == ["acme"]
        assert await accounts.take_report_check(db, "acme", 100.0, 30.0) == 0.0
        assert await accounts.take_report_check(db, "acme", 110.0, 30.0) == 20.0
        token = accounts.TokenRecord(
            hash="h" * 64, client_id="acme", version=3, expires_at=50.0, created_at=1.0
        )
        await accounts.insert_token(db, token)
        assert await accounts.get_token(db, "h" * 64) == token
        assert await accounts.delete_expired_tokens(db, 60.0) == 1
        assert await accounts.get_token(db, "h" * 64) is None
        with pytest.raises(ValueError, match="not a changeable column"):
            async with accounts.transaction(db) as tx:
                await accounts.update_client(tx, "acme", {"id": "x"}, revoke=False)
    finally:
        await db.close()


async def test_the_file_operations(store: Store) -> None:
    db = await _opened(store)
    try:
        new = stored.FileMeta(
            id="F1",
            client_id="acme",
            name="a.jpg",
            md5="m" * 32,
            size=len(JPEG),
            expires_at=100.0,
        )
        first = await stored.store_file(
            db, new, JPEG, created_at=10.0, reuse_until=50.0
        )
        assert first == stored.Kept(id="F1", expires_at=100.0, duplicate=False)
        again = await stored.store_file(
            db,
            dataclasses.replace(new, id="F2"),
            JPEG,
            created_at=20.0,
            reuse_until=50.0,
        )
        assert again == stored.Kept(id="F1", expires_at=100.0, duplicate=True)
        meta = await stored.file_meta(db, ["F1", "F2"])
        assert meta == {"F1": new}
        assert await stored.file_data(db, "F1") == stored.FileData(
            name="a.jpg", data=JPEG
        )
        assert await stored.file_data(db, "F2") is None
        assert await stored.delete_expired_files(db, 200.0) == 1
        assert await stored.file_meta(db, ["F1"]) == {}
    finally:
        await db.close()


async def test_a_snapshot_sees_one_commit_and_leaves_writers_free(store: Store) -> None:
    """Reads in a snapshot agree with each other while a writer commits between
    them, and the writer does not wait for the snapshot to end."""
    db = await _opened(store)
    try:
        await clients.add_client(db, "first")
        driver = db.driver
        async with driver.snapshot() as snap:
            before = await snap.fetch("SELECT count(*) FROM clients")
            async with asyncio.timeout(10):
                await clients.add_client(db, "second")
            during = await snap.fetch("SELECT count(*) FROM clients")
        after = await driver.fetch("SELECT count(*) FROM clients")
        assert (before[0][0], during[0][0], after[0][0]) == (1, 1, 2)
    finally:
        await db.close()


async def test_a_read_beside_a_snapshot_sees_the_newest_commit(store: Store) -> None:
    """A plain read while another task's snapshot is open is not a part of that
    snapshot: it sees what was committed after the snapshot began."""
    db = await _opened(store)
    try:
        await clients.add_client(db, "first")
        driver = db.driver
        async with driver.snapshot() as snap:
            await snap.fetch("SELECT count(*) FROM clients")
            await clients.add_client(db, "second")
            beside = asyncio.create_task(driver.fetch("SELECT count(*) FROM clients"))
            await asyncio.sleep(0.05)
        rows = await asyncio.wait_for(beside, 10)
        assert rows[0][0] == 2
    finally:
        await db.close()


@pytest.mark.postgres
async def test_a_released_connection_keeps_its_schema_and_no_open_transaction(
    pg_store: Store,
) -> None:
    """The hot path's pool leaves a released session as it is (no reset query at
    every release), which must still mean: a transaction left open is rolled back,
    and the next user is in the store's schema."""
    db = await _opened(pg_store)
    try:
        pool = await db.pg_pool()
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute(
                "INSERT INTO nodes (slot, node_id, heartbeat, started_at)"
                " VALUES (7, 'left-open', 0, 0)"
            )
        # Every connection of the pool in turn (it has at least two).
        for _ in range(3):
            async with pool.acquire() as conn:
                assert not conn.is_in_transaction()
                assert await conn.fetchval("SELECT current_schema()") == pg_store.schema
                assert await conn.fetchval("SELECT count(*) FROM nodes") == 0
    finally:
        await db.close()
