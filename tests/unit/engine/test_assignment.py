"""The dispatcher's decisions (engine/assignment.py): claimed rows to connectors,
expiries, requeues for no route or a breaker, the fast lane's picks, a gate's
held-back messages, chunks in flight and the answers of a chunk; no store, no
sockets. The router is a function the test scripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from umsgate.config import RouteSettings
from umsgate.domain.message import Message
from umsgate.domain.results import ResultCode
from umsgate.engine import assignment
from umsgate.engine.ledger import Expire, Requeue
from umsgate.engine.router import Pick
from umsgate.types import Health, Outcome, ReportSink, SubmitResult

NOW = 5_000.0
ROUTE = RouteSettings(name="default", connectors=("smsc", "http"))


class Named:
    """A connector as the router hands it out: only its name matters here."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def start(self, sink: ReportSink) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def submit(self, messages: Sequence[Message]) -> Sequence[SubmitResult]:
        raise AssertionError("decisions never submit")

    async def resume(self, messages: Sequence[Message]) -> None:
        return None

    def health(self) -> Health:
        return Health(up=True)


class Router:
    """Picks by receiver: ``+82100…`` to smsc, ``+82101…`` to http, ``+82109…``
    behind an open breaker (wait 7 s), anything else has no route."""

    def __init__(self) -> None:
        self.asked: list[Message] = []

    def __call__(self, message: Message) -> Pick:
        self.asked.append(message)
        prefix = message.receiver[:6]
        if prefix == "+82100":
            return Pick(route=ROUTE, connector=Named("smsc"))
        if prefix == "+82101":
            return Pick(route=ROUTE, connector=Named("http"))
        if prefix == "+82109":
            return Pick(route=ROUTE, wait=7.0, detail="smsc: breaker open")
        return Pick(route=None, detail="no route matches the message")


def row(i: int, receiver: str = "+821001234567", **fields: Any) -> dict[str, Any]:
    """A claimed row, owned by node-a."""
    base: dict[str, Any] = {
        "id": i,
        "client_id": "shop",
        "src_msg_id": f"m{i}",
        "kind": 0,
        "parent_id": None,
        "cmp_msg_id": "",
        "channel": "SMS",
        "status": "SENDING",
        "sender": "+8215880000",
        "receiver": receiver,
        "subject": "",
        "content": "hello",
        "charset": "cp949",
        "file_ids": "[]",
        "extra": "{}",
        "fallback": None,
        "content_hash": "",
        "created_at": NOW - 10,
        "due_at": NOW - 10,
        "expires_at": NOW + 3_600,
        "attempts": 0,
        "connector": None,
        "provider_msg_id": None,
        "owner": "node-a",
        "claimed_at": NOW,
        "sent_at": None,
        "done_at": None,
        "result_code": None,
        "raw_code": None,
        "result_message": None,
        "carrier": "",
        "segments": 1,
    }
    base.update(fields)
    return base


def message(i: int) -> Message:
    return assignment.claimed_message(row(i), 1)


# -- a claim ------------------------------------------------------------------------


def test_claimed_messages_are_grouped_by_the_connector_picked() -> None:
    router = Router()
    rows = [row(1), row(2, "+821011112222"), row(3, attempts=2)]
    plan = assignment.plan_claim(rows, NOW, pick=router, no_route_delay=60.0)
    assert {name: [m.id for m in ms] for name, ms in plan.groups.items()} == {
        "smsc": [1, 3],
        "http": [2],
    }
    assert plan.ops == []
    assert plan.events == [
        (1, NOW, "SENDING", None, "attempt 1 on node-a via smsc"),
        (2, NOW, "SENDING", None, "attempt 1 on node-a via http"),
        (3, NOW, "SENDING", None, "attempt 3 on node-a via smsc"),
    ]
    # The attempt each claim makes, as its SENDING event names it.
    assert [m.attempts for m in router.asked] == [1, 1, 3]
    assert rows[2]["attempts"] == 2  # the claimed rows are left alone


def test_an_expired_claim_ends_without_asking_the_router() -> None:
    router = Router()
    plan = assignment.plan_claim(
        [row(1, expires_at=NOW)], NOW, pick=router, no_route_delay=60.0
    )
    assert plan.ops == [Expire(message_id=1)]
    assert plan.events == [(1, NOW, "SENDING", None, "attempt 1 on node-a")]
    assert plan.groups == {} and router.asked == []


