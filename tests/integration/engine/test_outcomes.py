"""How submit answers and provider reports move messages, through a real gateway and
store, with a scripted provider behind the ``Connector`` seam."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import (
    Receiver,
    Running,
    Store,
    make_settings,
    new_account,
    running_gateway,
    sms_body,
)
from umsgate.config import RouteSettings
from umsgate.domain.message import Message
from umsgate.domain.results import ResultCode
from umsgate.reports import format as report_format
from umsgate.testing import wait_for
from umsgate.types import Health, Outcome, ProviderReport, ReportSink, SubmitResult

Script = Callable[["Scripted", Message], SubmitResult]


class Scripted:
    """A provider whose answers a test writes: ``script`` decides each submit; reports
    are sent with `deliver`."""

    name = "scripted"

    def __init__(self, script: Script) -> None:
        self.script = script
        self.sink: ReportSink | None = None
        self.submits: list[Message] = []
        self.resumed: list[Message] = []
        #: Reports to hand to the sink before ``submit`` returns.
        self.early: list[ProviderReport] = []

    async def start(self, sink: ReportSink) -> None:
        self.sink = sink

    async def stop(self) -> None:
        return None

    async def submit(self, messages: Sequence[Message]) -> Sequence[SubmitResult]:
        self.submits.extend(messages)
        answers = [self.script(self, m) for m in messages]
        while self.early:
            assert self.sink is not None
            await self.sink.report(self.early.pop(0))
        return answers

    async def resume(self, messages: Sequence[Message]) -> None:
        self.resumed.extend(messages)

    def health(self) -> Health:
        return Health(up=True)

    async def deliver(self, **fields: Any) -> None:
        assert self.sink is not None
        await self.sink.report(ProviderReport(connector=self.name, **fields))


def accepted(
    pid: str = "", **extra: Any
) -> Callable[[Scripted, Message], SubmitResult]:
    def answer(_c: Scripted, m: Message) -> SubmitResult:
        return SubmitResult(
            message_id=m.id,
            outcome=Outcome.ACCEPTED,
            provider_msg_id=pid or f"P{m.id}",
            **extra,
        )

    return answer


def settings_for(store: Store, **sections: Any) -> Any:
    base = make_settings(store, **sections)
    route = RouteSettings(name="all", connectors=("scripted",))
    return dataclasses.replace(base, routes=(route,))


async def send(gw: Running, acct: Any, src: str, **fields: Any) -> int:
    r = await gw.http.post(
        "/v1/message/sms", json=sms_body(src, **fields), headers=acct.headers()
    )
    assert r.status_code == 200, r.text
    return int(r.json()["umsMsgId"])


async def row(gw: Running, message_id: int) -> dict[str, Any]:
    async with gw.gateway.db.transaction() as conn:
        result = await conn.execute(
            text("SELECT * FROM messages WHERE id = :id"), {"id": message_id}
        )
        return dict(result.mappings().one())


async def events(gw: Running, message_id: int) -> list[str]:
    """The statuses of a message's timeline (without its webhook tries, which the
    notifier records after the receiver has the report)."""
    async with gw.gateway.db.transaction() as conn:
        result = await conn.execute(
            text(
                "SELECT status FROM events WHERE message_id = :id "
                "AND status <> 'WEBHOOK' ORDER BY id"
            ),
            {"id": message_id},
        )
        return [r[0] for r in result]


async def report_count(gw: Running, message_id: int) -> int:
    async with gw.gateway.db.transaction() as conn:
        result = await conn.execute(
            text("SELECT count(*) FROM reports WHERE message_id = :m"),
            {"m": message_id},
        )
        return int(result.scalar_one())


async def final(gw: Running, message_id: int) -> dict[str, Any]:
    async def done() -> bool:
        return (await row(gw, message_id))["status"] in (
            "DELIVERED",
            "FAILED",
            "EXPIRED",
        )

    await wait_for(done, what=f"message {message_id} to end")
    return await row(gw, message_id)


async def test_multipart_message_ends_when_every_part_has_its_report(
    store: Store, receiver: Receiver
) -> None:
    def three_parts(_c: Scripted, m: Message) -> SubmitResult:
        ids = (f"{m.id}-a", f"{m.id}-b", f"{m.id}-c")
        return SubmitResult(
            message_id=m.id,
            outcome=Outcome.ACCEPTED,
            provider_msg_id=ids[0],
            segment_ids=ids,
            segments=3,
        )

    provider = Scripted(three_parts)
    async with running_gateway(settings_for(store), {"scripted": provider}) as gw:
        acct = await new_account(gw, report_url=receiver.url)
        ok, bad = await send(gw, acct, "parts-ok"), await send(gw, acct, "parts-bad")
        await wait_for(lambda: len(provider.submits) == 2, what="both submits")
        for mid in (ok, bad):
            await wait_for(lambda mid=mid: _status(gw, mid, "SENT"), what="SENT")
        await provider.deliver(provider_msg_id=f"{ok}-b", code=ResultCode.DELIVERED)
        await provider.deliver(provider_msg_id=f"{ok}-a", code=ResultCode.DELIVERED)
        assert (await row(gw, ok))["status"] == "SENT"  # one part still outstanding
        await provider.deliver(provider_msg_id=f"{ok}-c", code=ResultCode.DELIVERED)
        await provider.deliver(provider_msg_id=f"{bad}-a", code=ResultCode.DELIVERED)
        await provider.deliver(
            provider_msg_id=f"{bad}-b", code=ResultCode.UNREACHABLE, raw_code="UNDELIV"
        )
        await provider.deliver(provider_msg_id=f"{bad}-c", code=ResultCode.DELIVERED)
        ok_row, bad_row = await final(gw, ok), await final(gw, bad)
        await wait_for(
            lambda: {str(ok), str(bad)} <= set(receiver.by_id()), what="both reports"
        )
    assert ok_row["status"] == "DELIVERED" and ok_row["segments"] == 3
    assert (
        bad_row["status"] == "FAILED"
        and bad_row["result_code"] == ResultCode.UNREACHABLE.value
    )
    assert receiver.by_id()[str(bad)][0]["resultCode"] == ResultCode.UNREACHABLE.value


async def _status(gw: Running, mid: int, status: str) -> bool:
    return (await row(gw, mid))["status"] == status


async def test_a_receipt_that_overtakes_its_submit_is_matched_later(
    store: Store,
) -> None:
    def report_first(c: Scripted, m: Message) -> SubmitResult:
        # The provider's receipt is committed before the gateway records the submit.
        c.early.append(
            ProviderReport(
                connector=c.name,
                provider_msg_id=f"early-{m.id}",
                code=ResultCode.DELIVERED,
            )
        )
        return SubmitResult(
            message_id=m.id, outcome=Outcome.ACCEPTED, provider_msg_id=f"early-{m.id}"
        )

    provider = Scripted(report_first)
    async with running_gateway(settings_for(store), {"scripted": provider}) as gw:
        acct = await new_account(gw)
        mid = await send(gw, acct, "early")
        done = await final(gw, mid)
        async with gw.gateway.db.transaction() as conn:
            parked = (
                await conn.execute(text("SELECT count(*) FROM pending_reports"))
            ).scalar()
        timeline = await events(gw, mid)
    assert done["status"] == "DELIVERED"
    assert timeline[-2:] == ["SENT", "DELIVERED"]
    assert parked == 0  # it was parked, then matched and removed


async def test_transient_report_sends_again_then_delivers(store: Store) -> None:
    provider = Scripted(accepted())
    async with running_gateway(settings_for(store), {"scripted": provider}) as gw:
        acct = await new_account(gw)
        mid = await send(gw, acct, "again")
        await wait_for(lambda: len(provider.submits) == 1, what="first submit")
        await wait_for(lambda: _status(gw, mid, "SENT"), what="SENT")
        await provider.deliver(
            message_id=mid, code=ResultCode.RETRY_LATER, raw_code="95"
        )
        await wait_for(
            lambda: len(provider.submits) == 2, timeout=15, what="the resend"
        )
        await wait_for(lambda: _status(gw, mid, "SENT"), what="SENT again")
        await provider.deliver(message_id=mid, code=ResultCode.DELIVERED)
        done = await final(gw, mid)
        timeline = await events(gw, mid)
    assert done["status"] == "DELIVERED" and done["attempts"] == 2
    assert timeline == [
        "ACCEPTED",
        "QUEUED",
        "SENDING",
        "SENT",
        "QUEUED",
        "SENDING",
        "SENT",
        "DELIVERED",
    ]


async def test_a_report_ends_a_message_queued_again_after_an_unanswered_submit(
    store: Store, receiver: Receiver
) -> None:
    # The submit's answer was lost, but the provider took it: its report arrives while
    # the message waits to be sent again, and is the only report it will send.
    def unanswered(_c: Scripted, m: Message) -> SubmitResult:
        return SubmitResult(
            message_id=m.id,
            outcome=Outcome.RETRY,
            code=ResultCode.CONNECTION_ERROR,
            retry_after=60.0,
        )

    provider = Scripted(unanswered)
    async with running_gateway(settings_for(store), {"scripted": provider}) as gw:
        acct = await new_account(gw, report_url=receiver.url)
        mid = await send(gw, acct, "lost-answer")

        async def queued_again() -> bool:
            # Not merely QUEUED: it is that before its first claim too.
            return (await events(gw, mid))[-2:] == ["SENDING", "QUEUED"]

        await wait_for(queued_again, what="QUEUED again")
        assert len(provider.submits) == 1
        await provider.deliver(message_id=mid, code=ResultCode.DELIVERED, raw_code="6")
        done = await final(gw, mid)
        await wait_for(lambda: str(mid) in receiver.by_id(), what="the report")
        timeline = await events(gw, mid)
    assert done["status"] == "DELIVERED" and done["raw_code"] == "6"
    assert done["connector"] == "scripted"
    assert timeline[-3:] == ["SENDING", "QUEUED", "DELIVERED"]
    assert len(provider.submits) == 1  # not sent again


async def test_rejection_fails_at_once_with_the_raw_code(
    store: Store, receiver: Receiver
) -> None:
    def reject(_c: Scripted, m: Message) -> SubmitResult:
        return SubmitResult(
            message_id=m.id,
            outcome=Outcome.REJECTED,
            code=ResultCode.INVALID_NUMBER,
            raw_code="E042",
            detail="no such subscriber",
        )

    provider = Scripted(reject)
    async with running_gateway(settings_for(store), {"scripted": provider}) as gw:
        acct = await new_account(gw, report_url=receiver.url)
        mid = await send(gw, acct, "reject")
        done = await final(gw, mid)
        await wait_for(lambda: str(mid) in receiver.by_id(), what="the report")
    assert done["status"] == "FAILED"
    assert (done["result_code"], done["raw_code"]) == (
        ResultCode.INVALID_NUMBER.value,
        "E042",
    )
    assert len(provider.submits) == 1
    assert receiver.by_id()[str(mid)][0]["resultCode"] == "2001"


@pytest.mark.parametrize("how", ["retry", "raise"])
async def test_retries_end_expired_when_time_runs_out(store: Store, how: str) -> None:
    def refuse(_c: Scripted, m: Message) -> SubmitResult:
        if how == "raise":
            raise ConnectionError("provider down")
        return SubmitResult(
            message_id=m.id,
            outcome=Outcome.RETRY,
            code=ResultCode.THROTTLED,
            retry_after=0.3,
        )

    provider = Scripted(refuse)
    settings = settings_for(store, engine={"retry_base": 0.3, "retry_max": 0.3})
    async with running_gateway(settings, {"scripted": provider}) as gw:
        acct = await new_account(gw)
        # An ISO time without offset is KST: give it two seconds to live.
        import datetime as dt

        kst = dt.timezone(dt.timedelta(hours=9))
        expire = (
            (dt.datetime.now(kst) + dt.timedelta(seconds=2))
            .replace(tzinfo=None)
            .isoformat()
        )
        mid = await send(gw, acct, "expire", expireTime=expire)
        done = await final(gw, mid)
    assert done["status"] == "EXPIRED"
    assert len(provider.submits) >= 2  # it was tried again before it expired


async def test_a_second_report_for_a_final_message_changes_nothing(
    store: Store, receiver: Receiver
) -> None:
    provider = Scripted(accepted())
    async with running_gateway(settings_for(store), {"scripted": provider}) as gw:
        acct = await new_account(gw, report_url=receiver.url)
        mid = await send(gw, acct, "twice")
        await wait_for(lambda: _status(gw, mid, "SENT"), what="SENT")
        await provider.deliver(message_id=mid, code=ResultCode.DELIVERED)
        await provider.deliver(message_id=mid, code=ResultCode.UNREACHABLE)
        done = await final(gw, mid)
        await wait_for(lambda: str(mid) in receiver.by_id(), what="the report")
        n = await report_count(gw, mid)
    assert done["status"] == "DELIVERED"
    assert n == 1


async def test_a_report_while_the_message_waits_for_its_retry_ends_it(
    store: Store, receiver: Receiver
) -> None:
    # The answer to the first try was lost (RETRY), but the provider took it and
    # reports before the retry is due; the resend would only be answered as a repeat.
    def lost_then_repeat(c: Scripted, m: Message) -> SubmitResult:
        if len(c.submits) == 1:
            return SubmitResult(
                message_id=m.id,
                outcome=Outcome.RETRY,
                code=ResultCode.TIMEOUT,
                retry_after=60.0,
            )
        return SubmitResult(
            message_id=m.id, outcome=Outcome.ACCEPTED, provider_msg_id=f"P{m.id}"
        )

    provider = Scripted(lost_then_repeat)
    async with running_gateway(settings_for(store), {"scripted": provider}) as gw:
        acct = await new_account(gw, report_url=receiver.url)
        mid = await send(gw, acct, "lost")
        # QUEUED again after the first try (it is QUEUED before that try as well).
        await wait_for(lambda: len(provider.submits) == 1, what="the first try")
        await wait_for(lambda: _status(gw, mid, "QUEUED"), what="the retry to wait")
        await provider.deliver(
            message_id=mid, provider_msg_id=f"P{mid}", code=ResultCode.DELIVERED
        )
        done = await final(gw, mid)
        await wait_for(lambda: str(mid) in receiver.by_id(), what="the report")
        timeline = await events(gw, mid)
    assert done["status"] == "DELIVERED"
    assert (done["connector"], done["provider_msg_id"]) == ("scripted", f"P{mid}")
    assert timeline[-2:] == ["QUEUED", "DELIVERED"]
    assert len(provider.submits) == 1


async def test_a_report_that_overtakes_its_submit_names_the_provider_id(
    store: Store,
) -> None:
    def report_first(c: Scripted, m: Message) -> SubmitResult:
        c.early.append(
            ProviderReport(
                connector=c.name,
                message_id=m.id,
                provider_msg_id=f"P{m.id}",
                code=ResultCode.DELIVERED,
            )
        )
        return SubmitResult(
            message_id=m.id, outcome=Outcome.ACCEPTED, provider_msg_id=f"P{m.id}"
        )

    provider = Scripted(report_first)
    async with running_gateway(settings_for(store), {"scripted": provider}) as gw:
        acct = await new_account(gw)
        mid = await send(gw, acct, "overtaken")
        done = await final(gw, mid)
    assert done["status"] == "DELIVERED"
    assert (done["connector"], done["provider_msg_id"]) == ("scripted", f"P{mid}")
    assert done["sent_at"] is not None


async def test_a_sent_message_without_a_report_ends_expired_after_the_timeout(
    store: Store, receiver: Receiver
) -> None:
    provider = Scripted(accepted())
    settings = settings_for(
        store, engine={"report_timeout": 1.5, "heartbeat_interval": 0.2}
    )
    async with running_gateway(settings, {"scripted": provider}) as gw:
        acct = await new_account(gw, report_url=receiver.url)
        silent = await send(gw, acct, "silent")
        answered = await send(gw, acct, "answered")
        for mid in (silent, answered):
            await wait_for(lambda mid=mid: _status(gw, mid, "SENT"), what="SENT")
        await provider.deliver(message_id=answered, code=ResultCode.DELIVERED)
        done = await final(gw, silent)
        await wait_for(lambda: str(silent) in receiver.by_id(), what="its report")
        # The provider's report comes after all: the message stays as it ended.
        await provider.deliver(message_id=silent, code=ResultCode.DELIVERED)
        after = await row(gw, silent)
        timeline = await events(gw, silent)
        n = await report_count(gw, silent)
        other = await row(gw, answered)
    assert done["status"] == after["status"] == "EXPIRED"
    assert done["result_code"] == ResultCode.EXPIRED.value
    assert done["done_at"] - done["sent_at"] >= 1.5
    assert timeline[-2:] == ["SENT", "EXPIRED"]
    assert n == 1
    pushed = receiver.by_id()[str(silent)][0]
    assert pushed["resultCode"] == report_format.EXPIRED_CODE
    assert other["status"] == "DELIVERED"
