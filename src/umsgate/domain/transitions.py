"""The rules of a message's life: what each event does to its state, as pure functions.

Theory of operation
-------------------
A message's state is its row (`MessageState`: the columns a rule reads; no bodies).
Each function here takes that state, the event (a connector's answer, a report, a
requeue, an expiry, an adoption) and the time, and returns a `Step`: the columns
to change, the timeline events to record, and what else the change calls for (a
report row for a message that became final, a fallback message, the parts of a
multi-part message, waking the dispatcher). Nothing here touches a database, a
clock or a random source: the caller passes ``now`` and the ``backoff`` to use,
applies the step to its row (``row.update(step.changes)``) and writes what it says.
`umsgate.engine.ledger` does that for batches of events, in one transaction each.

`TABLE` is the whole set of rules: ``(status, trigger) → the statuses the message
may be in after it``. A trigger off the table changes nothing (a late submit answer
after a recovery, a second report for a final message, a requeue of a message no
longer SENDING): it is refused, not an error, because at-least-once delivery makes
such repeats normal. Every status change is also checked against
`umsgate.domain.lifecycle.TRANSITIONS`, the table of allowed moves, and each move is
one timeline event.

Reports that overtake their submit answers: a report naming its message may come
while the message is still SENDING (the provider answered the receipt before the
submit, or the answer was lost). The message is then moved to SENT first (the
timeline shows the provider's id) and then to its final status; the submit answer
that follows finds it no longer SENDING and changes nothing.

The state is the row itself, a plain dict typed as `MessageState`, and the step is
one small object with class defaults: the ledger applies thousands of them a
second, and a frozen copy of the row per event would cost more than the rule.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, Final, TypedDict

import orjson

from umsgate.domain.lifecycle import TRANSITIONS, Status
from umsgate.domain.message import Channel
from umsgate.domain.outcomes import Outcome, ProviderReport, SubmitResult
from umsgate.domain.records import FallbackRow
from umsgate.domain.results import ResultCode

#: A retry that would come after the message's expiry comes this long before it.
LAST_TRY_MARGIN = 0.001
#: Longest detail kept in a timeline event.
DETAIL_MAX = 500

#: A timeline event: (message id, time, status, result code, detail).
EventRow = tuple[int, float, str, str | None, str]
#: Seconds to wait before the next try, given the number of tries so far.
Backoff = Callable[[int], float]


class MessageState(TypedDict, total=False):
    """A message's row as the rules read it (`umsgate.store.messages.STATE_COLUMNS`).

    ``total=False`` so that the same type says which columns a `Step` changes; a
    state read from the store has every key."""

    id: int
    client_id: str
    src_msg_id: str
    kind: int
    parent_id: int | None
    cmp_msg_id: str
    channel: str
    status: str
    sender: str
    receiver: str
    charset: str
    extra: str
    fallback: str | None
    created_at: float
    due_at: float
    expires_at: float
    attempts: int
    connector: str | None
    provider_msg_id: str | None
    owner: str | None
    claimed_at: float | None
    sent_at: float | None
    done_at: float | None
    result_code: str | None
    raw_code: str | None
    result_message: str | None
    carrier: str
    segments: int


class PartState(TypedDict):
    """One part of a message sent in several parts, each with a provider id."""

    connector: str
    provider_msg_id: str
    message_id: int
    part: int
    result_code: str | None
    raw_code: str | None


class PartResult(TypedDict):
    """The result of one part, as its report gives it."""

    connector: str
    provider_msg_id: str
    result_code: str
    raw_code: str | None


class Trigger(enum.Enum):
    """What happens to a message."""

    ACCEPT = "accept"  #: a client's message is stored
    CLAIM = "claim"  #: a dispatcher takes it to send (or it is sent at accept)
    SUBMIT_ACCEPTED = "submit accepted"  #: the provider took it
    SUBMIT_REJECTED = "submit rejected"  #: the provider refused it for good
    SUBMIT_RETRY = "submit retry"  #: the try failed; another may succeed
    REQUEUE = "requeue"  #: claimed and not tried (no route, a breaker, a gate's rate)
    REPORT = "report"  #: the provider's final report
    REPORT_TRANSIENT = "transient report"  #: a report that asks for a resend
    EXPIRE = "expire"  #: its time ran out before it was sent
    REPORT_TIMEOUT = "report timeout"  #: SENT, and no report came in time
    ADOPT = "adopt"  #: a live node takes over a dead node's SENT message


_S = Status
_FINALS = (_S.DELIVERED, _S.FAILED, _S.EXPIRED)
_NOT_FINAL = (_S.ACCEPTED, _S.QUEUED, _S.SENDING, _S.SENT)

#: (status, trigger) → the statuses the message may be in after it. Every pair the
#: table leaves out is refused: the message does not change.
TABLE: Final[dict[tuple[Status, Trigger], tuple[Status, ...]]] = {
    # Stored QUEUED in the commit that accepts it (the ACCEPTED event says when).
    (_S.ACCEPTED, Trigger.ACCEPT): (_S.QUEUED,),
    # In the claim's UPDATE (or the insert, for a message sent at accept).
    (_S.QUEUED, Trigger.CLAIM): (_S.SENDING,),
    (_S.SENDING, Trigger.SUBMIT_ACCEPTED): (_S.SENT,),
    # The code decides the final status (a provider may answer "expired").
    (_S.SENDING, Trigger.SUBMIT_REJECTED): _FINALS,
    # Queued again, or EXPIRED when no time is left for another try.
    (_S.SENDING, Trigger.SUBMIT_RETRY): (_S.QUEUED, _S.EXPIRED),
    (_S.SENDING, Trigger.REQUEUE): (_S.QUEUED, _S.EXPIRED),
    # Final reports: a SENDING message passes through SENT (the report overtook
    # its submit answer); a QUEUED one was taken on a try whose answer was lost.
    (_S.SENT, Trigger.REPORT): _FINALS,
    (_S.SENDING, Trigger.REPORT): (_S.SENT, *_FINALS),
    (_S.QUEUED, Trigger.REPORT): _FINALS,
    # No stored message is ACCEPTED (see ACCEPT); the lifecycle allows these.
    (_S.ACCEPTED, Trigger.REPORT): (_S.FAILED, _S.EXPIRED),
    (_S.SENT, Trigger.REPORT_TRANSIENT): (_S.QUEUED, _S.EXPIRED),
    (_S.SENDING, Trigger.REPORT_TRANSIENT): (_S.QUEUED, _S.EXPIRED),
    **{(s, Trigger.EXPIRE): (_S.EXPIRED,) for s in _NOT_FINAL},
    (_S.SENT, Trigger.REPORT_TIMEOUT): (_S.EXPIRED,),
    (_S.SENT, Trigger.ADOPT): (_S.SENT,),
}


def _sources(trigger: Trigger) -> frozenset[str]:
    """The statuses ``trigger`` applies in, as plain strings: a lookup of a tuple
    with an `enum.Enum` in it hashes in Python, ten times the cost."""
    return frozenset(s.value for s, t in TABLE if t is trigger)


_SUBMIT_FROM = {
    Outcome.ACCEPTED: _sources(Trigger.SUBMIT_ACCEPTED),
    Outcome.REJECTED: _sources(Trigger.SUBMIT_REJECTED),
    Outcome.RETRY: _sources(Trigger.SUBMIT_RETRY),
}
_REQUEUE_FROM = _sources(Trigger.REQUEUE)
_REPORT_TRANSIENT_FROM = _sources(Trigger.REPORT_TRANSIENT)
_EXPIRE_FROM = _sources(Trigger.EXPIRE)
_REPORT_TIMEOUT_FROM = _sources(Trigger.REPORT_TIMEOUT)
_ADOPT_FROM = _sources(Trigger.ADOPT)

# Plain strings on the hot path: enum member access costs more than the work here.
_ACCEPTED, _QUEUED, _SENDING, _SENT = "ACCEPTED", "QUEUED", "SENDING", "SENT"
_DELIVERED, _FAILED, _EXPIRED = "DELIVERED", "FAILED", "EXPIRED"
_ALLOWED = frozenset(
    (src.value, dst.value) for src, targets in TRANSITIONS.items() for dst in targets
)
_DELIVERED_CODE = ResultCode.DELIVERED.value
_FALLBACK_FROM = (Channel.RCS.value, Channel.KKO.value)
_FALLBACK_TO = (Channel.SMS.value, Channel.LMS.value, Channel.MMS.value)


class Step:
    """What one event does to one message.

    Attributes:
        changes: the columns to set on the state, in order of change.
        events: the timeline events to record (one per status change).
        written: whether the message must be written (it moved, or was adopted);
            `changes` of a step that is not written are the state's own business.
        refused: the moves the rules refused, as (from, to) pairs.
        final: the result code, when the message became final (a report is due).
        from_carrier: whether that final status comes from the provider's report.
        fallback: whether the final status calls for the fallback message (see
            `fallback_row`): the message did not end DELIVERED, and the event allows
            a fallback.
        new_parts: the parts to record of a message sent in several parts.
        part_update: the result of one part, given by its report.
        wake: the message is due at once (the dispatcher may claim it now).
    """

    # Not slotted, and the defaults are the class's: a step is made per op on the
    # hot path, and setting ten slots costs twice the whole of most rules.
    events: tuple[EventRow, ...] = ()
    written: bool = False
    refused: tuple[tuple[str, str], ...] = ()
    final: ResultCode | None = None
    from_carrier: bool = False
    fallback: bool = False
    new_parts: tuple[PartState, ...] = ()
    part_update: PartResult | None = None
    wake: bool = False

    def __init__(self) -> None:
        self.changes: MessageState = {}

    def __repr__(self) -> str:
        return (
            f"Step(changes={self.changes!r}, events={self.events!r}, "
            f"written={self.written}, final={self.final})"
        )


# -- the rules ---------------------------------------------------------------------


def submitted(
    state: MessageState,
    result: SubmitResult,
    connector: str,
    now: float,
    backoff: Backoff,
) -> Step:
    """A connector's answer to a submit of the SENDING message ``state``."""
    step = Step()
    outcome = result.outcome
    if state["status"] not in _SUBMIT_FROM[outcome]:
        # A late answer: the claim was recovered and decided meanwhile, or a
        # report came first and ended the message.
        return step
    changes = step.changes
    # An attempt is a connector's answer: claims held back for a throttle or a
    # breaker, or without a route, do not lengthen the backoff of later failures.
    attempts = changes["attempts"] = state["attempts"] + 1
    if outcome is Outcome.ACCEPTED:
        detail = f"{connector} {result.provider_msg_id or ''}".strip()
        if _move(step, state, _SENT, now, None, detail):
            changes["connector"] = connector
            changes["provider_msg_id"] = result.provider_msg_id
            changes["sent_at"] = now
            changes["segments"] = result.segments or max(1, len(result.segment_ids))
            if len(result.segment_ids) > 1:
                mid = state["id"]
                step.new_parts = tuple(
                    {
                        "connector": connector,
                        "provider_msg_id": pid,
                        "message_id": mid,
                        "part": i + 1,
                        "result_code": None,
                        "raw_code": None,
                    }
                    for i, pid in enumerate(result.segment_ids)
                )
    elif outcome is Outcome.REJECTED:
        changes["connector"] = connector
        _finish(
            step,
            state,
            result.code or ResultCode.FAILED,
            now,
            raw=result.raw_code,
            detail=result.detail,
        )
    else:
        # The connector tried last: the router tries another one next time.
        changes["connector"] = connector
        delay = result.retry_after
        if delay is None:
            delay = backoff(attempts)
        _requeue(
            step,
            state,
            delay,
            result.code,
            f"{connector}: {_with_raw(result.raw_code, result.detail)}".strip(),
            now,
        )
    return step


