"""Connector pacing (engine/pacing.py): the rate schedule, the window and the claimed
backlog, driven by an explicit ``now``."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from umsgate.engine.pacing import (
    BURST_SECONDS,
    HORIZON,
    Backlog,
    Pace,
    Window,
    chunk_size,
)


@pytest.mark.parametrize(
    ("rate", "max_chunk", "chunk"),
    [(100, 100, 10), (20, 100, 2), (5, 100, 1), (0.5, 100, 1), (5000, 100, 100)],
)
def test_a_chunk_is_a_tenth_of_a_second_of_the_rate(
    rate: float, max_chunk: int, chunk: int
) -> None:
    assert Pace(rate, max_chunk=max_chunk).chunk == chunk


def test_a_window_smaller_than_the_chunk_caps_it() -> None:
    assert Pace(1000, max_chunk=7).chunk == 7


@pytest.mark.parametrize(
    ("window", "size"), [(None, 100), (1000, 100), (100, 25), (10, 2), (3, 1), (1, 1)]
)
def test_a_window_holds_four_chunks(window: int | None, size: int) -> None:
    assert chunk_size(100, window) == size


def test_a_burst_is_scheduled_at_the_rate_never_refused() -> None:
    pace = Pace(100, max_chunk=100)
    starts = [pace.reserve(10, now=50.0) for _ in range(50)]
    # The first chunk may start BURST_SECONDS early (an idle connector's burst),
    # then each chunk of 10 follows 0.1 s after the one before.
    assert starts[0] == pytest.approx(50.0 - BURST_SECONDS)
    assert [b - a for a, b in itertools.pairwise(starts)] == pytest.approx([0.1] * 49)
    assert pace.tat == pytest.approx(50.0 - BURST_SECONDS + 5.0)


def test_an_idle_schedule_does_not_save_up_slots() -> None:
    pace = Pace(10, max_chunk=100)
    pace.reserve(1, now=0.0)
    # An hour later the schedule starts from now, not from an hour of credit.
    assert pace.reserve(1, now=3600.0) == pytest.approx(3600.0 - BURST_SECONDS)
    assert pace.reserve(1, now=3600.0) == pytest.approx(3600.0 - BURST_SECONDS + 0.1)


def test_the_shared_schedule_answer_gives_the_chunk_start() -> None:
    pace = Pace(100, max_chunk=100)
    # What the store computes: tat = max(tat, floor) + step.
    tat = max(7.0, pace.floor(5.0)) + pace.step(10)
    assert pace.slots_before(tat, 10) == pytest.approx(7.0)


@given(
    rate=st.floats(min_value=1.0, max_value=2000.0),
    calls=st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=0.5),  # time since the last call
            st.integers(min_value=0, max_value=1),  # which of two nodes
            st.floats(min_value=-0.02, max_value=0.02),  # that node's clock skew
        ),
        min_size=1,
        max_size=200,
    ),
)
def test_two_nodes_on_one_schedule_never_exceed_the_rate(
    rate: float, calls: list[tuple[float, int, float]]
) -> None:
    """However two nodes interleave their chunks, and with clocks 20 ms apart, the
    slots handed out up to any time fit the rate plus one burst and the skew."""
    nodes = [Pace(rate, max_chunk=100), Pace(rate, max_chunk=100)]
    tat = float("-inf")  # the shared row
    true_now = 0.0
    sent: list[tuple[float, int]] = []  # (start, messages)
    for gap, node, skew in calls:
        true_now += gap
        pace = nodes[node]
        n = pace.chunk
        tat = max(tat, pace.floor(true_now + skew)) + pace.step(n)
        start = pace.slots_before(tat, n)
        sent.append((max(start, true_now), n))  # a node sends at its start or now
    first = min(t for t, _ in sent)
    for t, _ in sent:
        taken = sum(n for s, n in sent if first <= s <= t)
        slack = rate * (BURST_SECONDS + 0.02) + nodes[0].chunk + 1e-6
        assert taken <= rate * (t - first) + slack


def test_the_window_counts_messages_in_flight() -> None:
    window = Window(25)
    assert window.take(10) and window.take(10)
    assert not window.take(10)  # 30 would not fit
    assert window.in_flight == 20
    assert window.take(5)
    window.release(10)
    assert window.take(10)
    assert window.in_flight == 25


def test_an_empty_window_takes_a_chunk_larger_than_itself() -> None:
    window = Window(3)
    assert window.take(5)  # never stuck
    assert not window.take(1)
    window.release(5)
    assert window.in_flight == 0


def test_invalid_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        Pace(0, max_chunk=10)
    with pytest.raises(ValueError, match="max_chunk"):
        Pace(10, max_chunk=0)
    with pytest.raises(ValueError, match="window"):
        Window(0)


def test_the_backlog_keeps_a_horizon_and_defers_the_rest_at_the_rate() -> None:
    backlog = Backlog(100, chunk=10)
    assert backlog.cap == 100 * HORIZON
    keep, delays = backlog.admit(500, now=0.0)
    assert keep == 200 and len(delays) == 300
    # Due again half a horizon before its turn: 200 waiting = 2 s; then 100/s.
    assert delays[0] == pytest.approx(2.0 - HORIZON / 2)
    assert [b - a for a, b in itertools.pairwise(delays)] == pytest.approx([0.01] * 299)
    # The next claim of the same burst queues behind the first one's deferrals.
    keep, more = backlog.admit(100, now=0.0)
    assert keep == 0
    assert more[0] == pytest.approx(delays[-1] + 0.01)
    # As chunks go out, room opens again.
    backlog.done(50)
    keep, rest = backlog.admit(80, now=0.5)
    assert (keep, len(rest)) == (50, 30)
    assert backlog.waiting == 200


def test_a_deferral_is_never_in_the_past() -> None:
    backlog = Backlog(1000, chunk=100)
    backlog.admit(2000, now=0.0)
    # Long after the earlier deferrals' tail, with nothing waiting any more.
    backlog.done(2000)
    keep, delays = backlog.admit(3000, now=100.0)
    assert keep == 2000
    assert min(delays) >= 0.0
    assert delays[0] == pytest.approx(2.0 - HORIZON / 2)


def test_a_slow_rate_keeps_at_least_one_chunk() -> None:
    backlog = Backlog(0.2, chunk=1)
    assert backlog.cap == 1
    assert backlog.admit(3, now=0.0)[0] == 1
