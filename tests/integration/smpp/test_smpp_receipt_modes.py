"""The simulator's receipt modes over real sockets: a receipt in the write of its
submit_sm_resp (``receipt_delay`` 0), before it (``early_receipts``), in bursts
(``receipt_burst``), with no window (``receipt_window`` 0), and never sent twice
(``resend_refused`` off). Each is met first by a peer that shares no code with
umsgate's connector (a few lines of asyncio over smpplib's PDU codec, or smpplib's
own client), then by the connector, which must get every receipt and refuse none.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from smpp_it import RecordingSink, connector, message
from smpplib import client as smpplib_client  # type: ignore[import-untyped]
from smpplib import smpp as smpplib_smpp

from umsgate.protocols.smpp import simulator
from umsgate.protocols.smpp.codes import CommandStatus
from umsgate.protocols.smpp.smsc import Smsc
from umsgate.testing import wait_for
from umsgate.types import Outcome, ProviderReport

ACCOUNT = {"esme": "pw"}
#: An answer policy: the deliver_sm_resp status for a receipt, or None to leave it
#: unanswered.
Answer = Callable[[Any], int | None]
#: smpplib's parser draws a sequence number before it reads the real one.
_PARSER_SEQUENCES = smpplib_client.SimpleSequenceGenerator()


def answer_ok(pdu: Any) -> int | None:
    return int(CommandStatus.ROK)


def answer_none(pdu: Any) -> int | None:
    return None


def wire(command: str, sequence: int, **fields: Any) -> bytes:
    """One PDU as smpplib encodes it."""
    # smpplib only skips its own sequence generator when given one, and then only
    # keeps it when set as an attribute.
    pdu = smpplib_smpp.make_pdu(command, sequence=sequence, **fields)
    pdu.sequence = sequence
    data: bytes = pdu.generate()
    return data


def submit_wire(sequence: int, text: str = "hello") -> bytes:
    return wire(
        "submit_sm",
        sequence,
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr="8215881234",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=f"8210{10000000 + sequence}",
        short_message=text.encode(),
        data_coding=0,
        registered_delivery=1,
    )


class RawEsme(asyncio.Protocol):
    """An ESME of a few lines: smpplib's codec over an asyncio socket. It keeps the
    PDUs of every read apart (`reads`): PDUs in one read left the SMSC in one write
    (on loopback a write of a few kilobytes arrives whole)."""

    def __init__(self, answer: Answer = answer_ok) -> None:
        self.answer = answer
        #: The PDUs completed by each read, in order.
        self.reads: list[list[Any]] = []
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.Event()
        self._buffer = b""
        self._sequence = 0
        self._changed = asyncio.Event()

    # asyncio side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data
        got: list[Any] = []
        while len(buffer) >= 4:
            length = int.from_bytes(buffer[:4], "big")
            if len(buffer) < length:
                break
            got.append(
                smpplib_smpp.parse_pdu(
                    buffer[:length],
                    client=_PARSER_SEQUENCES,
                    allow_unknown_opt_params=True,
                )
            )
            buffer = buffer[length:]
        self._buffer = buffer
        if not got:
            return
        self.reads.append(got)
        for pdu in got:
            if pdu.command == "deliver_sm":
                status = self.answer(pdu)
                if status is not None:
                    self.write(wire("deliver_sm_resp", pdu.sequence, status=status))
        self._changed.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()
        self._changed.set()

    # test side

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    @property
    def pdus(self) -> Iterator[Any]:
        return (pdu for read in self.reads for pdu in read)

    def of(self, command: str) -> list[Any]:
        return [pdu for pdu in self.pdus if pdu.command == command]

    async def until(
        self, condition: Callable[[], bool], what: str, within: float = 10.0
    ) -> None:
        """Wake at every read until ``condition`` holds."""
        try:
            async with asyncio.timeout(within):
                while not condition():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(f"no {what} within {within} s") from None

    async def count(self, command: str, n: int, within: float = 10.0) -> None:
        """Wake at every read until ``n`` PDUs of ``command`` came."""
        await self.until(lambda: len(self.of(command)) >= n, f"{n} {command}", within)

    async def bind(self, kind: str = "transceiver") -> None:
        self.write(
            wire(f"bind_{kind}", self.next_sequence(), system_id="esme", password="pw")
        )
        await self.until(lambda: bool(self.of(f"bind_{kind}_resp")), "bind_resp")
        assert self.of(f"bind_{kind}_resp")[0].status == 0

    async def submit(self, count: int) -> list[int]:
        """``count`` submit_sm in one write; their sequence numbers."""
        seqs = [self.next_sequence() for _ in range(count)]
        self.write(b"".join(submit_wire(seq) for seq in seqs))
        return seqs

    def resp_ids(self) -> dict[int, str]:
        """sequence → message id of every submit_sm_resp so far."""
        return {
            pdu.sequence: pdu.message_id.decode() for pdu in self.of("submit_sm_resp")
        }


async def raw_esme(sim: Smsc | int, answer: Answer = answer_ok) -> RawEsme:
    """A `RawEsme` connected to ``sim`` (or to a port)."""
    port = sim if isinstance(sim, int) else sim.port
    loop = asyncio.get_running_loop()
    _, esme = await asyncio.wait_for(
        loop.create_connection(lambda: RawEsme(answer), "127.0.0.1", port), 5
    )
    return esme


@contextlib.asynccontextmanager
async def sim_command(*args: str) -> AsyncIterator[tuple[int, list[str]]]:
    """``umsgate sim smpp ARGS`` as a process; its port, and the lines it prints
    when it stops (filled in on exit)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "umsgate.protocols.smpp.simulator",
        "--port",
        "0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    last: list[str] = []
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("listening smpp="), line
        yield int(line.rsplit(":", 1)[1]), last
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        last.extend((await proc.stdout.read()).decode().splitlines())
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def receipt_id(pdu: Any) -> str:
    rid: bytes = pdu.receipted_message_id
    return rid.decode()


