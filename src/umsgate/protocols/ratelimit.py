"""The send rate of one route: a configured TPS, lowered for a while when the SMSC
says it is too fast, then raised again step by step. Sans-I/O: time comes in.

Theory of operation
-------------------
`RateLimiter.reserve(now)` hands out send slots on a fixed spacing (a generic cell
rate algorithm: each slot is ``1/rate`` after the previous one, with a burst of
`BURST_SECONDS` worth of slots allowed to go at once) and returns how long the
caller must wait for its slot. With no rate at all it returns 0.

`throttled(now)` is called on ESME_RTHROTTLED or ESME_RMSGQFUL: the rate halves,
from the configured one or, when none is configured, from the rate measured over the
last second (or since the first send, when that is more recent). It never falls
below `MIN_TPS` and is cut at most once per half ``hold``: a full window of refusals
is one signal, not ten. After ``hold`` seconds without a new refusal the rate grows
by `RECOVERY_FACTOR` each ``hold``, up to the configured TPS; with none configured,
the limit is lifted once it is twice the measured rate.
"""

from __future__ import annotations

#: Slowest rate a throttled route falls to (messages per second).
MIN_TPS = 1.0
#: Slots that may go at once, in seconds of the rate (a small burst).
BURST_SECONDS = 0.05
#: Each recovery step multiplies the rate by this.
RECOVERY_FACTOR = 1.5
_BUCKETS = 10


class RateLimiter:
    """Send slots for one route.

    Args:
        tps: the configured messages per second; None for no limit of our own.
        hold: seconds a lowered rate holds before it starts to recover.
    """

    def __init__(self, tps: float | None, *, hold: float = 1.0) -> None:
        if tps is not None and tps <= 0:
            raise ValueError(f"tps must be > 0, got {tps}")
        self.configured = tps
        self.hold = hold
        #: The rate in force now; None = unlimited.
        self.rate = tps
        self._tat = 0.0  # theoretical arrival time of the next slot
        self._slowed_until = 0.0
        self._last_cut = float("-inf")
        # Sends per tenth of a second over the last second, for the measured rate.
        self._buckets = [0] * _BUCKETS
        self._tick = 0
        self._first: float | None = None

    @property
    def slowed(self) -> bool:
        """Whether the rate is below the configured one (or limited when none is)."""
        return self.rate is not None and (
            self.configured is None or self.rate < self.configured
        )

    def measured(self, now: float) -> float:
        """Sends per second over the last second (or since the first send)."""
        if self._first is None:
            return 0.0
        self._advance(now)
        span = min(1.0, max(1.0 / _BUCKETS, now - self._first))
        return sum(self._buckets) / span

    def _advance(self, now: float) -> None:
        tick = int(now * _BUCKETS)
        if tick != self._tick:
            for i in range(self._tick + 1, min(tick, self._tick + _BUCKETS) + 1):
                self._buckets[i % _BUCKETS] = 0
            self._tick = tick

    def reserve(self, now: float) -> float:
        """Take the next slot; returns the seconds to wait before sending in it."""
        if self._first is None:
            self._first = now
            self._tick = int(now * _BUCKETS)
        self._advance(now)
        self._buckets[self._tick % _BUCKETS] += 1
        if self.slowed and now >= self._slowed_until:
            self._recover(now)
        rate = self.rate
        if rate is None:
            return 0.0
        interval = 1.0 / rate
        tolerance = max(0.0, BURST_SECONDS * rate - 1.0) * interval
        tat = self._tat if self._tat > now else now
        wait = tat - tolerance - now
        self._tat = tat + interval
        return wait if wait > 0.0 else 0.0

    def throttled(self, now: float) -> None:
        """The SMSC refused a message as too fast: lower the rate for a while."""
        self._slowed_until = now + self.hold
        if now - self._last_cut < self.hold / 2:
            return
        self._last_cut = now
        base = self.rate if self.rate is not None else max(self.measured(now), MIN_TPS)
        self.rate = max(MIN_TPS, base / 2)

    def _recover(self, now: float) -> None:
        assert self.rate is not None
        raised = self.rate * RECOVERY_FACTOR
        if self.configured is not None:
            self.rate = min(self.configured, raised)
        elif raised > 2 * max(self.measured(now), MIN_TPS):
            self.rate = None
        else:
            self.rate = raised
        self._slowed_until = now + self.hold
