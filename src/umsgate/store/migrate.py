"""Schema migrations with Alembic, run on the gateway's own connection.

Every revision's docstring says ``Phase: pre-deploy`` (safe to run before the new code
starts: additive) or ``Phase: post-deploy`` (only after every node runs the new code).

Alembic (with Mako) is about 11 MiB of every gateway process that imports it, and
``serve`` upgrades at every start, which almost always finds nothing to do. So the
store's revision is read with one query and compared with the newest revision of
`MIGRATIONS`, read from the revision files' own ``revision``/``down_revision``
lines, on the driver; Alembic, and SQLAlchemy with it, are imported only when there
is an upgrade to run (a test checks that both ways agree on the head).
"""

from __future__ import annotations

import ast
import asyncio
import functools
from pathlib import Path
from typing import TYPE_CHECKING

from umsgate.config import Settings
from umsgate.store.database import Database, ensure_schema, open_database
from umsgate.store.driver import fetch, sqlite_path

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

MIGRATIONS = Path(__file__).with_name("migrations")
#: Alembic's own table (its default name), one row: the store's revision.
VERSION_TABLE = "alembic_version"


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def head() -> str:
    """The newest revision in `MIGRATIONS`: the one no other revision follows.

    Raises:
        RuntimeError: the revision files do not form one line (a packaging error).
    """
    follows: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        values: dict[str, str | None] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in ("revision", "down_revision")
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str | None)
            ):
                values[node.targets[0].id] = node.value.value
        if isinstance(values.get("revision"), str):
            follows[str(values["revision"])] = values.get("down_revision")
    heads = set(follows) - set(follows.values())
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


async def current(db: Database) -> str | None:
    """The store's revision; None before the first migration."""
    if db.is_sqlite:
        exists = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    else:
        # In the connection's schema (its search_path), as Alembic looks for it.
        exists = (
            "SELECT 1 FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_name = ?"
        )
    if not await fetch(db, exists, (VERSION_TABLE,)):
        return None
    rows = await fetch(db, f"SELECT version_num FROM {VERSION_TABLE}")
    return str(rows[0][0]) if rows else None


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``."""
    await ensure_schema(db)
    if revision == "head" and await current(db) == head():
        return

    def run(connection: Connection) -> None:
        from alembic import command

        command.upgrade(alembic_config(connection), revision)

    async with db.transaction() as conn:
        await conn.run_sync(run)


def location(settings: Settings) -> str:
    """Where the store of ``settings`` is, in words (no password)."""
    from sqlalchemy.engine import make_url

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
    path = sqlite_path(settings.database_url())
    if path is not None:
        if path == ":memory:":
            return True
        return await asyncio.to_thread(Path(path).is_file)
    db = open_database(settings)
    try:
        return await current(db) is not None
    finally:
        await db.close()
