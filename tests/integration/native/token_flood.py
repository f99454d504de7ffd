"""A flood of wrong-secret token requests, as an attacker who knows a client id
sends them: ``python -m tests.integration.native.token_flood URL CLIENT_ID
CONNECTIONS SECONDS``. Each connection sends its next request as soon as the
previous one is answered (``Retry-After`` ignored). Prints ``ready`` once it
starts, then, as JSON, the count of each status and when the first 429 came
(seconds from the first request).

It runs in a process of its own, so that its work does not share the event loop
of the gateway it attacks; it is plain asyncio streams, to cost that little.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import orjson


async def flood(
    url: str, client_id: str, connections: int, seconds: float
) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = orjson.dumps(
        {"clientId": client_id, "clientSecret": "not-the-secret", "clientKey": "k"}
    )
    request = (
        b"POST /v1/auth/token HTTP/1.1\r\nHost: %s\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (host.encode(), len(body), body)
    )
    statuses: dict[int, int] = {}
    first_429: float | None = None
    started = time.monotonic()
    end = started + seconds

    async def one() -> None:
        nonlocal first_429
        while time.monotonic() < end:
            reader, writer = await asyncio.open_connection(host, port)
            try:
                while time.monotonic() < end:
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                    status = int(head.split(b" ", 2)[1])
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    await reader.readexactly(length)
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 429 and first_429 is None:
                        first_429 = time.monotonic() - started
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return {"statuses": statuses, "first_429": first_429}


def main() -> None:
    url, client_id, connections, seconds = sys.argv[1:5]
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    result = asyncio.run(flood(url, client_id, int(connections), float(seconds)))
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_NON_STR_KEYS).decode())


if __name__ == "__main__":
    main()
