"""Per-connector throttles through the dispatcher: a burst above a connector's ``tps``
drains at that rate (also with two gateway nodes on one PostgreSQL database, which
share one schedule), claims stay a couple of seconds ahead of the rate, and
``window`` caps the messages in flight."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import text

from tests.conftest import (
    Running,
    Store,
    make_settings,
    new_account,
    running_gateway,
    sms_body,
    status_counts,
)
from umsgate.config import ConnectorSettings, RouteSettings, SandboxSettings, Settings
from umsgate.domain.message import Message
from umsgate.engine.pacing import HORIZON
from umsgate.protocols.sandbox.carrier import SandboxCarrier
from umsgate.testing import wait_for
from umsgate.types import SubmitResult

NAME = "paced"
#: Messages claimed per round (small, so that the SENDING count shows the backlog).
BATCH = 20


class Clocked(SandboxCarrier):
    """The sandbox carrier, noting when each message was handed to it and how many
    were in its hands at once; each submit takes ``latency`` seconds to answer (a
    provider's round trip)."""

    def __init__(self, latency: float = 0.0) -> None:
        super().__init__(SandboxSettings(delay=0.05), name=NAME)
        self.latency = latency
        self.times: list[float] = []
        self.in_hand = 0
        self.most_in_hand = 0

    async def submit(self, messages: Sequence[Message]) -> Sequence[SubmitResult]:
        self.times.extend([time.time()] * len(messages))
        self.in_hand += len(messages)
        self.most_in_hand = max(self.most_in_hand, self.in_hand)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            return await super().submit(messages)
        finally:
            self.in_hand -= len(messages)


def paced_settings(
    store: Store, *, tps: float | None = None, window: int | None = None
) -> Settings:
    settings = make_settings(store, engine={"batch_size": BATCH})
    return dataclasses.replace(
        settings,
        connectors=(
            ConnectorSettings(name=NAME, protocol="sandbox", tps=tps, window=window),
        ),
        routes=(RouteSettings(name="all", connectors=(NAME,)),),
    )


async def send_burst(running: Running, count: int, prefix: str) -> list[str]:
    acct = await new_account(running, f"c-{prefix}", tps={"SMS": 100_000})
    ids: list[str] = []
    sem = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        async with sem:
            r = await running.http.post(
                "/v1/message/sms",
                json=sms_body(f"{prefix}{i}", receiver=f"010{10000000 + i:08d}"),
                headers=acct.headers(),
            )
            assert r.status_code == 200, r.text
            ids.append(r.json()["umsMsgId"])

    await asyncio.gather(*(one(i) for i in range(count)))
    return ids


async def delivered(running: Running) -> int:
    return (await status_counts(running.gateway)).get("DELIVERED", 0)


async def all_delivered(running: Running, total: int) -> bool:
    return await delivered(running) == total


async def sending(running: Running) -> int:
    return (await status_counts(running.gateway)).get("SENDING", 0)


def steady_rate(times: Sequence[float]) -> float:
    """Messages per second from the first hand-over to the last."""
    ordered = sorted(times)
    return (len(ordered) - 1) / (ordered[-1] - ordered[0])


def busiest_second(times: Sequence[float]) -> int:
    ordered = sorted(times)
    most = 0
    j = 0
    for i, t in enumerate(ordered):
        while ordered[j] < t - 1.0:
            j += 1
        most = max(most, i - j + 1)
    return most


async def test_a_burst_drains_at_the_connector_rate(sqlite_store: Store) -> None:
    # In process; the shared schedule of PostgreSQL is the two-node test's.
    tps, total = 30.0, 150
    carrier = Clocked()
    settings = paced_settings(sqlite_store, tps=tps)
    async with running_gateway(settings, {NAME: carrier}) as gw:
        await send_burst(gw, total, "b")
        most_sending = 0

        async def done() -> bool:
            nonlocal most_sending
            most_sending = max(most_sending, await sending(gw))
            return await all_delivered(gw, total)

        await wait_for(done, timeout=30, what="every message delivered")
        async with gw.gateway.db.transaction() as conn:
            attempts = {
                r[0] for r in await conn.execute(text("SELECT attempts FROM messages"))
            }
    assert len(carrier.times) == total
    # Waiting for the rate is no attempt: each message was tried once.
    assert attempts == {1}
    rate = steady_rate(carrier.times)
    assert tps * 0.9 <= rate <= tps * 1.1, rate
    assert busiest_second(carrier.times) <= tps * 1.1 + carrier_burst(tps)
    # Claims keep HORIZON seconds of the rate waiting (and a claim round not yet
    # put back), not the whole burst.
    assert most_sending <= tps * HORIZON + BATCH + 10, most_sending


def carrier_burst(tps: float) -> float:
    """What an idle connector may take at once: a chunk and the burst tolerance."""
    return tps * 0.1 + tps * 0.05 + 1


async def test_the_window_caps_messages_in_flight(sqlite_store: Store) -> None:
    total = 120
    carrier = Clocked(latency=0.05)
    settings = paced_settings(sqlite_store, window=8)
    async with running_gateway(settings, {NAME: carrier}) as gw:
        await send_burst(gw, total, "w")
        await wait_for(
            lambda: all_delivered(gw, total), timeout=30, what="every message delivered"
        )
    assert len(carrier.times) == total
    assert carrier.most_in_hand == 8  # two-message chunks, four at once


@contextlib.asynccontextmanager
async def two_nodes(
    store: Store, tps: float, carriers: Sequence[Clocked]
) -> AsyncIterator[tuple[Running, Running]]:
    settings = paced_settings(store, tps=tps)
    async with (
        running_gateway(settings, {NAME: carriers[0]}) as a,
        running_gateway(settings, {NAME: carriers[1]}) as b,
    ):
        yield a, b


@pytest.mark.postgres
async def test_two_nodes_share_the_connector_rate(pg_store: Store) -> None:
    tps, total = 40.0, 200
    carriers = (Clocked(), Clocked())
    async with two_nodes(pg_store, tps, carriers) as (a, b):
        await asyncio.gather(
            send_burst(a, total // 2, "a"), send_burst(b, total // 2, "b")
        )
        await wait_for(
            lambda: all_delivered(a, total), timeout=30, what="every message delivered"
        )
    times = carriers[0].times + carriers[1].times
    assert len(times) == total
    # Both nodes sent, and together they held the one rate.
    assert min(len(c.times) for c in carriers) >= total // 5
    rate = steady_rate(times)
    assert tps * 0.9 <= rate <= tps * 1.1, rate
    assert busiest_second(times) <= tps * 1.1 + 2 * carrier_burst(tps)
