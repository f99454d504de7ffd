"""Which connector carries a message, and why.

Routes are an ordered table (first match wins) of rules on channel, receiver country
(from the E.164 number), receiver prefix, client, and sender (exact or prefix);
every rule a route gives must match. With no route configured every message goes to
the sandbox carrier. See ``docs/routing.md``.

A route names its connectors in failover order. Adjacent connectors with a weight
form one *rank* and share its traffic in proportion to their weights (smooth
weighted round robin, so a 3:1 rank sends exactly three of every four messages to
the first); a connector without a weight is a rank of its own. A message goes to
the first rank with a connector in rotation: the connector reports itself up and
its circuit breaker (`umsgate.engine.breaker`) lets it through. The connector a
message was last tried on (``Message.connector``) is skipped when another one can
take it, so a transient failure is retried on the next connector of the route.

When no connector of the route can take a message now, `pick` says how long to
wait: until the first breaker of the route may probe.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence

from umsgate.clock import Monotonic, SystemClock
from umsgate.config import RouteSettings
from umsgate.domain import phone
from umsgate.domain.message import Message
from umsgate.engine.breaker import Breaker, Policy, Snapshot, State, Transition
from umsgate.types import Connector, Outcome, SubmitResult

log = logging.getLogger("umsgate.engine.router")

DEFAULT_ROUTE = RouteSettings(name="default", connectors=("sandbox",))

#: A rank: (connector name, weight) of each member, in route order.
Rank = tuple[tuple[str, int], ...]


def ranks(route: RouteSettings) -> tuple[Rank, ...]:
    """The route's connectors grouped into ranks (see the module docstring)."""
    out: list[list[tuple[str, int]]] = []
    previous_weighted = False
    for i, name in enumerate(route.connectors):
        weight = route.weight(i)
        if weight > 0 and previous_weighted:
            out[-1].append((name, weight))
        else:
            out.append([(name, weight)])
        previous_weighted = weight > 0
    return tuple(tuple(rank) for rank in out)


def accepts(route: RouteSettings, message: Message) -> bool:
    """Whether ``message`` meets every rule of ``route`` (the hot path of
    `matches`, without the words)."""
    if route.channels and message.channel.value not in route.channels:
        return False
    if route.countries and phone.country(message.receiver) not in route.countries:
        return False
    receiver = message.receiver
    if route.prefixes and not any(receiver.startswith(p) for p in route.prefixes):
        return False
    if route.clients and message.client_id not in route.clients:
        return False
    if route.senders or route.sender_prefixes:
        sender = message.sender
        if sender not in route.senders and not any(
            sender.startswith(p) for p in route.sender_prefixes
        ):
            return False
    return True


def matches(route: RouteSettings, message: Message) -> list[str] | None:
    """The rules of ``route`` that ``message`` meets, in words; None when one of
    them fails."""
    met: list[str] = []
    channel = message.channel.value
    if route.channels:
        if channel not in route.channels:
            return None
        met.append(f"channel {channel} in {list(route.channels)}")
    if route.countries:
        country = phone.country(message.receiver)
        if country not in route.countries:
            return None
        met.append(f"receiver country {country} in {list(route.countries)}")
    if route.prefixes:
        prefix = next((p for p in route.prefixes if message.receiver.startswith(p)), "")
        if not prefix:
            return None
        met.append(f"receiver {message.receiver} starts with {prefix}")
    if route.clients:
        if message.client_id not in route.clients:
            return None
        met.append(f"client {message.client_id!r} in {list(route.clients)}")
    if route.senders or route.sender_prefixes:
        sender = message.sender
        if sender in route.senders:
            met.append(f"sender {sender} in {list(route.senders)}")
        else:
            prefix = next(
                (p for p in route.sender_prefixes if sender.startswith(p)), ""
            )
            if not prefix:
                return None
            met.append(f"sender {sender} starts with {prefix}")
    if not met:
        met.append("the route has no rules: it takes every message")
    return met


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Pick:
    """Where a message goes: ``connector``, or nowhere yet (``wait`` seconds) when
    its route has no connector in rotation, or nowhere (``route`` None)."""

    route: RouteSettings | None
    connector: Connector | None = None
    wait: float = 0.0
    #: Why no connector was chosen (for the requeue's event).
    detail: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """One connector of the chosen route, as `Router.explain` sees it."""

    name: str
    #: 1-based rank in the route.
    rank: int
    #: 0: a rank of its own (failover); else its share within the rank.
    weight: int
    configured: bool
    up: bool
    health: str
    breaker: Snapshot | None
    #: Whether it could take the message now.
    available: bool
    #: Skipped because the message was last tried there.
    avoided: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """Everything `Router.explain` found out about one message."""

    route: RouteSettings | None
    #: 1-based position of the route in the table.
    position: int
    #: The rules the message met on the chosen route.
    rules: tuple[str, ...]
    #: Routes before it: (name, the first rule that failed).
    passed_over: tuple[tuple[str, str], ...]
    candidates: tuple[Candidate, ...]
    chosen: str | None
    wait: float


