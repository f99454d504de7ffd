"""The token endpoint under attack (issue 16): secrets checked off the event loop,
failures limited per client id and per address with 429 and ``Retry-After``,
unknown ids as slow as known ones, lockouts counted and logged once."""

from __future__ import annotations

import asyncio
import logging
import statistics
import time

import httpx
import pytest

from tests.conftest import (
    Account,
    Store,
    make_settings,
    new_account,
    running_gateway,
)
from umsgate.hashing import DUMMY_HASH, verify_secret
from umsgate.testing import wait_for


def creds(acct: Account, **change: str) -> dict[str, str]:
    return {
        "clientId": acct.client_id,
        "clientSecret": acct.secret,
        "clientKey": acct.key,
        **change,
    }


def locked(r: httpx.Response) -> bool:
    return r.status_code == 429 and r.json()["error"] == "slow_down"


async def test_failures_lock_a_client_id_out_with_retry_after(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        sqlite_store,
        auth={"failures_before_lockout": 3, "lockout_max_seconds": 30.0},
    )
    caplog.set_level(logging.WARNING, logger="umsgate.auth")
    async with running_gateway(settings) as gw:
        acct = await new_account(gw)
        pool = gw.gateway.directory.hashes
        wrong = creds(acct, clientSecret="wrong")
        for _ in range(3):
            r = await gw.http.post("/v1/auth/token", json=wrong)
            assert r.status_code == 401
        checks = pool.checks
        # Locked out: refused at once, the right secret too, without any check.
        for body in (wrong, creds(acct)):
            r = await gw.http.post("/v1/auth/token", json=body)
            assert locked(r), r.text
            assert r.headers["Retry-After"] == "1"
            assert "by this client id" in r.json()["error_description"]
        assert pool.checks == checks
        # Another client is not concerned.
        other = await new_account(gw, "other")
        assert other.token
        # After the second, a failure doubles the lockout.
        await asyncio.sleep(1.05)  # the lockout runs on the real monotonic clock
        r = await gw.http.post("/v1/auth/token", json=wrong)
        assert r.status_code == 401
        r = await gw.http.post("/v1/auth/token", json=creds(acct))
        assert locked(r) and r.headers["Retry-After"] == "2"
        metrics = (await gw.http.get("/metrics")).text
    assert 'umsgate_auth_lockouts_total{kind="client"} 2.0' in metrics
    assert "umsgate_auth_failures_total 4.0" in metrics
    assert 'umsgate_auth_refused_total{kind="client"} 3.0' in metrics
    lines = [r for r in caplog.records if getattr(r, "event", "") == "auth_lockout"]
    assert len(lines) == 2  # one per lockout started, none per refusal


async def test_a_success_resets_the_client_id(sqlite_store: Store) -> None:
    settings = make_settings(sqlite_store, auth={"failures_before_lockout": 3})
    async with running_gateway(settings) as gw:
        acct = await new_account(gw)
        for _ in range(3):
            for _ in range(2):
                r = await gw.http.post(
                    "/v1/auth/token", json=creds(acct, clientSecret="wrong")
                )
                assert r.status_code == 401
            # A wrong key counts as a failure too; the right credentials reset.
            assert (await gw.http.post("/v1/auth/token", json=creds(acct))).is_success


async def test_unknown_ids_and_wrong_keys_count(sqlite_store: Store) -> None:
    settings = make_settings(sqlite_store, auth={"failures_before_lockout": 2})
    async with running_gateway(settings) as gw:
        acct = await new_account(gw)
        for _ in range(2):
            r = await gw.http.post("/v1/auth/token", json=creds(acct, clientKey="k"))
            assert r.status_code == 404
        assert locked(await gw.http.post("/v1/auth/token", json=creds(acct)))
        # An unknown id is limited like a known one (or the 429 would tell them
        # apart).
        ghost = creds(acct, clientId="ghost")
        for _ in range(2):
            assert (await gw.http.post("/v1/auth/token", json=ghost)).status_code == 401
        assert locked(await gw.http.post("/v1/auth/token", json=ghost))


