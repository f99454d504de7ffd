"""Pacing of one connector: its rate (``tps``), its window (messages in flight), and
how much of a claimed burst a node keeps waiting for it. Pure: time comes in as
``now``; `umsgate.engine.pacer` does the waiting and the store calls.

Theory of operation
-------------------
**Rate.** A generic cell rate schedule: the whole state is ``tat``, the time at which
the next free send slot starts. Taking ``n`` slots at ``now`` starts them at
``max(tat, now - tolerance)`` and moves ``tat`` on by ``n / rate``; the caller waits
until that start and then sends the ``n`` messages. A slot is never refused, only
scheduled later, so a burst larger than the rate becomes a queue that drains at the
rate. ``tolerance`` lets a connector that was idle send `BURST_SECONDS` worth at once.
Slots are taken a chunk at a time (`Pace.chunk`: about `TICK` seconds of the rate),
so the messages of one chunk go together and chunks follow each other at the rate. A
chunk that wakes more than `LATE` after its start (its node's event loop was busy)
has missed its slots and takes new ones: sending it anyway would add it to the
chunks due next, a burst above the rate on the provider's side.

**Across nodes.** Several gateway nodes on one PostgreSQL database share one
schedule: ``tat`` lives in a row of ``connector_pace``, and a node takes a chunk's
slots with one atomic ``UPDATE … SET tat = max(tat, floor) + step … RETURNING tat``
(`Pace.floor` and `Pace.step` compute the two values; `Pace.slots_before` turns the
answer into the chunk's start). We chose one shared schedule over giving each node
``tps / live nodes`` (what the API's per-client buckets do) because:

* claims go to whichever node asks first (``SKIP LOCKED``), so the backlog of a
  connector is rarely split evenly; a node holding most of it would run at a fraction
  of the rate while the others' shares went unused;
* the live node count changes only with heartbeats, so around a node's start or death
  the sum of the shares is wrong for up to ``engine.node_timeout``;
* the cost stays small: one UPDATE per chunk, which is about ``1 / TICK`` (10) per
  second per connector whatever the rate or the number of nodes, up to rates where
  chunks reach their size limit (100 messages: 1,000 TPS).

Node clocks enter only through ``floor``: a node whose clock is ahead may start a
chunk up to its skew early after an idle period, never faster than the rate once a
backlog forms (``tat`` only grows by the slots taken). On SQLite there is one node and
the schedule is kept in process (`Pace.reserve`).

**Window.** `Window` counts messages handed to ``submit`` and not yet answered; a
chunk waits until it fits. Chunks are at most a quarter of the window, so that the
next can go while others wait for their answers. It is per node: each node has its
own sessions to the provider, and a provider's window is per session.

**Backlog.** Claims take due messages before they are routed; without a limit a node
would claim a whole burst for a slow connector and hold it SENDING for minutes.
`Backlog.admit` keeps at most `HORIZON` seconds of the rate waiting per node and gives
each surplus message a delay after which it is due again, spread at the rate behind
what is already waiting or deferred, so each message of a long burst is claimed about
twice rather than at every round.
"""

from __future__ import annotations

import math

#: Seconds of the rate that an idle connector may send at once.
BURST_SECONDS = 0.05
#: Seconds of the rate taken as one chunk of slots (and handed to ``submit`` at once).
TICK = 0.1
#: Seconds of the rate a node keeps claimed and waiting for one connector.
HORIZON = 2.0
#: A chunk that wakes this much after its start has missed its slots.
LATE = 0.1
#: Times a chunk takes new slots after missing its own before it goes anyway (a
#: gateway too busy to keep any slot must still send).
RETAKES = 3
#: Chunks that fit a window at once, so that one can go while others wait for their
#: answers.
WINDOW_CHUNKS = 4


def chunk_size(max_chunk: int, window: int | None) -> int:
    """Most messages in one chunk: ``max_chunk``, or a `WINDOW_CHUNKS`-th of the
    window when that is smaller."""
    if window is None:
        return max_chunk
    return max(1, min(max_chunk, window // WINDOW_CHUNKS))


class Pace:
    """The send schedule of one connector at ``rate`` messages per second.

    Args:
        rate: messages per second (> 0).
        max_chunk: most messages in one chunk (the dispatcher's chunk size, or the
            connector's window when smaller).
    """

    __slots__ = ("chunk", "interval", "rate", "tat", "tolerance")

    def __init__(self, rate: float, *, max_chunk: int) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        if max_chunk < 1:
            raise ValueError(f"max_chunk must be >= 1, got {max_chunk}")
        self.rate = rate
        self.interval = 1.0 / rate
        #: Messages per chunk of slots.
        self.chunk = max(1, min(max_chunk, math.ceil(rate * TICK)))
        self.tolerance = BURST_SECONDS
        #: Start of the next free slot (in process; shared schedules keep it in the
        #: store).
        self.tat = float("-inf")

    def floor(self, now: float) -> float:
        """The earliest a chunk taken at ``now`` may start."""
        return now - self.tolerance

    def step(self, n: int) -> float:
        """How far ``n`` slots move the schedule."""
        return n * self.interval

    def slots_before(self, tat: float, n: int) -> float:
        """Start of the ``n`` slots that ended at ``tat`` (the shared schedule's
        answer)."""
        return tat - self.step(n)

    def missed(self, start: float, now: float) -> bool:
        """Whether a chunk that should have gone at ``start`` is too late at
        ``now``."""
        return now > start + LATE

    def reserve(self, n: int, now: float) -> float:
        """Take ``n`` slots of the in-process schedule; the time to send them."""
        start = max(self.tat, self.floor(now))
        self.tat = start + self.step(n)
        return start


class Window:
    """Messages in flight to one connector, at most ``size``."""

    __slots__ = ("in_flight", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"window must be >= 1, got {size}")
        self.size = size
        self.in_flight = 0

    def take(self, n: int) -> bool:
        """Count ``n`` more in flight if they fit (a chunk larger than the window
        fits an empty one); False and nothing taken if not."""
        if self.in_flight and self.in_flight + n > self.size:
            return False
        self.in_flight += n
        return True

    def release(self, n: int) -> None:
        self.in_flight = max(0, self.in_flight - n)


class Backlog:
    """Claimed messages waiting for one connector on this node, at most `HORIZON`
    seconds of ``rate``."""

    __slots__ = ("cap", "interval", "tail", "waiting")

    def __init__(self, rate: float, *, chunk: int) -> None:
        self.interval = 1.0 / rate
        #: Most messages kept waiting (at least one chunk).
        self.cap = max(chunk, math.ceil(rate * HORIZON))
        self.waiting = 0
        #: When the last deferred message becomes due again.
        self.tail = float("-inf")

    def admit(self, count: int, now: float) -> tuple[int, list[float]]:
        """Of ``count`` messages just claimed for this connector: how many to keep
        (counted as waiting), and for each of the others the delay after which it is
        due again. Delays follow the rate behind what waits and what was deferred
        before, less half the horizon, so a deferred message is claimed again a
        little before its turn."""
        keep = min(count, max(0, self.cap - self.waiting))
        self.waiting += keep
        rest = count - keep
        if not rest:
            return keep, []
        first = max(
            now + self.waiting * self.interval - HORIZON / 2,
            self.tail + self.interval,
            now,
        )
        delays = [first + i * self.interval - now for i in range(rest)]
        self.tail = first + (rest - 1) * self.interval
        return keep, delays

    def done(self, n: int) -> None:
        """``n`` kept messages were handed to the connector (or given up)."""
        self.waiting = max(0, self.waiting - n)
