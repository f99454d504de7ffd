"""A lean webhook receiver for the end-to-end benchmarks: answers every report with
``OK`` and counts it, keeping the id of each, for umsgate and for Kannel alike:

* umsgate's webhook: a POST of a JSON report object or a list of them; the id is
  each report's ``umsMsgId``;
* Kannel's DLR callback: ``GET /dlr?id=…&type=…`` (the dlr-url that
  ``bench/kannel.py`` gives each message, ``type`` filled in by Kannel); the id is
  the ``id`` parameter, and the ``type`` values are counted apart.

A Starlette or uvicorn endpoint would spend more CPU per report than the gateway
spends sending it, so this is a bare HTTP/1.1 keep-alive server on an
`asyncio.Protocol`. It speaks only what the two gateways send (requests framed by a
Content-Length, or without a body). ``GET /stats`` answers ``{"reports",
"requests", "first", "last", "dlr_types"}`` (times in epoch seconds;
``dlr_types``: Kannel's report types and how many of each); ``GET /ids`` every id
received, one a line.

    python bench/e2e_receiver.py [--port 0]     # prints "listening PORT"
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from urllib.parse import unquote_to_bytes

import orjson

#: Largest request head or body accepted (a report batch is far smaller).
MAX_REQUEST = 4 * 1024 * 1024

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nOK"


class Counts:
    def __init__(self) -> None:
        self.reports = 0
        self.requests = 0
        self.first = 0.0
        self.last = 0.0
        self.ids: list[bytes] = []
        self.dlr_types: dict[str, int] = {}

    def _count(self, n: int) -> None:
        now = time.time()
        if not self.reports:
            self.first = now
        self.last = now
        self.requests += 1
        self.reports += n

    def add(self, body: bytes) -> None:
        """A webhook POST of umsgate: one report object or a list of them."""
        doc = orjson.loads(body)
        docs = doc if isinstance(doc, list) else [doc]
        self._count(len(docs))
        self.ids.extend(str(d.get("umsMsgId", "")).encode() for d in docs)

    def add_dlr(self, query: bytes) -> None:
        """A DLR callback of Kannel: the query string of its GET."""
        ident = b""
        kind = ""
        for pair in query.split(b"&"):
            name, _, value = pair.partition(b"=")
            if name == b"id":
                ident = unquote_to_bytes(value)
            elif name == b"type":
                kind = value.decode(errors="replace")
        self._count(1)
        self.ids.append(ident)
        self.dlr_types[kind] = self.dlr_types.get(kind, 0) + 1

    def stats(self) -> bytes:
        return orjson.dumps(
            {
                "reports": self.reports,
                "requests": self.requests,
                "first": self.first,
                "last": self.last,
                "dlr_types": self.dlr_types,
            }
        )


def _answer(body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: %s\r\n\r\n"
        % (len(body), content_type)
        + body
    )


class _Conn(asyncio.Protocol):
    def __init__(self, counts: Counts) -> None:
        self.counts = counts
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        out: list[bytes] = []
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = bytes(buf[:end])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length > MAX_REQUEST:
                self._close()
                return
            if len(buf) < end + 4 + length:
                break
            body = bytes(buf[end + 4 : end + 4 + length])
            del buf[: end + 4 + length]
            method, path = head.split(b" ", 2)[:2]
            if method == b"POST":
                self.counts.add(body)
                out.append(_OK)
            elif path.startswith(b"/dlr?"):
                self.counts.add_dlr(path[5:])
                out.append(_OK)
            elif path == b"/stats":
                out.append(_answer(self.counts.stats()))
            elif path == b"/ids":
                out.append(_answer(b"\n".join(self.counts.ids), b"text/plain"))
            else:
                out.append(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        if len(buf) > MAX_REQUEST:
            self._close()
            return
        if out and self.transport is not None:
            self.transport.write(b"".join(out))

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    counts = Counts()
    server = await loop.create_server(lambda: _Conn(counts), "127.0.0.1", port)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write(f"listening {server.sockets[0].getsockname()[1]}\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.port))
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(args.port))


if __name__ == "__main__":
    main()
