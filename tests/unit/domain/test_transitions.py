"""The rules of a message's life (domain/transitions.py): every row of `TABLE`, and
the events the table refuses, on plain states with no store, clock or random draw."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import orjson
import pytest

from umsgate.domain import lifecycle, transitions
from umsgate.domain.lifecycle import Status
from umsgate.domain.results import ResultCode
from umsgate.domain.transitions import (
    LAST_TRY_MARGIN,
    TABLE,
    MessageState,
    PartState,
    PendingFate,
    Placement,
    Step,
    Trigger,
)
from umsgate.types import Outcome, ProviderReport, SubmitResult

NOW = 1_000.0
FINALS = (Status.DELIVERED, Status.FAILED, Status.EXPIRED)


def state(status: Status | str = Status.SENDING, **fields: object) -> MessageState:
    """A message's state as the ledger reads it from the store."""
    base: MessageState = {
        "id": 7,
        "client_id": "shop",
        "src_msg_id": "m7",
        "kind": 0,
        "parent_id": None,
        "cmp_msg_id": "",
        "channel": "SMS",
        "status": str(status),
        "sender": "+8215880000",
        "receiver": "+821012345678",
        "charset": "cp949",
        "extra": "{}",
        "fallback": None,
        "created_at": NOW - 60,
        "due_at": NOW - 60,
        "expires_at": NOW + 3_600,
        "attempts": 0,
        "connector": None,
        "provider_msg_id": None,
        "owner": "node-a",
        "claimed_at": NOW - 1,
        "sent_at": None,
        "done_at": None,
        "result_code": None,
        "raw_code": None,
        "result_message": None,
        "carrier": "",
        "segments": 1,
    }
    base.update(fields)  # type: ignore[typeddict-item]
    return base


def sent(**fields: object) -> MessageState:
    base: dict[str, object] = {
        "attempts": 1,
        "connector": "smsc",
        "provider_msg_id": "p7",
        "sent_at": NOW - 30,
    }
    fields = {**base, **fields}
    return state(fields.pop("status", Status.SENT), **fields)  # type: ignore[arg-type]


def fixed(seconds: float) -> transitions.Backoff:
    """A backoff that always says ``seconds``, and records what it was asked."""
    asked: list[int] = []

    def backoff(attempts: int) -> float:
        asked.append(attempts)
        return seconds

    backoff.asked = asked  # type: ignore[attr-defined]
    return backoff


def no_backoff(attempts: int) -> float:
    raise AssertionError("no retry was expected")


def accepted(pid: str | None = "p7", **fields: object) -> SubmitResult:
    return SubmitResult(
        message_id=7,
        outcome=Outcome.ACCEPTED,
        provider_msg_id=pid,
        **fields,  # type: ignore[arg-type]
    )


def report(
    code: ResultCode = ResultCode.DELIVERED,
    *,
    pid: str | None = "p7",
    message_id: int | None = None,
    carrier: str = "SKT",
) -> ProviderReport:
    return ProviderReport(
        connector="smsc",
        code=code,
        message_id=message_id,
        provider_msg_id=pid,
        raw_code="DELIVRD" if code is ResultCode.DELIVERED else "UNDELIV",
        detail="by the handset",
        carrier=carrier,
    )


def statuses(step: Step) -> list[str]:
    return [e[2] for e in step.events]


def after(before: MessageState, step: Step) -> MessageState:
    new: MessageState = {**before}
    new.update(step.changes)
    return new


def unchanged(step: Step) -> bool:
    return not step.written and not step.events and step.final is None


# -- the table -----------------------------------------------------------------------


def test_every_move_of_the_table_is_allowed_by_the_lifecycle() -> None:
    for (src, trigger), targets in TABLE.items():
        assert targets, (src, trigger)
        for dst in targets:
            if dst is src:  # ADOPT: the status stays
                assert trigger is Trigger.ADOPT
                continue
            assert lifecycle.allowed(src, dst), (src, trigger, dst)


def test_no_trigger_applies_to_a_final_message() -> None:
    assert not [key for key in TABLE if key[0].final]


def test_every_trigger_has_a_row() -> None:
    assert {trigger for _, trigger in TABLE} == set(Trigger)


