"""The submit window over TCP: submits that find a permit free go out at once,
without a task each; those that find the window full wait in order; a permit
comes back whatever ends its request."""

from __future__ import annotations

import asyncio

from smpp_it import RecordingSink, connector, message

from umsgate.protocols.smpp import simulator
from umsgate.protocols.smpp.link import Window
from umsgate.testing import wait_for
from umsgate.types import Outcome


async def test_submits_with_room_in_the_window_take_no_task_each() -> None:
    async with simulator.running(accounts={"esme": "pw"}, receipt_delay=60) as sim:
        sim.faults.resp_delay = 0.5  # the answers wait: every submit in flight
        conn = connector(sim, window=64)
        await conn.start(RecordingSink())
        try:
            await conn.submit([message(0, "warm")])  # bound
            before = len(asyncio.all_tasks())
            job = asyncio.create_task(
                conn.submit([message(i, "now") for i in range(1, 51)])
            )
            await wait_for(lambda: sim.stats.submits == 51, what="50 submits sent")
            # The job's own task and the gathers' futures, not one task each.
            assert len(asyncio.all_tasks()) - before < 5
            results = await job
        finally:
            await conn.stop()
    assert [r.message_id for r in results] == list(range(1, 51))
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}


async def test_a_full_window_sends_the_rest_in_order() -> None:
    async with simulator.running(accounts={"esme": "pw"}, receipt_delay=60) as sim:
        sim.faults.resp_delay = 0.05
        conn = connector(sim, window=4)
        await conn.start(RecordingSink())
        try:
            messages = [message(i, f"order {i}") for i in range(30)]
            results = await conn.submit(messages)
        finally:
            await conn.stop()
    assert [r.message_id for r in results] == list(range(30))
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    assert [s.text for s in sim.submitted] == [f"order {i}" for i in range(30)]
    # Every SMSC id the results name is one the SMSC gave.
    assert {r.provider_msg_id for r in results} == {s.message_id for s in sim.submitted}


async def test_a_permit_goes_to_the_first_waiter_and_survives_cancels() -> None:
    window = Window(1)
    assert window.try_take()
    assert not window.try_take() and window.locked()
    order: list[str] = []

    async def wait(name: str) -> None:
        await window.take()
        order.append(name)

    first = asyncio.create_task(wait("first"))
    gone = asyncio.create_task(wait("gone"))
    last = asyncio.create_task(wait("last"))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)
    window.release()  # to "first"
    await first
    window.release()  # "gone" was cancelled: to "last"
    await last
    assert order == ["first", "last"]
    window.release()
    assert window.free == 1 and not window.locked()
    # Cancelled just after it was handed the permit: the permit is passed on.
    assert window.try_take()
    late = asyncio.create_task(window.take())
    await asyncio.sleep(0)
    window.release()
    late.cancel()
    await asyncio.gather(late, return_exceptions=True)
    assert window.free == 1
