"""Upgrading an empty database gives exactly the schema that ``store/tables.py``
declares, on SQLite and on PostgreSQL."""

from __future__ import annotations

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
