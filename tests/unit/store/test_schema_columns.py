"""The column lists the store's driver-level SQL is written with follow the schema
(`umsgate.store.tables`, SQLAlchemy's, which the gateway process loads only to
migrate): same names, same order, and PostgreSQL's array types of the accept
statement match the columns' types."""

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


def test_accept_array_types_follow_the_column_types() -> None:
    kinds = {BigInteger: "bigint", Integer: "integer", Float: "float8"}
    for column in tables.messages.columns:
        expected = next(
            (name for kind, name in kinds.items() if isinstance(column.type, kind)),
            "text",
        )
        assert messages._pg_array_type(column.name) == expected, column.name
