"""The simulator on its own, spoken to by a raw protocol client over TCP; and its
command line, run as a process."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import re
import signal
import sys

import pytest
from ushot_it import JPEG, RawClient, running

from umsgate.protocols.ushot import bodies, simulator
from umsgate.protocols.ushot.codes import Port, Version
from umsgate.protocols.ushot.events import (
    BatchAck,
    FileResult,
    FileUpload,
    FixedSend,
    LmsRecord,
    LmsSend,
    Login,
    LoginOptions,
    MmsSend,
    ResultAck,
    ResultRecord,
    Results,
    SendAck,
    SmsRecord,
    SmsSend,
    UnknownCommand,
)
from umsgate.protocols.ushot.fields import format_date
from umsgate.protocols.ushot.session import ConnectionClosed
from umsgate.protocols.ushot.simbackend import Account
from umsgate.protocols.ushot.simulator import UShotSimulator
from umsgate.testing import wait_for


def sms(msg_id: str, **changes: str) -> SmsRecord:
    values = {"grp_id": "g", "msg_id": msg_id, "receiver": "01012345678", "msg": "hi"}
    return SmsRecord(**{**values, **changes})


def lms(msg_id: str, msg: str = "long text") -> LmsRecord:
    return LmsRecord(grp_id="g", msg_id=msg_id, receiver="01012345678", msg=msg)


async def results_of(sim: UShotSimulator, port: Port, n: int) -> dict[str, str]:
    """MSG_ID → RESULT of ``n`` results, fetched by SAM10 polls."""
    await wait_for(lambda: len(sim.backend.mailbox("ushot", port)) >= n, what="results")
    client = await RawClient.connect(sim, port, version="SAM10")
    try:
        await client.login()
        got: dict[str, str] = {}
        while len(got) < n:
            answer = await client.request(ResultAck.poll())
            assert isinstance(answer, Results)
            got.update({r.msg_id: r.result for r in answer.records})
        return got
    finally:
        await client.close()


async def test_login_answers_the_account_options() -> None:
    account = Account(
        user_id="ushot",
        password="secret",
        max_count=50,
        service=2,
        variable=False,
        max_msg_size=1500,
    )
    async with running(account) as (sim, _):
        client = await RawClient.connect(sim, Port.SMS)
        result = await client.login()
        await client.close()
    assert result.ok and result.resp_mesg == "50|2|"
    assert result.options() == LoginOptions(
        max_count=50, service=2, variable=False, max_msg_size=2000
    )
    assert (result.fee_type, result.balance, result.max_msg_size) == (
        "2",
        "100000",
        1500,
    )


@pytest.mark.parametrize(
    ("user", "password", "version", "why"),
    [
        ("ushot", "wrong", "SAM11", "password"),
        ("nobody", "secret", "SAM11", "password"),
        ("ushot", "secret", "SAM10", "version"),
    ],
)
async def test_refused_logins_get_11001_and_the_session_closes(
    user: str, password: str, version: str, why: str
) -> None:
    account = Account(
        user_id="ushot", password="secret", versions=frozenset({Version.SAM11})
    )
    async with running(account) as (sim, _):
        client = await RawClient.connect(sim, Port.SMS, version=version)
        result = await client.login(user, password)
        assert (result.resp_code, result.ok) == ("11001", False)
        assert why in result.resp_mesg.lower()
        assert result.fee_type is None  # no body on a refusal
        assert isinstance(await client.stream.next_event(), ConnectionClosed)
        await client.close()
        assert sim.record.refused[Port.SMS] == 1


async def test_frame_level_refusals() -> None:
    account = Account(user_id="ushot", password="secret", max_count=2, variable=False)
    async with running(account) as (sim, _):
        sms_port = await RawClient.connect(sim, Port.SMS)
        await sms_port.login()
        too_many = await sms_port.request(
            SmsSend(records=(sms("1"), sms("2"), sms("3")))
        )
        assert isinstance(too_many, SendAck) and too_many.resp_code == "11001"
        assert too_many.keys == () and "COUNT 3" in too_many.resp_mesg
        wrong_port = await sms_port.request(FixedSend(records=(lms("4"),)))
        assert isinstance(wrong_port, SendAck) and wrong_port.resp_code == "11001"
        poll = await sms_port.request(ResultAck.poll())
        assert isinstance(poll, Results) and poll.resp_code == "11001"
        upload = await sms_port.request(FileUpload(ext="jpg", data=JPEG))
        assert isinstance(upload, FileResult) and upload.resp_code == "11001"
        await sms_port.close()

        mms_port = await RawClient.connect(sim, Port.MMS)
        await mms_port.login()
        for request in (SmsSend(records=(sms("5"),)), LmsSend(records=(lms("6"),))):
            answer = await mms_port.request(request)
            assert isinstance(answer, SendAck) and answer.resp_code == "11001"
        ok = await mms_port.request(FixedSend(records=(lms("7"),)))
        assert (
            isinstance(ok, SendAck) and ok.ok and [k.msg_id for k in ok.keys] == ["7"]
        )
        await mms_port.close()
    assert dict(sim.record.accepted) == {"7": 1}


async def test_unknown_command_bytes_are_answered_with_the_same_number() -> None:
    async with running() as (sim, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.ports[Port.SMS])
        try:
            writer.write(
                bodies.encode_event(
                    UnknownCommand(command=1025, body=b"?"), Version.SAM11.value
                )
            )
            async with asyncio.timeout(5):
                head = await reader.readexactly(77)
            assert head[7:12] == b"1025 " and head[20:25] == b"11001"
            # The session is still usable: log in now.
            writer.write(
                bodies.encode_event(
                    Login(user_id="ushot", password="secret"),
                    "SAM11",
                )
            )
            async with asyncio.timeout(5):
                frame = await reader.readuntil(b"\x03")
            assert frame[7:12] == b"1011 " and frame[20:25] == b"00000"
        finally:
            writer.close()
            await writer.wait_closed()


async def test_uploads_are_named_by_md5_and_checked() -> None:
    async with running() as (sim, _):
        client = await RawClient.connect(sim, Port.MMS)
        await client.login()
        ok = await client.request(FileUpload(ext="JPG", data=JPEG))
        assert isinstance(ok, FileResult) and ok.ok
        assert (
            ok.file_name
            == hashlib.md5(JPEG, usedforsecurity=False).hexdigest() + ".jpg"
        )
        for bad, why in (
            (FileUpload(ext="jpg", data=b"GIF89a not a jpeg"), "content"),
            (FileUpload(ext="exe", data=JPEG), "extension"),
            (FileUpload(ext="jpg", data=JPEG + b"\0" * 300_000), "300000"),
        ):
            answer = await client.request(bad)
            assert isinstance(answer, FileResult)
            assert answer.resp_code == "11001" and answer.file_name == ""
            assert why in answer.resp_mesg
        # A 1045 naming the uploaded file is fine; an unknown name gets result 78.
        for msg_id, name in (("m1", ok.file_name), ("m2", "0" * 32 + ".jpg")):
            answer = await client.request(
                MmsSend(records=(lms(msg_id),), file_names=(name,))
            )
            assert isinstance(answer, SendAck) and answer.ok
        await client.close()
        assert await results_of(sim, Port.MMS_REPORT, 2) == {"m1": "6", "m2": "78"}


async def test_record_checks_give_the_spec_result_codes() -> None:
    account = Account(user_id="ushot", password="secret", max_msg_size=100)
    past = format_date(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    async with running(account) as (sim, _):
        client = await RawClient.connect(sim, Port.SMS)
        await client.login()
        records = (
            sms("ok"),
            sms("receiver", receiver="0212345678"),
            sms("sender", sender="02-123"),
            sms("expired", timeout_dt=past),
            sms("baddate", timeout_dt="2009-01-01 21:00:00"),
        )

        def bad_date(data: bytes) -> bytes:
            # A malformed date the encoder would refuse, patched into the bytes.
            return data.replace(b"2009-01-01 21:00:00", b"2009-02-31 25:00:00")

        await client.stream.send(SmsSend(records=records), transform=bad_date)
        answer = await client.stream.next_event()
        assert isinstance(answer, SendAck) and len(answer.keys) == 5
        await client.close()

        mms = await RawClient.connect(sim, Port.MMS)
        await mms.login()
        answer = await mms.request(LmsSend(records=(lms("big", "a" * 101),)))
        assert isinstance(answer, SendAck) and answer.ok
        await mms.close()
        assert await results_of(sim, Port.SMS_REPORT, 5) == {
            "ok": "6",
            "receiver": "86",
            "sender": "87",
            "expired": "90",
            "baddate": "3",
        }
        assert await results_of(sim, Port.MMS_REPORT, 1) == {"big": "60"}


async def test_service_type_2_needs_a_url() -> None:
    account = Account(user_id="ushot", password="secret", service=2)
    async with running(account) as (sim, _):
        client = await RawClient.connect(sim, Port.SMS)
        await client.login()
        await client.request(
            SmsSend(records=(sms("a"), sms("b", url="http://example.com/x")))
        )
        await client.close()
        assert await results_of(sim, Port.SMS_REPORT, 2) == {"a": "3", "b": "6"}


async def test_a_msg_id_seen_before_is_listed_again_and_sent_once() -> None:
    async with running() as (sim, _):
        client = await RawClient.connect(sim, Port.SMS)
        await client.login()
        for _ in range(3):
            answer = await client.request(SmsSend(records=(sms("dup"),)))
            assert isinstance(answer, SendAck) and [k.msg_id for k in answer.keys] == [
                "dup"
            ]
        await client.close()
        assert await results_of(sim, Port.SMS_REPORT, 1) == {"dup": "6"}
        assert (sim.record.sends["dup"], sim.record.accepted["dup"]) == (3, 1)


async def test_sam10_acknowledges_a_batch_with_1026() -> None:
    async with running() as (sim, _):
        client = await RawClient.connect(sim, Port.SMS, version="SAM10")
        await client.login()
        answer = await client.request(SmsSend(records=(sms("a"), sms("b"))))
        await client.close()
    assert answer == BatchAck()


async def test_legacy_layout_is_accepted() -> None:
    async with running() as (sim, _):
        client = await RawClient.connect(sim, Port.SMS)
        await client.login()
        answer = await client.request(SmsSend(records=(sms("old"),), legacy=True))
        await client.close()
    assert isinstance(answer, SendAck) and answer.ok
    assert sim.record.accepted["old"] == 1


async def test_results_wait_for_the_account_across_sessions() -> None:
    async with running() as (sim, _):
        sender = await RawClient.connect(sim, Port.SMS)
        await sender.login()
        await sender.request(SmsSend(records=(sms("a"), sms("b"))))
        await sender.close()
        await wait_for(lambda: len(sim.backend.mailbox("ushot", Port.SMS_REPORT)) == 2)
        # A SAM11 report session takes the push and drops without acknowledging...
        first = await RawClient.connect(sim, Port.SMS_REPORT)
        await first.login()
        push = await first.stream.next_event()
        assert isinstance(push, Results) and len(push.records) == 2
        await first.close()
        # ...so the next session of the account gets the same results again.
        second = await RawClient.connect(sim, Port.SMS_REPORT)
        await second.login()
        again = await second.stream.next_event()
        assert isinstance(again, Results)
        assert [r.msg_id for r in again.records] == ["a", "b"]
        await second.stream.send(
            ResultAck.acknowledge(tuple(r.key for r in again.records))
        )
        assert isinstance(
            await second.request(ResultAck.poll()), Results
        )  # keepalive answered (empty)
        await second.close()
    assert dict(sim.record.results) == {"a": 2, "b": 2}
    assert all(isinstance(r, ResultRecord) for r in again.records)


async def test_report_first_sam11_answers_a_send_once_its_results_are_acked() -> None:
    async with running(report_first=True) as (sim, _):
        sender = await RawClient.connect(sim, Port.SMS)
        reporter = await RawClient.connect(sim, Port.SMS_REPORT)
        await sender.login()
        await reporter.login()
        await sender.stream.send(SmsSend(records=(sms("a"), sms("b"))))
        push = await reporter.stream.next_event()
        assert isinstance(push, Results)
        assert [r.msg_id for r in push.records] == ["a", "b"]
        # The send is not answered until its results are acknowledged.
        assert sim.record.reported_first == 0
        await reporter.stream.send(
            ResultAck.acknowledge(tuple(r.key for r in push.records))
        )
        answer = await sender.stream.next_event()
        assert isinstance(answer, SendAck) and answer.ok
        await sender.close()
        await reporter.close()
    assert (sim.record.reported_first, sim.record.reported_late) == (2, 0)


async def test_report_first_sam10_answers_a_send_once_polled_past_its_results() -> None:
    async with running(report_first=True) as (sim, _):
        sender = await RawClient.connect(sim, Port.SMS, version="SAM10")
        reporter = await RawClient.connect(sim, Port.SMS_REPORT, version="SAM10")
        await sender.login()
        await reporter.login()
        await sender.stream.send(SmsSend(records=(sms("a"), sms("b"))))
        got: list[str] = []
        async with asyncio.timeout(5):
            while not got:  # until the simulator has read the send request
                polled = await reporter.request(ResultAck.poll())
                assert isinstance(polled, Results)
                got = [r.msg_id for r in polled.records]
        assert got == ["a", "b"]
        assert sim.record.reported_first == 0
        # SAM10 has no acknowledgement: the next poll says the last 1031 was handled.
        assert await reporter.request(ResultAck.poll()) == Results()
        assert await sender.stream.next_event() == BatchAck()
        await sender.close()
        await reporter.close()
    assert (sim.record.reported_first, sim.record.reported_late) == (2, 0)


async def test_report_first_answers_anyway_when_no_session_takes_the_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(simulator, "REPORT_FIRST_WAIT", 0.1)
    async with running(report_first=True) as (sim, _):
        sender = await RawClient.connect(sim, Port.SMS)
        await sender.login()
        answer = await sender.request(SmsSend(records=(sms("a"),)))
        assert isinstance(answer, SendAck) and answer.ok
        # A repeat brings no new result, so nothing to wait for.
        again = await sender.request(SmsSend(records=(sms("a"),)))
        assert isinstance(again, SendAck) and again.ok
        await sender.close()
    assert (sim.record.reported_first, sim.record.reported_late) == (0, 1)
    assert len(sim.backend.mailbox("ushot", Port.SMS_REPORT)) == 1  # still waiting


async def test_the_command_runs_until_sigterm() -> None:
    env = {**os.environ, "UMSGATE_SIM_USHOT_ACCOUNT": "cli:pw"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "umsgate.protocols.ushot.simulator",
        "--base-port",
        "0",
        "--delay",
        "0.01",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            line = (await proc.stdout.readline()).decode()
        match = re.fullmatch(
            r"listening sms=127\.0\.0\.1:(\d+) sms_report=127\.0\.0\.1:(\d+) "
            r"mms=127\.0\.0\.1:(\d+) mms_report=127\.0\.0\.1:(\d+)\n",
            line,
        )
        assert match, line
        sim_port = int(match.group(1))
        reader, writer = await asyncio.open_connection("127.0.0.1", sim_port)
        writer.write(
            bodies.encode_event(
                Login(user_id="cli", password="pw"),
                "SAM11",
            )
        )
        async with asyncio.timeout(10):
            frame = await reader.readuntil(b"\x03")
        assert frame[20:25] == b"00000"
        writer.close()
        await writer.wait_closed()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            code = await proc.wait()
    assert code == 0


async def read_to_end(reader: asyncio.StreamReader, within: float) -> bytes:
    """What came before the simulator closed (a reset counts as a close)."""
    async with asyncio.timeout(within):
        try:
            return await reader.read()
        except ConnectionResetError:
            return b""


async def test_a_connection_that_never_logs_in_is_closed() -> None:
    """Bytes that trickle in without completing a login do not keep it open."""
    async with running(answer_timeout=1.0) as (sim, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.ports[Port.SMS])
        started = asyncio.get_running_loop().time()

        async def trickle() -> None:
            for byte in b"1010":  # the start of a login frame, a byte a second
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.5)

        sender = asyncio.create_task(trickle())
        try:
            await read_to_end(reader, 5)
        finally:
            sender.cancel()
            writer.close()
        assert asyncio.get_running_loop().time() - started < 1.0 + 1.5


async def test_connections_per_address_are_capped() -> None:
    async with running(max_connections_per_client=2) as (sim, _):
        held = [
            await asyncio.open_connection("127.0.0.1", sim.ports[port])
            for port in (Port.SMS, Port.MMS)
        ]
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", sim.ports[Port.SMS_REPORT]
            )
            assert await read_to_end(reader, 2) == b""
            writer.close()
        finally:
            for _, w in held:
                w.close()
