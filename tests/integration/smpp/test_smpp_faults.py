"""Faults caused for real over TCP: dropped connections, throttling, late receipts,
malformed PDUs, silent links, refused binds, slow answers, a failing sink."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time

import pytest
from smpp_it import RecordingSink, connector, message, submit_all

from umsgate.domain.results import ResultCode
from umsgate.errors import TransientConnectorError
from umsgate.protocols.smpp import pdu as pdus
from umsgate.protocols.smpp import simulator
from umsgate.protocols.smpp.codes import CommandId, CommandStatus
from umsgate.protocols.smpp.connection import Connection
from umsgate.protocols.smpp.smsc import Smsc
from umsgate.testing import wait_for
from umsgate.types import Outcome


def paused(connection: Connection) -> bool:
    return connection.write_paused


async def bound(sim: Smsc, binds: int) -> None:
    await wait_for(
        lambda: sim.stats.binds >= binds and bool(sim.connections()), what="bind"
    )


async def test_drop_mid_window_retries_and_loses_nothing() -> None:
    async with simulator.running(accounts={"esme": "pw"}, receipt_delay=0.05) as sim:
        conn = connector(sim, window=20)
        sink = RecordingSink()
        await conn.start(sink)
        try:
            # The 60th PDU from now kills the connection, with submits in flight.
            sim.faults.drop_after = 60
            messages = [message(i, f"message {i}") for i in range(300)]
            final, retries = await submit_all(conn, messages)
            assert sim.stats.drops == 1 and sim.stats.binds == 2
            assert retries, "the drop must have caught submits in flight"
            assert {r.code for r in retries} <= {ResultCode.CONNECTION_ERROR}
            assert all(r.outcome is Outcome.ACCEPTED for r in final.values())
            assert len(final) == len(messages)
            # Every accepted message gets its receipt; a part the SMSC took just
            # before the drop was sent again (at-least-once), so the SMSC may hold
            # more parts than messages, never fewer.
            ids = {r.provider_msg_id for r in final.values()}
            await wait_for(lambda: ids <= set(sink.by_id()), what="every receipt")
            assert sim.stats.submits >= len(messages)
        finally:
            await conn.stop()


async def test_throttling_slows_the_route_and_everything_succeeds() -> None:
    async with simulator.running(
        accounts={"esme": "pw"}, receipt_delay=0.05, tps=400
    ) as sim:
        conn = connector(sim, window=20, throttle_hold=0.3)
        sink = RecordingSink()
        await conn.start(sink)
        try:
            messages = [message(i, f"message {i}") for i in range(600)]
            started = time.monotonic()
            results = await conn.submit(messages)
            elapsed = time.monotonic() - started
            # One submit call: the throttled parts were re-submitted inside the
            # connector, none came back RETRY or REJECTED.
            assert {r.outcome for r in results} == {Outcome.ACCEPTED}
            assert sim.stats.throttled > 0
            assert sim.stats.submits == 600
            # 400/s with a 40-submit burst: at least (600 - 40) / 400 s.
            assert elapsed >= 1.3
            health = conn.health()
            assert health.up
            await sink.wait_count(600)
        finally:
            await conn.stop()


async def test_throttled_too_long_comes_back_retry_with_a_delay() -> None:
    async with simulator.running(accounts={"esme": "pw"}, tps=1) as sim:
        conn = connector(sim, throttle_retries=0, throttle_hold=0.5)
        await conn.start(RecordingSink())
        try:
            results = await conn.submit([message(i, "x") for i in range(5)])
            retried = [r for r in results if r.outcome is Outcome.RETRY]
            assert retried
            assert all(r.code is ResultCode.THROTTLED for r in retried)
            assert all(r.retry_after == 0.5 for r in retried)
            assert all(r.raw_code == "ESME_RTHROTTLED" for r in retried)
        finally:
            await conn.stop()


async def test_receipts_outlive_the_connector_that_sent_the_messages() -> None:
    async with simulator.running(accounts={"esme": "pw"}, receipt_delay=0.01) as sim:
        sim.hold_receipts(True)
        first = connector(sim)
        first_sink = RecordingSink()
        await first.start(first_sink)
        results = await first.submit([message(i, f"late {i}") for i in range(50)])
        assert {r.outcome for r in results} == {Outcome.ACCEPTED}
        await wait_for(lambda: sim.queued_receipts() == 50, what="receipts queued")
        await first.stop()
        second = connector(sim)
        second_sink = RecordingSink()
        await second.start(second_sink)
        try:
            sim.hold_receipts(False)
            await second_sink.wait_count(50)
            assert {r.provider_msg_id for r in second_sink.reports} == {
                r.provider_msg_id for r in results
            }
            assert first_sink.reports == []
        finally:
            await second.stop()


async def test_unacknowledged_receipts_go_to_the_next_session() -> None:
    # Receipts in flight when the session drops are sent again on the next one.
    async with simulator.running(
        accounts={"esme": "pw"}, receipt_delay=0.01, receipt_window=5
    ) as sim:
        conn = connector(sim)
        sink = RecordingSink()
        sink_started = asyncio.Event()
        release = asyncio.Event()
        record = sink.report_many

        async def slow_report(reports: object) -> None:
            sink_started.set()
            await asyncio.wait_for(release.wait(), 10)
            await record(reports)  # type: ignore[arg-type]

        sink.report_many = slow_report  # type: ignore[method-assign]
        await conn.start(sink)
        try:
            await conn.submit([message(i, "x") for i in range(20)])
            await asyncio.wait_for(sink_started.wait(), 10)
            sim.drop_connections()
            release.set()
            await bound(sim, 2)
            await wait_for(
                lambda: len(sink.by_id()) == 20 and sim.queued_receipts() == 0,
                what="every receipt on the new session",
            )
            assert sim.stats.receipts_sent > 20  # some went twice
        finally:
            await conn.stop()


async def test_a_failing_sink_gets_the_receipt_again() -> None:
    async with simulator.running(
        accounts={"esme": "pw"}, receipt_delay=0.01, receipt_retry=0.1
    ) as sim:
        conn = connector(sim)
        sink = RecordingSink()
        sink.fail = 3
        await conn.start(sink)
        try:
            results = await conn.submit([message(i, "x") for i in range(5)])
            await sink.wait_count(5)
            assert sink.failures == 3
            # Answered ESME_RX_T_APPN: each failed commit refuses the receipts
            # handed over together (those of one loop turn), and each is counted.
            assert sim.stats.receipts_refused >= 3
            assert conn.health().refused == sim.stats.receipts_refused
            assert "the store is down" in conn.health().last_refusal
            assert {r.provider_msg_id for r in sink.reports} == {
                r.provider_msg_id for r in results
            }
        finally:
            await conn.stop()


def _truncated_tlv() -> bytes:
    receipt = pdus.DeliverSm(sequence=79, destination_addr="1", esm_class=4)
    body = pdus.encode(receipt)[16:] + struct.pack(">HH", 0x001E, 40) + b"abc"
    return struct.pack(">IIII", 16 + len(body), CommandId.DELIVER_SM, 0, 79) + body


MALFORMED = {
    "command_length under 16": struct.pack(">IIII", 12, CommandId.DELIVER_SM, 0, 77),
    "unknown command_id": struct.pack(">IIII", 16, 0x00000103, 0, 78),
    "truncated TLV": _truncated_tlv(),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
async def test_malformed_pdu_closes_the_session_and_the_connector_reconnects(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    raw = MALFORMED[kind]
    async with simulator.running(accounts={"esme": "pw"}, receipt_delay=0.01) as sim:
        conn = connector(sim)
        await conn.start(RecordingSink())
        try:
            with caplog.at_level(logging.INFO, logger="umsgate.protocols.smpp"):
                assert sim.inject(raw) == 1
                await bound(sim, 2)
            lines = [
                r
                for r in caplog.records
                if getattr(r, "event", "") == "smpp.malformed_pdu"
            ]
            assert len(lines) == 1
            assert "malformed PDU" in lines[0].getMessage()
            assert lines[0].levelno == logging.WARNING
            [result] = await conn.submit([message(1, "after the reconnect")])
            assert result.outcome is Outcome.ACCEPTED
        finally:
            await conn.stop()


async def test_silent_link_is_closed_and_rebound() -> None:
    async with simulator.running(accounts={"esme": "pw"}) as sim:
        sim.faults.ignore_enquire_link = True
        conn = connector(sim, enquire_link_interval=0.1, response_timeout=0.2)
        await conn.start(RecordingSink())
        try:
            await bound(sim, 2)  # the first session died of silence
            sim.faults.ignore_enquire_link = False
            [result] = await conn.submit([message(1, "x")])
            assert result.outcome is Outcome.ACCEPTED
        finally:
            await conn.stop()


async def test_connector_answers_the_smscs_enquire_link() -> None:
    async with simulator.running(
        accounts={"esme": "pw"}, enquire_link_interval=0.05, response_timeout=0.5
    ) as sim:
        conn = connector(sim, enquire_link_interval=30)
        await conn.start(RecordingSink())
        try:
            await wait_for(
                lambda: sim.stats.enquire_links_sent >= 5, what="enquire_links"
            )
            assert sim.stats.binds == 1 and len(sim.connections()) == 1
        finally:
            await conn.stop()


async def test_wrong_password() -> None:
    async with simulator.running(accounts={"esme": "pw"}) as sim:
        conn = connector(sim, password="nope", connect_timeout=0.3)
        await conn.start(RecordingSink())
        try:
            health = conn.health()
            assert not health.up
            assert "ESME_RINVPASWD" in health.detail
            with pytest.raises(TransientConnectorError, match="RINVPASWD"):
                await conn.submit([message(1, "x")])
        finally:
            await conn.stop()


async def test_no_smsc_at_all() -> None:
    async with simulator.running() as sim:
        gone = connector(sim, connect_timeout=0.3)  # its port is free once it closes
    await gone.start(RecordingSink())
    try:
        assert not gone.health().up
        assert "cannot connect" in gone.health().detail
        with pytest.raises(TransientConnectorError):
            await gone.submit([message(1, "x")])
    finally:
        await gone.stop()


async def test_slow_answers_time_out_as_retry() -> None:
    async with simulator.running(accounts={"esme": "pw"}) as sim:
        sim.faults.resp_delay = 0.5
        conn = connector(sim, response_timeout=0.2, enquire_link_interval=30)
        await conn.start(RecordingSink())
        try:
            [result] = await conn.submit([message(1, "x")])
            assert result.outcome is Outcome.RETRY
            assert result.code is ResultCode.TIMEOUT
            sim.faults.resp_delay = 0
            [result] = await conn.submit([message(1, "x")])
            assert result.outcome is Outcome.ACCEPTED
        finally:
            await conn.stop()


@pytest.mark.parametrize("mode", ["sar", "payload"])
async def test_other_long_message_modes(mode: str) -> None:
    async with simulator.running(accounts={"esme": "pw"}, receipt_delay=0.01) as sim:
        conn = connector(sim, long_message=mode)
        sink = RecordingSink()
        await conn.start(sink)
        try:
            text = "A long message. " * 25
            [result] = await conn.submit([message(1, text)])
            assert result.outcome is Outcome.ACCEPTED and result.segments == 3
            expected_ids = 3 if mode == "sar" else 1
            assert len(result.segment_ids) == expected_ids
            await sink.wait_count(expected_ids)
            parts = [s for s in sim.submitted]
            assert "".join(p.text for p in parts) == text
            if mode == "sar":
                assert [p.concat.seqnum for p in parts if p.concat] == [1, 2, 3]
        finally:
            await conn.stop()


async def test_resume_asks_query_sm() -> None:
    async with simulator.running(
        accounts={"esme": "pw"}, receipt_delay=0.01, mix="UNDELIV=1"
    ) as sim:
        sim.hold_receipts(True)
        conn = connector(sim)
        sink = RecordingSink()
        await conn.start(sink)
        try:
            msg = message(1, "x")
            [result] = await conn.submit([msg])
            await wait_for(
                lambda: (
                    sim.message_state(result.provider_msg_id or "") is not None
                    and sim.queued_receipts() == 1
                    and not sim._scheduled
                ),
                what="the outcome decided",
            )
            sent = msg.__class__(
                **{
                    **{f: getattr(msg, f) for f in msg.__dataclass_fields__},
                    "provider_msg_id": result.provider_msg_id,
                }
            )
            await conn.resume([sent])
            [report] = sink.reports
            assert report.provider_msg_id == result.provider_msg_id
            assert report.code is ResultCode.FAILED
            assert report.raw_code == "UNDELIV/027"
        finally:
            await conn.stop()


async def write_until_stalled(sock: socket.socket, data: bytes, *, stall: float) -> int:
    """Write ``data`` to a non-blocking socket until it is all written or the socket
    takes nothing for ``stall`` seconds; the bytes written."""
    loop = asyncio.get_running_loop()
    pos = 0
    while pos < len(data):
        try:
            pos += sock.send(data[pos : pos + 65536])
            continue
        except BlockingIOError:
            pass
        writable: asyncio.Future[None] = loop.create_future()

        def ready(fut: asyncio.Future[None] = writable) -> None:
            if not fut.done():
                fut.set_result(None)

        loop.add_writer(sock, ready)
        try:
            await asyncio.wait_for(writable, stall)
        except TimeoutError:
            return pos
        finally:
            loop.remove_writer(sock)
    return pos


async def test_a_peer_that_does_not_read_is_not_buffered_without_end() -> None:
    # An ESME floods enquire_links and never reads the answers: once the socket
    # buffers fill, the simulator stops reading it instead of queueing answers.
    loop = asyncio.get_running_loop()
    async with simulator.running() as sim:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Modest kernel buffers on both sides (still above the loopback MSS, or TCP
        # would stall on a tiny window), so that the flood stays small.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", sim.port)), 5)
            bind = pdus.encode(pdus.BindTransceiver(sequence=1, system_id="e"))
            await asyncio.wait_for(loop.sock_sendall(sock, bind), 5)
            await bound(sim, 1)
            [connection] = sim.connections()
            assert connection.transport is not None
            sim_sock = connection.transport.get_extra_info("socket")
            sim_sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            sim_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 131072)
            size = len(pdus.encode(pdus.EnquireLink(sequence=2)))
            flood = b"".join(  # at most 6.4 MB of requests
                pdus.encode(pdus.EnquireLink(sequence=s)) for s in range(2, 400_002)
            )
            written = await write_until_stalled(sock, flood, stall=0.5)
            if written == len(flood):
                pytest.fail("the simulator kept reading a peer that does not read")
            # Counted by the byte: the last request may be cut, its rest goes
            # once the simulator reads again.
            sent, cut = divmod(written, size)
            rest = flood[written : written + (size - cut)] if cut else b""
            sent += bool(cut)
            assert paused(connection)
            assert connection.transport.get_write_buffer_size() < 1_000_000
            assert sim.stats.enquire_links < sent
            # Reading again lets everything through: every request is answered.
            finish = asyncio.ensure_future(loop.sock_sendall(sock, rest))
            got = 0
            for _ in range(100_000):
                if got >= 16 * sent:  # the answers (and the bind_resp before them)
                    break
                data = await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), 10)
                assert data
                got += len(data)
            await asyncio.wait_for(finish, 5)
            await wait_for(
                lambda: sim.stats.enquire_links == sent, what="every request read"
            )
            assert not paused(connection)
            assert connection.alive
        finally:
            sock.close()


async def test_smsc_unbind_is_answered_and_the_connector_binds_again() -> None:
    async with simulator.running(accounts={"esme": "pw"}, receipt_delay=0.01) as sim:
        conn = connector(sim)
        sink = RecordingSink()
        await conn.start(sink)
        try:
            assert sim.unbind() == 1
            await bound(sim, 2)
            [result] = await conn.submit([message(1, "after the SMSC's unbind")])
            assert result.outcome is Outcome.ACCEPTED
            await sink.wait_count(1)
        finally:
            await conn.stop()


async def test_configured_tps_paces_the_route() -> None:
    async with simulator.running(accounts={"esme": "pw"}, tps=250) as sim:
        conn = connector(sim, tps=200, window=20)
        await conn.start(RecordingSink())
        try:
            started = time.monotonic()
            results = await conn.submit([message(i, "x") for i in range(120)])
            elapsed = time.monotonic() - started
            assert {r.outcome for r in results} == {Outcome.ACCEPTED}
            # 200/s with a 10-message burst: at least 110 / 200 s; and under the
            # simulator's 250/s, so it never had to refuse one.
            assert elapsed >= 0.5
            assert sim.stats.throttled == 0
        finally:
            await conn.stop()


async def test_refusals_for_the_first_submits_then_acceptance() -> None:
    """``faults.refuse_status`` with a count: ESME_RSYSERR (transient) for the next
    three submits, then the SMSC takes them."""
    async with simulator.running(accounts={"esme": "pw"}, receipt_delay=0.05) as sim:
        conn = connector(sim)
        await conn.start(RecordingSink())
        try:
            sim.faults.refuse_status = CommandStatus.RSYSERR
            sim.faults.refuse_count = 3
            first = await conn.submit([message(i, f"m{i}") for i in range(5)])
            retried = [r for r in first if r.outcome is Outcome.RETRY]
            assert len(retried) == 3 and sim.stats.refused == 3
            assert {(r.code, r.raw_code) for r in retried} == {
                (ResultCode.PROVIDER_ERROR, "ESME_RSYSERR")
            }
            again = await conn.submit([message(i, f"m{i}") for i in range(5, 10)])
            assert {r.outcome for r in again} == {Outcome.ACCEPTED}
            assert sim.faults.refuse_status is None  # the switch turned itself off
        finally:
            await conn.stop()


async def test_refusals_for_a_while_with_a_permanent_status() -> None:
    """``faults.refuse_until``: ESME_RINVDSTADR (permanent: INVALID_NUMBER) until a
    time of the simulator's loop, then the SMSC takes them."""
    async with simulator.running(accounts={"esme": "pw"}, receipt_delay=0.05) as sim:
        conn = connector(sim)
        await conn.start(RecordingSink())
        try:
            loop = asyncio.get_running_loop()
            sim.faults.refuse_status = CommandStatus.RINVDSTADR
            sim.faults.refuse_until = loop.time() + 0.3
            refused = await conn.submit([message(1, "m1")])
            assert [(r.outcome, r.code) for r in refused] == [
                (Outcome.REJECTED, ResultCode.INVALID_NUMBER)
            ]
            await wait_for(lambda: loop.time() > sim.faults.refuse_until, timeout=5)
            taken = await conn.submit([message(2, "m2")])
            assert [r.outcome for r in taken] == [Outcome.ACCEPTED]
        finally:
            await conn.stop()


