"""API-Gateway faults over real HTTP: the upstream answers 500 or 429, stalls,
garbles its answer, goes down. Every message comes back RETRY with a clear code and
is then taken exactly once upstream: srcMsgId makes the resend a repeat."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from umsgate.domain.message import Message
from umsgate.domain.results import ResultCode
from umsgate.protocols.apigw.connector import ApiGatewayConnector
from umsgate.sim.apigw import ApiGatewaySimulator
from umsgate.testing import ConnectorGateway
from umsgate.types import Outcome

MakeConnector = Callable[..., Any]


async def _upstream_count(sim: ApiGatewaySimulator) -> int:
    assert sim.gateway is not None
    async with sim.gateway.db.transaction() as db:
        count = (await db.exec_driver_sql("select count(*) from messages")).scalar()
    return int(count or 0)


@pytest.mark.parametrize(
    ("fault", "code", "taken"),
    [
        ("status_500", ResultCode.PROVIDER_ERROR, False),
        ("stall", ResultCode.TIMEOUT, True),
        ("malformed", ResultCode.PROVIDER_ERROR, True),
    ],
)
async def test_fault_is_retried_and_the_resend_is_a_repeat(
    simulator: ApiGatewaySimulator,
    gateway: ConnectorGateway,
    make_connector: MakeConnector,
    new_message: Callable[..., Message],
    fault: str,
    code: ResultCode,
    taken: bool,
) -> None:
    # A short timeout finds the stall; the other faults are answered at once, and a
    # loaded machine must not make them timeouts.
    timeout = 0.5 if fault == "stall" else 10.0
    conn: ApiGatewayConnector = await make_connector(
        timeout=timeout, connect_timeout=timeout
    )
    setattr(simulator.faults, fault, 30.0 if fault == "stall" else True)
    messages = [new_message(500 + i) for i in range(5)]
    first = await conn.submit(messages)
    assert {(r.outcome, r.code) for r in first} == {(Outcome.RETRY, code)}
    assert await _upstream_count(simulator) == (5 if taken else 0)
    setattr(simulator.faults, fault, 0.0 if fault == "stall" else False)
    second = await conn.submit(messages)
    assert {r.outcome for r in second} == {Outcome.ACCEPTED}
    assert await _upstream_count(simulator) == 5
    await gateway.sink.wait_for_count(5, within=30)
    assert sorted(r.message_id or 0 for r in gateway.sink.reports) == [
        m.id for m in messages
    ]


async def test_429_slows_the_channel_and_asks_for_a_pause(
    simulator: ApiGatewaySimulator,
    make_connector: MakeConnector,
    new_message: Callable[..., Message],
) -> None:
    conn: ApiGatewayConnector = await make_connector()
    assert (await conn.submit([new_message(1)]))[0].outcome is Outcome.ACCEPTED
    simulator.faults.throttle = True
    [a] = await conn.submit([new_message(2)])
    [b] = await conn.submit([new_message(3)])
    for result in (a, b):
        assert (result.outcome, result.code, result.raw_code) == (
            Outcome.RETRY,
            ResultCode.THROTTLED,
            "42900",
        )
    assert a.retry_after == 1.0 and b.retry_after == 2.0
    assert conn.health().up, "429 is not a failure"
    simulator.faults.throttle = False
    [c] = await conn.submit([new_message(2)])
    assert c.outcome is Outcome.ACCEPTED


async def test_down_then_back(
    simulator: ApiGatewaySimulator,
    gateway: ConnectorGateway,
    make_connector: MakeConnector,
    new_message: Callable[..., Message],
) -> None:
    conn: ApiGatewayConnector = await make_connector()
    await simulator.go_down()
    messages = [new_message(i) for i in range(1, 4)]
    results = await conn.submit(messages)
    assert {(r.outcome, r.code) for r in results} == {
        (Outcome.RETRY, ResultCode.CONNECTION_ERROR)
    }
    assert not conn.health().up
    await simulator.come_back()
    results = await conn.submit(messages)
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    assert conn.health().up
    await gateway.sink.wait_for_count(3, within=30)


async def test_failing_sink_is_pushed_again(
    simulator: ApiGatewaySimulator,
    gateway: ConnectorGateway,
    make_connector: MakeConnector,
    new_message: Callable[..., Message],
) -> None:
    conn: ApiGatewayConnector = await make_connector()
    calls: dict[int | None, int] = {}
    sink = gateway.sink
    original = sink.report

    async def flaky(report: Any) -> None:
        calls[report.message_id] = calls.get(report.message_id, 0) + 1
        if calls[report.message_id] == 1:
            raise RuntimeError("store unavailable")
        await original(report)

    sink.report = flaky  # type: ignore[method-assign]
    messages = [new_message(700 + i) for i in range(5)]
    assert {r.outcome for r in await conn.submit(messages)} == {Outcome.ACCEPTED}
    await sink.wait_for_count(5, within=30)
    assert sorted(r.message_id or 0 for r in sink.reports) == [m.id for m in messages]
    assert set(calls.values()) == {2}
