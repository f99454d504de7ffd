"""The one way every HTTP server of umsgate reads a request body: the gateway's
faces and console, the connectors' report receivers and the simulators.

A body is read no further than its limit, whatever ``Content-Length`` says, and
must have fully arrived within a deadline: uvicorn sets none on a slow body when
it runs without the guarded protocol (`umsgate.deadlines`), and a request held open
a byte at a time would otherwise keep its handler, and what it has read, forever.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request

#: How long a request body may take to arrive (the ``[server]`` ``body_timeout``
#: default, and the providers' 30 s request timeout).
BODY_TIMEOUT = 30.0


async def read_body(
    request: Request, limit: int, *, within: float = BODY_TIMEOUT
) -> bytes | None:
    """The request body, or None when it is longer than ``limit`` bytes (declared
    or sent) or has not fully arrived ``within`` seconds."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(within):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    return None
                chunks.append(chunk)
    except TimeoutError:
        return None
    return b"".join(chunks)
