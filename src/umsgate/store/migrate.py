"""Schema migrations with Alembic, run on the gateway's own connection.

Every revision's docstring says ``Phase: pre-deploy`` (safe to run before the new code
starts: additive) or ``Phase: post-deploy`` (only after every node runs the new code).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from umsgate.config import Settings
from umsgate.store.database import Database, ensure_schema, open_database

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``."""
    await ensure_schema(db)

    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    async with db.transaction() as conn:
        await conn.run_sync(run)


def location(settings: Settings) -> str:
    """Where the store of ``settings`` is, in words (no password)."""
    url = make_url(settings.database_url())
    if url.get_backend_name() == "sqlite":
        return str(url.database or ":memory:")
    where = url.render_as_string(hide_password=True)
    return (
        f"{where} (schema {settings.store.schema})" if settings.store.schema else where
    )


async def created(settings: Settings) -> bool:
    """Whether the store of ``settings`` exists: an SQLite file that is there (not
    made by asking), or a PostgreSQL schema that has been migrated."""
    url = make_url(settings.database_url())
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return True
        return await asyncio.to_thread(Path(url.database).is_file)
    db = open_database(settings)
    try:

        def revision(connection: Connection) -> str | None:
            return MigrationContext.configure(connection).get_current_revision()

        async with db.read() as conn:
            return await conn.run_sync(revision) is not None
    finally:
        await db.close()