# ------------------------------------------------------------------ the modes


async def test_receipt_at_zero_delay_rides_in_the_write_of_its_resp() -> None:
    # The simulator in a process of its own: in this process's loop, a write the
    # simulator made a loop turn later would still be read with the first.
    async with sim_command("--receipt-delay", "0") as (port, last):
        esme = await raw_esme(port)
        await esme.bind()
        for n in range(1, 21):
            [seq] = await esme.submit(1)
            await esme.count("deliver_sm", n)
            # One read: the submit_sm_resp, then its receipt right behind it.
            read = esme.reads[-1]
            assert [pdu.command for pdu in read] == ["submit_sm_resp", "deliver_sm"]
            assert read[0].sequence == seq
            assert receipt_id(read[1]) == read[0].message_id.decode()
        esme.write(wire("unbind", esme.next_sequence()))
        await asyncio.wait_for(esme.closed.wait(), 10)
    assert last[0] == "receipts sent 20, answered 20, refused 0, lost 0"


async def test_early_receipt_comes_before_its_resp_in_the_same_write() -> None:
    # Every receipt early, and a delay that would hold the others a minute.
    async with sim_command("--receipt-delay", "60", "--early-receipts", "1") as (
        port,
        last,
    ):
        esme = await raw_esme(port)
        await esme.bind()
        for n in range(1, 11):
            [seq] = await esme.submit(1)
            await esme.count("submit_sm_resp", n)
            read = esme.reads[-1]
            assert [pdu.command for pdu in read] == ["deliver_sm", "submit_sm_resp"]
            assert read[1].sequence == seq
            assert receipt_id(read[0]) == read[1].message_id.decode()
        esme.write(wire("unbind", esme.next_sequence()))
        await asyncio.wait_for(esme.closed.wait(), 10)
    assert last[0] == "receipts sent 10, answered 10, refused 0, lost 0; 10 early"


