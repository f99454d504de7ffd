"""TPS guard (engine/throttle.py): token buckets driven by an explicit ``now``."""

from __future__ import annotations

import pytest

from umsgate.engine.throttle import Throttles, TokenBucket


def test_a_full_bucket_holds_one_second_of_traffic() -> None:
    bucket = TokenBucket(5, now=100.0)
    assert [bucket.take(now=100.0) for _ in range(7)] == [True] * 5 + [False] * 2


def test_refills_at_the_rate() -> None:
    bucket = TokenBucket(10, now=0.0)
    for _ in range(10):
        assert bucket.take(now=0.0)
    assert not bucket.take(now=0.0)
    assert not bucket.take(now=0.05)  # half a token
    assert bucket.take(now=0.1)  # the second half arrived
    assert not bucket.take(now=0.1)
    assert bucket.take(now=0.2)


def test_refill_never_exceeds_capacity() -> None:
    bucket = TokenBucket(3, now=0.0)
    assert bucket.take(now=0.0)
    # An hour idle fills the bucket to 3 tokens, not to 10,800.
    assert [bucket.take(now=3600.0) for _ in range(4)] == [True, True, True, False]


def test_a_refusal_takes_nothing() -> None:
    bucket = TokenBucket(2, now=0.0)
    assert bucket.take(2, now=0.0)
    assert not bucket.take(now=0.0)
    assert not bucket.take(now=0.0)
    assert bucket.take(now=0.5)  # one token after half a second at 2/s


def test_taking_several_tokens() -> None:
    bucket = TokenBucket(10, now=0.0)
    assert bucket.take(7, now=0.0)
    assert not bucket.take(4, now=0.0)
    assert bucket.take(3, now=0.0)


def test_rates_below_one_still_let_one_message_through() -> None:
    bucket = TokenBucket(0.5, now=0.0)
    assert bucket.capacity == 1.0
    assert bucket.take(now=0.0)
    assert not bucket.take(now=1.0)
    assert bucket.take(now=2.0)


def test_sustained_rate_over_a_simulated_minute() -> None:
    bucket = TokenBucket(20, now=0.0)
    taken = sum(bucket.take(now=i * 0.001) for i in range(60_000))
    # A full bucket to start, then 20 per second for 60 s.
    assert taken == pytest.approx(20 + 20 * 60, abs=2)


def test_set_rate_shrinks_the_bucket() -> None:
    bucket = TokenBucket(100, now=0.0)
    bucket.set_rate(2)
    assert bucket.capacity == 2
    assert [bucket.take(now=0.0) for _ in range(3)] == [True, True, False]
    bucket.set_rate(2)  # same rate: no change
    assert not bucket.take(now=0.0)


def test_throttles_are_per_client_and_key() -> None:
    throttles = Throttles()
    # Throttles read the real clock: rates this low refill nothing within the test.
    assert [throttles.allow("a", "SMS", 2) for _ in range(3)] == [True, True, False]
    # Other keys and other clients have buckets of their own.
    assert throttles.allow("a", "MMS", 2)
    assert throttles.allow("b", "SMS", 2)


def test_no_tps_means_unlimited() -> None:
    throttles = Throttles()
    assert all(throttles.allow("a", "RCS", None) for _ in range(10_000))


def test_share_splits_the_rate_among_nodes() -> None:
    throttles = Throttles()
    throttles.share = 0.5
    assert [throttles.allow("a", "SMS", 4) for _ in range(3)] == [True, True, False]


def test_a_lower_tps_applies_to_an_existing_bucket() -> None:
    throttles = Throttles()
    assert throttles.allow("a", "SMS", 100)
    assert [throttles.allow("a", "SMS", 2) for _ in range(3)] == [True, True, False]