async def test_failures_lock_an_address_out(sqlite_store: Store) -> None:
    settings = make_settings(
        sqlite_store,
        auth={"failures_before_lockout": 100, "address_failures_before_lockout": 4},
    )
    async with running_gateway(settings) as gw:
        acct = await new_account(gw)
        for n in range(4):
            r = await gw.http.post(
                "/v1/auth/token", json=creds(acct, clientId=f"guess-{n}")
            )
            assert r.status_code == 401
        r = await gw.http.post("/v1/auth/token", json=creds(acct))
        assert locked(r)
        assert "by this address" in r.json()["error_description"]
        # Tokens already issued go on working: only the token endpoint is limited.
        sent = await gw.http.post(
            "/v1/message/sms",
            json={
                "srcMsgId": "a-1",
                "callback": "01059120601",
                "receiver": "01012345678",
                "content": "hello",
            },
            headers=acct.headers(),
        )
        assert sent.status_code == 200, sent.text
        metrics = (await gw.http.get("/metrics")).text
    assert 'umsgate_auth_lockouts_total{kind="address"} 1.0' in metrics


async def test_unknown_and_known_ids_take_as_long(sqlite_store: Store) -> None:
    """An unknown id is checked against a dummy hash: its refusal takes the time of
    a wrong secret's (it took 2.5 ms against 40 ms before)."""
    started = time.perf_counter()
    verify_secret("x", DUMMY_HASH)
    scrypt = time.perf_counter() - started
    settings = make_settings(sqlite_store, auth={"failures_before_lockout": 100})
    async with running_gateway(settings) as gw:
        acct = await new_account(gw)
        times: dict[str, list[float]] = {"known": [], "unknown": []}
        for n in range(6):
            for kind, client_id in (("known", acct.client_id), ("unknown", f"u{n}")):
                body = creds(acct, clientId=client_id, clientSecret="wrong")
                started = time.perf_counter()
                r = await gw.http.post("/v1/auth/token", json=body)
                times[kind].append(time.perf_counter() - started)
                assert r.status_code == 401
    known = statistics.median(times["known"])
    unknown = statistics.median(times["unknown"])
    assert known >= scrypt * 0.5, (known, scrypt)
    assert unknown >= scrypt * 0.5, (unknown, scrypt)
    assert unknown >= known * 0.5, (unknown, known)


async def test_a_full_queue_of_checks_is_refused_at_once(sqlite_store: Store) -> None:
    settings = make_settings(
        sqlite_store,
        auth={
            "hash_workers": 1,
            "failures_before_lockout": 1000,
            "address_failures_before_lockout": 1000,
        },
    )
    async with running_gateway(settings) as gw:
        acct = await new_account(gw)
        pool = gw.gateway.directory.hashes
        count = pool.max_waiting + 8
        # The one worker is busy throughout: every check waits, and those beyond
        # the queue are refused as they come, whatever the machine's speed.
        async with pool.turn():
            sends = [
                asyncio.create_task(
                    gw.http.post(
                        "/v1/auth/token",
                        json=creds(acct, clientId=f"many-{n}", clientSecret="x"),
                    )
                )
                for n in range(count)
            ]
            await wait_for(
                lambda: sum(t.done() for t in sends) >= 8,
                timeout=30,
                what="the requests beyond the queue answered",
            )
            assert all(t.result().status_code == 429 for t in sends if t.done())
        answers = await asyncio.gather(*sends)
    statuses = [r.status_code for r in answers]
    busy = [r for r in answers if r.status_code == 429]
    assert busy and set(statuses) == {401, 429}, statuses
    assert statuses.count(401) == pool.max_waiting
    assert statuses.count(429) == 8
    for r in busy:
        assert r.json()["error"] == "slow_down"
        assert "waiting" in r.json()["error_description"]
        assert r.headers["Retry-After"] == "1"
