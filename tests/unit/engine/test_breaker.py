"""The circuit breaker, driven by hand: time is a number the test moves."""

from __future__ import annotations

import pytest

from umsgate.engine.breaker import (
    PROBE_WAIT,
    TRANSITIONS,
    Breaker,
    Event,
    Policy,
    State,
    Transition,
)

POLICY = Policy(threshold=3, ratio=0.5, window=10.0, cooldown=2.0, cooldown_max=8.0)


def tripped(b: Breaker, now: float = 0.0) -> Transition:
    """Three transient failures at ``now``: the third opens it."""
    assert b.record(now, 1, ok=False) is None
    assert b.record(now, 2, ok=False) is None
    change = b.record(now, 3, ok=False, detail="4002 connection refused")
    assert change is not None
    return change


def probing(b: Breaker, at: float) -> None:
    """Move an open breaker on to half-open at ``at`` (its cool-down is over)."""
    change = b.observe(at, up=True)
    assert change is not None and change.new is State.HALF_OPEN


def test_starts_closed_and_in_rotation() -> None:
    b = Breaker("a", POLICY)
    assert b.state is State.CLOSED
    assert b.available(0.0, up=True)
    assert b.retry_in(0.0) == 0.0


def test_failures_beyond_the_threshold_open_it() -> None:
    b = Breaker("a", POLICY)
    change = tripped(b)
    assert (change.old, change.new, change.event) == (
        State.CLOSED,
        State.OPEN,
        Event.TRIP,
    )
    assert change.retry_in == 2.0
    assert "3 of 3 answers" in change.detail and "connection refused" in change.detail
    assert not b.available(0.0, up=True)
    assert b.retry_in(0.5) == pytest.approx(1.5)


def test_failures_below_the_ratio_do_not_open_it() -> None:
    """Three failures among many successes: a busy connector with a few errors
    stays in rotation."""
    b = Breaker("a", POLICY)
    for i in range(10):
        assert b.record(0.0, i, ok=True) is None
    for i in range(10, 13):
        assert b.record(0.0, i, ok=False) is None
    assert b.state is State.CLOSED
    # Enough further failures to make half the window: now it opens.
    changes = [b.record(0.0, i, ok=False) for i in range(13, 20)]
    assert next(c for c in changes if c is not None).new is State.OPEN


def test_failures_leave_the_window_as_time_passes() -> None:
    b = Breaker("a", POLICY)
    b.record(0.0, 1, ok=False)
    b.record(1.0, 2, ok=False)
    assert b.counts(1.0) == (2, 2)
    assert b.counts(10.5) == (1, 1)  # the one at t=0 is out of the 10 s window
    assert b.record(10.5, 3, ok=False) is None  # 2 in the window: not yet
    assert b.state is State.CLOSED
    assert b.counts(25.0) == (0, 0)


def test_a_connector_that_reports_itself_down_opens_it_at_once() -> None:
    b = Breaker("a", POLICY)
    change = b.observe(5.0, up=False, detail="transceiver: connection refused")
    assert change is not None
    assert (change.new, change.event) == (State.OPEN, Event.DOWN)
    assert change.detail == "transceiver: connection refused"
    assert b.observe(5.1, up=False) is None  # logged once, not on every look


def test_cooldown_then_probes_close_it() -> None:
    b = Breaker("a", POLICY)
    tripped(b, now=0.0)
    assert b.observe(1.9, up=True) is None  # still cooling down
    assert b.state is State.OPEN
    probing(b, 2.0)
    assert b.retry_in(2.0) == PROBE_WAIT
    # Three probe slots (policy.probes), then none until answers come.
    for key in ("p1", "p2", "p3"):
        assert b.available(2.0, up=True)
        b.acquire(key, 2.0)
    assert not b.available(2.0, up=True)
    assert b.record(2.1, "p1", ok=True) is None
    assert b.record(2.1, "p2", ok=True) is None
    assert not b.available(2.1, up=True)  # one more success is all it needs
    change = b.record(2.2, "p3", ok=True)
    assert change is not None
    assert (change.old, change.new, change.event) == (
        State.HALF_OPEN,
        State.CLOSED,
        Event.PROBES_PASSED,
    )
    assert b.available(2.2, up=True)
    assert b.counts(2.2) == (0, 0)  # a clean window after closing


def test_a_failed_probe_reopens_it_with_a_doubled_cooldown() -> None:
    b = Breaker("a", POLICY)
    tripped(b, now=0.0)
    probing(b, 2.0)
    b.acquire("p1", 0.0)
    change = b.record(2.5, "p1", ok=False, detail="4000 ESME_RSYSERR")
    assert change is not None
    assert (change.new, change.event, change.retry_in) == (
        State.OPEN,
        Event.PROBE_FAILED,
        4.0,
    )
    probing(b, 6.5)
    b.acquire("p2", 0.0)
    change = b.record(6.6, "p2", ok=False)
    assert change is not None and change.retry_in == 8.0
    probing(b, 14.6)
    b.acquire("p3", 0.0)
    change = b.record(14.7, "p3", ok=False)
    assert change is not None and change.retry_in == 8.0  # cooldown_max


def test_closing_resets_the_cooldown() -> None:
    b = Breaker("a", Policy(threshold=1, cooldown=1.0, cooldown_max=30.0, probes=1))
    b.record(0.0, 1, ok=False)
    probing(b, 1.0)
    b.acquire("p", 0.0)
    b.record(1.0, "p", ok=False)  # cooldown 2
    probing(b, 3.0)
    b.acquire("q", 0.0)
    assert b.record(3.0, "q", ok=True) is not None  # closed
    change = b.record(4.0, 2, ok=False)
    assert change is not None and change.retry_in == 1.0


