"""The message lifecycle table (domain/lifecycle.py)."""

from __future__ import annotations

import itertools

import pytest

from umsgate.domain import lifecycle
from umsgate.domain.lifecycle import IllegalTransition, Status
from umsgate.errors import UmsgateError

FINALS = {Status.DELIVERED, Status.FAILED, Status.EXPIRED}


def test_finals() -> None:
    assert {s for s in Status if s.final} == FINALS


@pytest.mark.parametrize("final", sorted(FINALS))
def test_finals_have_no_exits(final: Status) -> None:
    assert lifecycle.TRANSITIONS[final] == frozenset()
    for target in Status:
        assert not lifecycle.allowed(final, target)
        with pytest.raises(IllegalTransition):
            lifecycle.check(final, target)


def test_every_status_has_a_row() -> None:
    assert set(lifecycle.TRANSITIONS) == set(Status)


def test_every_non_final_status_can_end() -> None:
    for status in Status:
        if not status.final:
            assert lifecycle.TRANSITIONS[status] & FINALS


def test_every_status_but_accepted_is_reachable() -> None:
    reached = set().union(*lifecycle.TRANSITIONS.values())
    assert reached == set(Status) - {Status.ACCEPTED}


def test_no_status_moves_to_itself() -> None:
    for status in Status:
        assert not lifecycle.allowed(status, status)


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        (Status.ACCEPTED, Status.QUEUED),
        (Status.QUEUED, Status.SENDING),
        (Status.QUEUED, Status.EXPIRED),
        (Status.SENDING, Status.SENT),
        (Status.SENDING, Status.QUEUED),
        (Status.SENDING, Status.FAILED),
        (Status.SENT, Status.DELIVERED),
        (Status.SENT, Status.FAILED),
        (Status.SENT, Status.QUEUED),  # a report asking for a resend
        (Status.SENT, Status.EXPIRED),
    ],
)
def test_the_documented_path(src: Status, dst: Status) -> None:
    assert lifecycle.allowed(src, dst)
    lifecycle.check(src, dst)


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        (Status.ACCEPTED, Status.SENT),
        (Status.ACCEPTED, Status.DELIVERED),
        (Status.QUEUED, Status.SENT),
        (Status.QUEUED, Status.DELIVERED),
        (Status.QUEUED, Status.ACCEPTED),
        (Status.SENT, Status.SENDING),
        (Status.SENDING, Status.ACCEPTED),
        (Status.DELIVERED, Status.FAILED),
        (Status.FAILED, Status.QUEUED),
        (Status.EXPIRED, Status.DELIVERED),
    ],
)
def test_off_the_table_raises(src: Status, dst: Status) -> None:
    assert not lifecycle.allowed(src, dst)
    with pytest.raises(IllegalTransition) as info:
        lifecycle.check(src, dst)
    assert isinstance(info.value, UmsgateError)
    assert str(src) in str(info.value) and str(dst) in str(info.value)


def test_check_agrees_with_the_table_everywhere() -> None:
    for src, dst in itertools.product(Status, Status):
        ok = dst in lifecycle.TRANSITIONS[src]
        assert lifecycle.allowed(src, dst) is ok
        if ok:
            lifecycle.check(src, dst)
        else:
            with pytest.raises(IllegalTransition):
                lifecycle.check(src, dst)


def test_sources_inverts_the_table() -> None:
    for dst in Status:
        assert lifecycle.sources(dst) == {
            s for s in Status if dst in lifecycle.TRANSITIONS[s]
        }
    assert lifecycle.sources(Status.ACCEPTED) == frozenset()
    assert Status.SENT in lifecycle.sources(Status.DELIVERED)


def test_mermaid_diagram_lists_every_transition() -> None:
    diagram = lifecycle.mermaid()
    assert diagram.startswith("stateDiagram-v2")
    for src, targets in lifecycle.TRANSITIONS.items():
        for dst in targets:
            assert f"    {src} --> {dst}" in diagram
    for final in FINALS:
        assert f"    {final} --> [*]" in diagram
