"""`HostedConnector` with a real connector process (the sandbox carrier in it):
submits and reports cross the socket pair, a refused commit makes the connector
report again, a killed process is started again with its batch answered RETRY,
and the process ends when the gateway's side closes."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
from collections.abc import AsyncIterator, Sequence

import pytest

from umsgate import types
from umsgate.config import ConnectorSettings
from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.hosting.connector import HostedConnector
from umsgate.testing import wait_for
from umsgate.types import Outcome, ProviderReport


class Sink:
    """Records the reports it commits; refuses the first ``refuse`` calls."""

    def __init__(self, refuse: int = 0) -> None:
        self.reports: list[ProviderReport] = []
        self.calls = 0
        self.refuse = refuse

    async def report(self, report: ProviderReport) -> None:
        await self.report_many([report])

    async def report_many(self, reports: Sequence[ProviderReport]) -> None:
        self.calls += 1
        if self.calls <= self.refuse:
            raise RuntimeError("the store is down")
        self.reports.extend(reports)


class QueueingSink(Sink):
    """The gateway's kind of sink (`QueueingSink`): reports are queued and a future
    says when they are committed; here, a tenth of a second later."""

    def report_soon(self, reports: Sequence[ProviderReport]) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.calls += 1
        refuse = self.calls <= self.refuse

        def commit() -> None:
            if refuse:
                fut.set_exception(RuntimeError("the store is down"))
            else:
                self.reports.extend(reports)
                fut.set_result(None)

        asyncio.get_running_loop().call_later(0.1, commit)
        return fut


def messages(first: int, count: int) -> list[Message]:
    now = dt.datetime.now(dt.UTC)
    return [
        Message(
            id=i,
            client_id="c",
            src_msg_id=f"s{i}",
            channel=Channel.SMS,
            sender="+8221234567",
            receiver="+821012345678",
            content=f"안녕 {i}",
            created_at=now,
            due_at=now,
        )
        for i in range(first, first + count)
    ]


def sandbox(delay: float = 0.05, **options: object) -> ConnectorSettings:
    return ConnectorSettings(
        name="sb",
        protocol="sandbox",
        options={"delay": delay, **options},
        own_process=True,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet waited for) counts as gone.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
async def hosted() -> AsyncIterator[HostedConnector]:
    connector = HostedConnector(sandbox(), stop_timeout=10)
    yield connector
    await connector.stop()


async def test_submits_and_reports_cross_the_socket(hosted: HostedConnector) -> None:
    sink = Sink()
    await hosted.start(sink)
    assert hosted.pid is not None and hosted.pid != os.getpid()
    await wait_for(lambda: hosted.health().up, timeout=10, what="health up")
    results = await hosted.submit(messages(1, 50))
    assert sorted(r.message_id for r in results) == list(range(1, 51))
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    assert {r.provider_msg_id for r in results} == {f"SB{i}" for i in range(1, 51)}
    await wait_for(lambda: len(sink.reports) == 50, timeout=10, what="50 reports")
    assert {r.message_id for r in sink.reports} == set(range(1, 51))
    assert {r.code for r in sink.reports} == {ResultCode.DELIVERED}
    assert {r.connector for r in sink.reports} == {"sb"}
    pid = hosted.pid
    await hosted.stop()
    assert hosted.pid is None
    assert not alive(pid)
    assert hosted.restarts == 0


@pytest.mark.parametrize("kind", [Sink, QueueingSink], ids=["awaited", "queued"])
async def test_a_refused_commit_makes_the_connector_report_again(
    hosted: HostedConnector, kind: type[Sink]
) -> None:
    sink = kind(refuse=1)
    assert isinstance(sink, types.QueueingSink) == (kind is QueueingSink)
    await hosted.start(sink)
    await hosted.submit(messages(1, 5))
    # The sandbox tries again a second after its sink raised.
    await wait_for(lambda: len(sink.reports) == 5, timeout=10, what="the reports")
    assert sink.calls >= 2
    assert {r.message_id for r in sink.reports} == set(range(1, 6))


async def test_a_killed_process_is_started_again_and_its_batch_retried() -> None:
    # Reports a minute late: the submit itself is what is in flight.
    hosted = HostedConnector(sandbox(delay=60.0), stop_timeout=10)
    sink = Sink()
    await hosted.start(sink)
    try:
        first = hosted.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        # A batch handed over while the process dies, or after, is answered: RETRY
        # (the provider may or may not have it), or a TransientConnectorError while
        # no process is up, never silence.
        results = await asyncio.wait_for(hosted.submit(messages(1, 3)), 20)
        assert len(results) == 3
        await wait_for(
            lambda: hosted.pid not in (None, first) and hosted.health().up,
            timeout=20,
            what="a new connector process",
        )
        assert hosted.restarts == 1
        assert not alive(first)
        again = await hosted.submit(messages(10, 3))
        assert {r.outcome for r in again} == {Outcome.ACCEPTED}
    finally:
        await hosted.stop()


async def test_the_process_stops_when_the_gateway_side_closes() -> None:
    """What a kill -9 of the gateway process does to its connector process: the
    socket closes and the process exits (no orphan keeps the provider's session).
    The gateway side would kill it only after ``stop_timeout``, longer than the wait
    here."""
    hosted = HostedConnector(sandbox(), stop_timeout=30)
    await hosted.start(Sink())
    pid = hosted.pid
    assert pid is not None
    try:
        writer = hosted._outbox.writer
        assert writer is not None
        writer.transport.abort()  # as the kernel does for a killed process
        await wait_for(lambda: not alive(pid), timeout=10, what="the process gone")
    finally:
        await hosted.stop()
