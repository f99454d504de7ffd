"""The one request-body reader: its size limit, declared or sent, and its deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from starlette.requests import Request
from starlette.types import Message

from umsgate.request_body import read_body


def request(
    chunks: Sequence[bytes], *, declared: int | None = None, pause: float = 0.0
) -> Request:
    """A POST whose body arrives in ``chunks``, ``pause`` seconds before each."""
    headers = [] if declared is None else [(b"content-length", str(declared).encode())]
    left = list(chunks)

    async def receive() -> Message:
        await asyncio.sleep(pause)
        chunk = left.pop(0) if left else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(left)}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    return Request(scope, receive)


async def test_a_body_within_the_limit_is_read_whole() -> None:
    body = await read_body(request([b"ab", b"cd", b"e"], declared=5), 5)
    assert body == b"abcde"


async def test_an_empty_body() -> None:
    assert await read_body(request([]), 10) == b""


async def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    assert await read_body(request([b"x" * 4], declared=11), 10) is None


async def test_a_malformed_declared_length_is_refused() -> None:
    req = request([b"x"])
    req.scope["headers"] = [(b"content-length", b"1x")]
    assert await read_body(req, 10) is None


async def test_a_body_over_the_limit_is_read_no_further() -> None:
    # No Content-Length (chunked): the limit is checked as the chunks arrive.
    body = await read_body(request([b"x" * 6, b"x" * 6, b"x" * 6]), 10)
    assert body is None


async def test_a_body_that_arrives_too_slowly_is_given_up() -> None:
    slow = request([b"a", b"b", b"c", b"d"], pause=0.05)
    assert await read_body(slow, 10, within=0.12) is None


async def test_a_body_that_arrives_in_time_is_read() -> None:
    slow = request([b"a", b"b"], pause=0.01)
    assert await read_body(slow, 10, within=1.0) == b"ab"
