"""The UShot frame (spec §4) and its incremental decoder.

Layout: SOH(1) VERSION(6) COMMAND(5) LENGTH(8) RESP_CODE(5) RESP_MESG(50) STX(1)
BODY(LENGTH) ETX(1); 77 + LENGTH bytes in all.

There is no resynchronisation in this framing: a frame whose SOH, STX or ETX is not
where LENGTH says, or whose LENGTH is not a number or too large, is corrupt, and the
session that read it must close (spec §4, §14 item 27). `FrameDecoder` reports the fault
as early as the bytes allow, so garbage never waits for more data, and once broken it
stays broken.
"""

from __future__ import annotations

import dataclasses

from umsgate.errors import RemoteProtocolError
from umsgate.protocols.ushot import fields
from umsgate.protocols.ushot.fields import FRAME_ERROR

SOH = 0x01
STX = 0x02
ETX = 0x03


def _layout(*widths: int) -> list[slice]:
    """The places of header fields of these widths, one after another after SOH."""
    places = []
    start = 1
    for width in widths:
        places.append(slice(start, start + width))
        start += width
    return places


#: The header's fields after SOH (spec §4): VERSION(6) COMMAND(5) LENGTH(8)
#: RESP_CODE(5) RESP_MESG(50).
_VERSION, _COMMAND, _LENGTH, _RESP_CODE, _RESP_MESG = _layout(6, 5, 8, 5, 50)

#: Header bytes before STX: SOH, VERSION, COMMAND, LENGTH, RESP_CODE, RESP_MESG.
HEADER_LEN = _RESP_MESG.stop
#: Bytes of a frame besides its body (header, STX, ETX).
OVERHEAD = HEADER_LEN + 2
#: Largest LENGTH accepted (spec §4, Resolution: 1 MiB; a 300 KB file fits thrice).
MAX_BODY = 1_048_576


def _width(place: slice) -> int:
    return int(place.stop - place.start)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """One frame with its header decoded and its body raw."""

    version: str
    command: int
    resp_code: str = ""
    resp_mesg: str = ""
    body: bytes = b""


def encode_frame(frame: Frame) -> bytes:
    """The bytes of ``frame``.

    Raises:
        FieldError: a header value does not fit, or the body is over `MAX_BODY`.
    """
    if len(frame.body) > MAX_BODY:
        raise fields.FieldError(
            f"body of {len(frame.body)} bytes is over the {MAX_BODY}-byte limit",
            field="LENGTH",
            code=fields.SIZE_ERROR,
        )
    return b"".join(
        (
            b"\x01",
            fields.encode_text(frame.version, _width(_VERSION), "VERSION"),
            fields.encode_text(str(frame.command), _width(_COMMAND), "COMMAND"),
            fields.encode_number(len(frame.body), _width(_LENGTH), "LENGTH"),
            fields.encode_text(frame.resp_code, _width(_RESP_CODE), "RESP_CODE"),
            fields.encode_text(frame.resp_mesg, _width(_RESP_MESG), "RESP_MESG"),
            b"\x02",
            frame.body,
            b"\x03",
        )
    )


def _corrupt(why: str) -> RemoteProtocolError:
    return RemoteProtocolError(f"corrupt frame: {why}", code=FRAME_ERROR)


class FrameDecoder:
    """Frames out of a byte stream fed in arbitrary chunks.

    Args:
        max_body: the largest LENGTH accepted (`MAX_BODY` unless a peer is known to
            need less).
    """

    def __init__(self, *, max_body: int = MAX_BODY) -> None:
        self.max_body = max_body
        self._buf = bytearray()
        self._pos = 0
        self._error: RemoteProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned as a frame."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_frame(self) -> Frame | None:
        """The next complete frame, or None until more bytes arrive.

        Raises:
            RemoteProtocolError: the bytes are not a frame (code ``11001``); every
                later call raises it again.
        """
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except RemoteProtocolError as exc:
            self._error = exc
            raise

    def _next(self) -> Frame | None:
        buf, pos = self._buf, self._pos
        avail = len(buf) - pos
        if avail == 0:
            return None
        if buf[pos] != SOH:
            raise _corrupt(f"expected SOH, got {bytes(buf[pos : pos + 16])!r}")
        if avail < _LENGTH.stop:
            return None
        length = self._length(bytes(buf[pos + _LENGTH.start : pos + _LENGTH.stop]))
        if avail < HEADER_LEN + 1:
            return None
        if buf[pos + HEADER_LEN] != STX:
            raise _corrupt(f"expected STX at byte {HEADER_LEN}")
        end = pos + OVERHEAD + length
        if len(buf) < end:
            return None
        if buf[end - 1] != ETX:
            raise _corrupt(
                f"expected ETX at byte {OVERHEAD + length - 1} (LENGTH {length}), "
                f"got {bytes(buf[end - 1 : end])!r}"
            )
        header = bytes(buf[pos : pos + HEADER_LEN])
        body = bytes(buf[pos + HEADER_LEN + 1 : end - 1])
        self._pos = end
        if self._pos == len(buf):
            self._buf = bytearray()
            self._pos = 0
        elif self._pos > 65536:
            # Many frames in one chunk: drop the consumed prefix now and then rather
            # than after every frame (which would copy the rest each time).
            del self._buf[: self._pos]
            self._pos = 0
        return _frame(header, body)

    def _length(self, raw: bytes) -> int:
        try:
            length = fields.decode_number(raw, "LENGTH")
        except RemoteProtocolError:
            raise _corrupt(f"LENGTH is not a number: {raw!r}") from None
        if length > self.max_body:
            raise _corrupt(f"LENGTH {length} is over the {self.max_body}-byte limit")
        return length


def _frame(header: bytes, body: bytes) -> Frame:
    command_raw = header[_COMMAND].strip(b" \x00")
    if not command_raw.isdigit():
        raise _corrupt(f"COMMAND is not a number: {header[_COMMAND]!r}")
    return Frame(
        version=fields.decode_text(header[_VERSION], "VERSION"),
        command=int(command_raw),
        resp_code=fields.decode_text(header[_RESP_CODE], "RESP_CODE"),
        resp_mesg=fields.decode_loose(header[_RESP_MESG]),
        body=body,
    )
