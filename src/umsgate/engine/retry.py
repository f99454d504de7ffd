"""Retry policy, pure: how long to wait before the next try of a message.

Exponential backoff with "equal jitter": half the delay is fixed, half is drawn, so
retries of a burst spread out but never come back sooner than half the backoff.
"""

from __future__ import annotations

import random


def backoff(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait after the ``attempt``-th try (1-based) failed transiently."""
    if attempt < 1:
        attempt = 1
    delay = float(min(cap, base * (2 ** min(attempt - 1, 30))))
    draw: float = (rng or random).random()
    return delay / 2 + draw * delay / 2