def test_a_message_without_a_route_is_queued_again_after_retry_max() -> None:
    plan = assignment.plan_claim(
        [row(1, "+441234")], NOW, pick=Router(), no_route_delay=60.0
    )
    assert plan.ops == [
        Requeue(
            message_id=1,
            delay=60.0,
            code=ResultCode.PROVIDER_ERROR,
            detail="no route matches the message",
        )
    ]
    assert plan.events == [(1, NOW, "SENDING", None, "attempt 1 on node-a")]
    assert plan.groups == {}


def test_a_message_behind_an_open_breaker_waits_for_it() -> None:
    plan = assignment.plan_claim(
        [row(1, "+821091234567")], NOW, pick=Router(), no_route_delay=60.0
    )
    assert plan.ops == [
        Requeue(
            message_id=1,
            delay=7.0,
            code=ResultCode.CONNECTION_ERROR,
            detail="smsc: breaker open",
        )
    ]
    assert plan.groups == {}


# -- the fast lane -------------------------------------------------------------------


def test_pick_at_accept_takes_what_can_go_now() -> None:
    router = Router()
    rows = [
        row(1),
        row(2, due_at=NOW + 60),  # reserved for later
        row(3, expires_at=NOW),  # expired already
        row(4, "+821091234567"),  # breaker open: the claim decides
        row(5, "+441234"),  # no route: the claim decides
        row(6, "+821011112222"),
    ]
    picked = assignment.pick_at_accept(rows, NOW, room=10, pick=router)
    assert {mid: name for mid, (name, _) in picked.items()} == {1: "smsc", 6: "http"}
    assert [m.id for m in router.asked] == [1, 4, 5, 6]
    # Its first attempt, as a claim counts it.
    assert {m.attempts for _, m in picked.values()} == {1}


def test_pick_at_accept_stops_at_the_room_left() -> None:
    router = Router()
    rows = [row(i) for i in range(1, 6)]
    picked = assignment.pick_at_accept(rows, NOW, room=2, pick=router)
    assert list(picked) == [1, 2]
    assert len(router.asked) == 2  # no probe taken for a message that cannot go
    assert assignment.pick_at_accept(rows, NOW, room=0, pick=router) == {}


def test_room() -> None:
    assert assignment.room(0, 0) == assignment.MAX_IN_FLIGHT
    assert assignment.room(4_000, 999) == 1
    assert assignment.room(4_000, 1_000) == 0


# -- gates and chunks -----------------------------------------------------------------


def test_held_back_messages_wait_for_their_turn_in_the_rate() -> None:
    ops = assignment.held_back(
        [message(1), message(2)], [0.5, 1.0], gate="smsc", rate=30.0
    )
    assert ops == [
        Requeue(message_id=1, delay=0.5, detail="waiting for smsc (30/s)"),
        Requeue(message_id=2, delay=1.0, detail="waiting for smsc (30/s)"),
    ]
    with pytest.raises(ValueError):  # one delay per message
        assignment.held_back([message(1)], [], gate="smsc", rate=30.0)


@pytest.mark.parametrize(
    ("concurrency", "gate_chunk", "expected"),
    [(4, None, 4), (4, 100, 4), (4, 10, 40), (4, 30, 14), (4, 1_000, 4)],
)
def test_chunks_in_flight(
    concurrency: int, gate_chunk: int | None, expected: int
) -> None:
    assert assignment.chunks_in_flight(concurrency, gate_chunk) == expected


def test_answers_fill_in_what_the_connector_left_out() -> None:
    sent = [message(1), message(2), message(3)]
    answered = [
        SubmitResult(message_id=2, outcome=Outcome.ACCEPTED, provider_msg_id="p2"),
        SubmitResult(message_id=9, outcome=Outcome.ACCEPTED),  # not of this chunk
    ]
    results = assignment.answers(sent, answered)
    assert results[0] == answered[0]
    assert sorted(r.message_id for r in results) == [1, 2, 3]
    for r in results[1:]:
        assert r.outcome is Outcome.RETRY
        assert r.code is ResultCode.PROVIDER_ERROR
        assert r.detail == "connector gave no answer for this message"


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (TimeoutError(), ResultCode.TIMEOUT),
        (ConnectionResetError("reset by peer"), ResultCode.CONNECTION_ERROR),
    ],
)
def test_a_chunk_that_could_not_be_tried_is_tried_again(
    exc: BaseException, code: ResultCode
) -> None:
    results = assignment.chunk_failed([message(1), message(2)], exc)
    assert [(r.message_id, r.outcome, r.code) for r in results] == [
        (1, Outcome.RETRY, code),
        (2, Outcome.RETRY, code),
    ]
    assert results[0].detail == str(exc)[:200]