def test_the_diagram_draws_every_row() -> None:
    drawn = transitions.mermaid()
    for (src, trigger), targets in TABLE.items():
        for dst in targets:
            assert f"    {src} --> {dst}: {trigger.value}" in drawn


# -- a connector's answer ------------------------------------------------------------


def test_submit_accepted_makes_it_sent() -> None:
    before = state()
    step = transitions.submitted(before, accepted(segments=2), "smsc", NOW, no_backoff)
    assert statuses(step) == ["SENT"]
    assert step.events == ((7, NOW, "SENT", None, "smsc p7"),)
    assert step.written and step.final is None and not step.wake
    assert step.changes == {
        "attempts": 1,
        "status": "SENT",
        "connector": "smsc",
        "provider_msg_id": "p7",
        "sent_at": NOW,
        "segments": 2,
    }
    assert step.new_parts == ()
    assert before["status"] == "SENDING"  # the state given is left alone


def test_submit_accepted_in_parts_records_each_part() -> None:
    result = accepted("a", segment_ids=("a", "b", "c"))
    step = transitions.submitted(state(), result, "smsc", NOW, no_backoff)
    assert step.changes["segments"] == 3
    assert [(p["provider_msg_id"], p["part"]) for p in step.new_parts] == [
        ("a", 1),
        ("b", 2),
        ("c", 3),
    ]
    assert {p["message_id"] for p in step.new_parts} == {7}
    assert all(p["result_code"] is None for p in step.new_parts)


@pytest.mark.parametrize(
    ("code", "final"),
    [
        (None, Status.FAILED),
        (ResultCode.INVALID_NUMBER, Status.FAILED),
        (ResultCode.EXPIRED, Status.EXPIRED),
    ],
)
def test_submit_rejected_ends_it(code: ResultCode | None, final: Status) -> None:
    result = SubmitResult(
        message_id=7,
        outcome=Outcome.REJECTED,
        code=code,
        raw_code="0x0000000B",
        detail="bad destination",
    )
    step = transitions.submitted(state(), result, "smsc", NOW, no_backoff)
    expected = code or ResultCode.FAILED
    assert statuses(step) == [final]
    assert step.final is expected and not step.from_carrier
    assert step.fallback
    new = after(state(), step)
    assert new["attempts"] == 1
    assert new["connector"] == "smsc"
    assert new["done_at"] == NOW
    assert new["result_code"] == expected.value
    assert new["raw_code"] == "0x0000000B"
    assert new["result_message"] == "bad destination"
    assert new["owner"] is None


def test_a_rejection_without_detail_says_what_its_code_means() -> None:
    result = SubmitResult(message_id=7, outcome=Outcome.REJECTED)
    step = transitions.submitted(state(), result, "smsc", NOW, no_backoff)
    assert step.changes["result_message"] == ResultCode.FAILED.description


def test_submit_retry_queues_it_again_after_the_backoff() -> None:
    backoff = fixed(30.0)
    result = SubmitResult(
        message_id=7,
        outcome=Outcome.RETRY,
        code=ResultCode.THROTTLED,
        detail="window full",
    )
    step = transitions.submitted(state(attempts=2), result, "smsc", NOW, backoff)
    assert backoff.asked == [3]  # type: ignore[attr-defined]
    assert step.events == ((7, NOW, "QUEUED", "4001", "smsc: window full"),)
    assert step.changes == {
        "attempts": 3,
        "connector": "smsc",
        "status": "QUEUED",
        "due_at": NOW + 30.0,
        "owner": None,
    }
    assert not step.wake and step.final is None


def test_submit_retry_after_the_providers_delay_and_at_once() -> None:
    result = SubmitResult(message_id=7, outcome=Outcome.RETRY, retry_after=5.0)
    step = transitions.submitted(state(), result, "smsc", NOW, no_backoff)
    assert step.changes["due_at"] == NOW + 5.0
    now = SubmitResult(message_id=7, outcome=Outcome.RETRY, retry_after=0.0)
    step = transitions.submitted(state(), now, "smsc", NOW, no_backoff)
    assert step.changes["due_at"] == NOW and step.wake


