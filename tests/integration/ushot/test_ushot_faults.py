"""Faults caused for real over TCP: the simulator drops sessions mid-batch and with
results pending, sends a corrupt frame, refuses logins, answers errors, answers late.
In the end every message has exactly one final report, and the simulator's record
shows no message sent more often than the documented at-least-once semantics allow
(once, plus once per request whose answer was lost)."""

from __future__ import annotations

import asyncio
import collections
import logging
import time

import pytest
from ushot_it import (
    RawClient,
    RecordingSink,
    dispatch,
    make_connector,
    message,
    running,
)

from umsgate.domain.message import Channel
from umsgate.domain.results import ResultCode
from umsgate.protocols.ushot.codes import Command, Port
from umsgate.protocols.ushot.connector import UShotConnector
from umsgate.protocols.ushot.simulator import UShotSimulator
from umsgate.testing import wait_for
from umsgate.types import Outcome, ProviderReport

LOGGER = "umsgate.protocols.ushot"


def events_logged(
    caplog: pytest.LogCaptureFixture, event: str
) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == LOGGER and getattr(r, "event", None) == event
    ]


def sms_batches(sim: UShotSimulator) -> list[tuple[str, ...]]:
    return [
        f.msg_ids
        for f in sim.record.frames
        if f.port is Port.SMS and f.command == Command.SMS_SEND and f.msg_ids
    ]


async def finish(
    connector: UShotConnector, sink: RecordingSink, sim: UShotSimulator, n: int
) -> None:
    """Wait for ``n`` reports and for the simulator to hold nothing more, then stop."""
    try:
        await sink.wait_count(n)
        await wait_for(
            lambda: all(
                len(sim.backend.mailbox("ushot", p)) == 0
                for p in (Port.SMS_REPORT, Port.MMS_REPORT)
            ),
            what="empty mailboxes",
        )
    finally:
        await connector.stop()


@pytest.mark.parametrize("version", ["SAM10", "SAM11"])
@pytest.mark.parametrize("handle", [True, False], ids=["taken", "not-taken"])
async def test_send_session_dropped_in_the_middle_of_a_batch(
    version: str, handle: bool
) -> None:
    async with running() as (sim, http):
        # Frame 1 is the login; the third batch (frame 4) gets no answer: the
        # simulator closes the session, having taken the batch or not.
        sim.faults.drop(Port.SMS, after_frames=4, handle=handle)
        connector = await make_connector(sim, http, version=version)
        sink = RecordingSink()
        await connector.start(sink)
        messages = [message(i) for i in range(300)]
        first = await connector.submit(messages)
        outcomes = collections.Counter(r.outcome for r in first)
        assert outcomes[Outcome.ACCEPTED] == 60  # two batches answered
        assert outcomes[Outcome.RETRY] == 240  # the lost batch and the queue behind it
        retry = {r.message_id for r in first if r.outcome is Outcome.RETRY}
        final = await dispatch(connector, [m for m in messages if m.id in retry])
        assert {r.outcome for r in final.values()} == {Outcome.ACCEPTED}
        await finish(connector, sink, sim, len(messages))
        assert sim.record.logins[Port.SMS] == 2

        assert sink.per_message() == {m.id: 1 for m in messages}
        lost = set(sms_batches(sim)[2])
        assert len(lost) == 30
        sends = sim.record.sends
        # At-least-once: only the unanswered batch went twice, the rest once...
        assert {m for m, c in sends.items() if c == 2} == lost
        assert set(sends.values()) == {1, 2}
        # ...and the resend reused its MSG_IDs, so the server sent each once.
        assert set(sim.record.accepted.values()) == {1}
        assert set(sim.record.results.values()) == {1}


