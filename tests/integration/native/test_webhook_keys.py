"""Webhook signing keys at rest (issue 16): sealed in the store when the operator
configured a secret key, sealed at start when they were stored in clear, and
rotated with a grace period during which reports carry a signature by each key."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import (
    Account,
    Receiver,
    Running,
    Store,
    get_token,
    make_settings,
    running_gateway,
    sms_body,
)
from umsgate import clients, config, sealing, webhookkeys
from umsgate.app import Gateway
from umsgate.errors import UmsgateError
from umsgate.store import tables
from umsgate.testing import wait_for

KEY = sealing.new_key()


def settings_with(store: Store, key: str = "", **security: Any) -> config.Settings:
    return make_settings(store, security={"secret_key": key, **security})


async def stored_keys(gw: Running | Gateway, client_id: str) -> tuple[str, str]:
    db = gw.gateway.db if isinstance(gw, Running) else gw.db
    c = tables.clients
    stmt = select(c.c.signing_key, c.c.previous_signing_key).where(c.c.id == client_id)
    async with db.transaction() as conn:
        row = (await conn.execute(stmt)).one()
    return str(row.signing_key), str(row.previous_signing_key)


async def account(gw: Running, report_url: str, client_id: str = "acme") -> Account:
    """A client made as ``umsgate client add`` makes it, with this gateway's key."""
    creds = await clients.add_client(
        gw.gateway.db,
        client_id,
        report_url=report_url,
        tps={"SMS": 1000, "MMS": 1000},
        sealer=gw.gateway.sealer,
    )
    acct = Account(creds.client_id, creds.client_secret, creds.client_key)
    acct.token = await get_token(gw.http, acct)
    return acct


def signatures(header: str) -> tuple[int, list[str]]:
    """The timestamp and every v1 of an ``X-Umsgate-Signature``."""
    pairs = [part.split("=", 1) for part in header.split(",")]
    [stamp] = [v for k, v in pairs if k == "t"]
    return int(stamp), [v for k, v in pairs if k == "v1"]


def mac(key_hex: str, stamp: int, body: bytes) -> str:
    message = str(stamp).encode() + b"." + body
    return hmac.new(bytes.fromhex(key_hex), message, hashlib.sha256).hexdigest()


def verifies(key_hex: str, header: str, body: bytes) -> bool:
    """A receiver's check (docs/api.md): any v1 made with its key."""
    stamp, macs = signatures(header)
    return any(hmac.compare_digest(mac(key_hex, stamp, body), m) for m in macs)


async def next_report(gw: Running, acct: Account, receiver: Receiver, src: str) -> Any:
    """Send an SMS and return the (headers, body) of the webhook of its report."""
    seen = len(receiver.requests)
    r = await gw.http.post(
        "/v1/message/sms", json=sms_body(src), headers=acct.headers()
    )
    assert r.status_code == 200, r.text
    await wait_for(lambda: len(receiver.requests) > seen, what="the report's webhook")
    headers, body = receiver.requests[seen]
    return headers["x-umsgate-signature"], body


async def test_a_configured_key_seals_the_signing_keys(
    store: Store, receiver: Receiver
) -> None:
    async with running_gateway(settings_with(store, KEY)) as gw:
        acct = await account(gw, receiver.url)
        stored, _ = await stored_keys(gw, acct.client_id)
        derived = clients.signing_key(acct.secret)
        assert stored.startswith(sealing.PREFIX)
        assert derived not in stored
        assert sealing.Sealer(KEY).open(stored) == derived
        header, body = await next_report(gw, acct, receiver, "sealed-1")
        # The client verifies with the key derived from its secret, as ever.
        assert signatures(header)[1] == [mac(derived, signatures(header)[0], body)]


async def test_clear_keys_are_sealed_at_start_and_need_the_key_then(
    sqlite_store: Store,
) -> None:
    async with running_gateway(settings_with(sqlite_store)) as gw:
        acct = await account(gw, "")
        stored, _ = await stored_keys(gw, acct.client_id)
        assert stored == clients.signing_key(acct.secret)  # no key: in clear
    async with running_gateway(settings_with(sqlite_store, KEY)) as gw:
        stored, _ = await stored_keys(gw, acct.client_id)
        assert sealing.Sealer(KEY).open(stored) == clients.signing_key(acct.secret)
        assert (await gw.http.post("/v1/auth/token", json={
            "clientId": acct.client_id, "clientSecret": acct.secret,
            "clientKey": acct.key,
        })).status_code == 200  # fmt: skip
    for key, problem in (("", "no secret key is configured"), (sealing.new_key(),
                         "another key")):  # fmt: skip
        gateway = Gateway(settings_with(sqlite_store, key))
        try:
            with pytest.raises(sealing.SealError, match=problem):
                await gateway.start()
        finally:
            await gateway.stop()


@pytest.mark.parametrize("key", ["", KEY], ids=["clear", "sealed"])
async def test_a_rotated_key_signs_while_the_old_one_still_verifies(
    store: Store, receiver: Receiver, key: str
) -> None:
    async with running_gateway(settings_with(store, key)) as gw:
        acct = await account(gw, receiver.url)
        old = clients.signing_key(acct.secret)
        header, body = await next_report(gw, acct, receiver, "before")
        assert len(signatures(header)[1]) == 1 and verifies(old, header, body)

        rotated = await webhookkeys.rotate_webhook_key(
            gw.gateway.db, acct.client_id, grace=3600.0, sealer=gw.gateway.sealer
        )
        new = rotated.signing_key
        assert new != old and rotated.previous_until > time.time() + 3500
        stored, previous = await stored_keys(gw, acct.client_id)
        assert (new in stored, old in previous) == (not key, not key)
        # The token issued before goes on working: a rotation is not a change of
        # credentials.
        header, body = await next_report(gw, acct, receiver, "during")
        stamp, macs = signatures(header)
        assert macs == [mac(new, stamp, body), mac(old, stamp, body)]
        assert verifies(new, header, body) and verifies(old, header, body)
        assert not verifies(clients.new_signing_key(), header, body)

        # Once the grace period is over, only the newest key signs.
        newest = await webhookkeys.rotate_webhook_key(
            gw.gateway.db,
            acct.client_id,
            grace=60.0,
            sealer=gw.gateway.sealer,
            now=time.time() - 3600,
        )
        header, body = await next_report(gw, acct, receiver, "after")
        assert len(signatures(header)[1]) == 1
        assert verifies(newest.signing_key, header, body)
        assert not verifies(new, header, body) and not verifies(old, header, body)


async def test_a_new_secret_ends_a_rotation(sqlite_store: Store) -> None:
    async with running_gateway(settings_with(sqlite_store, KEY)) as gw:
        acct = await account(gw, "")
        await webhookkeys.rotate_webhook_key(
            gw.gateway.db, acct.client_id, grace=3600.0, sealer=gw.gateway.sealer
        )
        await clients.update_client(
            gw.gateway.db, acct.client_id, secret="new-secret", sealer=gw.gateway.sealer
        )
        stored, previous = await stored_keys(gw, acct.client_id)
        assert sealing.Sealer(KEY).open(stored) == clients.signing_key("new-secret")
        assert previous == ""
        with pytest.raises(UmsgateError, match="no client"):
            await webhookkeys.rotate_webhook_key(gw.gateway.db, "ghost", grace=1.0)
