"""Scheduling and expiry through ``umsgate serve``.

* 1,000 messages reserved for the next minute (``reserveTime`` to the minute, KST, as
  the seeds write it) are sent at that minute, none before and all within a few
  seconds after, although the gateway was stopped with SIGTERM and then killed with
  kill -9 between their acceptance and the minute.
* Messages whose ``expireTime`` passes while the only connector is down (its SMPP
  simulator stopped) end EXPIRED, and their report (code 96) reaches the webhook.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import Receiver, Store
from tests.e2e.conftest import Server, add_client, db_rows, free_port, token
from tests.e2e.test_smpp_serve import (
    client_token,
    sample,
    send_all,
    sim_process,
    smpp_settings,
)
from umsgate.testing import wait_for

KST = dt.timezone(dt.timedelta(hours=9))
RESERVED = 1000
#: Seconds between now and the reserved minute at least: time to accept the messages
#: and to restart the gateway twice.
LEAD = 25.0
#: How late after its minute a reserved message may go out.
LATENESS = 5.0


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_reserved_minute_survives_sigterm_and_kill_9(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    creds = add_client(sqlite_store, "sched", receiver.url)
    srv = Server(sqlite_store, free_port(), tmp_path / "serve.log")
    await srv.start()
    try:
        minute = math.ceil((time.time() + LEAD) / 60) * 60
        reserve = dt.datetime.fromtimestamp(minute, KST).strftime("%Y%m%d%H%M")
        samples = [sample(2 * i + 1, "r") for i in range(2 * RESERVED)]
        samples = [s for s in samples if s.parts == 1][:RESERVED]
        for s in samples:
            s.body["reserveTime"] = reserve
        half = RESERVED // 2
        tok = await client_token_for(srv, creds)
        acked = await send_all(srv.url, tok, samples[:half], concurrency=32)
        srv.stop()  # SIGTERM: a clean stop
        await srv.start()
        tok = await client_token_for(srv, creds)
        acked |= await send_all(srv.url, tok, samples[half:], concurrency=32)
        assert len(acked) == RESERVED
        srv.kill9()
        await srv.start()  # same port, same data directory
        assert time.time() < minute - 1, "too slow to test before the minute"

        # Until the minute, nothing is claimed or sent.
        await wait_for(
            lambda: time.time() >= minute - 0.5, timeout=LEAD + 60, interval=0.1
        )
        early = db_rows(
            sqlite_store,
            "select count(*) from messages where status != 'QUEUED' "
            "or sent_at is not null",
        )
        assert early == [(0,)]
        wanted = set(acked.values())
        await wait_for(
            lambda: wanted <= receiver.by_id().keys(),
            timeout=60,
            interval=0.2,
            what="a webhook for every reserved message",
        )
    finally:
        srv.stop()
    sent = [r[0] for r in db_rows(sqlite_store, "select sent_at from messages")]
    assert len(sent) == RESERVED and all(t is not None for t in sent)
    first = min(t for t in sent if t is not None)
    last = max(t for t in sent if t is not None)
    claims = db_rows(
        sqlite_store, "select min(at) from events where status = 'SENDING'"
    )
    print(
        f"reserved {RESERVED} for {reserve}: first sent {first - minute:+.2f} s, "
        f"last {last - minute:+.2f} s after the minute"
    )
    assert claims[0][0] is not None and claims[0][0] >= minute
    assert first >= minute
    assert last <= minute + LATENESS
    assert all(r["resultCode"] == "-100" for r in receiver.reports)


async def client_token_for(srv: Server, creds: dict[str, str]) -> str:
    async with httpx.AsyncClient(timeout=30) as http:
        return await token(http, srv.url, creds)


async def test_expired_while_the_only_connector_is_down(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    total = 40
    async with sim_process(tmp_path, "--receipt-delay", "0.2") as sim:
        # A submit waits a second for a bind that does not come, then is retried.
        config = smpp_settings(tmp_path / "umsgate.toml", sim.port, connect_timeout=1.0)
        srv = Server(sqlite_store, free_port(), tmp_path / "serve.log", config=config)
        await srv.start()
        try:
            tok = await client_token(sqlite_store, srv, receiver)
            await sim.stop()  # the only connector of the route is now down
            expire = dt.datetime.fromtimestamp(time.time() + 3, KST)
            samples = [sample(2 * i + 1, "x") for i in range(2 * total)]
            samples = [s for s in samples if s.parts == 1][:total]
            for s in samples:
                s.body["expireTime"] = expire.strftime("%Y%m%d%H%M%S")
            acked = await send_all(srv.url, tok, samples, concurrency=16)
            wanted = set(acked.values())
            await wait_for(
                lambda: wanted <= receiver.by_id().keys(),
                timeout=30,
                interval=0.1,
                what="an expiry report for every message",
            )
        finally:
            srv.stop()
    reports = receiver.by_id()
    assert {(reports[u][0]["resultCode"], len(reports[u])) for u in wanted} == {
        ("96", 1)
    }
    rows = db_rows(
        sqlite_store,
        "select status, count(*), min(done_at), max(done_at) from messages "
        "group by status",
    )
    assert [(r[0], r[1]) for r in rows] == [("EXPIRED", total)]
    # Not before the client's time (whole seconds, as the API takes it).
    assert rows[0][2] is not None and rows[0][2] >= expire.timestamp() - 1
    assert sim.records() == []