@pytest.mark.parametrize("version", ["SAM10", "SAM11"])
async def test_report_session_dropped_while_results_are_pending(version: str) -> None:
    async with running() as (sim, http):
        sim.faults.drop_on_results(Port.SMS_REPORT)
        connector = await make_connector(sim, http, version=version)
        sink = RecordingSink()
        await connector.start(sink)
        messages = [message(i) for i in range(120)]
        await dispatch(connector, messages)
        await finish(connector, sink, sim, len(messages))
        assert sim.record.logins[Port.SMS_REPORT] == 2
        assert sink.per_message() == {m.id: 1 for m in messages}
        assert set(sim.record.results.values()) == {1}


async def test_sam11_acknowledgement_lost_results_come_again_and_are_deduplicated() -> (
    None
):
    async with running() as (sim, http):
        # Frame 2 of the report session is the first 1030: it never reaches the
        # simulator's books, so those results are pushed again after reconnecting.
        sim.faults.drop(Port.SMS_REPORT, after_frames=2)
        connector = await make_connector(sim, http, version="SAM11")
        sink = RecordingSink()
        await connector.start(sink)
        messages = [message(i) for i in range(150)]
        await dispatch(connector, messages)
        await finish(connector, sink, sim, len(messages))
        assert sim.record.logins[Port.SMS_REPORT] == 2
        twice = [m for m, c in sim.record.results.items() if c == 2]
        assert twice  # the server did send some results twice...
        assert sink.per_message() == {m.id: 1 for m in messages}  # ...reported once


async def test_malformed_frame_closes_the_session_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    async with running() as (sim, http):
        connector = await make_connector(sim, http)
        sink = RecordingSink()
        await connector.start(sink)
        sim.faults.corrupt_next(Port.SMS)  # the answer to the first batch
        messages = [message(i) for i in range(90)]
        first = await connector.submit(messages)
        assert {r.outcome for r in first} == {Outcome.RETRY}
        assert {r.code for r in first} == {ResultCode.CONNECTION_ERROR}
        (line,) = events_logged(caplog, "ushot_protocol_error")
        assert line.levelno == logging.WARNING
        assert "ETX" in line.getMessage() and "sms" in line.getMessage()
        await dispatch(connector, messages)
        await finish(connector, sink, sim, len(messages))
        assert sink.per_message() == {m.id: 1 for m in messages}
        assert set(sim.record.accepted.values()) == {1}


async def test_malformed_push_closes_the_report_session_and_nothing_is_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    async with running() as (sim, http):
        connector = await make_connector(sim, http, version="SAM11")
        sink = RecordingSink()
        await connector.start(sink)
        sim.faults.corrupt_next(Port.SMS_REPORT)
        messages = [message(i) for i in range(50)]
        await dispatch(connector, messages)
        await finish(connector, sink, sim, len(messages))
        assert len(events_logged(caplog, "ushot_protocol_error")) == 1
        assert sim.record.logins[Port.SMS_REPORT] == 2
        assert sink.per_message() == {m.id: 1 for m in messages}


