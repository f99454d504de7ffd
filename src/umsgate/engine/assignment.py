"""The dispatcher's decisions, without its loop: where each claimed message goes.

Theory of operation
-------------------
`umsgate.engine.dispatcher` claims due messages, hands them to their connectors and
sends the answers to the ledger; what it decides along the way is here, as functions
of their inputs with no store, task or clock of their own:

* `plan_claim`: of claimed rows, the expired ones end (an `Expire` op), the ones
  with no route or only a connector behind an open breaker go back to the queue (a
  `Requeue` op, after ``retry_max`` or the breaker's wait), and the rest are grouped
  by the connector the router picked; each gets the SENDING event of its attempt.
* `pick_at_accept`: of messages about to be inserted, those sent as soon as they are
  committed (due now, not expired, a connector free to take them, room in flight).
* `held_back`: the part of a burst a gate's rate does not let through now goes back
  to the queue, due when its turn comes near.
* `chunks_in_flight`, `room`: how many chunks a connector may have in flight and how
  many more messages this node may claim.
* `answers`, `chunk_failed`: one `SubmitResult` per message of a chunk, whatever the
  connector answered (or raised).

The router is passed in as its ``pick`` function: picking takes a breaker's probe
slot, so the caller gives it back (`Router.release`) for a picked message that does
not go.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from umsgate.domain import transitions
from umsgate.domain.message import Message
from umsgate.domain.results import ResultCode
from umsgate.domain.transitions import EventRow
from umsgate.engine.ledger import Expire, Op, Requeue
from umsgate.engine.router import Pick
from umsgate.store import messages as message_store
from umsgate.types import Outcome, SubmitResult

#: Messages handed to a connector in one ``submit`` call.
CHUNK = 100
#: Claimed messages waiting for their connectors, at most, per node.
MAX_IN_FLIGHT = 5000

#: The router's choice for a message (`umsgate.engine.router.Router.pick`).
Picker = Callable[[Message], Pick]


@dataclasses.dataclass(slots=True)
class Plan:
    """What one claim does: ledger ops (expiries, requeues), messages per
    connector, and the SENDING events."""

    ops: list[Op] = dataclasses.field(default_factory=list)
    groups: dict[str, list[Message]] = dataclasses.field(default_factory=dict)
    events: list[EventRow] = dataclasses.field(default_factory=list)


def claimed_message(row: Mapping[str, Any], attempts: int) -> Message:
    """The message of a claimed (or picked) row, as its connector sees it."""
    return message_store.message_from_row({**row, "attempts": attempts})


def plan_claim(
    rows: Iterable[Mapping[str, Any]],
    now: float,
    *,
    pick: Picker,
    no_route_delay: float,
) -> Plan:
    """Expire, route and group claimed rows (owned by the claiming node); the
    SENDING event of each.

    Args:
        no_route_delay: when a message with no route is tried again (the engine's
            ``retry_max``).
    """
    plan = Plan()
    for row in rows:
        mid = row["id"]
        attempt = transitions.claim_attempt(row)  # the number of this attempt
        if row["expires_at"] <= now:
            plan.ops.append(Expire(message_id=mid))
            plan.events.append(
                transitions.sending_event(mid, attempt, row["owner"], now, None)
            )
            continue
        message = claimed_message(row, attempt)
        chosen = pick(message)
        if chosen.connector is None:
            plan.events.append(
                transitions.sending_event(mid, attempt, row["owner"], now, None)
            )
            if chosen.route is None:
                plan.ops.append(
                    Requeue(
                        message_id=mid,
                        delay=no_route_delay,
                        code=ResultCode.PROVIDER_ERROR,
                        detail=chosen.detail,
                    )
                )
                continue
            # Waiting for a breaker (the ledger keeps it until its expiry).
            plan.ops.append(
                Requeue(
                    message_id=mid,
                    delay=chosen.wait,
                    code=ResultCode.CONNECTION_ERROR,
                    detail=chosen.detail,
                )
            )
            continue
        name = chosen.connector.name
        plan.events.append(
            transitions.sending_event(mid, attempt, row["owner"], now, name)
        )
        plan.groups.setdefault(name, []).append(message)
    return plan


def pick_at_accept(
    rows: Iterable[Mapping[str, Any]], now: float, *, room: int, pick: Picker
) -> dict[int, tuple[str, Message]]:
    """Of messages about to be inserted, those to send as soon as they are
    committed, at most ``room``: id → (connector, message). The others (reserved
    for later, expired, no connector to take them now) are left to the claim,
    which decides a wait for a breaker or the lack of a route."""
    picked: dict[int, tuple[str, Message]] = {}
    for row in rows:
        if room <= 0:
            break
        if row["due_at"] > now or row["expires_at"] <= now:
            continue
        # This is the message's first attempt, as a claim would count it.
        message = claimed_message(row, transitions.claim_attempt(row))
        chosen = pick(message)
        if chosen.connector is None:
            continue
        picked[message.id] = (chosen.connector.name, message)
        room -= 1
    return picked


def held_back(
    messages: Sequence[Message], delays: Sequence[float], *, gate: str, rate: float
) -> list[Op]:
    """Requeues of the messages a gate does not let through now, each due after
    its delay (its turn in the gate's rate)."""
    detail = f"waiting for {gate} ({rate:g}/s)"
    return [
        Requeue(message_id=m.id, delay=delay, detail=detail)
        for m, delay in zip(messages, delays, strict=True)
    ]


def chunks_in_flight(concurrency: int, gate_chunk: int | None) -> int:
    """``concurrency`` chunks of `CHUNK`, or, for a gate's smaller chunks of
    ``gate_chunk``, as many as would hold the same messages (its window, if any,
    is the cap)."""
    if gate_chunk is None:
        return concurrency
    return max(concurrency, math.ceil(concurrency * CHUNK / gate_chunk))


def room(in_flight: int, reserved: int) -> int:
    """How many more messages this node may claim or pick."""
    return MAX_IN_FLIGHT - in_flight - reserved


def answers(
    messages: Sequence[Message], answered: Iterable[SubmitResult]
) -> list[SubmitResult]:
    """One result per message of a chunk: the connector's (those of other messages
    dropped), and RETRY for each message it gave no answer for."""
    by_id = {m.id for m in messages}
    results = [r for r in answered if r.message_id in by_id]
    missing = by_id - {r.message_id for r in results}
    results.extend(
        SubmitResult(
            message_id=mid,
            outcome=Outcome.RETRY,
            code=ResultCode.PROVIDER_ERROR,
            detail="connector gave no answer for this message",
        )
        for mid in missing
    )
    return results


def chunk_failed(messages: Sequence[Message], exc: BaseException) -> list[SubmitResult]:
    """The whole chunk could not be tried: each message again (TIMEOUT when the
    connector took too long, else CONNECTION_ERROR)."""
    timeout = isinstance(exc, TimeoutError)
    code = ResultCode.TIMEOUT if timeout else ResultCode.CONNECTION_ERROR
    return [
        SubmitResult(
            message_id=m.id,
            outcome=Outcome.RETRY,
            code=code,
            detail=str(exc)[:200],
        )
        for m in messages
    ]
