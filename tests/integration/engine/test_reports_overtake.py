"""Reports that overtake the answers to their sends: the UShot, ToBeText and AI CROSS
simulators in report-first mode, over real sockets, in front of a real gateway and
store. Each message ends the moment its report is committed: named by its message
id, straight from SENDING (SENT, then DELIVERED, in one op); named only by the
provider's id, parked and then applied in the batch that records its submit. Either
way once, with one report row, and nothing is left parked, refused or awaited."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Running, Store, make_settings, new_account, running_gateway
from tests.integration.engine.test_outcomes import send
from umsgate.config import ConnectorSettings, RouteSettings, Settings
from umsgate.protocols._http.pusher import PushPolicy
from umsgate.protocols.aicross import connector as aicross
from umsgate.protocols.aicross.simulator import AiCrossSimulator
from umsgate.protocols.tobetext import connector as tobetext
from umsgate.protocols.tobetext.simulator import ToBeTextSimulator
from umsgate.protocols.ushot import connector as ushot
from umsgate.protocols.ushot.codes import Port, Version
from umsgate.protocols.ushot.simbackend import Account
from umsgate.protocols.ushot.simulator import UShotSimulator
from umsgate.testing import connector_gateway, wait_for
from umsgate.types import Connector

#: Messages per test: enough for batches of several in the ledger.
N = 60
#: The ledger's event detail of a SENT that a report made (engine/ledger.py).
REPORT_FIRST = "(its report came first)"
#: Longest a parked report may wait after its submit was recorded: well under the
#: timed retry's `ledger.PENDING_GRACE` (2 s).
PROMPT = 0.5


def settings_for(store: Store, connector: str) -> Settings:
    base = make_settings(store)
    route = RouteSettings(name="all", connectors=(connector,))
    return dataclasses.replace(base, routes=(route,))


@contextlib.asynccontextmanager
async def gateway_with(
    store: Store, connector: Connector
) -> AsyncIterator[tuple[Running, list[int]]]:
    """A gateway routing everything to ``connector``, and the ids of `N` SMS sent
    through its native API at once."""
    settings = settings_for(store, connector.name)
    async with running_gateway(settings, {connector.name: connector}) as gw:
        acct = await new_account(gw)
        mids = await asyncio.gather(
            *(
                send(
                    gw,
                    acct,
                    f"o{i}",
                    receiver=f"010{30000000 + i:08d}",
                    content=f"overtaken {i}",
                )
                for i in range(N)
            )
        )
        yield gw, list(mids)


async def query(gw: Running, sql: str) -> list[Any]:
    async with gw.gateway.db.transaction() as conn:
        return list((await conn.execute(text(sql))).all())


async def all_final(gw: Running, mids: Sequence[int]) -> None:
    async def done() -> bool:
        rows = await query(
            gw,
            "SELECT count(*) FROM messages "
            "WHERE status IN ('DELIVERED', 'FAILED', 'EXPIRED')",
        )
        return int(rows[0][0]) == len(mids)

    await wait_for(done, timeout=30, what=f"{len(mids)} messages to end")


async def check_ended_at_once(gw: Running, mids: Sequence[int], *, named: bool) -> None:
    """Every message DELIVERED once, with one report row, its report applied at once
    (``named``: from SENDING, before the submit answer) or in the batch that
    recorded its submit; nothing parked, unmatched or refused."""
    await all_final(gw, mids)
    # The send answers that come after the reports are recorded too (changing
    # nothing) before anything is read.
    await gw.gateway.dispatcher.run_until_idle(timeout=30)
    rows = {
        r[0]: r
        for r in await query(
            gw, "SELECT id, status, sent_at, done_at, connector FROM messages"
        )
    }
    timelines: dict[int, list[tuple[str, str]]] = collections.defaultdict(list)
    for mid, status, detail in await query(
        gw, "SELECT message_id, status, detail FROM events ORDER BY id"
    ):
        timelines[mid].append((status, detail or ""))
    reports = collections.Counter(
        r[0] for r in await query(gw, "SELECT message_id FROM reports")
    )
    parked = await query(gw, "SELECT count(*) FROM pending_reports")
    assert set(rows) == set(mids)
    for mid in mids:
        _, status, sent_at, done_at, _ = rows[mid]
        assert status == "DELIVERED", (mid, timelines[mid])
        statuses = [s for s, _ in timelines[mid]]
        assert statuses[-3:] == ["SENDING", "SENT", "DELIVERED"], timelines[mid]
        assert statuses.count("SENDING") == 1  # never queued again
        sent = timelines[mid][-2][1]
        assert (REPORT_FIRST in sent) is named, timelines[mid]
        assert done_at - sent_at < PROMPT, timelines[mid]
        assert reports[mid] == 1
    assert parked[0][0] == 0
    assert gw.gateway.report_health() == {"parked": 0, "unmatched": {}, "refused": {}}


# -- UShot -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["SAM10", "SAM11"])
async def test_ushot_results_before_their_send_answers(
    version: str, store: Store
) -> None:
    account = Account(user_id="u", password="p", versions=frozenset({Version(version)}))
    async with (
        UShotSimulator(accounts=[account], report_first=True) as sim,
        connector_gateway() as cg,
    ):
        settings = ConnectorSettings(
            name="ushot",
            protocol="ushot",
            options={
                "user_id": "u",
                "password": "p",
                "version": version,
                "host": "127.0.0.1",
                **{f"{p.value}_port": sim.ports[p] for p in Port},
                "reconnect_delay": 0.05,
                "poll_interval": 0.05,
                "request_timeout": 10.0,
            },
        )
        conn = ushot.build(settings, cg.context)
        async with gateway_with(store, conn) as (gw, mids):
            await check_ended_at_once(gw, mids, named=True)
    # Every result was taken before its send request was answered.
    assert (sim.record.reported_first, sim.record.reported_late) == (N, 0)


# -- ToBeText --------------------------------------------------------------------------


@pytest.mark.parametrize("ckey", [True, False], ids=["by-ckey", "by-msgid-only"])
async def test_tobetext_callbacks_before_their_acknowledgements(
    ckey: bool, store: Store
) -> None:
    sim = ToBeTextSimulator(
        accounts={"C1": "T1"},
        push=PushPolicy(attempts=4, interval=0.05, timeout=10.0),
        report_first=True,
        callback_ckey=ckey,
    )
    await sim.start()
    try:
        async with connector_gateway() as cg:
            conn = tobetext.build(
                ConnectorSettings(
                    name="tbt",
                    protocol="tobetext",
                    options={"cid": "C1", "token": "T1", "url": sim.url},
                ),
                cg.context,
            )
            async with gateway_with(store, conn) as (gw, mids):
                # By CKey the report names its message and is applied at once; by
                # MsgId alone it is parked until the submit is recorded.
                await check_ended_at_once(gw, mids, named=ckey)
                assert conn.awaited == 0  # no callback awaited any more
                assert conn.health().refused == 0
    finally:
        await sim.close()
    attempts = list(sim.pusher.attempts) if sim.pusher else []
    assert len(attempts) == N and all(a.ok for a in attempts)


# -- AI CROSS --------------------------------------------------------------------------


async def test_aicross_dlrs_before_their_send_answers(store: Store) -> None:
    async with connector_gateway() as cg:
        sim = AiCrossSimulator(
            tokens=["tok"],
            dlr_url=f"{cg.url}/callbacks/aicross/ac",
            push=PushPolicy(attempts=5, interval=0.05, timeout=10.0),
            report_first=True,
        )
        await sim.start()
        try:
            conn = aicross.build(
                ConnectorSettings(
                    name="ac",
                    protocol="aicross",
                    options={"url": sim.url, "token": "tok"},
                ),
                cg.context,
            )
            async with gateway_with(store, conn) as (gw, mids):
                await check_ended_at_once(gw, mids, named=True)
                assert conn.awaited == 0  # nothing left to poll for
                assert conn.health().refused == 0
        finally:
            await sim.close()
    attempts = list(sim.pusher.attempts) if sim.pusher else []
    assert len(attempts) == N and all(a.ok for a in attempts)