def requeue(
    state: MessageState,
    *,
    delay: float,
    code: ResultCode | None,
    detail: str,
    now: float,
) -> Step:
    """Put a claimed (SENDING) message back in the queue, due after ``delay``, when
    no connector answered it (no route, a breaker open, a gate's rate, a dead
    node's claim)."""
    step = Step()
    if state["status"] in _REQUEUE_FROM:
        _requeue(step, state, delay, code, detail, now)
    return step


def expire(state: MessageState, *, now: float) -> Step:
    """End a message EXPIRED whose time ran out before it was sent."""
    step = Step()
    status = state["status"]
    if status not in _EXPIRE_FROM:
        step.refused = ((status, _EXPIRED),)
        return step
    _expire(step, state, now, "expired before it was sent")
    return step


def expire_unreported(state: MessageState, *, sent_before: float, now: float) -> Step:
    """End EXPIRED a SENT message sent at or before ``sent_before`` and still
    without a report. No fallback: the provider may have delivered it."""
    step = Step()
    if (
        state["status"] in _REPORT_TIMEOUT_FROM
        and (state["sent_at"] or 0.0) <= sent_before
    ):
        _expire(step, state, now, "no report from the provider in time", fallback=False)
    return step


def adopt(state: MessageState, *, owner: str) -> Step:
    """A SENT message of a dead node becomes ``owner``'s (no event: its status
    stays)."""
    step = Step()
    if state["status"] in _ADOPT_FROM:
        step.changes["owner"] = owner
        step.written = True
    return step


