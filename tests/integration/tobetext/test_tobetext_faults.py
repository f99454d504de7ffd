"""ToBeText faults over real HTTP: the provider answers 500, stalls, garbles its
answer, goes down; the customer's endpoint fails; the backup URL. Every message
ends with exactly one report, or comes back RETRY/REJECTED with a clear code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from umsgate.domain.message import Message
from umsgate.domain.results import ResultCode
from umsgate.protocols._http.pusher import PushPolicy
from umsgate.protocols.tobetext.simulator import ToBeTextSimulator
from umsgate.testing import RecordingSink, wait_for
from umsgate.types import Outcome, ProviderReport

CID, TOKEN = "C000123", "9f2c1e7a"


async def _settle(sim: ToBeTextSimulator) -> None:
    assert sim.pusher is not None
    pusher = sim.pusher
    await wait_for(lambda: pusher.pending == 0, what="callbacks to finish")


async def _retry_then_accept(
    simulator: ToBeTextSimulator,
    make_rig: Callable[..., Any],
    new_message: Callable[..., Message],
    code: ResultCode,
    *,
    taken: bool,
) -> None:
    rig = await make_rig(timeout=0.5, connect_timeout=0.5)
    messages = [new_message(500 + i) for i in range(5)]
    first = await rig.connector.submit(messages)
    assert {(r.outcome, r.code) for r in first} == {(Outcome.RETRY, code)}
    assert simulator.accepted == (5 if taken else 0)
    simulator.faults.status_500 = False
    simulator.faults.stall = 0.0
    simulator.faults.malformed = False
    second = await rig.connector.submit(messages)
    assert {r.outcome for r in second} == {Outcome.ACCEPTED}
    assert simulator.accepted == 5
    sink = rig.gateway.sink
    await sink.wait_for_count(5)
    await _settle(simulator)
    assert sorted(r.message_id or 0 for r in sink.reports) == [m.id for m in messages]


async def test_500_is_retried(
    simulator: ToBeTextSimulator,
    make_rig: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    simulator.faults.status_500 = True
    await _retry_then_accept(
        simulator, make_rig, new_message, ResultCode.PROVIDER_ERROR, taken=False
    )


async def test_stall_is_retried_without_a_second_send(
    simulator: ToBeTextSimulator,
    make_rig: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    simulator.faults.stall = 30.0
    await _retry_then_accept(
        simulator, make_rig, new_message, ResultCode.TIMEOUT, taken=True
    )


async def test_malformed_answer_is_retried_without_a_second_send(
    simulator: ToBeTextSimulator,
    make_rig: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    simulator.faults.malformed = True
    await _retry_then_accept(
        simulator, make_rig, new_message, ResultCode.PROVIDER_ERROR, taken=True
    )


async def test_down_then_back(
    simulator: ToBeTextSimulator,
    make_rig: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    rig = await make_rig()
    await simulator.go_down()
    results = await rig.connector.submit([new_message(i) for i in range(1, 4)])
    assert {(r.outcome, r.code) for r in results} == {
        (Outcome.RETRY, ResultCode.CONNECTION_ERROR)
    }
    health = rig.connector.health()
    assert not health.up
    await simulator.come_back()
    results = await rig.connector.submit([new_message(i) for i in range(1, 4)])
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    assert rig.connector.health().up
    await rig.gateway.sink.wait_for_count(3)


async def test_failing_callback_endpoint_is_retried(
    simulator: ToBeTextSimulator,
    make_rig: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    rig = await make_rig()
    failures: dict[int | None, int] = {}

    class Flaky(RecordingSink):
        async def report(self, report: ProviderReport) -> None:
            failures[report.message_id] = failures.get(report.message_id, 0) + 1
            if failures[report.message_id] <= 2:
                raise RuntimeError("store unavailable")
            await super().report(report)

    sink = Flaky()
    await rig.connector.start(sink)
    messages = [new_message(700 + i) for i in range(5)]
    await rig.connector.submit(messages)
    await sink.wait_for_count(5)
    await _settle(simulator)
    assert sorted(r.message_id or 0 for r in sink.reports) == [m.id for m in messages]
    assert simulator.pusher is not None
    statuses = [a.status for a in simulator.pusher.attempts]
    assert statuses.count(500) == 10 and statuses.count(200) == 5


async def test_callbacks_given_up_after_the_last_attempt(
    new_message: Callable[..., Message], make_rig: Callable[..., Any]
) -> None:
    sim = ToBeTextSimulator(
        accounts={CID: TOKEN}, delay=0.0, push=PushPolicy(attempts=2, interval=0.01)
    )
    await sim.start()
    try:
        rig = await make_rig(url=sim.url, callback_url="http://127.0.0.1:9/nowhere")
        await rig.connector.submit([new_message(1)])
        await _settle(sim)
        assert sim.pusher is not None
        assert [a.attempt for a in sim.pusher.attempts] == [1, 2]
        assert all(a.status is None for a in sim.pusher.attempts)
        assert sim.pusher.abandoned == {sim.pusher.attempts[0].key}
    finally:
        await sim.close()


async def test_backup_url_when_active(
    simulator: ToBeTextSimulator,
    make_rig: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    backup = ToBeTextSimulator(accounts={CID: TOKEN}, delay=0.0)
    await backup.start()
    try:
        rig = await make_rig(backup_url=backup.url, backup_active=True)
        await simulator.go_down()
        [result] = await rig.connector.submit([new_message(9)])
        assert result.outcome is Outcome.ACCEPTED
        assert (simulator.accepted, backup.accepted) == (0, 1)
        await rig.gateway.sink.wait_for_count(1)
    finally:
        await backup.close()