async def test_a_share_of_receipts_comes_early() -> None:
    async with simulator.running(
        accounts=ACCOUNT, receipt_delay=0, early_receipts=0.2, receipt_window=0
    ) as sim:
        esme = await raw_esme(sim)
        await esme.bind()
        await esme.submit(200)
        await esme.count("deliver_sm", 200)
        stream = [
            ("resp", pdu.message_id.decode())
            if pdu.command == "submit_sm_resp"
            else ("receipt", receipt_id(pdu))
            for pdu in esme.pdus
            if pdu.command in ("submit_sm_resp", "deliver_sm")
        ]
        early = 0
        for i, (kind, mid) in enumerate(stream):
            if kind == "resp":
                # Each receipt is next to its resp, before or after it.
                neighbours = stream[max(0, i - 1) : i] + stream[i + 1 : i + 2]
                assert ("receipt", mid) in neighbours, i
                early += stream[i - 1] == ("receipt", mid) if i else 0
        # A seeded draw of 20 %: 40 expected, sd 5.7.
        assert 20 <= early <= 60, early
        assert sim.stats.receipts_early == early


async def test_early_receipt_of_a_transmitter_goes_to_the_receiver() -> None:
    async with simulator.running(
        accounts=ACCOUNT, receipt_delay=60, early_receipts=1.0
    ) as sim:
        tx = await raw_esme(sim)
        rx = await raw_esme(sim)
        await tx.bind("transmitter")
        await rx.bind("receiver")
        await tx.submit(5)
        # Long before the minute of the delay.
        await rx.count("deliver_sm", 5, within=5)
        await tx.count("submit_sm_resp", 5)
        assert {receipt_id(p) for p in rx.of("deliver_sm")} == set(
            tx.resp_ids().values()
        )
        assert not tx.of("deliver_sm")


async def test_receipts_come_in_bursts() -> None:
    burst = 0.3
    async with simulator.running(
        accounts=ACCOUNT, receipt_delay=0, receipt_burst=burst, receipt_window=0
    ) as sim:
        esme = await raw_esme(sim)
        await esme.bind()
        # One submit at a time: at zero delay, or after a plain delay, their
        # receipts would leave one by one.
        started = time.monotonic()
        for n in range(1, 31):
            await esme.submit(1)
            await esme.count("submit_sm_resp", n)
        took = time.monotonic() - started
        await esme.count("deliver_sm", 30)
        reads = [
            [pdu for pdu in read if pdu.command == "deliver_sm"] for read in esme.reads
        ]
        groups = [len(read) for read in reads if read]
        # They came together: in as few writes as burst ticks passed while the
        # submits went, plus the one that ends them (reads may join two writes,
        # never split a small one).
        assert len(groups) <= int(took / burst) + 2, (took, groups)
        await wait_for(lambda: sim.stats.receipts_acked == 30, what="answers")


@pytest.mark.parametrize(("window", "sent"), [(0, 200), (50, 50)])
async def test_no_window_sends_every_receipt_at_once(window: int, sent: int) -> None:
    async with simulator.running(
        accounts=ACCOUNT, receipt_delay=0, receipt_window=window
    ) as sim:
        esme = await raw_esme(sim, answer_none)
        await esme.bind()
        await esme.submit(200)
        await esme.until(
            lambda: (
                len(esme.of("submit_sm_resp")) == 200
                and len(esme.of("deliver_sm")) >= sent
            ),
            "resps and receipts",
        )
        # Every submit is handled, and its receipt sent or queued, by now.
        assert len(esme.of("deliver_sm")) == sent
        assert sim.stats.receipts_sent == sim.stats.most_unanswered == sent
        assert sim.queued_receipts() == 200
        assert sim.stats.receipts_answered == 0


# ------------------------------------------------------------------ no resend