def reported(
    state: MessageState,
    report: ProviderReport,
    now: float,
    backoff: Backoff,
    parts: Mapping[str, PartState] | None = None,
) -> Step:
    """A provider's report of the message ``state``.

    A report the rules refuse (for a final message) still notes its carrier in the
    step's changes, which the ledger writes only if another op of its batch writes
    the message: as the ledger did before the rules were apart.

    Args:
        parts: when the report is of one part of a message sent in several parts,
            the known parts by provider id (the report's own part included). The
            message becomes final once every part has its result: DELIVERED if all
            were delivered, else the first failure's code.
    """
    step = Step()
    if parts is not None:
        pid = report.provider_msg_id or ""
        part = parts.get(pid)
        if part is None or part["result_code"] is not None:
            return step  # unknown or repeated receipt of a part
        step.part_update = {
            "connector": report.connector,
            "provider_msg_id": pid,
            "result_code": report.code.value,
            "raw_code": report.raw_code,
        }
        codes: list[str] = []
        for p in parts.values():
            c = report.code.value if p is part else p["result_code"]
            if c is None:
                return step  # parts still without a result
            codes.append(c)
        failures = [ResultCode(c) for c in codes if c != _DELIVERED_CODE]
        code = failures[0] if failures else ResultCode.DELIVERED
    else:
        code = report.code
    changes = step.changes
    changes["carrier"] = report.carrier or state["carrier"]
    status = state["status"]
    if status == _SENDING:
        changes["attempts"] = state["attempts"] + 1  # the report answers this try
    transient = code.transient
    if (
        status in (_SENDING, _QUEUED)
        and parts is None
        and not transient
        and (report.provider_msg_id or state["connector"] is None)
    ):
        # The report overtook the answer to its submit, or came for a try whose
        # answer was lost: keep who took the message, and when.
        changes["connector"] = report.connector
        changes["provider_msg_id"] = report.provider_msg_id or state["provider_msg_id"]
        changes["sent_at"] = state["sent_at"] or now
        if status == _SENDING:
            # The timeline shows the submit the provider took; the answer that
            # comes after changes nothing.
            _move(
                step,
                state,
                _SENT,
                now,
                None,
                f"{report.connector} {report.provider_msg_id or ''} "
                "(its report came first)",
            )
    if transient:
        # No move before (a transient code does not make it SENT).
        if status in _REPORT_TRANSIENT_FROM:
            _requeue(
                step,
                state,
                backoff(changes.get("attempts", state["attempts"])),
                code,
                f"report {report.raw_code or code.value}: {report.detail}",
                now,
            )
        return step
    _finish(
        step,
        state,
        code,
        now,
        raw=report.raw_code,
        detail=report.detail,
        from_carrier=True,
    )
    return step


