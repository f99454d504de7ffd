"""The frames between a front process and its gateway process (a Unix socket).

The frames are those of `umsgate.framing` (a 4-byte length and that much JSON). A
front sends ``{"s": [[tag, row, dup_window, tps_key, tps], ...], "m": counts}``: the
messages its requests are waiting on (all of one event-loop turn in one frame), and
the counts of what it accepted and refused since its last counts
(`umsgate.front.app.Counts`; on a frame at most once a second, or alone).
The gateway answers each message once, by tag, in frames of lists:

* ``[tag, 0, umsMsgId, created_at, repeated]``: committed;
* ``[tag, 1]``: over the client's TPS, nothing stored;
* ``[tag, 2, code, message, field]``: refused (`ValidationError`);
* ``[tag, 3, message]``: the store failed, nothing stored.

The socket lives in a directory only the gateway's user can open: whoever can
write to it can store messages for any client.
"""

from __future__ import annotations

from umsgate.framing import MAX_FRAME, FrameError, FrameReader, frame, read_frame

__all__ = [
    "FAILED",
    "MAX_FRAME",
    "OK",
    "REFUSED",
    "THROTTLED",
    "FrameError",
    "FrameReader",
    "frame",
    "read_frame",
]

OK, THROTTLED, REFUSED, FAILED = 0, 1, 2, 3
