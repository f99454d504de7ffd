"""A lean HTTP/1.1 load generator for the benchmarks.

Python HTTP clients spend more CPU per request than the gateway does, and on a
2-core machine the load generator shares the cores with the server, so the
benchmarks use this minimal keep-alive client: one connection per worker, each an
`asyncio.Protocol` that writes its next request from the callback that completed
the previous answer (no task switch per request), answers framed by
Content-Length. It speaks only what the gateway answers. Run it on uvloop
(`runner()`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterator

import uvloop


@dataclasses.dataclass
class Result:
    latencies: list[float]
    statuses: dict[int, int]
    bodies: list[bytes]
    elapsed: float
    #: (request index, status) of every answer, in the order of ``bodies``; kept
    #: with the bodies, so that a caller can tell which of its requests were taken.
    answers: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    #: Epoch seconds at which the first request was written.
    started: float = 0.0

    def percentile(self, p: float) -> float:
        data = sorted(self.latencies)
        if not data:
            return 0.0
        return data[min(len(data) - 1, int(len(data) * p / 100))]


def runner() -> asyncio.Runner:
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


class _Worker(asyncio.Protocol):
    def __init__(
        self,
        counter: Iterator[int],
        make_request: Callable[[int], bytes],
        result: Result,
        keep_bodies: bool,
        done: asyncio.Future[None],
        hold: bool = False,
    ) -> None:
        self.counter = counter
        self.make_request = make_request
        self.result = result
        self.keep_bodies = keep_bodies
        self.done = done
        self.hold = hold
        self.buf = bytearray()
        self.sent_at = 0.0
        self.index = -1
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if not self.hold:
            self._next()

    def release(self) -> None:
        """Start a held worker: its first request."""
        self.hold = False
        self._next()

    def _next(self) -> None:
        assert self.transport is not None
        i = next(self.counter, None)
        if i is None:
            self.transport.close()
            return
        data = self.make_request(i)
        self.index = i
        if not self.result.started:
            self.result.started = time.time()
        self.sent_at = time.perf_counter()
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buf[:end])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(buf) < end + 4 + length:
            return
        body = bytes(buf[end + 4 : end + 4 + length])
        del buf[: end + 4 + length]
        status = int(head.split(b" ", 2)[1])
        result = self.result
        result.latencies.append(time.perf_counter() - self.sent_at)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if self.keep_bodies:
            result.bodies.append(body)
            result.answers.append((self.index, status))
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            if exc is not None:
                self.done.set_exception(exc)
            else:
                self.done.set_result(None)


async def run(
    host: str,
    port: int,
    *,
    total: int,
    concurrency: int,
    make_request: Callable[[int], bytes],
    keep_bodies: bool = False,
    timeout: float = 30.0,
    connect_first: bool = False,
) -> Result:
    """Send ``total`` requests over ``concurrency`` keep-alive connections; fails
    when the whole run takes longer than ``timeout`` seconds per request slot
    (``timeout * total / concurrency``), or a connection ends early.

    ``connect_first`` opens every connection before the first request and starts
    the clock then: a server with a short listen backlog (Kannel's is 10) that is
    busy with the first connections' requests lets the SYNs of the next ones
    overflow, and the kernel retries them a second later, which would count in
    the run. A client of such a gateway keeps its connections open."""
    loop = asyncio.get_running_loop()
    counter = iter(range(total))
    result = Result([], {}, [], 0.0)
    start = time.perf_counter()
    waits: list[asyncio.Future[None]] = []
    workers: list[_Worker] = []
    for _ in range(concurrency):
        done: asyncio.Future[None] = loop.create_future()
        waits.append(done)
        _, worker = await asyncio.wait_for(
            loop.create_connection(
                lambda d=done: _Worker(
                    counter, make_request, result, keep_bodies, d, connect_first
                ),
                host,
                port,
            ),
            timeout,
        )
        workers.append(worker)
    if connect_first:
        start = time.perf_counter()
        for worker in workers:
            worker.release()
    await asyncio.wait_for(
        asyncio.gather(*waits), timeout * max(1, total // max(1, concurrency))
    )
    result.elapsed = time.perf_counter() - start
    return result


def post(host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    head.extend(f"{k}: {v}" for k, v in headers.items())
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def get(host: str, target: str) -> bytes:
    """A keep-alive GET of ``target`` (path and query, already URL-encoded)."""
    return f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