# -- reports and their messages ----------------------------------------------------


class Placement(enum.Enum):
    """When a report is applied in the batch that takes it."""

    NOW = "now"  #: in its turn among the batch's ops
    AFTER = "after"  #: after every other op: its submit answer is in the same batch
    PARK = "park"  #: not yet: no message is known by its provider id


class PendingFate(enum.Enum):
    """What becomes of a parked report looked at again."""

    APPLY = "apply"  #: its message is known now
    DROP = "drop"  #: too old: its message will never be known
    KEEP = "keep"  #: look again later


#: A report's key among parked reports and provider ids: (connector, provider id).
ProviderKey = tuple[str, str]
#: The message (and the part, for a message in parts) a provider id names.
Target = tuple[int, int | None]


def recorded_ids(
    result: SubmitResult, connector: str, message_id: int
) -> list[tuple[ProviderKey, Target]]:
    """The provider ids that a submit answer records, with what each names: one id
    per part for a message sent in several parts, else the message's one id."""
    if result.outcome is not Outcome.ACCEPTED:
        return []
    if len(result.segment_ids) > 1:
        return [
            ((connector, pid), (message_id, i + 1))
            for i, pid in enumerate(result.segment_ids)
        ]
    if result.provider_msg_id:
        return [((connector, result.provider_msg_id), (message_id, None))]
    return []


