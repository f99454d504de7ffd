"""The one clock seam: `Clock`, what every part that reads the time is given, and
`SystemClock`, the real one.

Three readings, for three uses: ``now()`` an aware UTC datetime (what protocols
and reports print), ``time()`` Unix seconds (what the store keeps: due, expiry and
report times), ``monotonic()`` seconds that never go back (timeouts and rates).
The composition root builds one `SystemClock` and hands it down; tests hand a clock
they move. It lives at the package's top, beside `umsgate.types`, so that
protocols and the engine share it without depending on each other.
"""

from __future__ import annotations

import datetime as dt
import time as _time
from typing import Protocol


class Monotonic(Protocol):
    """The one reading a timeout or a rate needs: what a part takes when that is all
    it reads (any `Clock` is one)."""

    def monotonic(self) -> float: ...


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """Aware UTC time."""
        ...

    def time(self) -> float:
        """Unix time in seconds (what the store keeps)."""
        ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    # The built-ins themselves: ``clock.time`` costs what ``time.time`` costs, and
    # the ledger and the acceptor read it on every batch.
    time = staticmethod(_time.time)
    monotonic = staticmethod(_time.monotonic)
