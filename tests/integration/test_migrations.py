"""Upgrading an empty database gives exactly the schema that ``store/tables.py``
declares, on SQLite and on PostgreSQL, and each downgrade gives back the schema of
the revision before it."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from tests.conftest import Store, make_settings
from umsgate.store import migrate
from umsgate.store.database import open_database
from umsgate.store.tables import metadata


async def test_upgrade_matches_the_table_metadata(store: Store) -> None:
    db = open_database(make_settings(store))
    try:
        await migrate.upgrade(db)
        await migrate.upgrade(db)  # a second run is a no-op

        def diff(conn: Connection) -> list[Any]:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))

        async with db.transaction() as conn:
            differences = await conn.run_sync(diff)
    finally:
        await db.close()
    assert differences == []


def test_every_revision_says_its_phase() -> None:
    versions = migrate.MIGRATIONS / "versions"
    revisions = sorted(versions.glob("*.py"))
    assert revisions
    for path in revisions:
        text = path.read_text()
        assert "Phase: pre-deploy" in text or "Phase: post-deploy" in text, path.name


async def test_provider_id_and_parent_indexes_leave_out_the_rows_without(
    store: Store,
) -> None:
    """A new message has no provider id and no parent: its insert skips those two
    indexes, and the provider-id lookup of the ledger still uses its index."""
    db = open_database(make_settings(store))
    try:
        await migrate.upgrade(db)
        async with db.transaction() as conn:
            if db.is_sqlite:
                rows = await conn.exec_driver_sql(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                    "AND tbl_name = 'messages'"
                )
            else:
                rows = await conn.exec_driver_sql(
                    "SELECT indexname, indexdef FROM pg_indexes "
                    "WHERE tablename = 'messages' AND schemaname = current_schema()"
                )
            found = {name: (sql or "") for name, sql in rows}
            for name, column in (
                ("ix_messages_connector_provider_msg_id", "provider_msg_id"),
                ("ix_messages_parent_id", "parent_id"),
            ):
                assert f"{column} IS NOT NULL" in found[name], found[name]
            assert "WHERE" not in found["ix_messages_status_due_at"].upper()
            if db.is_sqlite:
                plan = await conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN SELECT provider_msg_id, id FROM messages "
                    "WHERE connector = ? AND provider_msg_id IN (?, ?)",
                    ("smpp", "a", "b"),
                )
                details = " ".join(str(r[-1]) for r in plan)
                assert "ix_messages_connector_provider_msg_id" in details, details
    finally:
        await db.close()


def test_the_head_read_from_the_files_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert migrate.head() == script.get_current_head()


#: Run in a fresh interpreter: upgrade the store named by the JSON overrides in
#: argv[1], then say whether Alembic was imported and whether the store exists.
UPGRADE_AGAIN = """
import asyncio, json, sys
from umsgate import config
from umsgate.store import migrate
from umsgate.store.database import open_database

settings = config.load(None, env={}, overrides={"store": json.loads(sys.argv[1])})

async def main():
    db = open_database(settings)
    try:
        await migrate.upgrade(db)
    finally:
        await db.close()
    return await migrate.created(settings)

created = asyncio.run(main())
print(json.dumps({"alembic": "alembic" in sys.modules, "created": created}))
"""


def _upgrade_in_a_new_process(store: Store) -> dict[str, bool]:
    done = subprocess.run(
        [sys.executable, "-c", UPGRADE_AGAIN, json.dumps(store.overrides())],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, bool] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_alembic_is_imported_only_when_there_is_an_upgrade_to_run(
    store: Store,
) -> None:
    """A first start migrates (Alembic runs); every later start finds the schema
    at the head with one query and leaves Alembic unloaded."""
    first = _upgrade_in_a_new_process(store)
    assert first == {"alembic": True, "created": True}
    again = _upgrade_in_a_new_process(store)
    assert again == {"alembic": False, "created": True}


async def test_every_downgrade_undoes_its_upgrade(store: Store) -> None:
    # Up one revision at a time, the schema after each; then down one at a time,
    # each downgrade must give back the schema of the revision before it (the
    # revisions build and drop through shared steps, `migrations/_ddl.py`).
    db = open_database(make_settings(store))

    def alembic(connection: Connection, verb: str, revision: str) -> None:
        from alembic import command

        getattr(command, verb)(migrate.alembic_config(connection), revision)

    async def step(verb: str, revision: str) -> dict[str, Any]:
        async with db.transaction() as conn:
            await conn.run_sync(alembic, verb, revision)
            return await conn.run_sync(_schema)

    try:
        await migrate.upgrade(db, "base")  # the store's schema, no tables yet
        after: dict[str, dict[str, Any]] = {"base": await step("upgrade", "base")}
        order = _revisions()
        for revision in order:
            after[revision] = await step("upgrade", revision)
        assert after[order[-1]] != after["base"]
        for index in range(len(order) - 1, -1, -1):
            below = order[index - 1] if index else "base"
            assert await step("downgrade", below) == after[below], (
                f"downgrade of {order[index]}"
            )
    finally:
        await db.close()


def _revisions() -> list[str]:
    """The revisions from the first to the head."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    return [s.revision for s in reversed(list(scripts.walk_revisions()))]


def _schema(conn: Connection) -> dict[str, Any]:
    """Every table but Alembic's, as reflected: columns, key, indexes and unique
    constraints (with a partial index's condition)."""
    from sqlalchemy import inspect

    inspector = inspect(conn)
    out: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        if table == migrate.VERSION_TABLE:
            continue
        out[table] = {
            "columns": sorted(
                (
                    c["name"],
                    str(c["type"]),
                    c["nullable"],
                    str(c.get("default") or "").strip("()'\""),
                )
                for c in inspector.get_columns(table)
            ),
            "key": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (
                    i["name"],
                    tuple(i["column_names"]),
                    bool(i["unique"]),
                    _where(i.get("dialect_options", {})),
                )
                for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                tuple(u["column_names"])
                for u in inspector.get_unique_constraints(table)
            ),
        }
    return out


def _where(options: dict[str, Any]) -> str:
    """A partial index's condition as text ("" for a whole index)."""
    for key in ("sqlite_where", "postgresql_where"):
        if options.get(key) is not None:
            return str(options[key])
    return ""