def place_report(
    report: ProviderReport,
    found: Mapping[ProviderKey, Target],
    in_batch: Mapping[ProviderKey, Target],
) -> tuple[Placement, int, int | None]:
    """Where a report goes in a batch, and the message (and part) it is of.

    Args:
        found: the messages known by provider id (the store's, and this batch's).
        in_batch: those whose submit answers this batch records: their reports are
            applied after every other op, since a receipt can overtake its submit
            answer into the same batch, and the message (and its parts) must be SENT
            before it is final.

    A report that names its message is applied at once, whatever its state; one
    whose provider id names no known message is parked (``0, None``).
    """
    if report.message_id is not None:
        return Placement.NOW, report.message_id, None
    pid = report.provider_msg_id
    if pid:
        key = (report.connector, pid)
        target = found.get(key)
        if target is not None:
            placement = Placement.AFTER if key in in_batch else Placement.NOW
            return placement, target[0], target[1]
    return Placement.PARK, 0, None


def pending_fate(*, matched: bool, age: float, ttl: float) -> PendingFate:
    """A parked report, looked at again ``age`` seconds after it was parked: applied
    if its message is known, dropped after ``ttl``, else kept."""
    if matched:
        return PendingFate.APPLY
    if age > ttl:
        return PendingFate.DROP
    return PendingFate.KEEP


def claim_attempt(state: Mapping[str, Any]) -> int:
    """The number of the attempt a claim of ``state`` makes (stored ``attempts``
    count the connectors' answers so far)."""
    return int(state.get("attempts") or 0) + 1


def sending_event(
    message_id: int, attempt: int, node: str, now: float, connector: str | None
) -> EventRow:
    """The SENDING event of a claim: the attempt's number, the node, and the
    connector it is tried on (None: none, it is expired or held back)."""
    detail = f"attempt {attempt} on {node}"
    if connector is not None:
        detail = f"{detail} via {connector}"
    return (message_id, now, _SENDING, None, detail)


def fallback_row(
    state: MessageState, *, now: float, ttl: float, next_id: Callable[[], int]
) -> FallbackRow | None:
    """The fallback message of an RCS/KakaoTalk message that did not end
    DELIVERED, as a row to insert QUEUED (an id is drawn only for it); None when it
    has no fallback to SMS, LMS or MMS."""
    if state["kind"] != 0 or state["channel"] not in _FALLBACK_FROM:
        return None
    if not state["fallback"]:
        return None
    spec = orjson.loads(state["fallback"])
    channel = spec.get("channel")
    if channel not in _FALLBACK_TO:
        return None
    return FallbackRow(
        id=next_id(),
        client_id=state["client_id"],
        src_msg_id=state["src_msg_id"],
        kind=1,
        parent_id=state["id"],
        cmp_msg_id=state["cmp_msg_id"],
        channel=channel,
        status=_QUEUED,
        sender=state["sender"],
        receiver=state["receiver"],
        subject=spec.get("subject", ""),
        content=spec.get("content", ""),
        charset=state["charset"],
        file_ids=orjson.dumps(spec.get("fileIds", [])).decode(),
        extra=orjson.dumps(
            {
                "originCode": spec.get("originCode", ""),
                "originChannel": state["channel"],
            }
        ).decode(),
        fallback=None,
        content_hash="",
        created_at=now,
        due_at=now,
        expires_at=now + ttl,
        attempts=0,
        segments=1,
        carrier="",
    )