async def test_refused_logins_back_off_and_recover(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    async with running() as (sim, http):
        sim.faults.refuse_logins(0.5, time.monotonic())
        connector = await make_connector(
            sim, http, reconnect_delay=0.05, login_retry_max=0.2
        )
        sink = RecordingSink()
        await connector.start(sink)
        health = connector.health()
        assert not health.up and "reconnecting" in health.detail
        # start() returned once every lane had tried, and they keep trying alone.
        assert all(lane.first_attempt.is_set() for lane in connector.lanes)
        results = await connector.submit([message(1)])
        assert results[0].outcome is Outcome.RETRY
        await wait_for(lambda: connector.health().up, timeout=10, what="login")
        lines = events_logged(caplog, "ushot_login_refused")
        assert lines and all(r.levelno == logging.ERROR for r in lines)
        # Doubling from 0.05 s, capped at 0.2 s: a few tries per lane, not a storm.
        assert sim.record.refused[Port.SMS] <= 8
        await dispatch(connector, [message(1)])
        await finish(connector, sink, sim, 1)


@pytest.mark.parametrize("version", ["SAM10", "SAM11"])
async def test_error_answers_reject_or_retry_by_their_code(version: str) -> None:
    async with running() as (sim, http):
        connector = await make_connector(sim, http, version=version)
        await connector.start(RecordingSink())
        try:
            sim.faults.error_next(Port.SMS, code="11001", mesg="COUNT over the maximum")
            refused = await connector.submit([message(i) for i in range(3)])
            assert {(r.outcome, r.code, r.raw_code) for r in refused} == {
                (Outcome.REJECTED, ResultCode.CARRIER_REJECTED, "11001")
            }
            assert "COUNT over the maximum" in refused[0].detail
            sim.faults.error_next(Port.SMS, code="55555")
            later = await connector.submit([message(10 + i) for i in range(3)])
            assert {(r.outcome, r.code) for r in later} == {
                (Outcome.RETRY, ResultCode.PROVIDER_ERROR)
            }
            ok = await connector.submit([message(20)])
            assert ok[0].outcome is Outcome.ACCEPTED
        finally:
            await connector.stop()


async def test_a_refused_upload_rejects_its_batch_only() -> None:
    async with running() as (sim, http):
        connector = await make_connector(sim, http)
        await connector.start(RecordingSink())
        try:
            sim.faults.error_next(Port.MMS, code="11001", mesg="file refused")
            mms = [message(i, Channel.MMS, file_ids=("photo",)) for i in range(3)]
            refused = await connector.submit(mms)
            assert {(r.outcome, r.code, r.raw_code) for r in refused} == {
                (Outcome.REJECTED, ResultCode.CONTENT_REJECTED, "11001")
            }
            again = await connector.submit(
                [message(9, Channel.MMS, file_ids=("photo",))]
            )
            assert again[0].outcome is Outcome.ACCEPTED
        finally:
            await connector.stop()
        assert sim.record.sends == {str(message(9).id): 1}


async def test_an_answer_later_than_the_request_timeout_is_a_retry() -> None:
    async with running() as (sim, http):
        connector = await make_connector(sim, http, request_timeout=0.3)
        sink = RecordingSink()
        await connector.start(sink)
        sim.faults.ack_delay = 1.0
        messages = [message(i) for i in range(5)]
        late = await connector.submit(messages)
        assert {(r.outcome, r.code) for r in late} == {
            (Outcome.RETRY, ResultCode.CONNECTION_ERROR)
        }
        sim.faults.ack_delay = 0.0
        await dispatch(connector, messages)
        await finish(connector, sink, sim, len(messages))
        assert sink.per_message() == {m.id: 1 for m in messages}
        assert set(sim.record.sends.values()) == {2}  # sent twice...
        assert set(sim.record.accepted.values()) == {1}  # ...taken once


class GatedSink(RecordingSink):
    """Holds every report until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def report(self, report: ProviderReport) -> None:
        self.entered.set()
        await self.gate.wait()
        await super().report(report)


def acks(sim: UShotSimulator) -> list[tuple[str, ...]]:
    return [
        f.msg_ids
        for f in sim.record.frames
        if f.port is Port.SMS_REPORT and f.command == Command.RESULT_ACK and f.msg_ids
    ]


async def test_sam11_results_are_acknowledged_only_after_the_sink_returned() -> None:
    async with running() as (sim, http):
        connector = await make_connector(sim, http, version="SAM11")
        sink = GatedSink()
        await connector.start(sink)
        try:
            await dispatch(connector, [message(1), message(2)])
            async with asyncio.timeout(10):
                await sink.entered.wait()
            # The sink holds the first report: the 1030 must not have gone out. Let
            # the simulator read anything already sent before looking.
            client = await RawClient.connect(sim, Port.SMS)
            await client.login()
            await client.close()
            assert acks(sim) == []
            sink.gate.set()
            await sink.wait_count(2)
            await wait_for(lambda: bool(acks(sim)), what="the 1030")
        finally:
            await connector.stop()
        assert acks(sim) == [(str(message(1).id), str(message(2).id))]


class CountingGate(GatedSink):
    """A GatedSink that counts the reports waiting at its gate."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = 0

    async def report(self, report: ProviderReport) -> None:
        self.waiting += 1
        await super().report(report)


@pytest.mark.parametrize("version", ["SAM10", "SAM11"])
async def test_the_results_of_one_1031_are_in_the_sink_together(version: str) -> None:
    # One at a time, each result would wait for the commit of the one before it: the
    # gateway's ledger could store only one result per commit.
    async with running() as (sim, http):
        connector = await make_connector(sim, http, version=version)
        sink = CountingGate()
        await connector.start(sink)
        messages = [message(i) for i in range(5)]
        try:
            await dispatch(connector, messages)  # one request: one result time
            await wait_for(
                lambda: sink.waiting == len(messages), what="5 reports at the gate"
            )
            sink.gate.set()
            await sink.wait_count(len(messages))
        finally:
            await connector.stop()
        assert sink.per_message() == {m.id: 1 for m in messages}


class FailingSink(RecordingSink):
    """Fails the first report it is given (a store outage)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    async def report(self, report: ProviderReport) -> None:
        if self.failures == 0:
            self.failures += 1
            raise OSError("database is locked")
        await super().report(report)


async def test_a_failing_sink_leaves_results_unacknowledged_for_the_next_session() -> (
    None
):
    async with running() as (sim, http):
        connector = await make_connector(sim, http, version="SAM11")
        sink = FailingSink()
        await connector.start(sink)
        messages = [message(i) for i in range(10)]
        await dispatch(connector, messages)
        await finish(connector, sink, sim, len(messages))
        assert sink.failures == 1
        assert sink.per_message() == {m.id: 1 for m in messages}
        assert sim.record.logins[Port.SMS_REPORT] == 2
        health = connector.health()
        assert health.refused == 1
        assert "database is locked" in health.last_refusal


@pytest.mark.parametrize("version", ["SAM10", "SAM11"])
async def test_idle_sessions_send_keepalives(version: str) -> None:
    async with running() as (sim, http):
        connector = await make_connector(
            sim,
            http,
            version=version,
            send_keepalive=0.05,
            report_keepalive=0.05,
            poll_interval=0.05,
        )
        await connector.start(RecordingSink())
        try:

            def empty(port: Port, command: int) -> int:
                return sum(
                    1
                    for f in sim.record.frames
                    if f.port is port and f.command == command and not f.msg_ids
                )

            await wait_for(
                lambda: (
                    empty(Port.SMS, Command.SMS_SEND) >= 2
                    and empty(Port.MMS, Command.LMS_SEND) >= 2
                    and empty(Port.SMS_REPORT, Command.RESULT_ACK) >= 2
                    and empty(Port.MMS_REPORT, Command.RESULT_ACK) >= 2
                ),
                what="keepalives on the four sessions",
            )
            assert connector.health().up
        finally:
            await connector.stop()


async def test_a_server_that_never_answers_times_out_and_is_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    connected = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        connected.set()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with running() as (sim, http):
            connector = await make_connector(
                sim, http, channels="SMS", request_timeout=0.2, sms_port=port
            )
            await connector.start(RecordingSink())
            try:
                assert connected.is_set()
                assert not connector.health().up
                await wait_for(
                    lambda: bool(events_logged(caplog, "ushot_session_lost")),
                    what="the timeout",
                )
                (line, *_) = events_logged(caplog, "ushot_session_lost")
                assert "no answer within 0.2 s" in line.getMessage()
                result = await connector.submit([message(1)])
                assert result[0].outcome is Outcome.RETRY
            finally:
                await connector.stop()
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()