def smpplib_refuse_first(port: int, status: int, receipts: int) -> list[str]:
    """With smpplib's blocking client: bind, submit one message, refuse its first
    receipt with ``status`` and take any later one, until ``receipts`` came; unbind.
    Returns the receipted ids in order."""
    got: list[str] = []

    def received(pdu: Any) -> int:
        got.append(receipt_id(pdu))
        return status if len(got) == 1 else int(CommandStatus.ROK)

    client = smpplib_client.Client(
        "127.0.0.1", port, timeout=5, allow_unknown_opt_params=True
    )
    client.set_message_received_handler(received)
    client.connect()
    try:
        client.bind_transceiver(system_id="esme", password="pw")
        client.send_message(
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="8215881234",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="821012345678",
            short_message=b"refuse me once",
            registered_delivery=1,
        )
        for _ in range(20):  # the resp and the receipts (enquire_links aside)
            if len(got) >= receipts:
                break
            client.read_once(auto_send_enquire_link=False)
        client.unbind()
    finally:
        client.disconnect()
    return got


@pytest.mark.parametrize("status", [CommandStatus.RX_T_APPN, CommandStatus.RMSGQFUL])
@pytest.mark.parametrize("resend", [True, False], ids=["resend", "no-resend"])
async def test_a_refused_receipt_comes_again_only_with_resend(
    status: int, resend: bool
) -> None:
    async with simulator.running(
        accounts=ACCOUNT, receipt_delay=0, receipt_retry=0.05, resend_refused=resend
    ) as sim:
        got = await asyncio.wait_for(
            asyncio.to_thread(
                smpplib_refuse_first, sim.port, status, 2 if resend else 1
            ),
            30,
        )
        [submitted] = sim.submitted
        assert got == [submitted.message_id] * len(got)
        stats = sim.stats
        assert stats.receipts_refused == 1
        # Nothing waits to go again: the refused receipt was acknowledged on its
        # second sending, or given up.
        assert sim.queued_receipts() == 0
        if resend:
            assert len(got) == 2
            assert (stats.receipts_sent, stats.receipts_acked) == (2, 1)
            assert stats.receipts_lost == 0
        else:
            assert len(got) == 1
            assert (stats.receipts_sent, stats.receipts_acked) == (1, 0)
            assert stats.receipts_lost == 1
        assert stats.receipts_answered == stats.receipts_sent


@pytest.mark.parametrize("resend", [True, False], ids=["resend", "no-resend"])
async def test_a_receipt_unanswered_when_its_session_ends(resend: bool) -> None:
    async with simulator.running(
        accounts=ACCOUNT, receipt_delay=0, resend_refused=resend
    ) as sim:
        esme = await raw_esme(sim, answer_none)
        await esme.bind()
        await esme.submit(3)
        await esme.count("deliver_sm", 3)
        assert esme.transport is not None
        esme.transport.close()
        await wait_for(lambda: not sim.connections(), what="the session's end")
        if not resend:
            assert sim.stats.receipts_lost == 3
            assert sim.queued_receipts() == 0
            return
        assert sim.stats.receipts_lost == 0
        assert sim.queued_receipts() == 3
        again = await raw_esme(sim)
        await again.bind()
        await wait_for(lambda: sim.stats.receipts_acked == 3, what="the receipts again")
        assert {receipt_id(p) for p in again.of("deliver_sm")} == {
            receipt_id(p) for p in esme.of("deliver_sm")
        }


@pytest.mark.parametrize("resend", [True, False], ids=["resend", "no-resend"])
async def test_a_receipt_whose_answer_times_out(resend: bool) -> None:
    async with simulator.running(
        accounts=ACCOUNT,
        receipt_delay=0,
        receipt_retry=0.05,
        response_timeout=0.2,
        resend_refused=resend,
    ) as sim:
        esme = await raw_esme(sim, answer_none)
        await esme.bind()
        await esme.submit(1)
        if resend:
            # The same receipt again on the same session, after the timeout.
            await esme.count("deliver_sm", 2)
            first, second = esme.of("deliver_sm")
            assert receipt_id(first) == receipt_id(second)
            assert sim.stats.receipts_lost == 0
        else:
            await wait_for(lambda: sim.stats.receipts_lost == 1, what="the loss")
            assert len(esme.of("deliver_sm")) == 1
            assert sim.queued_receipts() == 0


