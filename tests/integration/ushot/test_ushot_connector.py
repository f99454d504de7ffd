"""The connector against the simulator over real TCP: bulk traffic in both versions,
the fixed-length layout, reports, transient results, rejections."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hashlib

import httpx
import pytest
from ushot_it import (
    JPEG,
    JpegFiles,
    RecordingSink,
    dispatch,
    make_connector,
    message,
    running,
)

from umsgate.domain.message import Channel
from umsgate.domain.results import ResultCode
from umsgate.protocols.sandbox.mix import OutcomeMix
from umsgate.protocols.ushot import fields
from umsgate.protocols.ushot.codes import Command, Port
from umsgate.protocols.ushot.events import LmsRecord, SmsRecord
from umsgate.protocols.ushot.simbackend import Account
from umsgate.protocols.ushot.simulator import UShotSimulator
from umsgate.testing import wait_for
from umsgate.types import Outcome

SMS, LMS, MMS = 2000, 200, 50
SEND_COMMANDS = {
    Command.SMS_SEND,
    Command.FIXED_SEND,
    Command.LMS_SEND,
    Command.MMS_SEND,
}


@pytest.mark.parametrize("version", ["SAM10", "SAM11"])
async def test_bulk_sms_lms_mms_are_accepted_and_delivered_once(version: str) -> None:
    async with running() as (sim, http):
        await _bulk(sim, http, version)


async def _bulk(sim: UShotSimulator, http: httpx.AsyncClient, version: str) -> None:
    files = JpegFiles()
    connector = await make_connector(sim, http, version=version, files=files)
    sink = RecordingSink()
    await connector.start(sink)
    try:
        assert connector.health().up
        messages = (
            [message(i) for i in range(SMS)]
            + [
                message(10_000 + i, Channel.LMS, content="긴 " * 600)
                for i in range(LMS)
            ]
            + [
                message(20_000 + i, Channel.MMS, file_ids=("photo-1",))
                for i in range(MMS)
            ]
        )
        # Several submits in flight at once, as the dispatcher does.
        chunks = [messages[i : i + 450] for i in range(0, len(messages), 450)]
        results = [r for chunk in chunks for r in await connector.submit(chunk)]
        assert collections.Counter(r.outcome for r in results) == {
            Outcome.ACCEPTED: len(messages)
        }
        assert all(r.provider_msg_id == str(r.message_id) for r in results)

        await sink.wait_count(len(messages))
        # Nothing left anywhere that could still produce a report.
        await wait_for(
            lambda: all(
                len(sim.backend.mailbox("ushot", p)) == 0
                for p in (Port.SMS_REPORT, Port.MMS_REPORT)
            ),
            what="empty mailboxes",
        )
    finally:
        await connector.stop()
    assert sink.per_message() == {m.id: 1 for m in messages}
    assert {r.code for r in sink.reports} == {ResultCode.DELIVERED}
    assert {r.raw_code for r in sink.reports} == {"6"}
    assert {r.carrier for r in sink.reports} <= {"SKT", "KTF", "LGT"}
    assert all(r.done_at is not None for r in sink.reports)
    record = sim.record
    assert set(record.sends.values()) == {1}
    assert set(record.accepted.values()) == {1}
    assert set(record.results.values()) == {1}
    # One upload for the shared photo, named by its MD5 (spec §6.8).
    assert record.files == [
        hashlib.md5(JPEG, usedforsecurity=False).hexdigest() + ".jpg"
    ]
    assert files.loads == {"photo-1": 1}
    commands = collections.Counter(f.command for f in record.frames)
    assert commands[Command.LMS_SEND] == -(-LMS // 30)
    assert commands[Command.MMS_SEND] == -(-MMS // 30)
    assert commands[Command.SMS_SEND] >= -(-SMS // 30)
    # Batches never exceed the login's maximum of 30.
    sends = [f for f in record.frames if f.command in SEND_COMMANDS]
    assert max(len(f.msg_ids) for f in sends) == 30


async def test_fixed_length_accounts_get_1024_and_the_legacy_layout_works() -> None:
    account = Account(user_id="ushot", password="secret", variable=False, max_count=7)
    async with running(account) as (sim, http):
        connector = await make_connector(sim, http, legacy_record_layout=True)
        sink = RecordingSink()
        await connector.start(sink)
        try:
            messages = [message(i, Channel.LMS) for i in range(10)] + [
                message(100 + i, Channel.MMS, file_ids=("a", "b")) for i in range(5)
            ]
            results = await connector.submit(messages)
            assert {r.outcome for r in results} == {Outcome.ACCEPTED}
            await sink.wait_count(len(messages))
        finally:
            await connector.stop()
        mms_port = [f.command for f in sim.record.frames if f.port is Port.MMS]
        assert set(mms_port) == {Command.LOGIN, Command.FIXED_SEND, Command.FILE_UPLOAD}
        sends = [f for f in sim.record.frames if f.command in SEND_COMMANDS]
        assert max(len(f.msg_ids) for f in sends) == 7
        # Two files, same content: two uploads under the same MD5 name.
        assert len(sim.record.files) == 2
        assert {r.code for r in sink.reports} == {ResultCode.DELIVERED}


async def test_results_map_to_unified_codes() -> None:
    async with running() as (sim, http):
        await _results_map_to_unified_codes(sim, http)


async def _results_map_to_unified_codes(
    sim: UShotSimulator, http: httpx.AsyncClient
) -> None:
    sim.backend.mix = OutcomeMix({"8": 0.5, "81": 0.5}, default="6")
    connector = await make_connector(sim, http)
    sink = RecordingSink()
    await connector.start(sink)
    try:
        messages = [message(i) for i in range(40)]
        messages.append(message(99, receiver="+82212345678"))  # not 01x: result 86
        await dispatch(connector, messages)
        await sink.wait_count(len(messages))
    finally:
        await connector.stop()
    by_raw = {r.raw_code: r.code for r in sink.reports}
    assert by_raw["8"] is ResultCode.UNREACHABLE
    assert by_raw["81"] is ResultCode.BLOCKED
    assert by_raw["86"] is ResultCode.INVALID_NUMBER
    (landline,) = [r for r in sink.reports if r.message_id == messages[-1].id]
    assert landline.raw_code == "86"


async def test_a_transient_result_resends_under_a_new_msg_id() -> None:
    async with running() as (sim, http):
        await _a_transient_result_resends_under_a_new_msg_id(sim, http)


async def _a_transient_result_resends_under_a_new_msg_id(
    sim: UShotSimulator, http: httpx.AsyncClient
) -> None:
    sim.backend.mix = OutcomeMix({"97": 1.0}, default="6")
    connector = await make_connector(sim, http)
    sink = RecordingSink()
    await connector.start(sink)
    try:
        messages = [message(i) for i in range(6)]
        first = await dispatch(connector, messages)
        await sink.wait_count(6)
        assert {r.code for r in sink.reports} == {ResultCode.CONNECTION_ERROR}
        assert all(r.code.transient for r in sink.reports)
        sim.backend.mix = OutcomeMix({}, default="6")
        # The ledger keeps provider_msg_id for half; the connector remembers the rest.
        again = [
            dataclasses.replace(m, provider_msg_id=first[m.id].provider_msg_id)
            if i % 2
            else m
            for i, m in enumerate(messages)
        ]
        second = await dispatch(connector, again)
        assert {r.provider_msg_id for r in second.values()} == {
            f"{m.id}-1" for m in messages
        }
        await sink.wait_count(12)
    finally:
        await connector.stop()
    delivered = [r for r in sink.reports if r.code is ResultCode.DELIVERED]
    assert sorted(r.message_id or 0 for r in delivered) == [m.id for m in messages]
    assert all((r.provider_msg_id or "").endswith("-1") for r in delivered)
    assert set(sim.record.accepted.values()) == {1}


async def test_messages_that_cannot_be_sent_are_rejected_alone() -> None:
    async with running() as (sim, http):
        await _messages_that_cannot_be_sent_are_rejected_alone(sim, http)


async def _messages_that_cannot_be_sent_are_rejected_alone(
    sim: UShotSimulator, http: httpx.AsyncClient
) -> None:
    connector = await make_connector(sim, http, channels="SMS,LMS,MMS")
    await connector.start(RecordingSink())
    try:
        good = message(1)
        results = {
            r.message_id: r
            for r in await connector.submit(
                [
                    good,
                    message(2, content="가" * 51),  # 102 bytes: over SMS's 100
                    message(3, content="smile 😀"),  # not CP949
                    message(4, Channel.RCS),
                    message(5, Channel.MMS, file_ids=("a", "b", "c", "d", "e")),
                    message(6, Channel.LMS, content="a" * 2001),  # over MAX_MSG_SIZE
                ]
            )
        }
    finally:
        await connector.stop()
    assert results[good.id].outcome is Outcome.ACCEPTED
    expect = {
        2: (ResultCode.CONTENT_REJECTED, "60"),
        3: (ResultCode.CONTENT_REJECTED, "3"),
        4: (ResultCode.UNSUPPORTED, None),
        5: (ResultCode.CONTENT_REJECTED, None),
        6: (ResultCode.CONTENT_REJECTED, "60"),
    }
    for n, (code, raw) in expect.items():
        result = results[message(n).id]
        assert result.outcome is Outcome.REJECTED, result
        assert (result.code, result.raw_code) == (code, raw)
    assert "U+1F600" in results[message(3).id].detail
    assert set(sim.record.sends) == {str(good.id)}


async def test_records_carry_numbers_dates_and_ids_as_the_spec_says() -> None:
    async with running() as (sim, http):
        connector = await make_connector(sim, http, usercode="CUST-1")
        sink = RecordingSink()
        await connector.start(sink)
        now = dt.datetime.now(dt.UTC)
        reserved = dataclasses.replace(
            message(1, content="trailing   "),
            due_at=now + dt.timedelta(hours=2),
            expires_at=dt.datetime(2031, 5, 1, 3, 0),  # naive: read as UTC
            cmp_msg_id="campaign-7",
            sender="+8215881234",
        )
        plain = dataclasses.replace(message(2, Channel.LMS), expires_at=None)
        try:
            results = await connector.submit([reserved, plain])
            assert {r.outcome for r in results} == {Outcome.ACCEPTED}
            await sink.wait_count(2)
        finally:
            await connector.stop()
    sms = sim.record.records[str(reserved.id)]
    assert isinstance(sms, SmsRecord)
    assert (sms.grp_id, sms.msg_id) == ("campaign-7", str(reserved.id))
    assert (sms.sender, sms.receiver) == ("15881234", "01012345678")
    assert sms.reserve_dt == fields.format_date(reserved.due_at)
    assert sms.timeout_dt == "2031-05-01 12:00:00"  # KST
    assert (sms.msg, sms.usercode) == ("trailing", "CUST-1")
    lms = sim.record.records[str(plain.id)]
    assert isinstance(lms, LmsRecord)
    assert (lms.grp_id, lms.reserve_dt, lms.timeout_dt) == (str(plain.id), "", "")
    assert (lms.subject, lms.msg) == ("제목", plain.content)


async def test_service_type_2_ids_send_only_sms_with_a_url() -> None:
    account = Account(user_id="ushot", password="secret", service=2)
    async with running(account) as (sim, http):
        connector = await make_connector(sim, http)
        sink = RecordingSink()
        await connector.start(sink)
        with_url = message(1)
        with_url = dataclasses.replace(with_url, extra={"url": "https://example.com/a"})
        try:
            results = {
                r.message_id: r
                for r in await connector.submit(
                    [with_url, message(2), message(3, Channel.LMS)]
                )
            }
            await sink.wait_count(1)
        finally:
            await connector.stop()
    assert results[with_url.id].outcome is Outcome.ACCEPTED
    for n in (2, 3):
        assert results[message(n).id].outcome is Outcome.REJECTED
        assert "service type 2" in results[message(n).id].detail
    sent = sim.record.records[str(with_url.id)]
    assert isinstance(sent, SmsRecord) and sent.url == "https://example.com/a"
    assert [r.code for r in sink.reports] == [ResultCode.DELIVERED]


async def test_submit_without_a_session_is_a_retry() -> None:
    async with running() as (sim, http):
        connector = await make_connector(sim, http)
        before = await connector.submit([message(1)])
        await connector.start(RecordingSink())
        await connector.stop()
        after = await connector.submit([message(2)])
    for result in (*before, *after):
        assert (result.outcome, result.code) == (
            Outcome.RETRY,
            ResultCode.CONNECTION_ERROR,
        )
    assert not connector.health().up
    assert sim.record.sends == {}
