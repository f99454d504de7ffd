"""The schema changes the revisions share, under the names the schema's naming
convention gives (`umsgate.store.tables.metadata`): ``pk_<table>`` and
``ix_<table>_<columns>``. Indexes and columns are changed in a batch, which on
SQLite rebuilds the table when it has to.

Released revisions call these, and a revision must do tomorrow what it did the day
it was released: never change what a function here does; add a new one instead.
`tests/integration/test_migrations.py` compares the migrated schema with `tables`."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

#: An index, by its columns.
Index = Sequence[str]


def serial_id() -> sa.Column[int]:
    """An autoincrementing ``id``: BIGINT, and on SQLite INTEGER (its rowid)."""
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    )


def index_name(table: str, columns: Index) -> str:
    return f"ix_{table}_{'_'.join(columns)}"


def create_table(
    name: str,
    *items: sa.schema.SchemaItem,
    key: Sequence[str],
    indexes: Sequence[Index] = (),
) -> None:
    """Create table ``name`` of ``items`` (columns and constraints) with the primary
    key ``key``, then its ``indexes``."""
    op.create_table(
        name, *items, sa.PrimaryKeyConstraint(*key, name=op.f(f"pk_{name}"))
    )
    if indexes:
        create_indexes(name, *indexes)


def drop_table(name: str, indexes: Sequence[Index] = ()) -> None:
    """Drop table ``name`` and the ``indexes`` `create_table` made on it."""
    if indexes:
        drop_indexes(name, *indexes)
    op.drop_table(name)


def create_indexes(table: str, *indexes: Index, where: str = "") -> None:
    """Create ``indexes`` on ``table``, each over the rows ``where`` says if given."""
    partial: dict[str, sa.TextClause] = {}
    if where:
        clause = sa.text(where)
        partial = {"sqlite_where": clause, "postgresql_where": clause}
    with op.batch_alter_table(table, schema=None) as batch_op:
        for columns in indexes:
            batch_op.create_index(
                batch_op.f(index_name(table, columns)),
                list(columns),
                unique=False,
                **partial,
            )


def drop_indexes(table: str, *indexes: Index) -> None:
    """Drop ``indexes`` from ``table``, the last first."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for columns in reversed(indexes):
            batch_op.drop_index(batch_op.f(index_name(table, columns)))


def add_columns(
    table: str, *columns: sa.Column[object], unique_index: Index = ()
) -> None:
    """Add ``columns`` to ``table``, then a unique index over ``unique_index``."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.add_column(column)
        if unique_index:
            batch_op.create_index(
                batch_op.f(index_name(table, unique_index)),
                list(unique_index),
                unique=True,
            )


def drop_columns(table: str, *names: str, unique_index: Index = ()) -> None:
    """Drop the ``unique_index`` `add_columns` made, then the columns ``names``."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        if unique_index:
            batch_op.drop_index(batch_op.f(index_name(table, unique_index)))
        for name in names:
            batch_op.drop_column(name)