def test_a_retry_past_the_expiry_becomes_a_last_try_just_before_it() -> None:
    result = SubmitResult(message_id=7, outcome=Outcome.RETRY, retry_after=600.0)
    step = transitions.submitted(
        state(expires_at=NOW + 100), result, "smsc", NOW, no_backoff
    )
    assert statuses(step) == ["QUEUED"]
    assert step.changes["due_at"] == NOW + 100 - LAST_TRY_MARGIN


def test_a_retry_with_no_time_left_expires_it() -> None:
    result = SubmitResult(
        message_id=7, outcome=Outcome.RETRY, retry_after=1.0, detail="busy"
    )
    step = transitions.submitted(
        state(expires_at=NOW + LAST_TRY_MARGIN / 2), result, "smsc", NOW, no_backoff
    )
    assert statuses(step) == ["EXPIRED"]
    assert step.final is ResultCode.EXPIRED and step.fallback
    assert step.events[0][4] == "no time left to retry: smsc: busy"


@pytest.mark.parametrize(
    "status", [s for s in Status if s is not Status.SENDING], ids=str
)
@pytest.mark.parametrize("outcome", list(Outcome), ids=str)
def test_an_answer_for_a_message_no_longer_sending_changes_nothing(
    status: Status, outcome: Outcome
) -> None:
    # A late answer: the claim was recovered and decided meanwhile, or the report
    # came before its submit result and ended the message.
    result = SubmitResult(message_id=7, outcome=outcome, provider_msg_id="p7")
    step = transitions.submitted(state(status), result, "smsc", NOW, no_backoff)
    assert unchanged(step) and step.changes == {}


# -- requeue, expiry, adoption ---------------------------------------------------------


def test_requeue_of_a_claim() -> None:
    step = transitions.requeue(
        state(), delay=0.0, code=None, detail="claim of a dead node recovered", now=NOW
    )
    assert step.events == ((7, NOW, "QUEUED", None, "claim of a dead node recovered"),)
    assert step.changes == {"status": "QUEUED", "due_at": NOW, "owner": None}
    assert step.wake
    held = transitions.requeue(
        state(), delay=2.5, code=ResultCode.CONNECTION_ERROR, detail="breaker", now=NOW
    )
    assert held.events[0][3] == "4002" and not held.wake
    assert held.changes["due_at"] == NOW + 2.5


def test_requeue_with_no_time_left_expires_it() -> None:
    step = transitions.requeue(
        state(expires_at=NOW), delay=1.0, code=None, detail="no route", now=NOW
    )
    assert statuses(step) == ["EXPIRED"]
    assert step.final is ResultCode.EXPIRED


@pytest.mark.parametrize(
    "status", [s for s in Status if s is not Status.SENDING], ids=str
)
def test_requeue_of_a_message_not_sending_changes_nothing(status: Status) -> None:
    step = transitions.requeue(state(status), delay=0.0, code=None, detail="", now=NOW)
    assert unchanged(step) and step.changes == {}


@pytest.mark.parametrize(
    "status", [Status.ACCEPTED, Status.QUEUED, Status.SENDING, Status.SENT], ids=str
)
def test_expire(status: Status) -> None:
    step = transitions.expire(state(status), now=NOW)
    assert step.events == ((7, NOW, "EXPIRED", "3000", "expired before it was sent"),)
    assert step.final is ResultCode.EXPIRED and step.fallback
    assert step.changes["done_at"] == NOW


@pytest.mark.parametrize("status", FINALS, ids=str)
def test_expire_of_a_final_message_is_refused(status: Status) -> None:
    step = transitions.expire(state(status), now=NOW)
    assert unchanged(step)
    assert step.refused == ((status.value, "EXPIRED"),)


def test_a_sent_message_without_a_report_in_time_expires_without_fallback() -> None:
    step = transitions.expire_unreported(sent(), sent_before=NOW - 30, now=NOW)
    assert step.events == (
        (7, NOW, "EXPIRED", "3000", "no report from the provider in time"),
    )
    assert step.final is ResultCode.EXPIRED
    assert not step.fallback  # the provider may have delivered it


def test_the_report_timeout_spares_a_message_sent_after_the_cutoff() -> None:
    step = transitions.expire_unreported(sent(), sent_before=NOW - 31, now=NOW)
    assert unchanged(step)


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.SENT], ids=str)
def test_the_report_timeout_applies_to_sent_messages_only(status: Status) -> None:
    step = transitions.expire_unreported(state(status), sent_before=NOW, now=NOW)
    assert unchanged(step)


