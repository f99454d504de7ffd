"""The fronts' supervisor with real child processes: a front that dies is started
again, one that cannot be started is tried again, and stop ends them all."""

from __future__ import annotations

import asyncio
import logging
import sys

import pytest

from umsgate.front.supervisor import Fronts
from umsgate.testing import wait_for


async def test_a_dying_front_is_started_again(caplog: pytest.LogCaptureFixture) -> None:
    fronts = Fronts(1, [sys.executable, "-c", "raise SystemExit(3)"])
    with caplog.at_level(logging.ERROR, logger="umsgate.front"):
        fronts.start()
        await wait_for(lambda: fronts.restarts >= 1, timeout=30, what="a restart")
        await fronts.stop()
    assert "exited with 3" in caplog.text and "starting it again in" in caplog.text


async def test_a_front_that_cannot_start_is_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fronts = Fronts(1, ["/nonexistent/umsgate-front"])
    with caplog.at_level(logging.ERROR, logger="umsgate.front"):
        fronts.start()
        await wait_for(
            lambda: "cannot be started" in caplog.text, timeout=10, what="the log"
        )
        await fronts.stop()
    assert fronts.pids == []


async def test_stop_ends_every_front() -> None:
    fronts = Fronts(2, [sys.executable, "-c", "import time; time.sleep(60)"])
    fronts.start()
    await wait_for(lambda: len(fronts.pids) == 2, timeout=30, what="two fronts")
    started = asyncio.get_running_loop().time()
    await fronts.stop()
    assert asyncio.get_running_loop().time() - started < 10
    assert fronts.pids == [] and fronts.restarts == 0
