"""Webhook signing keys in the store: rotation, and sealing the ones stored in
clear.

A client's reports are signed with its signing key (`umsgate.clients.sign`).
`rotate_webhook_key` gives it a random new one and keeps the replaced key in
``previous_signing_key`` until ``previous_key_until``: meanwhile every report
carries a signature by each (`umsgate.clients.ClientInfo.signature`), so the
client's receiver accepts reports whichever of the two it verifies with.
`seal_signing_keys` runs at the gateway's start: with a secret key configured it
seals the keys stored in clear, and it fails when a sealed key cannot be opened
(`umsgate.sealing`).
"""

from __future__ import annotations

import dataclasses
import time

from umsgate.clients import new_signing_key
from umsgate.errors import UmsgateError
from umsgate.sealing import Sealer
from umsgate.store import accounts
from umsgate.store.accounts import ClientRecord
from umsgate.store.driver import Source, Value


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RotatedKey:
    client_id: str
    #: The new signing key (hex), shown only this once.
    signing_key: str
    #: Until when (epoch seconds) the replaced key signs beside it.
    previous_until: float


#: Most clients whose keys `seal_signing_keys` reads (every one there is).
SEAL_LIMIT = 1_000_000_000


async def rotate_webhook_key(
    db: Source,
    client_id: str,
    *,
    grace: float,
    sealer: Sealer | None = None,
    now: float | None = None,
) -> RotatedKey:
    """Give a client a new random webhook signing key. Reports are signed with it
    from now on, and for ``grace`` seconds also with the key it replaces (a
    second ``v1=`` in the signature header), so that the client's receiver accepts
    them whichever of the two it verifies with. The client's tokens stay valid.

    Raises:
        UmsgateError: no such client.
    """
    t = time.time() if now is None else now
    key = new_signing_key()
    box = sealer or Sealer()
    async with accounts.transaction(db) as tx:
        row = await accounts.get_client(tx, client_id)
        if row is None:
            raise UmsgateError(f"no client {client_id!r}")
        await accounts.set_signing_keys(
            tx,
            client_id,
            {
                "signing_key": box.seal(key),
                "previous_signing_key": row.signing_key if grace > 0 else "",
                "previous_key_until": t + grace if grace > 0 else 0.0,
                "updated_at": t,
            },
        )
    return RotatedKey(client_id=client_id, signing_key=key, previous_until=t + grace)


async def seal_signing_keys(db: Source, sealer: Sealer) -> int:
    """Seal the signing keys stored in clear (written before a secret key was
    configured), and check that every sealed one opens; the number sealed.

    Raises:
        SealError: a stored key is sealed with another key, or with one while none
            is configured.
    """
    rows = await accounts.list_clients(db, limit=SEAL_LIMIT)
    sealed = 0
    for row in rows:
        if not _unsealed_keys(row, sealer):
            continue
        # Read again in the write's transaction: a rotation may have come meanwhile.
        async with accounts.transaction(db) as tx:
            current = await accounts.get_client(tx, row.id)
            changes = {} if current is None else _unsealed_keys(current, sealer)
            if changes:
                await accounts.set_signing_keys(tx, row.id, changes)
                sealed += 1
    return sealed


def _unsealed_keys(row: ClientRecord, sealer: Sealer) -> dict[str, Value]:
    """The sealed values of ``row``'s signing keys that are stored in clear.

    Raises:
        SealError: see `seal_signing_keys`.
    """
    what = f"the webhook signing key of client {row.id!r}"
    changes: dict[str, Value] = {}
    for column, stored in (
        ("signing_key", row.signing_key),
        ("previous_signing_key", row.previous_signing_key),
    ):
        if not stored:
            continue
        clear = sealer.open(stored, what=what)
        if sealer.active and clear == stored:
            changes[column] = sealer.seal(clear)
    return changes
