"""A lean HTTP/1.1 load generator for the benchmarks.

Python HTTP clients spend more CPU per request than the gateway does, and on a
2-core machine the load generator shares the cores with the server, so the
benchmarks use this minimal keep-alive client: one connection per worker, requests
written whole, answers read by Content-Length. It speaks only what the gateway answers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable


@dataclasses.dataclass
class Result:
    latencies: list[float]
    statuses: dict[int, int]
    bodies: list[bytes]
    elapsed: float

    def percentile(self, p: float) -> float:
        data = sorted(self.latencies)
        if not data:
            return 0.0
        return data[min(len(data) - 1, int(len(data) * p / 100))]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


async def run(
    host: str,
    port: int,
    *,
    total: int,
    concurrency: int,
    make_request: Callable[[int], bytes],
    keep_bodies: bool = False,
    timeout: float = 30.0,
) -> Result:
    """Send ``total`` requests over ``concurrency`` keep-alive connections."""
    counter = iter(range(total))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    bodies: list[bytes] = []

    async def worker() -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), timeout
        )
        try:
            for i in counter:
                data = make_request(i)
                t0 = time.perf_counter()
                writer.write(data)
                status, body = await asyncio.wait_for(_read_response(reader), timeout)
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
                if keep_bodies:
                    bodies.append(body)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(latencies, statuses, bodies, time.perf_counter() - start)


def post(host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    head.extend(f"{k}: {v}" for k, v in headers.items())
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body
