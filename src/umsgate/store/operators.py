"""Operators of the console and the admin API, their console sessions and their
bearer tokens, on the driver (`umsgate.store.driver`): the gateway process and the
CLI keep them without SQLAlchemy.

Each operation takes a `Source` and opens its own read or transaction; those that
change several rows (removing an operator with its sessions and tokens, …) or check
a row before they write one do so in one transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from umsgate.store.driver import Source, Tx, Value, fetch, insert_sql


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


#: The columns of ``operators``, in the order `OperatorRecord` reads them.
OPERATOR_COLUMNS = ("username", "password_hash", "created_at", "updated_at")
#: The columns of ``operator_sessions``, in the order `SessionRecord` reads them.
SESSION_COLUMNS = ("hash", "username", "csrf", "created_at", "last_seen", "expires_at")
#: The columns of ``operator_tokens``, in the order `TokenRecord` reads them.
TOKEN_COLUMNS = ("hash", "username", "created_at", "expires_at")

_SELECT_OPERATOR = f"SELECT {', '.join(OPERATOR_COLUMNS)} FROM operators"
_SELECT_SESSION = f"SELECT {', '.join(SESSION_COLUMNS)} FROM operator_sessions"
_SELECT_TOKEN = f"SELECT {', '.join(TOKEN_COLUMNS)} FROM operator_tokens"


def _operator(row: Sequence[Value]) -> OperatorRecord:
    username, password_hash, created_at, updated_at = row
    return OperatorRecord(
        username=str(username),
        password_hash=str(password_hash),
        created_at=float(created_at or 0.0),
        updated_at=float(updated_at or 0.0),
    )


def _session(row: Sequence[Value]) -> SessionRecord:
    digest, username, csrf, created_at, last_seen, expires_at = row
    return SessionRecord(
        hash=str(digest),
        username=str(username),
        csrf=str(csrf),
        created_at=float(created_at or 0.0),
        last_seen=float(last_seen or 0.0),
        expires_at=float(expires_at or 0.0),
    )


def _token(row: Sequence[Value]) -> TokenRecord:
    digest, username, created_at, expires_at = row
    return TokenRecord(
        hash=str(digest),
        username=str(username),
        created_at=float(created_at or 0.0),
        expires_at=float(expires_at or 0.0),
    )


# -- operators ----------------------------------------------------------------------


async def _end_credentials(tx: Tx, username: str) -> None:
    """End every session and token of an operator."""
    await tx.execute("DELETE FROM operator_sessions WHERE username = ?", (username,))
    await tx.execute("DELETE FROM operator_tokens WHERE username = ?", (username,))


async def add_operator(source: Source, record: OperatorRecord) -> bool:
    """Store a new operator. False: one of that name exists already."""
    async with source.driver.transaction() as tx:
        # One statement, so that two adds of the same name at once cannot both
        # pass a check and the second fail on the primary key.
        added = await tx.execute(
            f"{insert_sql('operators', OPERATOR_COLUMNS)}"
            " ON CONFLICT (username) DO NOTHING",
            dataclasses.astuple(record),
        )
    return bool(added)


async def get_operator(source: Source, username: str) -> OperatorRecord | None:
    rows = await fetch(source, f"{_SELECT_OPERATOR} WHERE username = ?", (username,))
    return _operator(rows[0]) if rows else None


#: Most operators `list_operators` returns.
LIST_LIMIT = 1000


async def list_operators(source: Source) -> list[OperatorRecord]:
    """Every operator (at most `LIST_LIMIT`), by name."""
    rows = await fetch(
        source, f"{_SELECT_OPERATOR} ORDER BY username LIMIT ?", (LIST_LIMIT,)
    )
    return [_operator(r) for r in rows]


async def remove_operator(source: Source, username: str) -> bool:
    """Remove an operator with its sessions and tokens. False: no such operator."""
    async with source.driver.transaction() as tx:
        if not await tx.execute(
            "DELETE FROM operators WHERE username = ?", (username,)
        ):
            return False
        await _end_credentials(tx, username)
    return True


async def set_password(
    source: Source, username: str, password_hash: str, now: float
) -> bool:
    """Change an operator's password; its sessions and tokens end. False: no such
    operator."""
    async with source.driver.transaction() as tx:
        if not await tx.execute(
            "UPDATE operators SET password_hash = ?, updated_at = ? WHERE username = ?",
            (password_hash, now, username),
        ):
            return False
        await _end_credentials(tx, username)
    return True


# -- sessions and tokens ------------------------------------------------------------


async def add_session(source: Source, session: SessionRecord) -> None:
    async with source.driver.transaction() as tx:
        await tx.execute(
            insert_sql("operator_sessions", SESSION_COLUMNS),
            dataclasses.astuple(session),
        )


async def get_session(source: Source, digest: str) -> SessionRecord | None:
    rows = await fetch(source, f"{_SELECT_SESSION} WHERE hash = ?", (digest,))
    return _session(rows[0]) if rows else None


async def touch_session(source: Source, digest: str, now: float) -> None:
    async with source.driver.transaction() as tx:
        await tx.execute(
            "UPDATE operator_sessions SET last_seen = ? WHERE hash = ?", (now, digest)
        )


async def delete_session(source: Source, digest: str) -> None:
    async with source.driver.transaction() as tx:
        await tx.execute("DELETE FROM operator_sessions WHERE hash = ?", (digest,))


async def get_token(source: Source, digest: str) -> TokenRecord | None:
    rows = await fetch(source, f"{_SELECT_TOKEN} WHERE hash = ?", (digest,))
    return _token(rows[0]) if rows else None


async def add_token(source: Source, token: TokenRecord) -> bool:
    """Store a token of an existing operator. False: no such operator."""
    async with source.driver.transaction() as tx:
        # The check writes the operator's row (changing nothing) rather than reading
        # it: SQLite's write lock already orders it with a removal or a new
        # password, and on PostgreSQL so does the row lock, which a plain read does
        # not take. Else a token issued while the operator is removed could be
        # inserted after the removal ended its tokens, and go on working.
        if not await tx.execute(
            "UPDATE operators SET updated_at = updated_at WHERE username = ?",
            (token.username,),
        ):
            return False
        await tx.execute(
            insert_sql("operator_tokens", TOKEN_COLUMNS), dataclasses.astuple(token)
        )
    return True


async def delete_expired(source: Source, now: float, idle: float) -> int:
    """Drop sessions past their end or idle for ``idle`` seconds, and expired
    tokens; how many went."""
    async with source.driver.transaction() as tx:
        sessions = await tx.execute(
            "DELETE FROM operator_sessions WHERE expires_at <= ? OR last_seen <= ?",
            (now, now - idle),
        )
        tokens = await tx.execute(
            "DELETE FROM operator_tokens WHERE expires_at <= ?", (now,)
        )
    return sessions + tokens
