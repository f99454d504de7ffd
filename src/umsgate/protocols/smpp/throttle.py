"""The send rate of one route: a configured TPS, lowered for a while when the SMSC
says it is too fast, then raised again step by step. Sans-I/O: time comes in.

Theory of operation
-------------------
`RateLimiter.reserve(now)` hands out send slots on a fixed spacing (a generic cell
rate algorithm: each slot is ``1/rate`` after the previous one, with a burst of
`BURST_SECONDS` worth of slots allowed to go at once) and returns how long the
caller must wait for its slot. With no rate at all it returns 0.

`throttled(now)` is called on ESME_RTHROTTLED or ESME_RMSGQFUL: the rate halves
(from the configured one, or from the rate measured over the last second when none is
configured), but not below `MIN_TPS` and not more than once per half `hold` — a full
window of refusals is one signal, not ten. After ``hold`` seconds without a new
refusal the rate grows by `RECOVERY_FACTOR` each ``hold``, up to the configured TPS;
with none configured, the limit is lifted once it is twice the measured rate.
"""

from __future__ import annotations

#: Slowest rate a throttled route falls to (messages per second).
MIN_TPS = 1.0
#: Slots that may go at once, in seconds of the rate (a small burst).
BURST_SECONDS = 0.05
#: Each recovery step multiplies the rate by this.
RECOVERY_FACTOR = 1.5


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
        # Sends per whole second, for the measured rate.
        self._second = 0
        self._count = 0
        self._last_count = 0

    @property
    def slowed(self) -> bool:
        """Whether the rate is below the configured one (or limited when none is)."""
        return self.rate is not None and (
            self.configured is None or self.rate < self.configured
        )

    def measured(self) -> float:
        """Sends in the last whole second."""
        return float(self._last_count)

    def reserve(self, now: float) -> float:
        """Take the next slot; returns the seconds to wait before sending in it."""
        second = int(now)
        if second != self._second:
            self._last_count = self._count if second == self._second + 1 else 0
            self._second = second
            self._count = 0
        self._count += 1
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
        base = self.rate if self.rate is not None else max(self.measured(), MIN_TPS)
        self.rate = max(MIN_TPS, base / 2)

    def _recover(self, now: float) -> None:
        assert self.rate is not None
        raised = self.rate * RECOVERY_FACTOR
        if self.configured is not None:
            self.rate = min(self.configured, raised)
        elif raised > 2 * max(self.measured(), MIN_TPS):
            self.rate = None
        else:
            self.rate = raised
        self._slowed_until = now + self.hold
