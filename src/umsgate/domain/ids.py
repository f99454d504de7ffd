"""Gateway message ids (``umsMsgId``): 18 decimal digits, time-ordered, unique.

Layout, as an integer::

    10**17 + (milliseconds since 2024-01-01 UTC) << 18 | slot << 10 | sequence

``slot`` (0–255) is the node slot this process holds in the store's node table, so no
two live processes share it; ``sequence`` counts 1,024 ids per millisecond, and a
generator that runs out waits for the next millisecond. The 10**17 offset keeps every
id at 18 digits for 109 years from the epoch. The clock is never allowed to go back:
a generator keeps the largest millisecond it has used.
"""

from __future__ import annotations

import threading
import time

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
OFFSET = 10**17
SLOT_BITS = 8
SEQ_BITS = 10
MAX_SLOT = (1 << SLOT_BITS) - 1
_SEQ_MASK = (1 << SEQ_BITS) - 1


class IdGenerator:
    """Makes ids for one node slot; thread-safe."""

    def __init__(self, slot: int) -> None:
        if not 0 <= slot <= MAX_SLOT:
            raise ValueError(f"slot {slot} is outside 0..{MAX_SLOT}")
        self.slot = slot
        self._last_ms = 0
        self._seq = 0
        self._lock = threading.Lock()

    def next_id(self, now_ms: int | None = None) -> int:
        with self._lock:
            ms = (
                now_ms if now_ms is not None else time.time_ns() // 1_000_000
            ) - EPOCH_MS
            if ms <= self._last_ms:
                ms = self._last_ms
                self._seq = (self._seq + 1) & _SEQ_MASK
                if self._seq == 0:  # 1,024 ids in this millisecond: move to the next
                    ms += 1
            else:
                self._seq = 0
            self._last_ms = ms
            return OFFSET + (
                (ms << (SLOT_BITS + SEQ_BITS)) | (self.slot << SEQ_BITS) | self._seq
            )


def timestamp_ms(message_id: int) -> int:
    """The Unix time in milliseconds at which an id was made."""
    return ((message_id - OFFSET) >> (SLOT_BITS + SEQ_BITS)) + EPOCH_MS