def fallback_events(
    fallback_id: int, parent_id: int, now: float
) -> tuple[EventRow, EventRow]:
    """The timeline of a fallback message as it is stored."""
    return (
        (fallback_id, now, _ACCEPTED, None, f"fallback of {parent_id}"),
        (fallback_id, now, _QUEUED, None, ""),
    )


def status_of(code: ResultCode) -> Status:
    """The final status a result code ends a message in."""
    if code is ResultCode.DELIVERED:
        return Status.DELIVERED
    if code is ResultCode.EXPIRED:
        return Status.EXPIRED
    return Status.FAILED


def mermaid() -> str:
    """`TABLE` as a Mermaid state diagram, each arrow labelled with its trigger."""
    lines = ["stateDiagram-v2", "    [*] --> ACCEPTED"]
    for (src, trigger), targets in TABLE.items():
        lines.extend(f"    {src} --> {dst}: {trigger.value}" for dst in targets)
    lines.extend(f"    {s} --> [*]" for s in _FINALS)
    return "\n".join(lines)


# -- the moves they share -----------------------------------------------------------


def _move(
    step: Step,
    state: MessageState,
    new: str,
    now: float,
    code: str | None,
    detail: str,
) -> bool:
    """Move the message to status ``new`` if the lifecycle table allows it."""
    changes = step.changes
    current = changes["status"] if "status" in changes else state["status"]
    if (current, new) not in _ALLOWED:
        step.refused += ((current, new),)
        return False
    changes["status"] = new
    step.written = True
    step.events += ((state["id"], now, new, code, detail[:DETAIL_MAX]),)
    return True


def _requeue(
    step: Step,
    state: MessageState,
    delay: float,
    code: ResultCode | None,
    detail: str,
    now: float,
) -> None:
    due = now + delay
    expires_at = state["expires_at"]
    if due >= expires_at:
        # A retry past the expiry becomes a last try just before it: the message
        # has until its expiry, and ends EXPIRED then, not earlier.
        due = expires_at - LAST_TRY_MARGIN
        if due <= now:
            _expire(step, state, now, f"no time left to retry: {detail}")
            return
    if _move(step, state, _QUEUED, now, code.value if code else None, detail):
        changes = step.changes
        changes["due_at"] = due
        changes["owner"] = None
        if delay <= 0:
            step.wake = True


def _finish(
    step: Step,
    state: MessageState,
    code: ResultCode,
    now: float,
    *,
    raw: str | None,
    detail: str,
    from_carrier: bool = False,
    fallback: bool = True,
) -> None:
    if code is ResultCode.DELIVERED:
        status = _DELIVERED
    elif code is ResultCode.EXPIRED:
        status = _EXPIRED
    else:
        status = _FAILED
    if not _move(step, state, status, now, code.value, _with_raw(raw, detail)):
        return
    changes = step.changes
    changes["done_at"] = now
    changes["result_code"] = code.value
    changes["raw_code"] = raw
    changes["result_message"] = detail[:DETAIL_MAX] or code.description
    changes["owner"] = None
    step.final = code
    step.from_carrier = from_carrier
    step.fallback = status != _DELIVERED and fallback


def _expire(
    step: Step, state: MessageState, now: float, detail: str, *, fallback: bool = True
) -> None:
    """`_finish` EXPIRED for a reason of the gateway's own (no provider code)."""
    _finish(
        step,
        state,
        ResultCode.EXPIRED,
        now,
        raw=None,
        detail=detail,
        fallback=fallback,
    )


def _with_raw(raw: str | None, detail: str) -> str:
    """An event's detail with the provider's raw code first (the timeline shows what
    the provider said, not only what it was mapped to)."""
    return f"[{raw}] {detail}".strip() if raw else detail
