"""IMS SMS faults over real HTTP. A send whose answer is lost is never resent (the
message fails as "outcome unknown"); a send that surely did not arrive is retried;
the poller keeps polling through outages and bad answers, and finishes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from umsgate.domain.message import Message
from umsgate.domain.results import ResultCode
from umsgate.protocols.imsms import codes
from umsgate.protocols.imsms.simulator import ImsSimulator
from umsgate.testing import ConnectorGateway, wait_for
from umsgate.types import Outcome


def _delivered(simulator: ImsSimulator, messages: list[Message]) -> list[Message]:
    return [m for m in messages if simulator.outcome(m.receiver, m.content) != "130"]


async def test_500_fails_as_unknown_and_is_not_resent(
    simulator: ImsSimulator,
    make_connector: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    conn = await make_connector()
    simulator.faults.status_500 = True
    messages = [new_message(i) for i in range(1, 6)]
    results = await conn.submit(messages)
    assert {(r.outcome, r.code, r.raw_code) for r in results} == {
        (Outcome.REJECTED, ResultCode.FAILED, codes.OUTCOME_UNKNOWN)
    }
    assert [r.http_status for r in simulator.received] == [500] * 5
    assert not conn.health().up


async def test_500_with_duplicates_allowed_is_retried(
    simulator: ImsSimulator,
    gateway: ConnectorGateway,
    make_connector: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    conn = await make_connector(allow_duplicates=True)
    simulator.faults.status_500 = True
    messages = _delivered(simulator, [new_message(i) for i in range(1, 6)])
    results = await conn.submit(messages)
    assert {(r.outcome, r.code) for r in results} == {
        (Outcome.RETRY, ResultCode.PROVIDER_ERROR)
    }
    simulator.faults.status_500 = False
    results = await conn.submit(messages)
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    await gateway.sink.wait_for_count(len(messages))


async def test_stall_and_malformed_are_unknown_outcomes(
    simulator: ImsSimulator,
    make_connector: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    conn = await make_connector(timeout=0.3, connect_timeout=0.3)
    messages = _delivered(simulator, [new_message(i) for i in range(10, 20)])
    simulator.faults.stall = 30.0
    stalled = await conn.submit(messages[:3])
    simulator.faults.stall = 0.0
    simulator.faults.malformed = True
    garbled = await conn.submit(messages[3:6])
    for result in [*stalled, *garbled]:
        assert (result.outcome, result.raw_code) == (
            Outcome.REJECTED,
            codes.OUTCOME_UNKNOWN,
        )
    assert "Timeout" in stalled[0].detail or "within" in stalled[0].detail
    assert "unreadable" in garbled[0].detail
    # The provider did take them: this is why they must not be sent again.
    assert len(simulator.taken) == 6


async def test_down_send_is_retried(
    simulator: ImsSimulator,
    gateway: ConnectorGateway,
    make_connector: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    conn = await make_connector()
    messages = _delivered(simulator, [new_message(i) for i in range(30, 35)])
    await simulator.go_down()
    results = await conn.submit(messages)
    assert {(r.outcome, r.code) for r in results} == {
        (Outcome.RETRY, ResultCode.CONNECTION_ERROR)
    }
    await simulator.come_back()
    results = await conn.submit(messages)
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    await gateway.sink.wait_for_count(len(messages))
    assert conn.health().up


async def test_poller_polls_through_an_outage(
    simulator: ImsSimulator,
    gateway: ConnectorGateway,
    make_connector: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    conn = await make_connector(poll_schedule=[0.05])
    simulator.delay = 2.0  # none may finish before the outage begins
    messages = _delivered(simulator, [new_message(i) for i in range(40, 60)])
    results = await conn.submit(messages)
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    await simulator.go_down()
    await wait_for(lambda: not conn.health().up, what="polls to fail")
    reported = len(gateway.sink.reports)  # any that finished before the outage
    simulator.faults.status_500 = True  # before it listens again: no poll slips by
    await simulator.come_back()
    polled = len(simulator.received)
    await wait_for(lambda: len(simulator.received) > polled + 5, what="500 answers")
    simulator.faults.status_500 = False
    simulator.faults.malformed = True
    polled = len(simulator.received)
    await wait_for(lambda: len(simulator.received) > polled + 5, what="garbled answers")
    assert len(gateway.sink.reports) == reported < len(messages)
    simulator.faults.malformed = False
    await gateway.sink.wait_for_count(len(messages))
    assert sorted(r.message_id or 0 for r in gateway.sink.reports) == [
        m.id for m in messages
    ]
    assert conn.awaited == 0
    assert conn.health().up


async def test_resume_after_restart(
    simulator: ImsSimulator,
    gateway: ConnectorGateway,
    make_connector: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    first = await make_connector()
    messages = _delivered(simulator, [new_message(i) for i in range(70, 75)])
    results = await first.submit(messages)
    await first.stop()  # the process dies before any report
    assert gateway.sink.reports == []
    second = await make_connector()
    await second.resume(
        [
            dataclasses.replace(m, provider_msg_id=r.provider_msg_id)
            for m, r in zip(messages, results, strict=True)
        ]
    )
    await gateway.sink.wait_for_count(len(messages))
    assert {r.connector for r in gateway.sink.reports} == {second.name}
    assert sorted(r.message_id or 0 for r in gateway.sink.reports) == [
        m.id for m in messages
    ]
