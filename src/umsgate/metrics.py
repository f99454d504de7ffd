"""Prometheus metrics of one gateway (a registry per gateway, so several can live in
one process, as they do in tests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypedDict, TypeVar, cast

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

if TYPE_CHECKING:
    from umsgate.engine.ledger import Final
    from umsgate.store.messages import BacklogCount

#: A labelled metric family, or one of its children.
_Family = TypeVar("_Family", Counter, Histogram)

#: Seconds: from a 0-ms receipt on loopback to a report after a day.
LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0, 3600.0, 21600.0, 86400.0,
)  # fmt: skip


class FrontCounts(TypedDict, total=False):
    """A front process's counts since its last (``"m"`` in its frames,
    `umsgate.front.wire`), each entry a JSON list of three."""

    #: ``[channel, repeated, n]``: sends accepted.
    a: list[tuple[str, bool, int]]
    #: ``[channel, reason, n]``: sends refused.
    r: list[tuple[str, str, int]]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._accepted = Counter(
            "umsgate_messages_accepted",
            "Messages accepted by the API",
            ["channel", "repeat"],
            registry=r,
        )
        self._rejected = Counter(
            "umsgate_requests_rejected",
            "Send requests refused",
            ["channel", "reason"],
            registry=r,
        )
        self._submitted = Counter(
            "umsgate_messages_submitted",
            "Messages handed to connectors",
            ["connector"],
            registry=r,
        )
        self._finals = Counter(
            "umsgate_messages_final",
            "Messages that reached a final status, by status, channel and connector "
            "(none: it never went to one)",
            ["status", "channel", "connector"],
            registry=r,
        )
        self._to_sent = Histogram(
            "umsgate_accept_to_sent_seconds",
            "From a message's acceptance to the provider taking it (observed when "
            "the message becomes final)",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._to_final = Histogram(
            "umsgate_sent_to_final_seconds",
            "From the provider taking a message to its final status",
            ["channel", "connector"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._webhooks = Counter(
            "umsgate_webhooks", "Webhook attempts", ["outcome"], registry=r
        )
        self._breaker_state = Gauge(
            "umsgate_breaker_state",
            "Circuit breaker of each connector: 0 closed, 1 half-open, 2 open",
            ["connector"],
            registry=r,
        )
        self._breaker_changes = Counter(
            "umsgate_breaker_transitions",
            "Circuit breaker transitions",
            ["connector", "state"],
            registry=r,
        )
        self.commit_batch = Gauge(
            "umsgate_accept_batch_size", "Size of the last group commit", registry=r
        )
        self._unmatched = Counter(
            "umsgate_reports_unmatched",
            "Provider reports dropped after matching no message for 10 minutes",
            ["connector"],
            registry=r,
        )
        self._refused = Counter(
            "umsgate_reports_refused",
            "Provider reports refused to the provider (it may or may not resend them)",
            ["connector"],
            registry=r,
        )
        self.parked = Gauge(
            "umsgate_reports_parked",
            "Provider reports waiting for the record of their message's submit",
            registry=r,
        )
        self._auth_failures = Counter(
            "umsgate_auth_failures",
            "Token requests refused for a wrong client id, secret or key",
            registry=r,
        )
        self._auth_refused = Counter(
            "umsgate_auth_refused",
            "Token requests refused unchecked during a lockout, by its kind",
            ["kind"],
            registry=r,
        )
        self._auth_lockouts = Counter(
            "umsgate_auth_lockouts",
            "Lockouts of token requests started, by kind (client id or address)",
            ["kind"],
            registry=r,
        )
        self._backlog = Gauge(
            "umsgate_backlog_messages",
            "Messages not final yet, by status and channel",
            ["status", "channel"],
            registry=r,
        )
        self._webhook_backlog = Gauge(
            "umsgate_webhook_backlog",
            "Reports waiting to be pushed to their client's report URL",
            registry=r,
        )
        self._webhook_oldest = Gauge(
            "umsgate_webhook_oldest_pending_seconds",
            "Age of the oldest report waiting to be pushed (0: none waits)",
            registry=r,
        )
        #: The connectors' own refusal counts as last seen (they count from their
        #: start; a restarted connector process starts again from 0).
        self._refused_seen: dict[str, int] = {}

        self._backlog_labels: set[tuple[str, str]] = set()
        # Children by label values: `labels()` costs more than the increment.
        self._accepted_by: dict[tuple[str, bool], Counter] = {}
        self._children: dict[tuple[int, tuple[str, ...]], Counter | Histogram] = {}

    def accepted(self, channel: str, repeated: bool, n: int = 1) -> None:
        child = self._accepted_by.get((channel, repeated))
        if child is None:
            child = self._accepted.labels(channel, "yes" if repeated else "no")
            self._accepted_by[(channel, repeated)] = child
        child.inc(n)

    def rejected(self, channel: str, reason: str, n: int = 1) -> None:
        self._rejected.labels(channel, reason).inc(n)

    def add_counts(self, counts: FrontCounts) -> None:
        """Add a front process's counts (`umsgate.front.app.Counts.take`)."""
        for channel, repeated, n in counts.get("a", ()):
            self.accepted(str(channel), bool(repeated), int(n))
        for channel, reason, n in counts.get("r", ()):
            self.rejected(str(channel), str(reason), int(n))

    def auth_failed(self) -> None:
        self._auth_failures.inc()

    def auth_refused(self, kind: str) -> None:
        self._auth_refused.labels(kind).inc()

    def auth_lockout(self, kind: str) -> None:
        self._auth_lockouts.labels(kind).inc()

    def submitted(self, connector: str, n: int) -> None:
        self._submitted.labels(connector).inc(n)

    def finals(self, finals: Sequence[Final]) -> None:
        """Messages made final by one committed batch."""
        counts: dict[tuple[str, str, str], int] = {}
        for status, channel, connector, created_at, sent_at, done_at in finals:
            key = (status, channel, connector or "none")
            counts[key] = counts.get(key, 0) + 1
            if sent_at is not None:
                self._child(self._to_sent, (channel,)).observe(
                    max(0.0, sent_at - created_at)
                )
                self._child(self._to_final, key[1:]).observe(
                    max(0.0, done_at - sent_at)
                )
        for key, n in counts.items():
            self._child(self._finals, key).inc(n)

    def _child(self, family: _Family, labels: tuple[str, ...]) -> _Family:
        """``family.labels(*labels)``, kept: `labels()` costs more than the
        observation."""
        key = (id(family), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(*labels)
        return cast(_Family, child)  # kept under its family's id: of its type

    def webhook(self, ok: bool) -> None:
        self._webhooks.labels("ok" if ok else "error").inc()

    def breaker(self, connector: str, state: str) -> None:
        """A breaker moved to ``state`` (closed, half-open, open)."""
        self._breaker_changes.labels(connector, state).inc()
        self._breaker_state.labels(connector).set(_BREAKER_LEVELS.get(state, 0))

    def breaker_states(self, states: dict[str, str]) -> None:
        for connector, state in states.items():
            self._breaker_state.labels(connector).set(_BREAKER_LEVELS.get(state, 0))

    def unmatched(self, connector: str) -> None:
        self._unmatched.labels(connector).inc()

    def refused(self, connector: str, total: int) -> None:
        """A connector has refused ``total`` reports since it started."""
        seen = self._refused_seen.get(connector, 0)
        added = total - seen if total >= seen else total
        self._refused_seen[connector] = total
        # Incremented by 0 too: every connector's series shows, at 0 until it
        # refuses one.
        self._refused.labels(connector).inc(max(0, added))

    def backlog(self, counts: Sequence[BacklogCount]) -> None:
        """The backlog as counted now; a (status, channel) not counted reads 0."""
        seen = {(c.status, c.channel): c.count for c in counts}
        for labels in {*seen, *self._backlog_labels}:
            self._backlog.labels(*labels).set(seen.get(labels, 0))
        self._backlog_labels |= seen.keys()

    def webhook_backlog(self, count: int, oldest_age: float) -> None:
        self._webhook_backlog.set(count)
        self._webhook_oldest.set(oldest_age)

    def render(self) -> bytes:
        return generate_latest(self.registry)


_BREAKER_LEVELS = {"closed": 0, "half-open": 1, "open": 2}
