"""Image bytes built by hand for the upload tests: a real (decodable) baseline JPEG,
a PNG, and variants of both.

The JPEG is an 8×8 grey picture: SOI, a JFIF APP0, one quantisation table, a
baseline SOF0 for one component, one DC and one AC Huffman table holding a single
one-bit code each, the scan header and an entropy-coded block (DC difference 0,
end of block), then EOI (ITU T.81 Annex B). ``jpeg(size=...)`` pads it with a COM
segment chain to reach an exact length.
"""

from __future__ import annotations

import struct
import zlib


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _comments(total: int) -> bytes:
    """COM segments of exactly ``total`` bytes (``total`` is 0 or at least 4)."""
    out = b""
    while total:
        chunk = min(total, 65535 + 2)
        if total - chunk in (1, 2, 3):
            chunk -= 4
        out += _segment(0xFE, b"c" * (chunk - 4))
        total -= chunk
    return out


def jpeg(*, size: int | None = None, tag: bytes = b"") -> bytes:
    """A decodable baseline JPEG; ``tag`` changes the bytes (and the MD5) without
    changing the picture, ``size`` pads it to that many bytes."""
    app0 = _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    dqt = _segment(0xDB, b"\x00" + bytes([1] * 64))
    sof0 = _segment(0xC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00")
    one_code = bytes([1] + [0] * 15)  # one code of length 1
    dht = _segment(0xC4, b"\x00" + one_code + b"\x00" + b"\x10" + one_code + b"\x00")
    sos = _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    scan = b"\x3f"  # bits 0 (DC category 0) and 0 (EOB), padded with ones
    head = b"\xff\xd8" + app0 + (_segment(0xFE, tag) if tag else b"") + dqt + sof0 + dht
    tail = sos + scan + b"\xff\xd9"
    if size is None:
        return head + tail
    pad = size - len(head) - len(tail)
    if pad < 0 or pad in (1, 2, 3):
        raise ValueError(f"cannot build a JPEG of {size} bytes")
    return head + _comments(pad) + tail


def png() -> bytes:
    """A 1×1 grey PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )
