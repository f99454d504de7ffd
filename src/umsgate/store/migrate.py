"""Schema migrations with Alembic, run on the gateway's own connection.

Every revision's docstring says ``Phase: pre-deploy`` (safe to run before the new code
starts: additive) or ``Phase: post-deploy`` (only after every node runs the new code).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from umsgate.store.database import Database, ensure_schema

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