def test_adopt_a_sent_message_of_a_dead_node() -> None:
    step = transitions.adopt(sent(owner="node-dead"), owner="node-b")
    assert step.changes == {"owner": "node-b"}
    assert step.written and step.events == ()


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.SENT], ids=str)
def test_adopt_applies_to_sent_messages_only(status: Status) -> None:
    assert unchanged(transitions.adopt(state(status), owner="node-b"))


# -- reports ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "final"),
    [
        (ResultCode.DELIVERED, Status.DELIVERED),
        (ResultCode.HANDSET_FULL, Status.FAILED),
        (ResultCode.EXPIRED, Status.EXPIRED),
    ],
)
def test_a_report_ends_a_sent_message(code: ResultCode, final: Status) -> None:
    step = transitions.reported(sent(), report(code), NOW, no_backoff)
    assert statuses(step) == [final]
    assert step.events[0][3] == code.value
    assert step.final is code and step.from_carrier
    assert step.fallback is (final is not Status.DELIVERED)
    new = after(sent(), step)
    assert new["carrier"] == "SKT"
    assert new["attempts"] == 1  # a SENT message's try was counted by its answer
    assert new["raw_code"] == report(code).raw_code
    assert new["result_message"] == "by the handset"
    assert new["owner"] is None


def test_a_report_before_its_submit_result_passes_through_sent() -> None:
    step = transitions.reported(state(), report(), NOW, no_backoff)
    assert statuses(step) == ["SENT", "DELIVERED"]
    assert step.events[0] == (7, NOW, "SENT", None, "smsc p7 (its report came first)")
    new = after(state(), step)
    assert new["attempts"] == 1  # the report answers this claim's try
    assert new["connector"] == "smsc"
    assert new["provider_msg_id"] == "p7"
    assert new["sent_at"] == NOW
    # ... and the submit answer that follows changes nothing.
    late = transitions.submitted(new, accepted(), "smsc", NOW + 1, no_backoff)
    assert unchanged(late)


def test_a_report_of_a_try_whose_answer_was_lost_ends_a_queued_message() -> None:
    queued = state(Status.QUEUED, attempts=1)
    step = transitions.reported(
        queued, report(ResultCode.DELIVERED, pid=None, message_id=7), NOW, no_backoff
    )
    assert statuses(step) == ["DELIVERED"]
    new = after(queued, step)
    assert new["connector"] == "smsc"  # it had none: who took it is kept
    assert new["sent_at"] == NOW
    assert new["attempts"] == 1


def test_a_report_keeps_the_provider_id_and_time_it_knows() -> None:
    queued = state(
        Status.QUEUED, connector="other", provider_msg_id="old", sent_at=NOW - 5
    )
    step = transitions.reported(queued, report(pid=None, message_id=7), NOW, no_backoff)
    # No provider id in the report and a connector known: nothing of the try kept.
    assert "connector" not in step.changes and "sent_at" not in step.changes


def test_a_transient_report_sends_it_again() -> None:
    backoff = fixed(20.0)
    step = transitions.reported(sent(), report(ResultCode.RETRY_LATER), NOW, backoff)
    assert backoff.asked == [1]  # type: ignore[attr-defined]
    assert step.events == (
        (7, NOW, "QUEUED", "4004", "report UNDELIV: by the handset"),
    )
    assert step.changes["due_at"] == NOW + 20.0
    assert step.final is None


def test_a_transient_report_of_a_sending_message_counts_its_try() -> None:
    backoff = fixed(20.0)
    step = transitions.reported(state(), report(ResultCode.TIMEOUT), NOW, backoff)
    assert backoff.asked == [1]  # type: ignore[attr-defined]
    assert statuses(step) == ["QUEUED"]  # not SENT first: it is to be sent again


def test_a_transient_report_of_a_queued_message_only_notes_the_carrier() -> None:
    step = transitions.reported(
        state(Status.QUEUED), report(ResultCode.RETRY_LATER), NOW, no_backoff
    )
    assert unchanged(step)
    assert step.changes == {"carrier": "SKT"}


