"""Client accounts and their tokens, on the driver (`umsgate.store.driver`): the
front processes look clients and tokens up without SQLAlchemy, and the gateway and
the CLI change them here too.

Each operation takes a `Source` (and then opens its own read or transaction) or,
where several must be atomic, the `Tx` of `transaction`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping, Sequence

from umsgate.store.driver import Source, Tx, Value, fetch, insert_sql


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClientRecord:
    """A row of ``clients`` as stored (hashes, sealed keys, JSON texts)."""

    id: str
    secret_hash: str
    key_hash: str
    signing_key: str
    previous_signing_key: str = ""
    previous_key_until: float = 0.0
    report_url: str = ""
    #: JSON object: channel TPS key → messages per second.
    tps: str = "{}"
    version: int = 1
    last_report_check: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    tobetext_token_hash: str = ""
    imsms_key_hash: str | None = None
    #: JSON object: IMS agent id → sender number.
    imsms_agents: str = "{}"
    dup_window: float = 0.0
    disabled: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TokenRecord:
    """A row of ``tokens``: a token's digest, its client and that client's
    version when it was issued."""

    hash: str
    client_id: str
    version: int
    expires_at: float
    created_at: float


#: The columns of ``clients``, in the order `ClientRecord` reads them.
CLIENT_COLUMNS = (
    "id",
    "secret_hash",
    "key_hash",
    "signing_key",
    "previous_signing_key",
    "previous_key_until",
    "report_url",
    "tps",
    "version",
    "last_report_check",
    "created_at",
    "updated_at",
    "tobetext_token_hash",
    "imsms_key_hash",
    "imsms_agents",
    "dup_window",
    "disabled",
)
_SELECT_CLIENT = f"SELECT {', '.join(CLIENT_COLUMNS)} FROM clients"
#: Most clients `list_clients` returns.
LIST_LIMIT = 1000


def _client(row: Sequence[Value]) -> ClientRecord:
    (
        id_,
        secret_hash,
        key_hash,
        signing_key,
        previous_signing_key,
        previous_key_until,
        report_url,
        tps,
        version,
        last_report_check,
        created_at,
        updated_at,
        tobetext_token_hash,
        imsms_key_hash,
        imsms_agents,
        dup_window,
        disabled,
    ) = row
    return ClientRecord(
        id=str(id_),
        secret_hash=str(secret_hash),
        key_hash=str(key_hash),
        signing_key=str(signing_key),
        previous_signing_key=str(previous_signing_key or ""),
        previous_key_until=float(previous_key_until or 0.0),
        report_url=str(report_url or ""),
        tps=str(tps),
        version=int(version or 0),
        last_report_check=(
            None if last_report_check is None else float(last_report_check)
        ),
        created_at=float(created_at or 0.0),
        updated_at=float(updated_at or 0.0),
        tobetext_token_hash=str(tobetext_token_hash or ""),
        imsms_key_hash=None if imsms_key_hash is None else str(imsms_key_hash),
        imsms_agents=str(imsms_agents or "{}"),
        dup_window=float(dup_window or 0.0),
        disabled=bool(disabled),
    )


def transaction(source: Source) -> contextlib.AbstractAsyncContextManager[Tx]:
    """A transaction for several operations that must be atomic."""
    return source.driver.transaction()


# -- clients ------------------------------------------------------------------------


async def get_client(q: Source | Tx, client_id: str) -> ClientRecord | None:
    rows = await fetch(q, f"{_SELECT_CLIENT} WHERE id = ?", (client_id,))
    return _client(rows[0]) if rows else None


async def client_by_imsms_key(q: Source | Tx, key_hash: str) -> ClientRecord | None:
    """The client whose IMS ``X-API-KEY`` has this SHA-256 digest."""
    rows = await fetch(q, f"{_SELECT_CLIENT} WHERE imsms_key_hash = ?", (key_hash,))
    return _client(rows[0]) if rows else None


async def list_clients(q: Source | Tx, limit: int = LIST_LIMIT) -> list[ClientRecord]:
    """Every client (at most ``limit``), by id."""
    rows = await fetch(q, f"{_SELECT_CLIENT} ORDER BY id LIMIT ?", (limit,))
    return [_client(r) for r in rows]


def _client_values(record: ClientRecord) -> tuple[Value, ...]:
    values = dataclasses.astuple(record)
    # SQLite and PostgreSQL both store ``disabled`` as an integer.
    return (*values[:-1], int(record.disabled))


async def insert_client(tx: Tx, record: ClientRecord) -> None:
    await tx.execute(
        insert_sql("clients", CLIENT_COLUMNS),
        _client_values(record),
    )


def _assignments(values: Mapping[str, Value]) -> tuple[str, tuple[Value, ...]]:
    for column in values:
        if column not in CLIENT_COLUMNS or column == "id":
            raise ValueError(f"not a changeable column of clients: {column!r}")
    sets = ", ".join(f"{column} = ?" for column in values)
    return sets, tuple(values.values())


async def update_client(
    tx: Tx, client_id: str, values: Mapping[str, Value], *, revoke: bool
) -> bool:
    """Change the columns ``values`` names; with ``revoke``, raise the client's
    version too (every earlier token stops working). False: no such client."""
    sets, params = _assignments(values)
    if revoke:
        sets = f"{sets}, version = version + 1" if sets else "version = version + 1"
    return bool(
        await tx.execute(
            f"UPDATE clients SET {sets} WHERE id = ?", (*params, client_id)
        )
    )


async def set_signing_keys(
    tx: Tx,
    client_id: str,
    values: Mapping[str, Value],
) -> bool:
    """Change a client's webhook signing keys (``signing_key``,
    ``previous_signing_key``, ``previous_key_until``, ``updated_at``) without
    raising its version: its tokens stay valid."""
    return await update_client(tx, client_id, values, revoke=False)


async def set_client_disabled(
    source: Source, client_id: str, disabled: bool, now: float
) -> bool:
    """Disable or enable a client, raising its version (its tokens stop working).
    False: no such client."""
    async with transaction(source) as tx:
        return await update_client(
            tx,
            client_id,
            {"disabled": int(disabled), "updated_at": now},
            revoke=True,
        )


async def disabled_clients(source: Source) -> set[str]:
    rows = await fetch(
        source, "SELECT id FROM clients WHERE disabled <> 0 LIMIT ?", (10_000,)
    )
    return {str(r[0]) for r in rows}


async def take_report_check(
    source: Source, client_id: str, now: float, interval: float
) -> float:
    """Claim the client's report-check slot (one check per ``interval``): 0 when
    taken, else the seconds until the next may be."""
    async with transaction(source) as tx:
        taken = await tx.execute(
            "UPDATE clients SET last_report_check = ? WHERE id = ?"
            " AND (last_report_check IS NULL OR last_report_check <= ?)",
            (now, client_id, now - interval),
        )
        if taken:
            return 0.0
        rows = await tx.fetch(
            "SELECT last_report_check FROM clients WHERE id = ?", (client_id,)
        )
    last = rows[0][0] if rows else None
    if not isinstance(last, int | float):
        return interval
    return max(0.0, float(last) + interval - now)


# -- tokens -------------------------------------------------------------------------


async def insert_token(source: Source, token: TokenRecord) -> None:
    async with transaction(source) as tx:
        await tx.execute(
            "INSERT INTO tokens (hash, client_id, version, expires_at, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            dataclasses.astuple(token),
        )


async def get_token(source: Source, token_hash: str) -> TokenRecord | None:
    rows = await fetch(
        source,
        "SELECT hash, client_id, version, expires_at, created_at FROM tokens"
        " WHERE hash = ?",
        (token_hash,),
    )
    if not rows:
        return None
    digest, client_id, version, expires_at, created_at = rows[0]
    return TokenRecord(
        hash=str(digest),
        client_id=str(client_id),
        version=int(version or 0),
        expires_at=float(expires_at or 0.0),
        created_at=float(created_at or 0.0),
    )


async def delete_expired_tokens(source: Source, now: float) -> int:
    async with transaction(source) as tx:
        return await tx.execute("DELETE FROM tokens WHERE expires_at < ?", (now,))
