"""Provider faults through ``umsgate serve`` (a real process): the provider, run here
over real HTTP so that a test can flip its fault switches, answers 500, stalls past
the connector's timeout, or garbles its answer. Each message is retried with a clear
code (4000, 4003), or, once the connector's circuit breaker has taken the failing
provider out of rotation, waits for it (4002, no connector of the route can take it),
and then ends exactly as the provider's mix says, with one report to the client.
IMS SMS, which cannot recognise a resend, fails a message whose send may have been
taken, or failed with a 500 (``outcome-unknown``), instead of risking sending it
twice. The API-Gateway connector also outlives tokens that expire every two seconds.

The engine's retry pause is longer than the provider's report delay here, so the
report of a send whose answer was garbled comes while its message waits to be sent
again.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Receiver, Store
from tests.e2e.conftest import FAST_ENV, Server, free_port
from tests.e2e.test_http_providers_load import (
    AICROSS_MIX,
    APIGW_CLIENT,
    APIGW_MIX,
    IMSMS_MIX,
    PROVIDERS,
    TOBETEXT_MIX,
    Sent,
    SimProcess,
    check_outcomes,
    client_headers,
    gateway_config,
    messages_with_event,
    reported,
    send_many,
)
from umsgate.domain import phone
from umsgate.protocols._http.pusher import PushPolicy
from umsgate.protocols.aicross.simulator import AiCrossSimulator
from umsgate.protocols.aicross.simulator import parse_mix as aicross_mix
from umsgate.protocols.imsms.simulator import ImsSimulator
from umsgate.protocols.imsms.simulator import parse_mix as imsms_mix
from umsgate.protocols.tobetext.simulator import ToBeTextSimulator
from umsgate.protocols.tobetext.simulator import parse_mix as tobetext_mix
from umsgate.sim.apigw import Account, ApiGatewaySimulator, parse_mix
from umsgate.testing import wait_for

PER_PHASE = 10
#: (fault switch, the code of the retry it causes, the provider's report delay). A
#: stalled send waits for its answer past the connector's timeout, so its report
#: must come later still for the timeout to show.
PHASES = (
    ("status_500", "4000", 0.2),
    ("stall", "4003", 5.0),
    ("malformed", "4000", 0.2),
)
#: Retries wait 1–2 s, well past the providers' 0.2 s report delay.
ENV = {**FAST_ENV, "UMSGATE_ENGINE_RETRY_BASE": "2"}


def _simulator(name: str, gw_url: str) -> Any:
    if name == "tobetext":
        return ToBeTextSimulator(
            accounts={"C1": "T1"},
            mix=tobetext_mix(TOBETEXT_MIX, seed=5),
            delay=0.2,
            push=PushPolicy(attempts=10, interval=0.5),
        )
    if name == "imsms":
        return ImsSimulator(
            keys={"K1": ["A1"]}, mix=imsms_mix(IMSMS_MIX, seed=5), delay=0.2
        )
    if name == "aicross":
        return AiCrossSimulator(
            tokens=["T1"],
            mix=aicross_mix(AICROSS_MIX, seed=5),
            delay=0.2,
            dlr_url=f"{gw_url}/callbacks/aicross/p",
            push=PushPolicy(attempts=10, interval=0.5),
        )
    client_id, secret, key = APIGW_CLIENT
    return ApiGatewaySimulator(
        accounts=[Account(client_id=client_id, secret=secret, key=key)],
        report_url=f"{gw_url}/callbacks/apigw/p",
        mix=parse_mix(APIGW_MIX),
        delay=0.2,
        seed=5,
        tps=100_000,
        webhook_retry_interval=0.5,
    )


@contextlib.asynccontextmanager
async def _running(
    store: Store, tmp_path: Path, name: str, options: dict[str, Any] | None = None
) -> AsyncIterator[tuple[Any, Server]]:
    gw_port = free_port()
    gw_url = f"http://127.0.0.1:{gw_port}"
    sim = _simulator(name, gw_url)
    await sim.start()
    try:
        settings = PROVIDERS[name].options(sim.served.url, gw_url)
        settings.update(timeout=1.0, connect_timeout=0.5, **(options or {}))
        config = gateway_config(tmp_path / "umsgate.toml", gw_url, name, settings)
        gw = Server(store, gw_port, tmp_path / "serve.log", ENV, config)
        await gw.start()
        try:
            yield sim, gw
        finally:
            gw.stop()
    finally:
        await sim.close()


def _report_delay(sim: Any, delay: float) -> None:
    """Seconds from a message's acceptance to its report, from now on."""
    if isinstance(sim, ApiGatewaySimulator):
        assert sim.gateway is not None
        sim.gateway.connectors["sandbox"].delay = delay  # type: ignore[attr-defined]
    else:
        sim.delay = delay


def _waiting_for_breaker(store: Store) -> set[str]:
    """umsMsgIds of the messages that waited because the route's only connector was
    out of rotation."""
    with contextlib.closing(sqlite3.connect(store.data_dir / "umsgate.db")) as db:
        rows = db.execute(
            "select distinct message_id from events where code = '4002' "
            "and detail like 'no connector of route %'"
        ).fetchall()
    return {str(r[0]) for r in rows}


def _raw_codes(store: Store) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(store.data_dir / "umsgate.db")) as db:
        rows = db.execute("select id, raw_code from messages").fetchall()
    return {str(r[0]): r[1] or "" for r in rows}


