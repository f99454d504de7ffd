"""The webhook client against real sockets: keep-alive, framing, servers that close,
stall, lie or talk too much, and TLS with a certificate it must verify."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable

import pytest
import trustme

from umsgate import targets
from umsgate.errors import TargetRefused
from umsgate.reports.http11 import (
    MAX_ANSWER_BYTES,
    MAX_ANSWER_TOTAL,
    Http11Client,
    RequestError,
)

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"
LOCAL = targets.Policy(allow_private=True)


class Server:
    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[bytes] = []
        self.port = 0
        self.server: asyncio.Server | None = None

    async def read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        body = await reader.readexactly(length)
        self.requests.append(head + body)
        return head + body


@contextlib.asynccontextmanager
async def serve(
    answer: Callable[[Server, asyncio.StreamReader, asyncio.StreamWriter], object],
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[Server]:
    state = Server()

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        state.connections += 1
        try:
            await answer(state, reader, writer)  # type: ignore[misc]
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ssl_context)
    state.server = server
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        await server.wait_closed()


async def keep_alive(
    s: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    while await s.read_request(reader) is not None:
        writer.write(OK)
        await writer.drain()


@pytest.fixture
async def client() -> AsyncIterator[Http11Client]:
    # The test servers listen on 127.0.0.1 (the policy's refusals: test_targets.py).
    c = Http11Client(user_agent="umsgate-test", policy=LOCAL)
    yield c
    await c.close()


async def test_keep_alive_reuses_one_connection(client: Http11Client) -> None:
    async with serve(keep_alive) as s:
        url = f"http://127.0.0.1:{s.port}/hooks/sms?x=1"
        for i in range(5):
            status, body = await client.post(
                url, b'{"n":%d}' % i, {"Content-Type": "application/json"}, 5
            )
            assert (status, body) == (200, b"OK")
        assert s.connections == 1
        first = s.requests[0]
        assert first.startswith(b"POST /hooks/sms?x=1 HTTP/1.1\r\n")
        assert f"Host: 127.0.0.1:{s.port}\r\n".encode() in first
        assert b"User-Agent: umsgate-test\r\n" in first
        assert b"Content-Length: 7\r\n" in first and first.endswith(b'{"n":0}')


async def test_concurrent_posts_open_parallel_connections(
    client: Http11Client,
) -> None:
    async with serve(keep_alive) as s:
        url = f"http://127.0.0.1:{s.port}/"
        answers = await asyncio.gather(
            *(client.post(url, b"x", {}, 5) for _ in range(8))
        )
        assert all(a == (200, b"OK") for a in answers)
        assert 1 < s.connections <= 8
        before = s.connections
        await asyncio.gather(*(client.post(url, b"x", {}, 5) for _ in range(8)))
        assert s.connections == before  # all reused


async def test_chunked_and_close_delimited_answers(client: Http11Client) -> None:
    async def chunked(
        s: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while await s.read_request(reader) is not None:
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"1\r\nO\r\n1\r\nK\r\n0\r\n\r\n"
            )

    async def until_close(
        s: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await s.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\nOK")
        await writer.drain()

    async with serve(chunked) as s:
        url = f"http://127.0.0.1:{s.port}/"
        assert await client.post(url, b"x", {}, 5) == (200, b"OK")
        assert await client.post(url, b"x", {}, 5) == (200, b"OK")
        assert s.connections == 1
    async with serve(until_close) as s:
        url = f"http://127.0.0.1:{s.port}/"
        assert await client.post(url, b"x", {}, 5) == (200, b"OK")
        assert await client.post(url, b"x", {}, 5) == (200, b"OK")
        assert s.connections == 2  # the end of the body was the end of its connection


async def test_interim_answer_is_skipped(client: Http11Client) -> None:
    async def continue_first(
        s: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await s.read_request(reader)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + OK)
        await writer.drain()

    async with serve(continue_first) as s:
        assert await client.post(f"http://127.0.0.1:{s.port}/", b"x", {}, 5) == (
            200,
            b"OK",
        )


async def test_idle_connection_closed_by_the_server_is_retried_once(
    client: Http11Client,
) -> None:
    async def close_when_idle(
        s: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # Answers as if keeping the connection, then closes it while it is idle.
        await s.read_request(reader)
        writer.write(OK)
        await writer.drain()

    async with serve(close_when_idle) as s:
        url = f"http://127.0.0.1:{s.port}/"
        assert await client.post(url, b"a", {}, 5) == (200, b"OK")
        await asyncio.sleep(0.05)  # the server's close reaches the client's pool
        assert await client.post(url, b"b", {}, 5) == (200, b"OK")
        assert s.connections == 2


async def test_request_lost_to_a_racing_close_goes_once_more(
    client: Http11Client,
) -> None:
    async def race(
        s: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # The first connection answers one request, then takes the next one and
        # closes without a byte of answer (an idle close racing the reuse).
        await s.read_request(reader)
        writer.write(OK)
        await writer.drain()
        if s.connections == 1:
            await s.read_request(reader)
            return
        while await s.read_request(reader) is not None:
            writer.write(OK)
            await writer.drain()

    async with serve(race) as s:
        url = f"http://127.0.0.1:{s.port}/"
        assert await client.post(url, b"a", {}, 5) == (200, b"OK")
        assert await client.post(url, b"b", {}, 5) == (200, b"OK")
        assert [r[-1:] for r in s.requests] == [b"a", b"b", b"b"]
        assert s.connections == 2


async def test_close_mid_answer_is_an_error(client: Http11Client) -> None:
    async def truncated(
        s: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await s.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nOK")
        await writer.drain()

    async with serve(truncated) as s:
        with pytest.raises(RequestError, match="closed before the answer"):
            await client.post(f"http://127.0.0.1:{s.port}/", b"x", {}, 5)
        assert s.connections == 1  # an answer had begun: not sent again


async def test_timeout_drops_the_connection(client: Http11Client) -> None:
    release = asyncio.Event()

    async def stall_first(
        s: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await s.read_request(reader)
        if s.connections == 1:
            await release.wait()
            return
        writer.write(OK)
        await writer.drain()

    async with serve(stall_first) as s:
        url = f"http://127.0.0.1:{s.port}/"
        with pytest.raises(TimeoutError):
            await client.post(url, b"x", {}, 0.3)
        assert await client.post(url, b"x", {}, 5) == (200, b"OK")
        assert s.connections == 2
        release.set()


async def test_long_answers(client: Http11Client) -> None:
    async def long_body(
        s: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while await s.read_request(reader) is not None:
            size = 5000 if s.connections == 1 else MAX_ANSWER_TOTAL + 10
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size
                + b"OK"
                + b"y" * (size - 2)
            )
            await writer.drain()

    async with serve(long_body) as s:
        url = f"http://127.0.0.1:{s.port}/"
        status, body = await client.post(url, b"x", {}, 5)
        assert status == 200 and len(body) == MAX_ANSWER_BYTES
        assert body.startswith(b"OKyy")
        with pytest.raises(RequestError, match="longer than"):
            await client.post(url, b"x", {}, 5)
        assert s.connections == 2  # a truncated answer does not keep its connection


async def test_malformed_answer_and_refused_connection(client: Http11Client) -> None:
    async def garbage(
        s: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await s.read_request(reader)
        writer.write(b"SMTP 220 hello\r\n\r\n")
        await writer.drain()

    async with serve(garbage) as s:
        with pytest.raises(RequestError, match="malformed answer"):
            await client.post(f"http://127.0.0.1:{s.port}/", b"x", {}, 5)
        port = s.port
    with pytest.raises(RequestError, match="ConnectionRefusedError"):
        await client.post(f"http://127.0.0.1:{port}/", b"x", {}, 5)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://127.0.0.1/x", "must be http or https"),
        ("http:///x", "no host"),
        ("http://127.0.0.1:99999/x", "not a valid URL"),
    ],
)
async def test_bad_urls(client: Http11Client, url: str, error: str) -> None:
    with pytest.raises(TargetRefused, match=error):
        await client.post(url, b"x", {}, 5)


async def test_header_injection_is_refused(client: Http11Client) -> None:
    async with serve(keep_alive) as s:
        with pytest.raises(RequestError, match="line break"):
            await client.post(
                f"http://127.0.0.1:{s.port}/", b"x", {"X-A": "1\r\nX-B: 2"}, 5
            )
        assert s.requests == []


async def test_https_verifies_the_certificate() -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    async with serve(keep_alive, ssl_context=server_ctx) as s:
        url = f"https://localhost:{s.port}/hooks"
        good = Http11Client(user_agent="t", ssl_context=trusting, policy=LOCAL)
        try:
            assert await good.post(url, b"x", {}, 5) == (200, b"OK")
            assert await good.post(url, b"x", {}, 5) == (200, b"OK")
        finally:
            await good.close()
        # The system's trust store only.
        strict = Http11Client(user_agent="t", policy=LOCAL)
        try:
            with pytest.raises(RequestError, match="SSL"):
                await strict.post(url, b"x", {}, 5)
        finally:
            await strict.close()
