"""The circuit breaker of one connector, pure: time comes in as ``now``, nothing here
sleeps, logs or reads a clock.

Theory of operation
-------------------
A breaker is CLOSED while its connector works: every submit answer is counted in a
sliding window of ``window`` seconds (ten buckets). When the transient failures in
the window reach ``threshold`` and make up at least ``ratio`` of its answers, or
when the connector reports itself down, the breaker OPENs: the router offers the
connector no message, and its traffic goes to the next connector of the route.

After ``cooldown`` seconds the breaker is HALF_OPEN: it lets up to ``probes``
messages through as probes, or one at a time while the connector still reports
itself down (an HTTP connector learns that it is up again only from an exchange
with its provider; an SMPP connector's probe waits for its bind). When ``probes`` of
them succeed it CLOSEs; one transient failure OPENs it again with the cool-down
doubled, up to ``cooldown_max``.

An answer counts as a success when the provider took or refused the message
(ACCEPTED, REJECTED: it answered), as a failure when it came back RETRY (a transient
code, a dropped connection, a timeout). Answers to messages sent before the breaker
opened are ignored while it is OPEN, and only the probes' own answers count while it
is HALF_OPEN.

The states and the events that move them are the table `TRANSITIONS`.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
from collections.abc import Hashable

from umsgate.config import BreakerSettings


class State(enum.StrEnum):
    CLOSED = "closed"  #: in rotation; answers are counted
    OPEN = "open"  #: out of rotation until the cool-down ends and it is up
    HALF_OPEN = "half-open"  #: a few probe messages may go through


class Event(enum.Enum):
    DOWN = "the connector reports itself down"
    TRIP = "too many transient failures in the window"
    COOLED = "the cool-down ended"
    PROBES_PASSED = "the probes succeeded"
    PROBE_FAILED = "a probe failed"


#: (state, event) → the next state. Events the table does not name for a state do
#: not happen in it (the methods below fire only these).
TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.CLOSED, Event.DOWN): State.OPEN,
    (State.CLOSED, Event.TRIP): State.OPEN,
    (State.OPEN, Event.COOLED): State.HALF_OPEN,
    (State.HALF_OPEN, Event.PROBES_PASSED): State.CLOSED,
    (State.HALF_OPEN, Event.PROBE_FAILED): State.OPEN,
}

#: Buckets of the sliding window.
BUCKETS = 10
#: Seconds a message waits for a HALF_OPEN breaker whose probes are all out.
PROBE_WAIT = 0.2
#: When a breaker opens and how it comes back: the ``[breaker]`` settings.
Policy = BreakerSettings


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """A change of state, to be logged and counted once."""

    connector: str
    old: State
    new: State
    event: Event
    at: float
    detail: str = ""
    #: For OPEN: seconds until it may probe.
    retry_in: float | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """What `/healthz` shows of a breaker."""

    state: State
    #: Seconds since the last transition (None: never moved).
    since: float | None
    failures: int
    answers: int
    #: OPEN: seconds until it may probe.
    retry_in: float | None
    probes_in_flight: int
    probes_passed: int
    reason: str

    def as_json(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "since": None if self.since is None else round(self.since, 3),
            "failures": self.failures,
            "answers": self.answers,
            "retryIn": None if self.retry_in is None else round(self.retry_in, 3),
            "probesInFlight": self.probes_in_flight,
            "probesPassed": self.probes_passed,
            "reason": self.reason,
        }


class Breaker:
    """The breaker of connector ``name``; see the module docstring."""

    def __init__(self, name: str, policy: Policy) -> None:
        self.name = name
        self.policy = policy
        self.state = State.CLOSED
        self._changed_at: float | None = None
        self._reason = ""
        self._cooldown = policy.cooldown
        self._retry_at = 0.0
        #: (bucket number, failures, answers), oldest first.
        self._buckets: collections.deque[list[int]] = collections.deque()
        self._width = policy.window / BUCKETS
        #: Probes in flight: key → when it was taken.
        self._probes: dict[Hashable, float] = {}
        self._passed = 0

    # -- questions (no change) ---------------------------------------------------------

    def available(self, now: float, up: bool) -> bool:
        """Whether a message may go to the connector now (after `observe`)."""
        if self.state is State.CLOSED:
            return up
        if self.state is State.HALF_OPEN:
            if not up:
                return not self._probes
            return len(self._probes) + self._passed < self.policy.probes
        return False

    def retry_in(self, now: float) -> float:
        """Seconds until the connector may take a message again (0: now)."""
        if self.state is State.OPEN:
            return max(PROBE_WAIT, self._retry_at - now)
        if self.state is State.HALF_OPEN:
            return PROBE_WAIT
        return 0.0

    def counts(self, now: float) -> tuple[int, int]:
        """(transient failures, answers) in the window."""
        self._expire(now)
        return (
            sum(b[1] for b in self._buckets),
            sum(b[2] for b in self._buckets),
        )

    def snapshot(self, now: float) -> Snapshot:
        failures, answers = self.counts(now)
        return Snapshot(
            state=self.state,
            since=None if self._changed_at is None else now - self._changed_at,
            failures=failures,
            answers=answers,
            retry_in=max(0.0, self._retry_at - now)
            if self.state is State.OPEN
            else None,
            probes_in_flight=len(self._probes),
            probes_passed=self._passed,
            reason=self._reason,
        )

    # -- inputs ------------------------------------------------------------------------

    def observe(self, now: float, up: bool, detail: str = "") -> Transition | None:
        """The connector's own health, seen at ``now``."""
        if self._probes:
            stale = now - self.policy.probe_timeout
            for key in [k for k, at in self._probes.items() if at <= stale]:
                del self._probes[key]
        if not up and self.state is State.CLOSED:
            return self._open(now, Event.DOWN, self.policy.cooldown, detail)
        if self.state is State.OPEN and now >= self._retry_at:
            return self._fire(now, Event.COOLED, "" if up else f"still down: {detail}")
        return None

    def acquire(self, key: Hashable, now: float) -> None:
        """A message (``key``) goes to the connector: in HALF_OPEN it is a probe."""
        if self.state is State.HALF_OPEN:
            self._probes[key] = now

    def release(self, key: Hashable) -> None:
        """A message acquired with ``key`` did not go after all."""
        self._probes.pop(key, None)

    def record(
        self, now: float, key: Hashable, ok: bool, detail: str = ""
    ) -> Transition | None:
        """The connector answered message ``key``: ``ok`` unless it came back RETRY."""
        if self.state is State.CLOSED:
            self._count(now, ok)
            failures, answers = self.counts(now)
            if (
                not ok
                and failures >= self.policy.threshold
                and failures >= self.policy.ratio * answers
            ):
                return self._open(
                    now,
                    Event.TRIP,
                    self.policy.cooldown,
                    f"{failures} of {answers} answers failed transiently"
                    + (f" (last: {detail})" if detail else ""),
                )
            return None
        if self.state is State.HALF_OPEN and key in self._probes:
            del self._probes[key]
            if not ok:
                cooldown = min(self._cooldown * 2, self.policy.cooldown_max)
                return self._open(now, Event.PROBE_FAILED, cooldown, detail)
            self._passed += 1
            if self._passed >= self.policy.probes:
                return self._fire(now, Event.PROBES_PASSED, "")
        return None

    # -- internals ---------------------------------------------------------------------

    def _open(
        self, now: float, event: Event, cooldown: float, detail: str
    ) -> Transition:
        self._cooldown = cooldown
        self._retry_at = now + cooldown
        return self._fire(now, event, detail, retry_in=cooldown)

    def _fire(
        self, now: float, event: Event, detail: str, retry_in: float | None = None
    ) -> Transition:
        old = self.state
        new = TRANSITIONS[(old, event)]
        self.state = new
        self._changed_at = now
        self._reason = event.value + (f": {detail}" if detail else "")
        self._probes.clear()
        self._passed = 0
        if new is State.CLOSED:
            self._cooldown = self.policy.cooldown
            self._buckets.clear()
        return Transition(
            connector=self.name,
            old=old,
            new=new,
            event=event,
            at=now,
            detail=detail,
            retry_in=retry_in,
        )

    def _count(self, now: float, ok: bool) -> None:
        number = int(now // self._width)
        self._expire(now)
        if not self._buckets or self._buckets[-1][0] != number:
            self._buckets.append([number, 0, 0])
        bucket = self._buckets[-1]
        bucket[2] += 1
        if not ok:
            bucket[1] += 1

    def _expire(self, now: float) -> None:
        oldest = int(now // self._width) - BUCKETS + 1
        buckets = self._buckets
        while buckets and buckets[0][0] < oldest:
            buckets.popleft()