@pytest.mark.parametrize("status", FINALS, ids=str)
@pytest.mark.parametrize(
    "code", [ResultCode.DELIVERED, ResultCode.FAILED, ResultCode.RETRY_LATER], ids=str
)
def test_a_report_for_a_final_message_is_refused(
    status: Status, code: ResultCode
) -> None:
    # A duplicate report, or a late one after the message expired: each message
    # gets one final status and one report.
    done = sent(status=status.value, result_code="1000")
    step = transitions.reported(done, report(code), NOW, no_backoff)
    assert unchanged(step)
    assert "status" not in step.changes
    if not code.transient:
        assert step.refused == ((status.value, transitions.status_of(code).value),)


def test_a_duplicate_report_is_refused() -> None:
    first = transitions.reported(sent(), report(), NOW, no_backoff)
    done = after(sent(), first)
    second = transitions.reported(done, report(), NOW + 1, no_backoff)
    assert first.final is ResultCode.DELIVERED
    assert unchanged(second)


def test_a_late_report_after_the_report_timeout_is_refused() -> None:
    expired = transitions.expire_unreported(sent(), sent_before=NOW, now=NOW)
    late = transitions.reported(after(sent(), expired), report(), NOW + 60, no_backoff)
    assert unchanged(late)


def test_a_delivered_report_cannot_end_an_accepted_message() -> None:
    # No stored message is ACCEPTED; the lifecycle does not allow it anyway.
    step = transitions.reported(state(Status.ACCEPTED), report(), NOW, no_backoff)
    assert unchanged(step)
    failed = transitions.reported(
        state(Status.ACCEPTED), report(ResultCode.FAILED), NOW, no_backoff
    )
    assert statuses(failed) == ["FAILED"]


# -- reports of parts -----------------------------------------------------------------


def parts(*codes: str | None) -> dict[str, PartState]:
    return {
        f"p{i}": {
            "connector": "smsc",
            "provider_msg_id": f"p{i}",
            "message_id": 7,
            "part": i + 1,
            "result_code": code,
            "raw_code": None,
        }
        for i, code in enumerate(codes)
    }


def test_a_part_report_waits_for_the_other_parts() -> None:
    known = parts(None, None)
    step = transitions.reported(sent(), report(pid="p0"), NOW, no_backoff, parts=known)
    assert step.part_update == {
        "connector": "smsc",
        "provider_msg_id": "p0",
        "result_code": "1000",
        "raw_code": "DELIVRD",
    }
    assert unchanged(step) and step.changes == {}
    assert known["p0"]["result_code"] is None  # the parts given are left alone


def test_the_last_part_delivered_delivers_the_message() -> None:
    step = transitions.reported(
        sent(), report(pid="p1"), NOW, no_backoff, parts=parts("1000", None)
    )
    assert statuses(step) == ["DELIVERED"]
    assert step.final is ResultCode.DELIVERED


def test_a_failed_part_fails_the_message_with_the_first_failure() -> None:
    known = parts("1000", "2004", None)
    step = transitions.reported(
        sent(), report(ResultCode.FAILED, pid="p2"), NOW, no_backoff, parts=known
    )
    assert statuses(step) == ["FAILED"]
    assert step.final is ResultCode.HANDSET_FULL


@pytest.mark.parametrize("pid", ["p0", "unknown"])
def test_a_repeated_or_unknown_part_report_changes_nothing(pid: str) -> None:
    step = transitions.reported(
        sent(), report(pid=pid), NOW, no_backoff, parts=parts("1000", None)
    )
    assert step.part_update is None
    assert unchanged(step) and step.changes == {}


# -- fallback -------------------------------------------------------------------------


def rcs(**spec: object) -> MessageState:
    body: dict[str, object] = {
        "channel": "LMS",
        "subject": "s",
        "content": "c",
        "originCode": "X1",
    }
    body.update(spec)
    return sent(channel="RCS", fallback=orjson.dumps(body).decode())


def test_a_failed_rcs_message_falls_back() -> None:
    ids = iter([99])
    row = transitions.fallback_row(rcs(), now=NOW, ttl=600.0, next_id=lambda: next(ids))
    assert row is not None
    assert row.id == 99 and row.parent_id == 7 and row.kind == 1
    assert row.channel == "LMS" and row.status == "QUEUED"
    assert (row.subject, row.content) == ("s", "c")
    assert orjson.loads(row.extra) == {"originCode": "X1", "originChannel": "RCS"}
    assert row.due_at == NOW and row.expires_at == NOW + 600.0
    assert transitions.fallback_events(99, 7, NOW) == (
        (99, NOW, "ACCEPTED", None, "fallback of 7"),
        (99, NOW, "QUEUED", None, ""),
    )


