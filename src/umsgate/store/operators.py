"""Operators of the console and the admin API, their console sessions and their
bearer tokens.

Each operation opens its own read or transaction; those that change several rows
(adding an operator that must not exist yet, removing one with its sessions and
tokens, …) do so in one transaction.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from umsgate.store.database import Database
from umsgate.store.tables import operator_sessions, operator_tokens, operators


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class OperatorRecord:
    """A row of ``operators``."""

    username: str
    #: scrypt hash of the password (`umsgate.hashing`).
    password_hash: str
    created_at: float
    updated_at: float


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionRecord:
    """A console session: the SHA-256 of its cookie, its CSRF token, its last use
    and its absolute end."""

    hash: str
    username: str
    csrf: str
    created_at: float
    last_seen: float
    expires_at: float


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TokenRecord:
    """An operator's bearer token, by its SHA-256."""

    hash: str
    username: str
    created_at: float
    expires_at: float


_TABLES: dict[type, Table] = {
    OperatorRecord: operators,
    SessionRecord: operator_sessions,
    TokenRecord: operator_tokens,
}
_Record = TypeVar("_Record", OperatorRecord, SessionRecord, TokenRecord)


async def _records(
    db: Database, stmt: Select[tuple[object, ...]], record: type[_Record]
) -> list[_Record]:
    """The rows of a whole-table ``stmt`` as records (their fields are the
    table's columns)."""
    async with db.read() as conn:
        rows = (await conn.execute(stmt)).mappings().all()
    return [record(**{str(k): v for k, v in row.items()}) for row in rows]


async def _first(
    db: Database, record: type[_Record], where: ColumnElement[bool]
) -> _Record | None:
    """The record of ``record``'s table that ``where`` finds, if any."""
    rows = await _records(db, select(_TABLES[record]).where(where), record)
    return rows[0] if rows else None


# -- operators ----------------------------------------------------------------------


async def _insert(
    db: Database,
    table: Table,
    record: OperatorRecord | TokenRecord,
    *,
    if_operator: bool,
) -> bool:
    """Insert ``record`` in one transaction with the check that its operator
    exists (``if_operator``) or does not yet. False: the check failed."""
    stmt = select(operators.c.username).where(operators.c.username == record.username)
    async with db.transaction() as conn:
        exists = (await conn.execute(stmt)).first() is not None
        if exists != if_operator:
            return False
        await conn.execute(insert(table).values(**dataclasses.asdict(record)))
    return True


async def _end_credentials(conn: AsyncConnection, username: str) -> None:
    """End every session and token of an operator."""
    await conn.execute(
        delete(operator_sessions).where(operator_sessions.c.username == username)
    )
    await conn.execute(
        delete(operator_tokens).where(operator_tokens.c.username == username)
    )


async def add_operator(db: Database, record: OperatorRecord) -> bool:
    """Store a new operator. False: one of that name exists already."""
    return await _insert(db, operators, record, if_operator=False)


async def get_operator(db: Database, username: str) -> OperatorRecord | None:
    return await _first(db, OperatorRecord, operators.c.username == username)


#: Most operators `list_operators` returns.
LIST_LIMIT = 1000


async def list_operators(db: Database) -> list[OperatorRecord]:
    """Every operator (at most `LIST_LIMIT`), by name."""
    stmt = select(operators).order_by(operators.c.username).limit(LIST_LIMIT)
    return await _records(db, stmt, OperatorRecord)


async def remove_operator(db: Database, username: str) -> bool:
    """Remove an operator with its sessions and tokens. False: no such operator."""
    async with db.transaction() as conn:
        result = await conn.execute(
            delete(operators).where(operators.c.username == username)
        )
        if not result.rowcount:
            return False
        await _end_credentials(conn, username)
    return True


async def set_password(
    db: Database, username: str, password_hash: str, now: float
) -> bool:
    """Change an operator's password; its sessions and tokens end. False: no such
    operator."""
    async with db.transaction() as conn:
        result = await conn.execute(
            update(operators)
            .where(operators.c.username == username)
            .values(password_hash=password_hash, updated_at=now)
        )
        if not result.rowcount:
            return False
        await _end_credentials(conn, username)
    return True


# -- sessions and tokens ------------------------------------------------------------


async def add_session(db: Database, session: SessionRecord) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            insert(operator_sessions).values(**dataclasses.asdict(session))
        )


async def get_session(db: Database, digest: str) -> SessionRecord | None:
    return await _first(db, SessionRecord, operator_sessions.c.hash == digest)


async def touch_session(db: Database, digest: str, now: float) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            update(operator_sessions)
            .where(operator_sessions.c.hash == digest)
            .values(last_seen=now)
        )


async def delete_session(db: Database, digest: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            delete(operator_sessions).where(operator_sessions.c.hash == digest)
        )


async def get_token(db: Database, digest: str) -> TokenRecord | None:
    return await _first(db, TokenRecord, operator_tokens.c.hash == digest)


async def add_token(db: Database, token: TokenRecord) -> bool:
    """Store a token of an existing operator. False: no such operator."""
    return await _insert(db, operator_tokens, token, if_operator=True)


async def delete_expired(db: Database, now: float, idle: float) -> int:
    """Drop sessions past their end or idle for ``idle`` seconds, and expired
    tokens; how many went."""
    async with db.transaction() as conn:
        gone = await conn.execute(
            delete(operator_sessions).where(
                (operator_sessions.c.expires_at <= now)
                | (operator_sessions.c.last_seen <= now - idle)
            )
        )
        tokens = await conn.execute(
            delete(operator_tokens).where(operator_tokens.c.expires_at <= now)
        )
    return int(gone.rowcount or 0) + int(tokens.rowcount or 0)
