"""Length-prefixed JSON frames over a local socket: the one framing between the
gateway's own processes (its fronts, its connector processes).

Every frame is a 4-byte big-endian length and that many bytes of JSON (orjson).
What the frames carry is each pair's own: `umsgate.front.wire` (fronts) and
`umsgate.hosting.wire` (connector processes).
"""

from __future__ import annotations

import asyncio

import orjson

from umsgate.errors import RemoteProtocolError

#: Largest frame either side accepts (a front's turn rarely holds more than a few
#: hundred messages of at most 64 KiB each).
MAX_FRAME = 256 * 1024 * 1024


class FrameError(RemoteProtocolError):
    """The peer sent something that is not a frame."""


def frame(payload: object) -> bytes:
    """``payload`` as a frame (anything orjson writes; it raises on the rest)."""
    body = orjson.dumps(payload)
    return len(body).to_bytes(4, "big") + body


class FrameReader:
    """Frames out of a byte stream, as they complete (sans-I/O: for a protocol's
    ``data_received``)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[object]:
        """The payloads of the frames that ``data`` completes, in order (JSON values,
        for the reader to check).

        Raises:
            FrameError: a length over `MAX_FRAME`, or a body that is not JSON (the
                stream cannot be read further).
        """
        buffer = self._buffer
        if not buffer and len(data) >= 4:
            # The common case: whole frames in one read, parsed where they are.
            size = int.from_bytes(data[:4], "big")
            if len(data) == 4 + size and size <= MAX_FRAME:
                return [_loads(data[4:])]
        buffer += data
        payloads: list[object] = []
        while len(buffer) >= 4:
            size = int.from_bytes(buffer[:4], "big")
            if size > MAX_FRAME:
                raise FrameError(f"a frame of {size} bytes (at most {MAX_FRAME})")
            if len(buffer) < 4 + size:
                break
            payloads.append(_loads(bytes(buffer[4 : 4 + size])))
            del buffer[: 4 + size]
        return payloads


def _loads(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"a frame that is not JSON: {exc}") from None


async def read_frame(reader: asyncio.StreamReader) -> object:
    """The next frame's payload: a JSON value, for the reader to check the shape of
    (`isinstance`, or the KeyError, IndexError or TypeError of indexing into it).

    Raises:
        asyncio.IncompleteReadError: the peer closed the socket (at a frame
            boundary when ``partial`` is empty).
        FrameError: a length over `MAX_FRAME`, or a body that is not JSON.
    """
    header = await reader.readexactly(4)
    size = int.from_bytes(header, "big")
    if size > MAX_FRAME:
        raise FrameError(f"a frame of {size} bytes (at most {MAX_FRAME})")
    return _loads(await reader.readexactly(size))
