"""Failure counts and lockouts (`umsgate.lockout`), with the time given."""

from __future__ import annotations

import logging

import pytest

from umsgate.lockout import FORGET_AFTER, Guard, Limiter, address_key


def limiter(free: int = 5, max_seconds: float = 300.0, keys: int = 100) -> Limiter:
    return Limiter(free=free, max_seconds=max_seconds, keys=keys)


def test_the_free_th_failure_locks_for_a_second_then_each_doubles() -> None:
    lim = limiter(free=3, max_seconds=10.0)
    assert [lim.failed("acme", 0.0) for _ in range(2)] == [0.0, 0.0]
    assert lim.retry_after("acme", 0.0) == 0.0
    assert lim.failed("acme", 0.0) == 1.0
    assert lim.retry_after("acme", 0.25) == pytest.approx(0.75)
    assert lim.retry_after("acme", 1.0) == 0.0
    assert lim.failed("acme", 1.0) == 2.0
    assert lim.failed("acme", 3.0) == 4.0
    assert lim.failed("acme", 7.0) == 8.0
    # Capped at max_seconds.
    assert lim.failed("acme", 15.0) == 10.0
    assert lim.failed("acme", 25.0) == 10.0
    assert lim.retry_after("acme", 30.0) == pytest.approx(5.0)
    # Other keys are not concerned.
    assert lim.retry_after("other", 30.0) == 0.0


def test_failures_under_way_when_a_lockout_began_lengthen_it() -> None:
    lim = limiter(free=1, max_seconds=300.0)
    lim.failed("k", 0.0)
    for _ in range(5):
        lim.failed("k", 0.1)
    assert lim.retry_after("k", 0.1) == pytest.approx(32.0 - 0.0, abs=0.2)


def test_success_and_quiet_reset_the_count() -> None:
    lim = limiter(free=2)
    lim.failed("k", 0.0)
    lim.succeeded("k")
    assert lim.failed("k", 0.0) == 0.0  # the count started again
    assert lim.failed("k", 0.0) == 1.0
    later = FORGET_AFTER + 10.0
    assert lim.retry_after("k", later) == 0.0
    assert lim.failures("k") == 0
    assert lim.failed("k", later) == 0.0


def test_forgetting_waits_for_the_longest_lockout() -> None:
    lim = limiter(free=1, max_seconds=2 * FORGET_AFTER)
    assert lim.forget_after == 4 * FORGET_AFTER
    for _ in range(20):
        lim.failed("k", 0.0)
    assert lim.retry_after("k", FORGET_AFTER * 1.5) > 0


def test_memory_is_bounded_least_recently_failed_first() -> None:
    lim = limiter(free=1, keys=3)
    for n in range(10_000):
        lim.failed(f"made-up-{n}", 0.0)
    assert len(lim) == 3
    lim.failed("a", 0.0)
    lim.failed("b", 0.0)
    lim.failed("a", 0.0)
    lim.failed("c", 0.0)
    lim.failed("d", 0.0)  # "b" is the least recently failed
    assert lim.failures("b") == 0
    assert lim.failures("a") == 2


def guard(
    events: list[tuple[str, str]], *, client_free: int = 3, address_free: int = 5
) -> Guard:
    return Guard(
        client_free=client_free,
        address_free=address_free,
        max_seconds=60.0,
        keys=1000,
        on_failure=lambda: events.append(("failure", "")),
        on_refused=lambda kind: events.append(("refused", kind)),
        on_lockout=lambda kind: events.append(("lockout", kind)),
    )


def test_guard_limits_a_client_id_and_an_address(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[tuple[str, str]] = []
    g = guard(events)
    caplog.set_level(logging.WARNING, logger="umsgate.auth")
    for _ in range(3):
        assert g.check("acme", "10.0.0.1", 0.0) is None
        g.failed("acme", "10.0.0.1", 0.0)
    refusal = g.check("acme", "10.0.0.9", 0.5)
    assert refusal is not None
    assert (refusal.kind, refusal.retry_after) == ("client", 0.5)
    # Other ids from the same address go on until the address's own threshold.
    assert g.check("other", "10.0.0.1", 0.5) is None
    g.failed("other", "10.0.0.1", 0.5)
    g.failed("third", "10.0.0.1", 0.5)
    refusal = g.check("fourth", "10.0.0.1", 0.5)
    assert refusal is not None and refusal.kind == "address"
    # A success resets the client id, not the address.
    g.succeeded("acme")
    assert g.check("acme", "10.0.0.2", 0.6) is None
    assert g.check("acme", "10.0.0.1", 0.6) is not None
    assert events.count(("failure", "")) == 5
    assert ("lockout", "client") in events and ("lockout", "address") in events
    assert events.count(("refused", "client")) == 1
    assert events.count(("refused", "address")) == 2
    # One line per lockout started, none per refusal.
    lines = [r for r in caplog.records if getattr(r, "event", "") == "auth_lockout"]
    assert len(lines) == 2
    assert "'acme'" in lines[0].getMessage() and "10.0.0.1" in lines[0].getMessage()


def test_guard_without_an_address_limits_the_client_id_alone() -> None:
    events: list[tuple[str, str]] = []
    g = guard(events, client_free=1, address_free=1)
    g.failed("acme", "", 0.0)
    refusal = g.check("acme", "", 0.0)
    assert refusal is not None and refusal.kind == "client"
    assert events.count(("lockout", "client")) == 1
    assert ("lockout", "address") not in events


def test_checks_under_way_count_as_failures_to_come() -> None:
    events: list[tuple[str, str]] = []
    g = guard(events, client_free=3, address_free=100)
    admitted = [g.admit("acme", "10.0.0.1", 0.0) is None for _ in range(16)]
    assert admitted == [True] * 3 + [False] * 13
    refusal = g.admit("acme", "10.0.0.1", 0.0)
    assert refusal is not None and refusal.kind == "client"
    assert refusal.retry_after == 1.0
    assert g.admit("other", "10.0.0.1", 0.0) is None
    for _ in range(3):
        g.failed("acme", "10.0.0.1", 0.0)
        g.finished("acme")
    assert g.admit("acme", "10.0.0.1", 0.5) is not None  # locked out
    # Once the lockout ended, one check at a time goes through.
    assert g.admit("acme", "10.0.0.1", 1.0) is None
    assert g.admit("acme", "10.0.0.1", 1.0) is not None
    g.finished("acme")
    assert g.admit("acme", "10.0.0.1", 1.0) is None


def test_ipv6_addresses_count_by_their_64_network() -> None:
    assert address_key("10.0.0.1") == "10.0.0.1"
    assert address_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert address_key("not an address") == "not an address"
    events: list[tuple[str, str]] = []
    g = guard(events, client_free=100, address_free=3)
    for n in range(3):
        g.failed(f"id-{n}", f"2001:db8:1:2::{n + 1}", 0.0)
    refusal = g.check("other", "2001:db8:1:2:ffff::9", 0.0)
    assert refusal is not None and refusal.kind == "address"
    assert g.check("other", "2001:db8:1:3::1", 0.0) is None