async def test_a_closed_simulator_starts_again_with_its_receipts() -> None:
    """Closing drops every session for real; started again on the same port, the
    SMSC sends the receipts it held to the ESME that binds again."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with simulator.running(
        accounts={"esme": "pw"}, port=port, receipt_delay=0.5
    ) as sim:
        conn = connector(sim, reconnect_initial=0.05, reconnect_max=0.1)
        sink = RecordingSink()
        await conn.start(sink)
        try:
            results = await conn.submit([message(i, f"m{i}") for i in range(5)])
            assert {r.outcome for r in results} == {Outcome.ACCEPTED}
            await sim.close()
            await wait_for(lambda: not conn.health().up, what="the connector down")
            assert not sink.reports
            await sim.start()
            assert sim.port == port
            await sink.wait_count(5, within=10)
            ids = {r.provider_msg_id for r in results}
            assert set(sink.by_id()) == ids
        finally:
            await conn.stop()


async def test_a_connection_that_never_binds_is_closed() -> None:
    """A socket that connects and sends nothing, and one that trickles a bind a
    byte a second, are both closed ``bind_timeout`` after they opened; an ESME
    that binds in time is not."""
    async with simulator.running(accounts={"esme": "pw"}, bind_timeout=1.0) as sim:
        bind = pdus.BindTransceiver(sequence=1, system_id="esme", password="pw")
        wire = pdus.encode(bind)
        silent = await asyncio.open_connection("127.0.0.1", sim.port)
        slow = await asyncio.open_connection("127.0.0.1", sim.port)
        started = time.monotonic()

        async def trickle() -> None:
            for byte in wire:
                slow[1].write(bytes([byte]))
                try:
                    await slow[1].drain()
                except ConnectionError:
                    return
                await asyncio.sleep(1.0)

        sender = asyncio.create_task(trickle())
        try:
            for reader, _ in (silent, slow):
                async with asyncio.timeout(5):
                    try:
                        assert await reader.read() == b""
                    except ConnectionResetError:
                        pass
            assert time.monotonic() - started < 1.0 + 1.5
        finally:
            sender.cancel()
            for _, writer in (silent, slow):
                writer.close()
        conn = connector(sim)
        await conn.start(RecordingSink())
        try:
            await bound(sim, 1)
            await asyncio.sleep(1.5)
            assert sim.stats.binds == 1 and len(sim.connections()) == 1
        finally:
            await conn.stop()


async def test_connections_per_address_are_capped() -> None:
    async with simulator.running(max_connections_per_client=2) as sim:
        held = [await asyncio.open_connection("127.0.0.1", sim.port) for _ in range(2)]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
            async with asyncio.timeout(5):
                try:
                    assert await reader.read() == b""
                except ConnectionResetError:
                    pass
            writer.close()
        finally:
            for _, w in held:
                w.close()
        # Once they are gone the address may connect again.
        conn = connector(sim)
        await conn.start(RecordingSink())
        try:
            await bound(sim, 1)
        finally:
            await conn.stop()