@pytest.mark.parametrize(
    "message",
    [
        sent(),  # SMS: no fallback
        sent(channel="RCS"),  # none asked
        rcs(channel="KKO"),  # not to SMS, LMS or MMS
        {**rcs(), "kind": 1},  # a fallback has no fallback
    ],
)
def test_no_fallback(message: MessageState) -> None:
    def no_id() -> int:
        raise AssertionError("an id is drawn only for a fallback")

    assert transitions.fallback_row(message, now=NOW, ttl=1.0, next_id=no_id) is None


def test_delivered_and_report_timeout_ask_for_no_fallback() -> None:
    assert not transitions.reported(rcs(), report(), NOW, no_backoff).fallback
    failed = transitions.reported(rcs(), report(ResultCode.FAILED), NOW, no_backoff)
    assert failed.fallback


# -- matching reports to messages -----------------------------------------------------


def test_recorded_ids() -> None:
    assert transitions.recorded_ids(accepted(), "smsc", 7) == [
        (("smsc", "p7"), (7, None))
    ]
    assert transitions.recorded_ids(
        accepted("a", segment_ids=("a", "b")), "smsc", 7
    ) == [(("smsc", "a"), (7, 1)), (("smsc", "b"), (7, 2))]
    assert transitions.recorded_ids(accepted(None), "smsc", 7) == []
    retry = SubmitResult(message_id=7, outcome=Outcome.RETRY, provider_msg_id="x")
    assert transitions.recorded_ids(retry, "smsc", 7) == []


def test_place_report() -> None:
    found = {("smsc", "p7"): (7, None), ("smsc", "a"): (8, 1)}
    in_batch = {("smsc", "a"): (8, 1)}
    place = transitions.place_report
    assert place(report(message_id=5), found, in_batch) == (Placement.NOW, 5, None)
    assert place(report(), found, in_batch) == (Placement.NOW, 7, None)
    assert place(report(pid="a"), found, in_batch) == (Placement.AFTER, 8, 1)
    assert place(report(pid="zz"), found, in_batch)[0] is Placement.PARK
    assert place(report(pid=None), found, in_batch)[0] is Placement.PARK


def test_pending_fate() -> None:
    fate = transitions.pending_fate
    assert fate(matched=True, age=10_000, ttl=600) is PendingFate.APPLY
    assert fate(matched=False, age=601, ttl=600) is PendingFate.DROP
    assert fate(matched=False, age=600, ttl=600) is PendingFate.KEEP


# -- claims ---------------------------------------------------------------------------


def test_claim_attempt_and_sending_event() -> None:
    assert transitions.claim_attempt({"attempts": 2}) == 3
    assert transitions.claim_attempt({"attempts": None}) == 1
    assert transitions.claim_attempt({}) == 1
    assert transitions.sending_event(7, 3, "node-a", NOW, "smsc") == (
        7,
        NOW,
        "SENDING",
        None,
        "attempt 3 on node-a via smsc",
    )
    assert transitions.sending_event(7, 1, "node-a", NOW, None)[4] == (
        "attempt 1 on node-a"
    )


def test_every_status_change_is_one_event_in_order() -> None:
    # Whatever the rule, the events a step records follow the lifecycle table.
    for status, code in itertools.product(Status, ResultCode):
        step = transitions.reported(
            state(status), report(code, message_id=7), NOW, fixed(1.0)
        )
        current = status.value
        for event in step.events:
            assert lifecycle.allowed(Status(current), Status(event[2]))
            current = event[2]
        assert step.changes.get("status", status.value) == current


def test_the_architecture_diagram_matches_the_table() -> None:
    doc = Path(__file__).resolve().parents[3] / "docs" / "architecture.md"
    match = re.search(
        r"<!-- transitions:start -->\n```mermaid\n(.*?)\n```\n<!-- transitions:end -->",
        doc.read_text(),
        re.S,
    )
    assert match, "docs/architecture.md has no transitions block"
    assert match.group(1) == transitions.mermaid()
