"""The router: route rules, ranks and weights, failover order, the connector to
avoid, and the breakers it keeps; connectors are small fakes with a health switch,
time is a number the test moves."""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest

from umsgate.config import RouteSettings
from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.engine.breaker import Policy, State, Transition
from umsgate.engine.router import Router, accepts, matches, ranks
from umsgate.types import Health, Outcome, ReportSink, SubmitResult

NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


class Fake:
    """A connector that only has a name and a health switch."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.up = True

    async def start(self, sink: ReportSink) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def submit(self, messages: Sequence[Message]) -> Sequence[SubmitResult]:
        raise AssertionError("the router never submits")

    async def resume(self, messages: Sequence[Message]) -> None:
        return None

    def health(self) -> Health:
        return Health(up=self.up, detail="bound" if self.up else "connection refused")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


def message(i: int = 1, **fields: Any) -> Message:
    base: dict[str, Any] = {
        "id": i,
        "client_id": "shop",
        "src_msg_id": f"m{i}",
        "channel": Channel.SMS,
        "sender": "+8215881234",
        "receiver": "+821012345678",
        "content": "hello",
        "created_at": NOW,
        "due_at": NOW,
    }
    return Message(**{**base, **fields})


def route(name: str = "r", **fields: Any) -> RouteSettings:
    fields.setdefault("connectors", ("a", "b"))
    return RouteSettings(name=name, **fields)


def router(
    routes: Sequence[RouteSettings],
    names: Sequence[str] = ("a", "b", "c"),
    **kwargs: Any,
) -> tuple[Router, dict[str, Fake], Clock]:
    fakes = {n: Fake(n) for n in names}
    clock = Clock()
    return Router(routes, fakes, clock=clock, **kwargs), fakes, clock


def picked(r: Router, m: Message) -> str | None:
    pick = r.pick(m)
    return pick.connector.name if pick.connector else None


def retry(message_id: int) -> SubmitResult:
    return SubmitResult(
        message_id=message_id,
        outcome=Outcome.RETRY,
        code=ResultCode.CONNECTION_ERROR,
        detail="connection refused",
    )


def accepted(message_id: int) -> SubmitResult:
    return SubmitResult(message_id=message_id, outcome=Outcome.ACCEPTED)


# -- rules -------------------------------------------------------------------------


def test_no_routes_means_the_sandbox() -> None:
    r, _, _ = router([], names=("sandbox",))
    assert picked(r, message()) == "sandbox"


def test_first_matching_route_wins() -> None:
    r, _, _ = router(
        [
            route("lms-only", channels=("LMS",), connectors=("a",)),
            route("rest", connectors=("b",)),
        ]
    )
    assert picked(r, message(channel=Channel.LMS)) == "a"
    assert picked(r, message(channel=Channel.SMS)) == "b"


@pytest.mark.parametrize(
    ("receiver", "expected"),
    [
        ("+821012345678", "kr-jp"),
        ("+819012345678", "kr-jp"),
        ("+14155550123", "us"),  # +1 is shared: the number plan says US
        ("+16135550123", "other"),  # Canada, also +1
        ("+447400123456", "other"),
    ],
)
def test_routes_on_the_receiver_country(receiver: str, expected: str) -> None:
    routes = [
        route("kr-jp", countries=("KR", "JP"), connectors=("a",)),
        route("us", countries=("US",), connectors=("b",)),
        route("other", connectors=("c",)),
    ]
    r, _, _ = router(routes)
    assert (
        r.route_for(message(receiver=receiver))
        == routes[["kr-jp", "us", "other"].index(expected)]
    )


def test_routes_on_the_receiver_prefix_and_client() -> None:
    routes = [
        route("vip-010", prefixes=("+8210",), clients=("vip",), connectors=("a",)),
        route("rest", connectors=("b",)),
    ]
    r, _, _ = router(routes)
    assert picked(r, message(client_id="vip")) == "a"
    assert picked(r, message(client_id="shop")) == "b"
    assert picked(r, message(client_id="vip", receiver="+821112345678")) == "b"


def test_routes_on_the_sender_exact_or_by_prefix() -> None:
    routes = [
        route("exact", senders=("+82212345678",), connectors=("a",)),
        route("rep", sender_prefixes=("+8215", "+8216"), connectors=("b",)),
        route("rest", connectors=("c",)),
    ]
    r, _, _ = router(routes)
    assert picked(r, message(sender="+82212345678")) == "a"
    assert picked(r, message(sender="+82212345679")) == "c"
    assert picked(r, message(sender="+8215881234")) == "b"
    assert picked(r, message(sender="+8216001234")) == "b"


def test_an_exact_sender_or_a_prefix_is_enough() -> None:
    rules = route(
        "both", senders=("+82212345678",), sender_prefixes=("+8215",), connectors=("a",)
    )
    r, _, _ = router([rules, route("rest", connectors=("c",))])
    assert picked(r, message(sender="+82212345678")) == "a"
    assert picked(r, message(sender="+8215881234")) == "a"
    assert picked(r, message(sender="+8231000000")) == "c"


def test_no_match_means_no_route() -> None:
    r, _, _ = router([route("lms", channels=("LMS",))])
    pick = r.pick(message())
    assert pick.route is None and pick.connector is None
    assert pick.detail == "no route matches the message"


# -- ranks, weights, failover ------------------------------------------------------


def test_ranks_group_adjacent_weighted_connectors() -> None:
    rs = route(connectors=("a", "b", "c", "d", "e"), weights=(3, 1, 0, 2, 2))
    assert ranks(rs) == ((("a", 3), ("b", 1)), (("c", 0),), (("d", 2), ("e", 2)))
    assert ranks(route(connectors=("a", "b"))) == ((("a", 0),), (("b", 0),))
    assert ranks(route(connectors=("a", "b", "c"), weights=(1,))) == (
        (("a", 1),),
        (("b", 0),),
        (("c", 0),),
    )


def test_weights_share_traffic_exactly() -> None:
    r, _, _ = router([route(connectors=("a", "b", "c"), weights=(3, 1))])
    got = [picked(r, message(i)) for i in range(400)]
    assert collections.Counter(got) == {"a": 300, "b": 100}
    # Smooth: never more than three a's in a row.
    assert "aaaa" not in "".join(n or "-" for n in got)


def test_a_down_member_leaves_its_share_to_the_others_of_its_rank() -> None:
    r, fakes, _ = router([route(connectors=("a", "b", "c"), weights=(3, 1))])
    fakes["a"].up = False
    assert {picked(r, message(i)) for i in range(20)} == {"b"}
    fakes["b"].up = False
    assert {picked(r, message(i)) for i in range(20)} == {"c"}


def test_failover_order_is_the_list_order() -> None:
    r, fakes, _ = router([route(connectors=("a", "b", "c"))])
    assert picked(r, message()) == "a"
    fakes["a"].up = False
    assert picked(r, message()) == "b"
    fakes["b"].up = False
    assert picked(r, message()) == "c"


def test_nothing_in_rotation_says_how_long_to_wait() -> None:
    r, fakes, _ = router([route(connectors=("a", "b"))], policy=Policy(cooldown=3.0))
    fakes["a"].up = fakes["b"].up = False
    pick = r.pick(message())
    assert pick.connector is None and pick.route is not None
    assert pick.wait == pytest.approx(3.0)
    assert "a: open" in pick.detail and "b: open" in pick.detail


def test_unknown_connectors_are_skipped() -> None:
    r, _, _ = router([route(connectors=("gone", "b"))])
    assert picked(r, message()) == "b"


# -- retrying elsewhere ------------------------------------------------------------


def test_the_connector_tried_last_is_skipped_when_another_can_take_it() -> None:
    r, _, _ = router([route(connectors=("a", "b", "c"))])
    assert picked(r, message(connector="a")) == "b"
    assert picked(r, message(connector="b")) == "a"


def test_within_a_weighted_rank_the_other_member_takes_the_retry() -> None:
    r, _, _ = router([route(connectors=("a", "b", "c"), weights=(3, 1))])
    assert {picked(r, message(i, connector="a")) for i in range(10)} == {"b"}


def test_the_connector_tried_last_is_taken_when_it_is_the_only_one() -> None:
    r, fakes, _ = router([route(connectors=("a", "b"))])
    fakes["b"].up = False
    assert picked(r, message(connector="a")) == "a"
    single, _, _ = router([route(connectors=("a",))])
    assert picked(single, message(connector="a")) == "a"


# -- breakers ----------------------------------------------------------------------


def test_transient_failures_take_a_connector_out_and_probes_bring_it_back() -> None:
    changes: list[Transition] = []
    policy = Policy(threshold=3, cooldown=2.0, probes=2)
    r, _, clock = router(
        [route(connectors=("a", "b"))], policy=policy, on_transition=changes.append
    )
    for i in range(3):
        assert picked(r, message(i)) == "a"
    r.record("a", [retry(0), retry(1), retry(2)])
    assert [(c.connector, c.new) for c in changes] == [("a", State.OPEN)]
    # Out of rotation: b takes everything meanwhile.
    assert {picked(r, message(i)) for i in range(10, 20)} == {"b"}
    clock.now += 2.0
    # Half-open: two probes go to a, then b again until they answer.
    assert [picked(r, message(i)) for i in range(30, 34)] == ["a", "a", "b", "b"]
    assert changes[-1].new is State.HALF_OPEN
    r.record("a", [accepted(30), accepted(31)])
    assert changes[-1].new is State.CLOSED
    assert picked(r, message(40)) == "a"
    assert len(changes) == 3  # each transition told once


def test_a_failed_probe_keeps_it_out() -> None:
    policy = Policy(threshold=1, cooldown=1.0, probes=1)
    r, _, clock = router([route(connectors=("a", "b"))], policy=policy)
    picked(r, message(1))
    r.record("a", [retry(1)])
    clock.now += 1.0
    assert picked(r, message(2)) == "a"  # the probe
    r.record("a", [retry(2)])
    clock.now += 1.5  # the cool-down doubled to 2 s
    assert picked(r, message(3)) == "b"
    clock.now += 0.5
    assert picked(r, message(4)) == "a"


def test_a_released_probe_can_go_again() -> None:
    policy = Policy(threshold=1, cooldown=1.0, probes=1)
    r, _, clock = router([route(connectors=("a", "b"))], policy=policy)
    picked(r, message(1))
    r.record("a", [retry(1)])
    clock.now += 1.0
    assert picked(r, message(2)) == "a"
    assert picked(r, message(3)) == "b"  # the one probe slot is taken
    r.release("a", 2)
    assert picked(r, message(3)) == "a"


def test_a_down_connector_comes_back_by_itself() -> None:
    changes: list[Transition] = []
    policy = Policy(cooldown=1.0, probes=1)
    r, fakes, clock = router(
        [route(connectors=("a", "b"))], policy=policy, on_transition=changes.append
    )
    fakes["a"].up = False
    assert picked(r, message(1)) == "b"
    assert changes[0].new is State.OPEN and "connection refused" in changes[0].detail
    fakes["a"].up = True
    assert picked(r, message(2)) == "b"  # up, but cooling down
    clock.now += 1.0
    assert picked(r, message(3)) == "a"
    r.record("a", [accepted(3)])
    assert r.breakers()["a"].state is State.CLOSED


def test_rejections_count_as_answers() -> None:
    r, _, _ = router([route(connectors=("a", "b"))], policy=Policy(threshold=2))
    rejected = SubmitResult(
        message_id=1, outcome=Outcome.REJECTED, code=ResultCode.INVALID_NUMBER
    )
    r.record("a", [rejected] * 10)
    assert r.breakers()["a"].state is State.CLOSED
    assert (r.breakers()["a"].failures, r.breakers()["a"].answers) == (0, 10)


def test_breakers_look_at_health_when_asked() -> None:
    r, fakes, _ = router([route(connectors=("a", "b"))])
    fakes["b"].up = False
    states = r.breakers()
    assert states["a"].state is State.CLOSED
    assert states["b"].state is State.OPEN


# -- explaining --------------------------------------------------------------------


def test_explain_names_the_route_the_rules_and_the_candidates() -> None:
    routes = [
        route("lms", channels=("LMS",), connectors=("c",)),
        route(
            "kr",
            channels=("SMS",),
            countries=("KR",),
            connectors=("a", "b", "c"),
            weights=(3, 1),
        ),
    ]
    r, fakes, _ = router(routes)
    fakes["a"].up = False
    d = r.explain(message(connector="b"))
    assert d.route is not None and d.route.name == "kr" and d.position == 2
    assert d.passed_over == (("lms", "channel SMS not in ['LMS']"),)
    assert d.rules == ("channel SMS in ['SMS']", "receiver country KR in ['KR']")
    assert [(c.name, c.rank, c.weight) for c in d.candidates] == [
        ("a", 1, 3),
        ("b", 1, 1),
        ("c", 2, 0),
    ]
    a, b, _ = d.candidates
    assert not a.up and not a.available and a.breaker is not None
    assert b.available and b.avoided
    assert d.chosen == "c"  # b was tried last, a is down


def test_explain_moves_nothing() -> None:
    r, _, clock = router(
        [route(connectors=("a", "b"), weights=(1, 1))],
        policy=Policy(threshold=1, cooldown=1.0, probes=1),
    )
    for _ in range(3):
        assert r.explain(message()).chosen == "a"
    assert picked(r, message(1)) == "a"
    assert picked(r, message(2)) == "b"
    r.record("a", [retry(1)])
    clock.now += 1.0
    r.explain(message(3))
    assert picked(r, message(4)) == "a"  # explain took no probe slot


def test_explain_without_a_match() -> None:
    r, _, _ = router([route("lms", channels=("LMS",))])
    d = r.explain(message())
    assert d.route is None and d.chosen is None
    assert d.passed_over == (("lms", "channel SMS not in ['LMS']"),)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"channel": Channel.LMS},
        {"receiver": "+819012345678"},
        {"receiver": "+821112345678"},
        {"client_id": "vip"},
        {"sender": "+8216001234"},
        {"sender": "+82212345678"},
        {"sender": ""},
    ],
)
def test_the_words_and_the_hot_path_agree(fields: dict[str, Any]) -> None:
    rules = [
        route("a", channels=("SMS",)),
        route("b", countries=("KR", "JP")),
        route("c", prefixes=("+8210",)),
        route("d", clients=("vip",)),
        route("e", senders=("+82212345678",), sender_prefixes=("+8216",)),
        route("f"),
    ]
    m = message(**fields)
    for rs in rules:
        assert accepts(rs, m) == (matches(rs, m) is not None), rs.name


def test_a_connector_down_until_it_is_used_gets_a_probe() -> None:
    """HTTP connectors report themselves down after failures in a row and up only
    after an exchange succeeds: after the cool-down one probe goes to it, alone,
    and its success brings it back."""
    policy = Policy(cooldown=1.0, probes=1)
    r, fakes, clock = router([route(connectors=("a", "b"))], policy=policy)
    fakes["a"].up = False
    assert picked(r, message(1)) == "b"
    clock.now += 1.0
    assert picked(r, message(2)) == "a"  # the probe, though a says it is down
    assert picked(r, message(3)) == "b"  # one at a time
    fakes["a"].up = True  # the exchange succeeded
    r.record("a", [accepted(2)])
    assert r.breakers()["a"].state is State.CLOSED
    assert picked(r, message(4)) == "a"
