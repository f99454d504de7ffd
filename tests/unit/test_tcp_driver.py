"""The shared TCP driver's own rules, on real loopback sockets: writes of one loop
iteration leave together, held reading takes nothing until released, the timer fires
at the protocol's deadline, and the end is reported once (after a flush on `close`,
without one on `abort`)."""

from __future__ import annotations

import asyncio
import struct

from umsgate.protocols import _tcp


class Framed(_tcp.Connection):
    """A toy protocol: 2-byte big-endian length, then the frame."""

    def __init__(self, *, idle: float | None = None) -> None:
        super().__init__(name="toy")
        self.frames: list[bytes] = []
        self.ended: list[str] = []
        self.timeouts = 0
        self.idle = idle
        self._buffer = b""
        self.arrived = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 2:
            (size,) = struct.unpack_from(">H", self._buffer)
            if len(self._buffer) < 2 + size:
                break
            self.frames.append(self._buffer[2 : 2 + size])
            self._buffer = self._buffer[2 + size :]
            self.arrived.set()

    def send_frame(self, frame: bytes) -> None:
        self.write(struct.pack(">H", len(frame)) + frame)

    def _deadline(self) -> float | None:
        return None if self.idle is None else self._loop.time() + self.idle

    def _timeout(self, now: float) -> None:
        self.timeouts += 1
        self.close("idle")

    def _ended(self, reason: str) -> None:
        self.ended.append(reason)


class Recorder(asyncio.Protocol):
    """The far end: keeps each read separately."""

    def __init__(self) -> None:
        self.reads: list[bytes] = []
        self.got = asyncio.Event()
        self.eof = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.reads.append(data)
        self.got.set()

    def eof_received(self) -> bool:
        self.eof.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof.set()


class _Keep(Recorder):
    """The far end, keeping its transport to write with."""

    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport


async def _open(client: Framed) -> tuple[Framed, _Keep, asyncio.Server]:
    loop = asyncio.get_running_loop()
    far = _Keep()
    server = await loop.create_server(lambda: far, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    near = await _tcp.connect(lambda: client, "127.0.0.1", port, within=5)
    for _ in range(100):
        if hasattr(far, "transport"):
            break
        await asyncio.sleep(0.01)
    return near, far, server


async def test_writes_of_one_iteration_leave_in_one_write() -> None:
    near, far, server = await _open(Framed())
    near.send_frame(b"one")
    near.send_frame(b"two")
    await asyncio.wait_for(far.got.wait(), 5)
    assert far.reads[0] == b"\x00\x03one\x00\x03two"
    near.close("done")
    server.close()


async def test_held_reading_takes_nothing_until_released() -> None:
    near, far, server = await _open(Framed())
    near.hold_reading()
    far.transport.write(b"\x00\x02hi")
    await asyncio.sleep(0.1)
    assert near.frames == []
    near.release_reading()
    await asyncio.wait_for(near.arrived.wait(), 5)
    assert near.frames == [b"hi"]
    near.close("done")
    server.close()


async def test_the_timer_fires_at_the_deadline_and_the_end_is_reported_once() -> None:
    near, _far, server = await _open(Framed(idle=0.05))
    await asyncio.wait_for(near.done.wait(), 5)
    await asyncio.wait_for(near.lost.wait(), 5)
    assert near.timeouts == 1
    assert near.ended == ["idle"]
    assert not near.alive
    server.close()


async def test_close_flushes_and_abort_drops() -> None:
    near, far, server = await _open(Framed())
    near.send_frame(b"last")
    near.close("bye")
    await asyncio.wait_for(far.eof.wait(), 5)
    assert b"".join(far.reads) == b"\x00\x04last"
    near.close("again")
    assert near.ended == ["bye"]

    other, far2, server2 = await _open(Framed())
    other.send_frame(b"never")
    other.abort("drop")
    await asyncio.wait_for(far2.eof.wait(), 5)
    assert far2.reads == []
    assert other.ended == ["drop"]
    server.close()
    server2.close()
