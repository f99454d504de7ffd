"""Deadlines and the cap per address on a uvicorn-served port (`umsgate.deadlines`),
through a simulator's server (`Served`) with short deadlines: a client that trickles
its head a byte a second, sends half a body, idles after an answer, never begins a
request or opens too many connections is cut off; ordinary requests are served."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.conftest import trickle, until_closed
from umsgate.deadlines import MAX_HEAD, Limits
from umsgate.protocols._http.server import Served

LIMITS = Limits(
    header_timeout=1.0,
    body_timeout=1.0,
    keepalive_timeout=1.0,
    max_connections_per_client=3,
)
#: What the deadlines may be late by (timers, a loaded test machine).
SLACK = 1.5
REQUEST = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi"


async def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(await request.body())


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])
    server = Served(app, limits=LIMITS)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def connect(
    served: Served,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", served.port)


async def test_a_trickled_head_is_cut_off(served: Served) -> None:
    reader, writer = await connect(served)
    started = time.monotonic()
    sender = asyncio.create_task(trickle(writer, REQUEST))
    try:
        answer = await until_closed(reader, LIMITS.header_timeout + SLACK + 1)
    finally:
        sender.cancel()
        writer.close()
    elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"connection: close" in answer
    assert elapsed < LIMITS.header_timeout + SLACK


async def test_a_connection_that_sends_nothing_is_closed(served: Served) -> None:
    reader, writer = await connect(served)
    started = time.monotonic()
    answer = await until_closed(reader, LIMITS.header_timeout + SLACK)
    writer.close()
    assert answer == b""
    assert time.monotonic() - started >= LIMITS.header_timeout - 0.1


async def test_a_slow_body_is_cut_off(served: Served) -> None:
    reader, writer = await connect(served)
    writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nab")
    started = time.monotonic()
    sender = asyncio.create_task(trickle(writer, b"c" * 98))
    try:
        await until_closed(reader, LIMITS.body_timeout + SLACK + 1)
    finally:
        sender.cancel()
        writer.close()
    assert time.monotonic() - started < LIMITS.body_timeout + SLACK


async def test_keep_alive_ends_even_with_stray_bytes(served: Served) -> None:
    reader, writer = await connect(served)
    writer.write(REQUEST)
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert await reader.readexactly(2) == b"hi"
    # Line ends before a request are allowed (RFC 9112 §2.2) and begin none:
    # they do not keep the connection.
    started = time.monotonic()
    sender = asyncio.create_task(trickle(writer, b"\r\n" * 10))
    try:
        assert await until_closed(reader, LIMITS.keepalive_timeout + SLACK + 1) == b""
    finally:
        sender.cancel()
        writer.close()
    assert time.monotonic() - started < LIMITS.keepalive_timeout + SLACK


async def test_requests_in_time_are_served_on_one_connection(served: Served) -> None:
    reader, writer = await connect(served)
    try:
        for _ in range(3):
            writer.write(REQUEST)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 ")
            assert await reader.readexactly(2) == b"hi"
            await asyncio.sleep(0.5)  # within keepalive_timeout
    finally:
        writer.close()


async def test_a_head_too_large_is_refused(served: Served) -> None:
    reader, writer = await connect(served)
    writer.write(b"GET /echo HTTP/1.1\r\nHost: t\r\n")
    await writer.drain()
    for _ in range(MAX_HEAD // 1000 + 4):
        writer.write(b"X-Filler: " + b"a" * 1000 + b"\r\n")
        try:
            await writer.drain()
        except ConnectionError:
            break
        await asyncio.sleep(0.01)
    answer = await until_closed(reader, 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]


async def test_connections_per_address_are_capped(served: Served) -> None:
    held = [await connect(served) for _ in range(LIMITS.max_connections_per_client)]
    try:
        # One too many is closed at once, while the others are served.
        reader, writer = await connect(served)
        assert await until_closed(reader, 1.0) == b""
        writer.close()
        reader, writer = held[0]
        writer.write(REQUEST)
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200 ")
    finally:
        for _, w in held:
            w.close()
    # Once they are gone, the address may connect again.
    await asyncio.sleep(0.2)
    reader, writer = await connect(served)
    writer.write(REQUEST)
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200 ")
    writer.close()