# ------------------------------------------------------------------ the connector


class GatedSink(RecordingSink):
    """Holds every report until `gate` opens, as a store that is slow to commit."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def report(self, report: ProviderReport) -> None:
        await self.gate.wait()
        await super().report(report)


@dataclasses.dataclass(frozen=True)
class Mode:
    name: str
    sim: dict[str, Any]


MODES = [
    Mode("zero-delay", {"receipt_delay": 0}),
    Mode("early", {"receipt_delay": 0, "early_receipts": 0.2}),
    Mode("all-early", {"receipt_delay": 0, "early_receipts": 1.0}),
    Mode("bursts", {"receipt_delay": 0, "receipt_burst": 0.1}),
    Mode("no-window", {"receipt_delay": 0, "receipt_window": 0}),
    Mode(
        "everything",
        {
            "receipt_delay": 0,
            "early_receipts": 0.2,
            "receipt_burst": 0.05,
            "receipt_window": 0,
        },
    ),
]


@pytest.mark.parametrize("bind", ["transceiver", "transmitter+receiver"])
@pytest.mark.parametrize("mode", MODES, ids=[m.name for m in MODES])
async def test_connector_gets_every_receipt_and_refuses_none(
    mode: Mode, bind: str
) -> None:
    async with simulator.running(
        accounts=ACCOUNT, resend_refused=False, **mode.sim
    ) as sim:
        # A receipt window well under what the SMSC sends at once.
        conn = connector(sim, bind=bind, window=20, receipt_window=10)
        sink = RecordingSink()
        await conn.start(sink)
        try:
            messages = [
                message(i, "긴 메시지 " * 20 if i % 10 == 0 else f"message {i}")
                for i in range(300)
            ]
            results = await conn.submit(messages)
            assert {r.outcome for r in results} == {Outcome.ACCEPTED}
            parts = [pid for r in results for pid in r.segment_ids]
            assert len(parts) > len(messages)
            await sink.wait_count(len(parts))
            assert sorted(sink.by_id()) == sorted(parts)
            assert all(len(reports) == 1 for reports in sink.by_id().values())
            await wait_for(
                lambda: sim.stats.receipts_acked == len(parts), what="every answer"
            )
            assert conn.health().refused == 0
            stats = sim.stats
            assert (stats.receipts_refused, stats.receipts_lost) == (0, 0)
            assert stats.receipts_sent == len(parts)
        finally:
            await conn.stop()


async def test_connector_holds_a_flood_of_receipts_and_refuses_none() -> None:
    # The SMSC ignores windows and never sends a receipt twice; the connector takes
    # ten receipts, then leaves the rest in the socket until its store answers.
    async with simulator.running(
        accounts=ACCOUNT, receipt_delay=0, receipt_window=0, resend_refused=False
    ) as sim:
        conn = connector(sim, window=20, receipt_window=10)
        sink = GatedSink()
        await conn.start(sink)
        try:
            submitting = asyncio.create_task(
                conn.submit([message(i, f"message {i}") for i in range(200)])
            )
            await wait_for(
                lambda: sim.stats.receipts_sent > 10, what="more than the window"
            )
            sink.gate.set()
            results = await asyncio.wait_for(submitting, 30)
            assert {r.outcome for r in results} == {Outcome.ACCEPTED}
            await sink.wait_count(200)
            await wait_for(lambda: sim.stats.receipts_acked == 200, what="answers")
            assert (sim.stats.receipts_refused, sim.stats.receipts_lost) == (0, 0)
            assert conn.health().refused == 0
        finally:
            await conn.stop()