async def _taken_upstream(name: str, sim: Any) -> int:
    if name == "tobetext":
        return int(sim.accepted)
    if name in ("imsms", "aicross"):
        return len(sim.taken)
    async with sim.gateway.db.transaction() as db:
        count = (await db.exec_driver_sql("select count(*) from messages")).scalar()
    return int(count or 0)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
async def test_500_stall_and_garbled_answers_through_the_gateway(
    name: str, sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    provider = PROVIDERS[name]
    sent: dict[str, Sent] = {}
    unknown: set[str] = set()  # IMS: may have been taken, so not sent again
    async with (
        _running(sqlite_store, tmp_path, name) as (sim, gw),
        httpx.AsyncClient(base_url=gw.url, timeout=30) as http,
    ):
        headers = await client_headers(sqlite_store, gw, http, receiver)
        for phase, (fault, code, delay) in enumerate(PHASES):
            _report_delay(sim, delay)
            setattr(sim.faults, fault, 30.0 if fault == "stall" else True)
            start = phase * PER_PHASE
            batch = await send_many(http, headers, range(start, start + PER_PHASE))
            ums = {s.ums for s in batch.values()}

            def retried_or_unknown(ums: set[str] = ums, code: str = code) -> bool:
                raw = _raw_codes(sqlite_store)
                gone = {u for u in ums if raw[u] == "outcome-unknown"}
                hit = (messages_with_event(sqlite_store, code) | gone) & ums
                # Some of the phase met the fault; the others may have waited
                # while the breaker had the provider out of rotation.
                return bool(hit) and ums <= hit | _waiting_for_breaker(sqlite_store)

            await wait_for(
                retried_or_unknown,
                timeout=30,
                interval=0.1,
                what=f"every message to be retried ({code}) under {fault}",
            )
            setattr(sim.faults, fault, 0.0 if fault == "stall" else False)
            await reported(receiver, batch.values(), within=60)
            raw = _raw_codes(sqlite_store)
            unknown |= {u for u in ums if raw[u] == "outcome-unknown"}
            sent.update(batch)
        taken = await _taken_upstream(name, sim)
    if name == "imsms":
        # IMS cannot recognise a resend: a send without a usable answer (500 too) is
        # failed rather than repeated; the messages the breaker held back meanwhile
        # were sent once the provider answered again. The 500s took nothing; every
        # other send was taken but for those the mix refuses at once (130).
        waited = _waiting_for_breaker(sqlite_store)
        assert {s.ums for s in sent.values()} <= unknown | waited
        for phase in range(len(PHASES)):
            numbers = range(phase * PER_PHASE, (phase + 1) * PER_PHASE)
            assert {sent[f"m{i}"].ums for i in numbers} & unknown, phase
        mix = imsms_mix(IMSMS_MIX, seed=5)
        refused_by_500 = {
            s.ums for k, s in sent.items() if int(k[1:]) < PER_PHASE
        } & unknown
        assert taken == sum(
            mix.draw(f"{phone.receiver(s.receiver)}\n{s.content}") != "130"
            for s in sent.values()
            if s.ums not in refused_by_500
        )
    else:
        assert not unknown
        assert taken == len(sent), "a message was taken twice upstream"
    rest = {k: s for k, s in sent.items() if s.ums not in unknown}
    check_outcomes(provider, sqlite_store, receiver, rest)
    by_id = receiver.by_id()
    assert all(len(by_id[s.ums]) == 1 for s in sent.values()), "one report each"
    assert {by_id[u][0]["resultCode"] for u in unknown} <= {"2000"}


async def test_apigw_outlives_tokens_that_expire_every_two_seconds(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    """The simulator process issues tokens that live 2 s. Each wave of messages is
    sent once every token issued so far has expired; nothing fails for it."""
    provider = PROVIDERS["apigw"]
    gw_port = free_port()
    gw_url = f"http://127.0.0.1:{gw_port}"
    sim_dir = tmp_path / "sim"
    args = [*provider.sim_args(gw_url), "--token-ttl", "2", "--data-dir", str(sim_dir)]
    sim = SimProcess("apigw", args, tmp_path / "sim.log")
    await sim.start()
    try:
        options = provider.options(sim.url, gw_url)
        config = gateway_config(tmp_path / "umsgate.toml", gw_url, "apigw", options)
        gw = Server(sqlite_store, gw_port, tmp_path / "serve.log", FAST_ENV, config)
        await gw.start()
        try:
            async with httpx.AsyncClient(base_url=gw.url, timeout=30) as http:
                headers = await client_headers(sqlite_store, gw, http, receiver)
                sent: dict[str, Sent] = {}
                for wave in range(3):
                    if wave:
                        await wait_for(
                            lambda: _tokens(sim_dir, live=True) == 0,
                            timeout=30,
                            interval=0.2,
                            what="every token to expire",
                        )
                    start = wave * 25
                    sent |= await send_many(http, headers, range(start, start + 25))
                    await reported(receiver, sent.values(), within=60)
        finally:
            gw.stop()
    finally:
        await sim.stop()
    assert _tokens(sim_dir) >= 3, "each wave needed a new token"
    assert not messages_with_event(sqlite_store, "2009"), "a token was refused"
    check_outcomes(provider, sqlite_store, receiver, sent)


def _tokens(data_dir: Path, *, live: bool = False) -> int:
    """Tokens the simulator issued (``live``: those not expired yet)."""
    query = "select count(*) from tokens"
    if live:
        query += f" where expires_at > {time.time()}"
    with contextlib.closing(sqlite3.connect(data_dir / "umsgate.db")) as db:
        return int(db.execute(query).fetchone()[0])
