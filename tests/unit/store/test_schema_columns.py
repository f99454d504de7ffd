"""The column lists the store's driver-level SQL is written with follow the schema
(`umsgate.store.tables`, SQLAlchemy's, which the gateway process loads only to
migrate): same names, same order, and PostgreSQL's array types of the statements
over batches (`umsgate.store.driver.unnest`) match the columns' types."""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Integer

from umsgate.store import messages, reports, tables


def _names(table: str, *, but: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(
        c.name for c in tables.metadata.tables[table].columns if c.name not in but
    )


def test_column_lists_follow_the_schema() -> None:
    assert messages.MESSAGE_COLUMNS == _names("messages")
    assert messages.EVENT_COLUMNS == _names("events", but=("id",))
    assert reports.REPORT_COLUMNS == _names("reports", but=("id",))


def _pg_type(table: str, name: str) -> str:
    column = tables.metadata.tables[table].columns[name]
    kinds = {BigInteger: "bigint", Integer: "integer", Float: "float8"}
    return next(
        (pg for kind, pg in kinds.items() if isinstance(column.type, kind)), "text"
    )


def test_array_types_follow_the_column_types() -> None:
    for column in tables.messages.columns:
        expected = _pg_type("messages", column.name)
        assert messages._pg_array_type(column.name) == expected, column.name
    assert messages.EVENT_PG_TYPES == tuple(
        _pg_type("events", c) for c in messages.EVENT_COLUMNS
    )
    assert reports.REPORT_PG_TYPES == tuple(
        _pg_type("reports", c) for c in reports.REPORT_COLUMNS
    )
