"""Alembic environment: migrations run on a connection that umsgate hands over
(``config.attributes["connection"]``), for SQLite and PostgreSQL alike."""

from __future__ import annotations

from alembic import context

from umsgate.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
