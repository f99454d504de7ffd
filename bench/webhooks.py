"""Benchmark: CPU per webhook POST of the notifier's HTTP client, and of aiohttp.

Starts the lean receiver of the end-to-end benchmark (``bench/e2e_receiver.py``) in
its own process, then POSTs N report-sized JSON bodies at the given concurrency from
this process (uvloop), first with `umsgate.reports.http11.Http11Client`, then with
aiohttp when it is installed (``.venv/bin/pip install aiohttp``), and prints each
client's requests/s and CPU µs per POST (this process's CPU time over the run).

    .venv/bin/python bench/webhooks.py [--n 20000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop

from umsgate import targets
from umsgate.reports.http11 import Http11Client

BODY = (
    b'{"umsMsgId":"123456789012345678","srcMsgId":"bench-1","resultCode":"-100",'
    b'"resultMessage":"SM_STATE_DELIVERED","receiver":"01012345678",'
    b'"reportTime":"20261201120000","carrier":"SKT","channel":"SMS"}'
)
HEADERS = {
    "Content-Type": "application/json; charset=UTF-8",
    "X-Umsgate-Signature": "t=1764590400,v1=" + "0" * 64,
}

Post = Callable[[], Awaitable[None]]
Run = Callable[[str, int, int], Awaitable[tuple[float, float]]]


async def drive(post: Post, n: int, concurrency: int) -> tuple[float, float]:
    """(seconds, CPU seconds of this process) for n POSTs."""
    counter = iter(range(n))

    async def worker() -> None:
        for _ in counter:
            await post()

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0, time.process_time() - cpu0


async def lean(url: str, n: int, concurrency: int) -> tuple[float, float]:
    # The receiver is on 127.0.0.1, which the default policy refuses.
    client = Http11Client(
        user_agent="umsgate-bench", policy=targets.Policy(allow_private=True)
    )

    async def post() -> None:
        status, answer = await client.post(url, BODY, HEADERS, 10)
        assert status == 200 and answer == b"OK"

    try:
        await post()
        return await drive(post, n, concurrency)
    finally:
        await client.close()


async def with_aiohttp(url: str, n: int, concurrency: int) -> tuple[float, float]:
    import aiohttp

    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        auto_decompress=False,
    )

    async def post() -> None:
        async with session.post(
            url, data=BODY, headers=HEADERS, allow_redirects=False
        ) as r:
            answer = await r.content.read(1024)
            assert r.status == 200 and answer == b"OK"

    try:
        await post()
        return await drive(post, n, concurrency)
    finally:
        await session.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    receiver = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "e2e_receiver.py")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout is not None
        port = int(receiver.stdout.readline().split()[1])
        url = f"http://127.0.0.1:{port}/v1/message/report"
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
        )
        runs: list[tuple[str, Run]] = [("umsgate http11", lean)]
        try:
            import aiohttp  # noqa: F401
        except ImportError:
            print("aiohttp is not installed: only the notifier's client is measured")
        else:
            runs.append(("aiohttp", with_aiohttp))
        for name, run in runs:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                wall, cpu = runner.run(run(url, args.n, args.concurrency))
            print(
                f"{name:>15}: {args.n / wall:7.0f} POST/s, "
                f"{cpu / args.n * 1e6:5.0f} µs CPU per POST "
                f"({args.n} POSTs, concurrency {args.concurrency})"
            )
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)


if __name__ == "__main__":
    main()
