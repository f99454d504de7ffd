"""AI CROSS faults over real HTTP: 500, stall, garbled answers, an outage, a failing
DLR receiver. Resends reuse the clientTag, so every message ends with exactly one
report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from umsgate.domain.message import Message
from umsgate.domain.results import ResultCode
from umsgate.protocols.aicross.simulator import AiCrossSimulator
from umsgate.testing import ConnectorGateway, RecordingSink, wait_for
from umsgate.types import Outcome, ProviderReport


async def _settled(sim: AiCrossSimulator) -> None:
    assert sim.pusher is not None
    pusher = sim.pusher
    await wait_for(lambda: pusher.pending == 0, what="DLRs to finish")


async def _fault_then_resend(
    simulator: AiCrossSimulator,
    gateway: ConnectorGateway,
    make_connector: Callable[..., Any],
    messages: list[Message],
    code: ResultCode,
    *,
    taken: bool,
    timeout: float = 5.0,
) -> None:
    # Short timeouts only where the fault is a stall: elsewhere a busy machine
    # would turn the fault under test into a timeout.
    conn = await make_connector(timeout=timeout, connect_timeout=timeout)
    first = await conn.submit(messages)
    assert {(r.outcome, r.code) for r in first} == {(Outcome.RETRY, code)}
    assert len(simulator.taken) == (len(messages) if taken else 0)
    simulator.faults.status_500 = False
    simulator.faults.stall = 0.0
    simulator.faults.malformed = False
    second = await conn.submit(messages)
    assert {r.outcome for r in second} == {Outcome.ACCEPTED}
    if taken:
        assert {r.raw_code for r in second} == {"40901"}
    await gateway.sink.wait_for_count(len(messages))
    await _settled(simulator)
    assert sorted(r.message_id or 0 for r in gateway.sink.reports) == [
        m.id for m in messages
    ]


async def test_500(
    simulator: AiCrossSimulator,
    gateway: ConnectorGateway,
    make_connector: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    simulator.faults.status_500 = True
    messages = [new_message(i) for i in range(1, 6)]
    await _fault_then_resend(
        simulator,
        gateway,
        make_connector,
        messages,
        ResultCode.PROVIDER_ERROR,
        taken=False,
    )


async def test_stall(
    simulator: AiCrossSimulator,
    gateway: ConnectorGateway,
    make_connector: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    simulator.faults.stall = 30.0
    messages = [new_message(i) for i in range(10, 15)]
    await _fault_then_resend(
        simulator,
        gateway,
        make_connector,
        messages,
        ResultCode.TIMEOUT,
        taken=True,
        timeout=0.3,
    )


async def test_malformed(
    simulator: AiCrossSimulator,
    gateway: ConnectorGateway,
    make_connector: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    simulator.faults.malformed = True
    messages = [new_message(i) for i in range(20, 25)]
    await _fault_then_resend(
        simulator,
        gateway,
        make_connector,
        messages,
        ResultCode.PROVIDER_ERROR,
        taken=True,
    )


async def test_down_and_polling_through_it(
    simulator: AiCrossSimulator,
    gateway: ConnectorGateway,
    make_connector: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    simulator.dlr_url = None
    conn = await make_connector(name="polling", dlr=False, poll_schedule=[0.05])
    await simulator.go_down()
    messages = [new_message(i) for i in range(30, 40)]
    down = await conn.submit(messages)
    assert {(r.outcome, r.code) for r in down} == {
        (Outcome.RETRY, ResultCode.CONNECTION_ERROR)
    }
    assert not conn.health().up
    await simulator.come_back()
    up = await conn.submit(messages)
    assert {r.outcome for r in up} == {Outcome.ACCEPTED}
    await simulator.go_down()
    await wait_for(lambda: not conn.health().up, what="polls to fail")
    await simulator.come_back()
    await gateway.sink.wait_for_count(len(messages))
    assert len(gateway.sink.reports) == len(messages)
    assert conn.health().up


async def test_failing_dlr_receiver_is_retried(
    simulator: AiCrossSimulator,
    gateway: ConnectorGateway,
    make_connector: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    conn = await make_connector(poll=False)
    tries: dict[int | None, int] = {}

    class Flaky(RecordingSink):
        async def report(self, report: ProviderReport) -> None:
            tries[report.message_id] = tries.get(report.message_id, 0) + 1
            if tries[report.message_id] <= 2:
                raise RuntimeError("store unavailable")
            await super().report(report)

    sink = Flaky()
    await conn.start(sink)
    messages = [new_message(i) for i in range(50, 55)]
    await conn.submit(messages)
    await sink.wait_for_count(len(messages))
    await _settled(simulator)
    assert len(sink.reports) == len(messages)
    assert simulator.pusher is not None
    statuses = [a.status for a in simulator.pusher.attempts]
    assert statuses.count(500) == 10 and statuses.count(200) == 5
