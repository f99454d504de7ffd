"""The ledger's bookkeeping around the rules, without a database: a batch's rows,
events, reports, parts and fallbacks as its ops leave them (`Ledger._replay`, the
part of a batch between reading the rows and writing them)."""

from __future__ import annotations

from typing import Any, cast

import orjson

from umsgate.clock import SystemClock
from umsgate.domain.ids import IdGenerator
from umsgate.domain.results import ResultCode
from umsgate.domain.transitions import MessageState
from umsgate.engine import ledger as ledger_module
from umsgate.engine.ledger import Adopt, Ledger, Reported, Submitted
from umsgate.store.database import Database
from umsgate.types import Outcome, ProviderReport, SubmitResult

NOW = 1_800_000_000.0


def new_ledger() -> Ledger:
    # No store: `_replay` never touches it.
    return Ledger(
        cast(Database, None),
        ids=IdGenerator(3),
        node_id="node-a",
        clock=SystemClock(),
        retry_base=1.0,
        retry_max=60.0,
        default_ttl=600.0,
    )


def row(mid: int, status: str = "SENT", **fields: Any) -> MessageState:
    base: dict[str, Any] = {
        "id": mid,
        "client_id": "shop",
        "src_msg_id": f"m{mid}",
        "kind": 0,
        "parent_id": None,
        "cmp_msg_id": "",
        "channel": "SMS",
        "status": status,
        "sender": "+8215880000",
        "receiver": "+821012345678",
        "charset": "cp949",
        "extra": "{}",
        "fallback": None,
        "created_at": NOW - 60,
        "due_at": NOW - 60,
        "expires_at": NOW + 3_600,
        "attempts": 1,
        "connector": "smsc",
        "provider_msg_id": f"p{mid}",
        "owner": "node-a",
        "claimed_at": NOW - 30,
        "sent_at": NOW - 30,
        "done_at": None,
        "result_code": None,
        "raw_code": None,
        "result_message": None,
        "carrier": "",
        "segments": 1,
    }
    base.update(fields)
    return cast(MessageState, base)


def batch(*rows: MessageState) -> Any:
    return ledger_module._Batch(now=NOW, rows={r["id"]: r for r in rows})


def receipt(pid: str, code: ResultCode = ResultCode.DELIVERED) -> ProviderReport:
    return ProviderReport(connector="smsc", code=code, provider_msg_id=pid)


def test_a_message_in_parts_is_delivered_when_its_last_part_is() -> None:
    led = new_ledger()
    message = row(1, "SENDING", attempts=0, connector=None, provider_msg_id=None)
    b = batch(message)
    answer = SubmitResult(
        message_id=1,
        outcome=Outcome.ACCEPTED,
        provider_msg_id="a",
        segment_ids=("a", "b"),
    )
    led._replay(
        b, Submitted(message_id=1, connector="smsc", result=answer), message, None
    )
    assert message["status"] == "SENT" and message["segments"] == 2
    assert [p["provider_msg_id"] for p in b.new_parts] == ["a", "b"]
    led._replay(b, Reported(report=receipt("a")), message, 1)
    assert message["status"] == "SENT" and b.finals == []
    led._replay(b, Reported(report=receipt("b")), message, 2)
    assert message["status"] == "DELIVERED" and [f[0] for f in b.finals] == [
        "DELIVERED"
    ]
    assert [u["provider_msg_id"] for u in b.part_updates] == ["a", "b"]
    assert [e[2] for e in b.events] == ["SENT", "DELIVERED"]
    assert b.changed == {1}
    assert len(b.reports) == 1 and b.reports[0].message_id == 1
    # The parts the batch read are the parts as the reports left them.
    assert {p["result_code"] for p in b.parts[1].values()} == {"1000"}


def test_a_failed_rcs_message_brings_its_fallback_into_the_batch() -> None:
    spec = {"channel": "SMS", "content": "plain text"}
    message = row(2, channel="RCS", fallback=orjson.dumps(spec).decode())
    b = batch(message)
    new_ledger()._replay(
        b, Reported(report=receipt("p2", ResultCode.UNREACHABLE)), message, None
    )
    assert message["status"] == "FAILED"
    (fallback,) = b.fallbacks
    assert fallback.parent_id == 2 and fallback.channel == "SMS"
    assert fallback.expires_at == NOW + 600.0
    assert [(e[0], e[2]) for e in b.events] == [
        (2, "FAILED"),
        (fallback.id, "ACCEPTED"),
        (fallback.id, "QUEUED"),
    ]
    assert len(b.finals) == 1 and len(b.reports) == 1


def test_a_refused_op_writes_nothing() -> None:
    led = new_ledger()
    done = row(3, "DELIVERED", result_code="1000")
    b = batch(done)
    led._replay(b, Reported(report=receipt("p3")), done, None)
    late = SubmitResult(message_id=3, outcome=Outcome.ACCEPTED, provider_msg_id="x")
    led._replay(b, Submitted(message_id=3, connector="smsc", result=late), done, None)
    assert b.changed == set() and b.events == [] and b.reports == []
    assert done["status"] == "DELIVERED" and done["provider_msg_id"] == "p3"


def test_adopt_writes_the_owner_without_an_event() -> None:
    message = row(4, owner="node-dead")
    b = batch(message)
    new_ledger()._replay(b, Adopt(message_id=4, owner="node-a"), message, None)
    assert message["owner"] == "node-a"
    assert b.changed == {4} and b.events == []
