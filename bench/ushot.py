"""Benchmark: messages per second through the UShot connector into the simulator.

By default the simulator runs as a separate process (``python -m
umsgate.protocols.ushot.simulator``, the same code as ``umsgate sim ushot``), so the
connector and the simulator each have a core; ``--same-loop`` runs both in this
process's event loop instead. Messages are submitted the way the dispatcher does it:
batches of ``--batch`` messages, ``--concurrency`` submits in flight.

Prints, for the chosen version and channel:
* accepted/s — from the first submit until every message is ACCEPTED (send session
  throughput: requests of up to 30 records, one in flight per session, as the seed
  demands);
* reported/s — from the first submit until every message has its DELIVERED report.

Usage::

    .venv/bin/python bench/ushot.py --messages 20000 --version SAM11
    .venv/bin/python bench/ushot.py --messages 20000 --version SAM10 --same-loop
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from umsgate.config import ConnectorSettings
from umsgate.domain.message import Channel, Message
from umsgate.protocols.registry import ConnectorContext, Endpoint
from umsgate.protocols.ushot.codes import Port
from umsgate.protocols.ushot.connector import build
from umsgate.protocols.ushot.simbackend import Account
from umsgate.protocols.ushot.simulator import UShotSimulator
from umsgate.types import Outcome, ProviderReport

ID_BASE = 100_000_000_000_000_000


class Clock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class CountingSink:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.codes: collections.Counter[str] = collections.Counter()
        self.done = asyncio.Event()
        self.count = 0

    async def report(self, report: ProviderReport) -> None:
        self.count += 1
        self.codes[report.code.name] += 1
        if self.count >= self.expected:
            self.done.set()


class NoFiles:
    async def load(self, file_id: str) -> tuple[str, bytes]:
        raise KeyError(file_id)


def _no_route(path: str, endpoint: Endpoint, methods: object) -> None:
    raise AssertionError("no routes")


@asynccontextmanager
async def simulator(same_loop: bool, delay: float) -> AsyncIterator[dict[Port, int]]:
    if same_loop:
        sim = UShotSimulator(
            accounts=[Account(user_id="bench", password="bench")], result_delay=delay
        )
        async with sim:
            yield sim.ports
        return
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "umsgate.protocols.ushot.simulator",
        "--base-port",
        "0",
        "--account",
        "bench:bench",
        "--delay",
        str(delay),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            line = (await proc.stdout.readline()).decode()
        found = dict(re.findall(r"(\w+)=[\d.]+:(\d+)", line))
        yield {port: int(found[port.value]) for port in Port}
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await proc.wait()


def messages(n: int, channel: Channel) -> list[Message]:
    now = dt.datetime.now(dt.UTC)
    content = "벤치마크 메시지" if channel is Channel.SMS else "긴 메시지 " * 100
    return [
        Message(
            id=ID_BASE + i,
            client_id="bench",
            src_msg_id=str(i),
            channel=channel,
            sender="+8215881234",
            receiver=f"+8210{10_000_000 + i % 80_000_000:08d}",
            content=content,
            subject="제목" if channel is not Channel.SMS else "",
            created_at=now,
            due_at=now,
        )
        for i in range(n)
    ]


async def run(args: argparse.Namespace) -> None:
    channel = Channel(args.channel)
    batch = messages(args.messages, channel)
    async with (
        simulator(args.same_loop, args.delay) as ports,
        httpx.AsyncClient() as http,
    ):
        settings = ConnectorSettings(
            name="bench",
            protocol="ushot",
            options={
                "user_id": "bench",
                "password": "bench",
                "host": "127.0.0.1",
                "version": args.version,
                "sms_port": ports[Port.SMS],
                "sms_report_port": ports[Port.SMS_REPORT],
                "mms_port": ports[Port.MMS],
                "mms_report_port": ports[Port.MMS_REPORT],
                "poll_interval": 0.1,
            },
        )
        context = ConnectorContext(
            http=http,
            files=NoFiles(),
            add_route=_no_route,
            public_url="",
            clock=Clock(),
        )
        connector = build(settings, context)
        sink = CountingSink(len(batch))
        await connector.start(sink)
        try:
            assert connector.health().up, connector.health()
            chunks = [
                batch[i : i + args.batch] for i in range(0, len(batch), args.batch)
            ]
            queue: asyncio.Queue[list[Message]] = asyncio.Queue()
            for chunk in chunks:
                queue.put_nowait(chunk)
            outcomes: collections.Counter[Outcome] = collections.Counter()

            async def worker() -> None:
                while not queue.empty():
                    chunk = queue.get_nowait()
                    for result in await connector.submit(chunk):
                        outcomes[result.outcome] += 1

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            accepted_at = time.perf_counter() - start
            async with asyncio.timeout(600):
                await sink.done.wait()
            reported_at = time.perf_counter() - start
        finally:
            await connector.stop()
    n = len(batch)
    mode = "same loop" if args.same_loop else "simulator in a separate process"
    print(f"ushot {args.version} {channel.value}, {n} messages, {mode}")
    print(f"  outcomes: {dict((k.value, v) for k, v in outcomes.items())}")
    print(f"  reports:  {dict(sink.codes)}")
    print(f"  accepted: {n / accepted_at:,.0f} msg/s ({accepted_at:.2f} s)")
    print(
        f"  reported: {n / reported_at:,.0f} msg/s ({reported_at:.2f} s, result delay "
        f"{args.delay:g} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--version", choices=["SAM10", "SAM11"], default="SAM11")
    parser.add_argument("--channel", choices=["SMS", "LMS"], default="SMS")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.05, help="result delay (s)")
    parser.add_argument("--same-loop", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
