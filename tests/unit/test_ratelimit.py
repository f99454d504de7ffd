"""The route's rate limiter, with time passed in."""

from __future__ import annotations

from umsgate.protocols.ratelimit import MIN_TPS, RateLimiter


def sends_in(limiter: RateLimiter, start: float, seconds: float) -> int:
    """How many sends fit in [start, start + seconds) if each waits its slot."""
    now = start
    n = 0
    while True:
        now += limiter.reserve(now)
        if now >= start + seconds:
            return n
        n += 1


def test_unlimited() -> None:
    limiter = RateLimiter(None)
    assert all(limiter.reserve(1.0) == 0.0 for _ in range(1000))
    assert not limiter.slowed


def test_configured_rate() -> None:
    limiter = RateLimiter(100.0)
    assert 99 <= sends_in(limiter, 10.0, 1.0) <= 106  # 100/s plus a 50 ms burst


def test_throttled_halves_then_recovers() -> None:
    limiter = RateLimiter(100.0, hold=1.0)
    limiter.throttled(0.0)
    assert limiter.rate == 50.0
    assert limiter.slowed
    # A window of refusals at once counts once.
    limiter.throttled(0.1)
    assert limiter.rate == 50.0
    limiter.throttled(0.6)
    assert limiter.rate == 25.0
    # No refusal for a hold: the rate grows step by step to the configured one.
    rates = []
    now = 1.6
    for _ in range(6):
        limiter.reserve(now)
        rates.append(limiter.rate)
        now += 1.0
    assert rates[0] == 37.5
    assert rates == sorted(rates)
    assert rates[-1] == 100.0
    assert not limiter.slowed


def test_unconfigured_route_slows_from_the_measured_rate() -> None:
    limiter = RateLimiter(None, hold=1.0)
    for i in range(400):
        limiter.reserve(5.0 + i / 400)
    assert 350 <= limiter.measured(6.0) <= 410  # the last second, in tenths
    limiter.throttled(6.0)
    assert limiter.rate is not None and 175 <= limiter.rate <= 205
    sent = sends_in(limiter, 6.0, 1.0)
    assert 170 <= sent <= 215


def test_early_throttle_measures_since_the_first_send() -> None:
    # Refused 0.1 s after the first send: 40 sends in 0.1 s is 400/s, not 40/s.
    limiter = RateLimiter(None, hold=1.0)
    for i in range(40):
        limiter.reserve(100.0 + i / 400)
    limiter.throttled(100.1)
    assert limiter.rate is not None and limiter.rate >= 150


def test_never_below_the_floor() -> None:
    limiter = RateLimiter(4.0, hold=0.1)
    for i in range(20):
        limiter.throttled(i * 0.1)
    assert limiter.rate == MIN_TPS