class Router:
    """Routes messages; keeps one circuit breaker per connector.

    Args:
        routes: the ordered route table (empty: everything to ``sandbox``).
        connectors: the running connectors by name.
        policy: when breakers open and how they come back.
        clock: its monotonic reading times the breakers (injected, so breakers test
            without waiting; the system clock by default).
        on_transition: told of every breaker transition, once each (logging and
            metrics are the caller's).
    """

    def __init__(
        self,
        routes: Sequence[RouteSettings],
        connectors: Mapping[str, Connector],
        *,
        policy: Policy | None = None,
        clock: Monotonic | None = None,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        self.routes = tuple(routes) or (DEFAULT_ROUTE,)
        self.connectors = connectors
        self.policy = policy or Policy()
        self._clock = (clock or SystemClock()).monotonic
        self._on_transition = on_transition
        self._ranks = {route.name: ranks(route) for route in self.routes}
        self._breakers: dict[str, Breaker] = {
            name: Breaker(name, self.policy) for name in connectors
        }
        #: Smooth weighted round robin: (route, rank index) → name → current weight.
        self._current: dict[tuple[str, int], dict[str, int]] = {}

    # -- routing -----------------------------------------------------------------------

    def route_for(self, message: Message) -> RouteSettings | None:
        for route in self.routes:
            if accepts(route, message):
                return route
        return None

    def pick(self, message: Message) -> Pick:
        """Choose the connector for ``message`` (a probe slot is taken when its
        breaker is half-open; `release` gives it back if the message does not go)."""
        route = self.route_for(message)
        if route is None:
            return Pick(route=None, detail="no route matches the message")
        now = self._clock()
        avoid = message.connector
        fallback: str | None = None
        for index, rank in enumerate(self._ranks[route.name]):
            members: list[tuple[str, int]] = []
            for name, weight in rank:
                if not self._usable(name, now):
                    continue
                if name == avoid:
                    fallback = name
                    continue
                members.append((name, weight))
            if members:
                return self._take(route, self._weighted(route, index, members), message)
        if fallback is not None:
            return self._take(route, fallback, message)
        return Pick(
            route=route,
            wait=self._wait(route, now),
            detail=f"no connector of route {route.name!r} can take it now ("
            + ", ".join(self._state_word(n, now) for n in route.connectors)
            + ")",
        )

    def release(self, name: str, message_id: int) -> None:
        """Give back the probe slot a `pick` took for ``message_id``."""
        breaker = self._breakers.get(name)
        if breaker is not None:
            breaker.release(message_id)

    def record(self, name: str, results: Sequence[SubmitResult]) -> None:
        """The answers of connector ``name``: RETRY counts against its breaker,
        ACCEPTED and REJECTED (the provider answered) for it."""
        breaker = self._breakers.get(name)
        if breaker is None:
            return
        now = self._clock()
        for result in results:
            ok = result.outcome is not Outcome.RETRY
            detail = "" if ok else f"{result.code or ''} {result.detail}".strip()
            self._tell(breaker.record(now, result.message_id, ok, detail[:200]))

    # -- looking -----------------------------------------------------------------------

    def breakers(self) -> dict[str, Snapshot]:
        """Every connector's breaker, after a look at its health."""
        now = self._clock()
        for name in self._breakers:
            self._usable(name, now)
        return {name: b.snapshot(now) for name, b in self._breakers.items()}

    def stuck_routes(self) -> dict[str, str]:
        """The routes none of whose connectors can take a message (each is missing,
        down, or its breaker open), with why in words; the gateway is not ready
        while there is one (``/readyz``). A breaker that probes counts as able."""
        now = self._clock()
        stuck = {}
        for route in self.routes:
            able = False
            for name in route.connectors:
                connector = self.connectors.get(name)
                breaker = self._breakers.get(name)
                if connector is None or breaker is None:
                    continue
                health = connector.health()
                self._tell(breaker.observe(now, health.up, health.detail))
                if health.up and breaker.state is not State.OPEN:
                    able = True
            if not able:
                stuck[route.name] = ", ".join(
                    self._state_word(n, now) for n in route.connectors
                )
        return stuck

    def explain(self, message: Message) -> Decision:
        """Which route and connector ``message`` would take, and why, without
        taking a probe slot or moving a round robin."""
        now = self._clock()
        passed: list[tuple[str, str]] = []
        for position, route in enumerate(self.routes, start=1):
            met = matches(route, message)
            if met is None:
                passed.append((route.name, _first_miss(route, message)))
                continue
            return self._explain_route(route, position, met, passed, message, now)
        return Decision(
            route=None,
            position=0,
            rules=(),
            passed_over=tuple(passed),
            candidates=(),
            chosen=None,
            wait=0.0,
        )

    # -- internals ---------------------------------------------------------------------

    def _usable(self, name: str, now: float) -> bool:
        connector = self.connectors.get(name)
        breaker = self._breakers.get(name)
        if connector is None or breaker is None:
            return False
        health = connector.health()
        self._tell(breaker.observe(now, health.up, health.detail))
        return breaker.available(now, health.up)

    def _weighted(
        self, route: RouteSettings, index: int, members: list[tuple[str, int]]
    ) -> str:
        if len(members) == 1:
            return members[0][0]
        current = self._current.setdefault((route.name, index), {})
        total = 0
        best = ""
        best_value = 0
        for name, weight in members:
            value = current.get(name, 0) + weight
            current[name] = value
            total += weight
            if not best or value > best_value:
                best, best_value = name, value
        current[best] -= total
        return best

    def _take(self, route: RouteSettings, name: str, message: Message) -> Pick:
        self._breakers[name].acquire(message.id, self._clock())
        return Pick(route=route, connector=self.connectors[name])

    def _wait(self, route: RouteSettings, now: float) -> float:
        waits = [
            self._breakers[n].retry_in(now)
            for n in route.connectors
            if n in self._breakers
        ]
        return min(waits) if waits else self.policy.cooldown

    def _state_word(self, name: str, now: float) -> str:
        connector = self.connectors.get(name)
        breaker = self._breakers.get(name)
        if connector is None or breaker is None:
            return f"{name}: not configured"
        if breaker.state is State.OPEN:
            return f"{name}: open for {breaker.retry_in(now):.1f} s"
        if breaker.state is State.HALF_OPEN:
            return f"{name}: probing"
        return f"{name}: down"

    def _tell(self, transition: Transition | None) -> None:
        if transition is not None and self._on_transition is not None:
            self._on_transition(transition)

    def _explain_route(
        self,
        route: RouteSettings,
        position: int,
        met: list[str],
        passed: list[tuple[str, str]],
        message: Message,
        now: float,
    ) -> Decision:
        candidates: list[Candidate] = []
        for number, rank in enumerate(self._ranks[route.name], start=1):
            for name, weight in rank:
                connector = self.connectors.get(name)
                breaker = self._breakers.get(name)
                if connector is None or breaker is None:
                    candidates.append(
                        Candidate(
                            name=name,
                            rank=number,
                            weight=weight,
                            configured=False,
                            up=False,
                            health="not configured",
                            breaker=None,
                            available=False,
                        )
                    )
                    continue
                health = connector.health()
                self._tell(breaker.observe(now, health.up, health.detail))
                candidates.append(
                    Candidate(
                        name=name,
                        rank=number,
                        weight=weight,
                        configured=True,
                        up=health.up,
                        health=health.detail,
                        breaker=breaker.snapshot(now),
                        available=breaker.available(now, health.up),
                        avoided=name == message.connector,
                    )
                )
        usable = [c for c in candidates if c.available]
        preferred = [c for c in usable if not c.avoided] or usable
        chosen: str | None = None
        if preferred:
            first_rank = min(c.rank for c in preferred)
            members = [c for c in preferred if c.rank == first_rank]
            # Without moving the round robin: the heaviest member of the rank.
            chosen = max(members, key=lambda c: c.weight).name
        return Decision(
            route=route,
            position=position,
            rules=tuple(met),
            passed_over=tuple(passed),
            candidates=tuple(candidates),
            chosen=chosen,
            wait=0.0 if chosen else self._wait(route, now),
        )


def _first_miss(route: RouteSettings, message: Message) -> str:
    """The first rule of ``route`` that ``message`` fails, in words."""
    if route.channels and message.channel.value not in route.channels:
        return f"channel {message.channel.value} not in {list(route.channels)}"
    if route.countries:
        country = phone.country(message.receiver)
        if country not in route.countries:
            return f"receiver country {country} not in {list(route.countries)}"
    if route.prefixes and not any(
        message.receiver.startswith(p) for p in route.prefixes
    ):
        return f"receiver {message.receiver} starts with none of {list(route.prefixes)}"
    if route.clients and message.client_id not in route.clients:
        return f"client {message.client_id!r} not in {list(route.clients)}"
    wanted = [*route.senders, *(f"{p}…" for p in route.sender_prefixes)]
    return f"sender {message.sender or '(none)'} not in {wanted}"
