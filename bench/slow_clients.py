"""Benchmark: other clients' sends while thousands of connections trickle their
headers one byte a second.

Starts ``umsgate serve`` (SQLite in a temporary directory, the sandbox carrier) as
a subprocess, creates a client, and measures the answer times of that client's SMS
sends (--concurrency keep-alive connections, --sends requests) twice: alone, then
while --slow connections each send the start of a request head and one more byte
every second. Prints p50, p99 and max of both phases and their ratio, and how the
gateway dealt with the slow connections: how many it accepted, refused at once
(``server.max_connections_per_client``) and closed on its header deadline
(``server.header_timeout``), with the time from their first byte to the close.

By default the per-address cap is raised above --slow (``--cap``), so that every
slow connection is accepted and must be ended by the deadline, not by the cap: all
of them come from 127.0.0.1, as an attacker's would from one address.

    .venv/bin/python bench/slow_clients.py [--slow 3000] [--sends 2000]
        [--concurrency 8] [--header-timeout 10] [--cap 10000] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).parent))
from _procs import free_port, send_headers, serve, umsgate


def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("the gateway did not start")


async def sends(
    url: str, headers: dict[str, str], n: int, concurrency: int, tag: str
) -> list[float]:
    """Answer times (seconds) of ``n`` SMS sends over ``concurrency`` connections."""
    times: list[float] = []
    counter = iter(range(n))

    async def worker(http: httpx.AsyncClient) -> None:
        for i in counter:
            body = {
                "srcMsgId": f"{tag}-{i}",
                "callback": "0212345678",
                "receiver": f"010{20000000 + i:08d}",
                "content": "benchmark",
            }
            start = time.perf_counter()
            r = await http.post(
                "/v1/message/sms", content=orjson.dumps(body), headers=headers
            )
            times.append(time.perf_counter() - start)
            if r.status_code != 200:
                raise RuntimeError(f"send refused: {r.status_code} {r.text}")

    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    return times


class Trickle:
    """Slow connections: each sends the start of a request head, then one byte a
    second, until the server closes it."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self.opened = 0
        self.refused = 0  # closed before a second byte could be sent
        self.closed_after: list[float] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for i in range(self.count):
            self.tasks.append(asyncio.create_task(self._one()))
            if i % 100 == 99:
                await asyncio.sleep(0.05)  # not one SYN flood: a steady stream

    async def _one(self) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            self.refused += 1
            return
        self.opened += 1
        start = time.monotonic()
        head = b"POST /v1/message/sms HTTP/1.1\r\nHost: x\r\nX-Slow: "
        try:
            writer.write(head)
            sent = 0
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(1024), 1.0)
                except TimeoutError:
                    writer.write(b"a")
                    sent += 1
                    continue
                if not data:
                    break
        except OSError:
            pass
        lived = time.monotonic() - start
        if lived < 0.5:
            self.refused += 1  # closed at once: the cap, not the deadline
        else:
            self.closed_after.append(lived)
        writer.close()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def quantiles(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "p50": 1000 * statistics.median(times),
        "p99": 1000 * times[int(0.99 * (len(times) - 1))],
        "max": 1000 * times[-1],
    }


async def measure(
    args: argparse.Namespace, url: str, port: int, hdrs: dict[str, str]
) -> None:
    alone = await sends(url, hdrs, args.sends, args.concurrency, "alone")
    trickle = Trickle(port, args.slow)
    started = time.monotonic()
    await trickle.start()
    await asyncio.sleep(2.0)  # every slow connection open and trickling
    opened_at_once = trickle.opened
    attacked = await sends(url, hdrs, args.sends, args.concurrency, "attacked")
    during = time.monotonic() - started
    # Wait for the deadline to end the rest.
    await asyncio.wait(trickle.tasks, timeout=args.header_timeout + 30)
    still_open = trickle.opened - len(trickle.closed_after) - trickle.refused
    await trickle.stop()
    a, b = quantiles(alone), quantiles(attacked)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()}"
    )
    print(
        f"sends alone:               p50 {a['p50']:.1f} ms, p99 {a['p99']:.1f} ms, "
        f"max {a['max']:.1f} ms ({args.sends} at concurrency {args.concurrency})"
    )
    print(
        f"sends beside {args.slow} slow:  p50 {b['p50']:.1f} ms, "
        f"p99 {b['p99']:.1f} ms, "
        f"max {b['max']:.1f} ms ({during:.1f} s after the first slow connection)"
    )
    print(f"p99 ratio (beside slow / alone): {b['p99'] / a['p99']:.2f}")
    closed = sorted(trickle.closed_after)
    print(
        f"slow connections: {trickle.opened} opened ({opened_at_once} within 2 s), "
        f"{trickle.refused} closed at once, {len(closed)} closed by the deadline "
        + (
            f"after {statistics.median(closed):.1f} s median, {closed[-1]:.1f} s max"
            if closed
            else ""
        )
        + f", {still_open} still open {args.header_timeout + 30:.0f} s on"
    )
    print(
        json.dumps(
            {
                "alone_ms": a,
                "attacked_ms": b,
                "p99_ratio": b["p99"] / a["p99"],
                "slow_opened": trickle.opened,
                "slow_refused": trickle.refused,
                "slow_closed_by_deadline": len(closed),
                "slow_still_open": still_open,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--slow", type=int, default=3000)
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--header-timeout", type=float, default=10.0)
    parser.add_argument(
        "--cap", type=int, default=10_000, help="connections per address"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="serve --workers (default: serve's)"
    )
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 2 * args.slow + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # for serve too

    tmp = Path(tempfile.mkdtemp(prefix="umsgate-slow-"))
    config = tmp / "umsgate.toml"
    config.write_text(
        f"[server]\nheader_timeout = {args.header_timeout}\n"
        f"max_connections_per_client = {args.cap}\n"
    )
    env = dict(os.environ, UMSGATE_SANDBOX_DELAY="0.5")
    store = ["--data-dir", str(tmp)]
    creds = json.loads(
        umsgate(
            "client", "add", "--create", "--id", "bench",
            "--tps-sms", "1000000", *store, "--config", str(config), env=env,
        )
    )  # fmt: skip
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = serve(port, store, config, env, tmp / "serve.log", workers=args.workers)
    try:
        wait_ready(url)
        hdrs = send_headers(url, creds)
        asyncio.run(measure(args, url, port, hdrs))
    finally:
        server.terminate()
        server.wait(60)


if __name__ == "__main__":
    main()
