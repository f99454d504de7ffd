"""The real clock (the `umsgate.types.Clock` protocol)."""

from __future__ import annotations

import datetime as dt
import time


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def time(self) -> float:
        """Unix time in seconds (what the store keeps)."""
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()