def test_a_connector_still_down_after_the_cooldown_gets_one_probe_at_a_time() -> None:
    """An HTTP connector is up again only after an exchange succeeds, so a breaker
    cannot wait for it to say so: one probe at a time goes to it meanwhile."""
    b = Breaker("a", POLICY)
    b.observe(0.0, up=False, detail="3 failure(s) in a row")
    change = b.observe(2.0, up=False, detail="3 failure(s) in a row")
    assert change is not None and (change.new, change.event) == (
        State.HALF_OPEN,
        Event.COOLED,
    )
    assert change.detail == "still down: 3 failure(s) in a row"
    assert b.available(2.0, up=False)
    b.acquire("p1", 2.0)
    assert not b.available(2.0, up=False)  # one at a time while it is down
    change = b.record(2.5, "p1", ok=False)
    assert change is not None and change.new is State.OPEN and change.retry_in == 4.0
    assert b.observe(6.5, up=True) is not None
    for key in ("p2", "p3", "p4"):  # up again: the full number of probes
        assert b.available(6.0, up=True)
        b.acquire(key, 6.0)
    assert not b.available(6.0, up=True)


def test_going_down_while_probing_lets_the_probes_decide() -> None:
    b = Breaker("a", POLICY)
    tripped(b)
    probing(b, 2.0)
    b.acquire("p1", 2.0)
    b.acquire("p2", 2.0)
    assert b.observe(2.1, up=False, detail="unbound") is None
    assert b.state is State.HALF_OPEN
    assert not b.available(2.1, up=False)  # probes are out: no more while down
    assert b.record(2.2, "p1", ok=True) is None
    change = b.record(2.3, "p2", ok=False)
    assert change is not None and (change.old, change.new) == (
        State.HALF_OPEN,
        State.OPEN,
    )


def test_answers_of_messages_sent_before_it_opened_are_ignored() -> None:
    b = Breaker("a", POLICY)
    tripped(b)
    assert b.record(0.5, 99, ok=False) is None
    assert b.record(0.5, 98, ok=True) is None
    assert b.state is State.OPEN
    probing(b, 2.0)
    b.acquire("probe", 0.0)
    # An old message's answer while probing is not a probe's answer.
    assert b.record(2.1, 97, ok=False) is None
    assert b.state is State.HALF_OPEN


def test_a_released_probe_frees_its_slot() -> None:
    b = Breaker("a", Policy(probes=1, cooldown=1.0))
    b.observe(0.0, up=False)
    probing(b, 1.0)
    b.acquire(7, 0.0)
    assert not b.available(1.0, up=True)
    b.release(7)
    assert b.available(1.0, up=True)


def test_a_down_connector_is_not_available_even_when_closed() -> None:
    b = Breaker("a", POLICY)
    assert not b.available(0.0, up=False)


def test_snapshot_for_healthz() -> None:
    b = Breaker("a", POLICY)
    b.record(0.0, 1, ok=True)
    tripped(b, now=1.0)
    snap = b.snapshot(1.5)
    doc = snap.as_json()
    assert doc["state"] == "open"
    assert doc["since"] == 0.5
    assert doc["retryIn"] == 1.5
    assert (doc["failures"], doc["answers"]) == (3, 4)
    assert str(doc["reason"]).startswith("too many transient failures")


def test_every_transition_of_the_table_happens() -> None:
    """Each (state, event) of the table is reached by the public methods."""
    seen: set[tuple[State, Event]] = set()

    def note(change: Transition | None) -> None:
        assert change is not None
        assert TRANSITIONS[(change.old, change.event)] is change.new
        seen.add((change.old, change.event))

    b = Breaker("a", Policy(threshold=1, cooldown=1.0, probes=1))
    note(b.observe(0.0, up=False))  # CLOSED, DOWN
    note(b.observe(1.0, up=True))  # OPEN, COOLED
    b.acquire("p", 0.0)
    note(b.record(2.0, "p", ok=False))  # HALF_OPEN, PROBE_FAILED
    note(b.observe(4.0, up=True))
    b.acquire("q", 0.0)
    note(b.record(4.0, "q", ok=True))  # HALF_OPEN, PROBES_PASSED
    note(b.record(4.0, 1, ok=False))  # CLOSED, TRIP
    assert seen == set(TRANSITIONS)


@pytest.mark.parametrize(
    "fields",
    [
        {"threshold": 0},
        {"ratio": 0.0},
        {"ratio": 1.5},
        {"window": 0.0},
        {"cooldown": 0.0},
        {"cooldown": 10.0, "cooldown_max": 5.0},
        {"probes": 0},
        {"probe_timeout": 0.0},
    ],
)
def test_bad_policies_are_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Policy(**fields)  # type: ignore[arg-type]


def test_a_probe_that_never_answers_gives_its_slot_back_in_time() -> None:
    b = Breaker("a", Policy(probes=1, cooldown=1.0, probe_timeout=30.0))
    b.observe(0.0, up=False)
    probing(b, 1.0)
    b.acquire("lost", 1.0)
    b.observe(30.9, up=True)
    assert not b.available(30.9, up=True)
    b.observe(31.0, up=True)
    assert b.available(31.0, up=True)
    assert b.record(31.5, "lost", ok=True) is None  # too late to count
    assert b.state is State.HALF_OPEN
