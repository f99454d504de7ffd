"""Retry policy (engine/retry.py): exponential backoff with equal jitter."""

from __future__ import annotations

import random

import pytest

from umsgate.engine import retry


class Fixed(random.Random):
    """A generator that always draws the same point (to pin the jitter)."""

    def __init__(self, point: float) -> None:
        super().__init__(0)
        self.point = point

    def random(self) -> float:
        return self.point


@pytest.mark.parametrize(
    ("attempt", "delay"),
    [
        (1, 5.0),
        (2, 10.0),
        (3, 20.0),
        (4, 40.0),
        (5, 80.0),
        (6, 160.0),
        (7, 300.0),
        (50, 300.0),
    ],
)
def test_doubles_up_to_the_cap(attempt: int, delay: float) -> None:
    assert retry.backoff(attempt, base=5.0, cap=300.0, rng=Fixed(0.0)) == pytest.approx(
        delay / 2
    )
    assert retry.backoff(
        attempt, base=5.0, cap=300.0, rng=Fixed(0.999999)
    ) == pytest.approx(delay, rel=1e-5)


@pytest.mark.parametrize("attempt", [0, -3])
def test_attempts_below_one_count_as_the_first(attempt: int) -> None:
    assert retry.backoff(attempt, base=2.0, cap=60.0, rng=Fixed(0.5)) == retry.backoff(
        1, base=2.0, cap=60.0, rng=Fixed(0.5)
    )


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert retry.backoff(10**9, base=5.0, cap=300.0, rng=Fixed(0.5)) == pytest.approx(
        225.0
    )


def test_jitter_stays_between_half_and_full() -> None:
    rng = random.Random(42)
    for attempt in range(1, 15):
        full = min(300.0, 5.0 * 2 ** (attempt - 1))
        draws = [
            retry.backoff(attempt, base=5.0, cap=300.0, rng=rng) for _ in range(200)
        ]
        assert all(full / 2 <= d <= full for d in draws)
        assert len(set(draws)) > 100  # the delays of a burst spread out


def test_seeded_generators_repeat() -> None:
    a = [
        retry.backoff(n, base=1.0, cap=30.0, rng=random.Random(7)) for n in range(1, 10)
    ]
    b = [
        retry.backoff(n, base=1.0, cap=30.0, rng=random.Random(7)) for n in range(1, 10)
    ]
    assert a == b


def test_without_a_generator_uses_the_module_one() -> None:
    delay = retry.backoff(3, base=1.0, cap=30.0)
    assert 2.0 <= delay <= 4.0
