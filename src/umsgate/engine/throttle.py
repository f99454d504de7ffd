"""Token buckets: the per-client, per-channel TPS guard of the API.

A bucket holds at most ``rate`` tokens (one second of traffic) and refills
continuously. Where several gateway nodes share a database, each node's bucket gets
``rate / live nodes`` so that the sum over the nodes holds the client's TPS without a
round trip per request (the node count comes from the heartbeat table).
"""

from __future__ import annotations

import time


class TokenBucket:
    __slots__ = ("_stamp", "_tokens", "capacity", "rate")

    def __init__(self, rate: float, *, now: float | None = None) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self._tokens = self.capacity
        self._stamp = time.monotonic() if now is None else now

    def take(self, n: float = 1.0, *, now: float | None = None) -> bool:
        """Take ``n`` tokens if there are; False (and nothing taken) if not."""
        t = time.monotonic() if now is None else now
        self._tokens = min(self.capacity, self._tokens + (t - self._stamp) * self.rate)
        self._stamp = t
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False

    def set_rate(self, rate: float) -> None:
        if rate != self.rate:
            self.rate = rate
            self.capacity = max(rate, 1.0)
            self._tokens = min(self._tokens, self.capacity)


class Throttles:
    """Buckets keyed by (client, channel key)."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self.share = 1.0

    def allow(self, client_id: str, key: str, tps: float | None) -> bool:
        """Whether one more message fits the client's ``tps`` (None: unlimited)."""
        if tps is None:
            return True
        rate = tps * self.share
        bucket = self._buckets.get((client_id, key))
        if bucket is None:
            bucket = self._buckets[(client_id, key)] = TokenBucket(rate)
        else:
            bucket.set_rate(rate)
        return bucket.take()
