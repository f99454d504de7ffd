"""The API-Gateway connector against the simulator over real HTTP: every channel,
reports by signed push and by report check, idempotent repeats, file uploads, and
the token's renewal after the upstream stops taking it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from apigw_it import ACCOUNT

from umsgate import clients
from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.protocols.apigw.connector import ApiGatewayConnector
from umsgate.protocols.sandbox.mix import OutcomeMix
from umsgate.sim.apigw import ApiGatewaySimulator
from umsgate.testing import ConnectorGateway, wait_for
from umsgate.types import Outcome

MakeConnector = Callable[..., Any]
UNIFIED = {
    "1000": ResultCode.DELIVERED,
    "2001": ResultCode.INVALID_NUMBER,
    "2003": ResultCode.UNREACHABLE,
    "3000": ResultCode.EXPIRED,
}
RAW = {"1000": "-100", "2001": "2001", "2003": "2003", "3000": "96"}


async def test_sms_batch_ends_as_the_mix_draws(
    simulator: ApiGatewaySimulator,
    gateway: ConnectorGateway,
    make_connector: MakeConnector,
    new_message: Callable[..., Message],
) -> None:
    conn: ApiGatewayConnector = await make_connector()
    messages = [new_message(10_000 + i) for i in range(200)]
    results = await conn.submit(messages)
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    ums = {r.message_id: r.provider_msg_id for r in results}
    assert all(u and u.isdigit() for u in ums.values())
    await gateway.sink.wait_for_count(200, within=30)
    mix = OutcomeMix({"2001": 0.1, "2003": 0.05, "3000": 0.05}, default="1000")
    # The sandbox draws on (its message id, attempt): the first attempt.
    drawn = {mid: mix.draw(f"{u}:1") for mid, u in ums.items()}
    by_message = gateway.sink.by_message()
    assert set(by_message) == set(ums)
    for mid, reports in by_message.items():
        [report] = reports
        assert report.code is UNIFIED[drawn[mid]], report  # type: ignore[index]
        assert report.raw_code == RAW[drawn[mid]]  # type: ignore[index]
        assert report.provider_msg_id == ums[mid]  # type: ignore[index]
    counts = Counter(r.code for r in gateway.sink.reports)
    assert len(counts) == 4 and counts[ResultCode.DELIVERED] > 100
    assert conn.awaited == 0 and conn.token_requests == 1


async def test_every_channel_goes_up(
    simulator: ApiGatewaySimulator,
    gateway: ConnectorGateway,
    make_connector: MakeConnector,
    new_message: Callable[..., Message],
) -> None:
    conn: ApiGatewayConnector = await make_connector()
    agency = {"agencyId": "standard", "agencyKey": "agencyKey", "billCode": "12345"}
    messages = [
        new_message(1, channel=Channel.LMS, subject="제목", content="긴 " * 300),
        new_message(2, channel=Channel.MMS, file_ids=("F1",), content=""),
        new_message(
            3,
            channel=Channel.RCS,
            extra={
                **agency,
                "type": "INFO",
                "brandKey": "brand",
                "header": "0",
                "footer": "",
                "rcsType": "SMS",
                "expiryOption": "1",
                "templateId": "T1",
                "templateParam": {"description": "본문"},
                "buttons": [],
                "copyAllowed": True,
            },
            fallback={"channel": "SMS", "content": "대체"},
        ),
        new_message(
            4,
            channel=Channel.KKO,
            extra={
                **agency,
                "msgType": "AT",
                "title": "t",
                "kplusId": "",
                "profileKey": "pk",
                "templateCode": "T1",
                "wide": "N",
                "imageLink": "",
                "imageUrl": "",
                "imageFlag": False,
                "adFlag": False,
                "buttons": [{"name": "b", "type": "BK"}],
            },
        ),
    ]
    results = await conn.submit(messages)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 4, results
    await gateway.sink.wait_for_count(4, within=30)
    assert simulator.gateway is not None
    async with simulator.gateway.db.transaction() as db:
        rows = (
            await db.exec_driver_sql(
                "select src_msg_id, channel, file_ids, fallback from messages"
            )
        ).all()
    upstream: dict[int, list[Any]] = {int(r[0]): list(r[1:]) for r in rows}
    assert {k: v[0] for k, v in upstream.items()} == {
        1: "LMS",
        2: "MMS",
        3: "RCS",
        4: "KKO",
    }
    assert upstream[2][1] != '["F1"]' and upstream[2][1].startswith('["')
    assert upstream[3][2] is None  # the fallback is made here, not upstream


async def test_a_repeat_is_the_same_message_upstream(
    simulator: ApiGatewaySimulator,
    gateway: ConnectorGateway,
    make_connector: MakeConnector,
    new_message: Callable[..., Message],
) -> None:
    first: ApiGatewayConnector = await make_connector()
    again: ApiGatewayConnector = await make_connector(name="up2")
    [a] = await first.submit([new_message(77)])
    [b] = await again.submit([new_message(77)])
    assert a.outcome is b.outcome is Outcome.ACCEPTED
    assert a.provider_msg_id == b.provider_msg_id
    await gateway.sink.wait_for_count(1, within=30)
    assert len(gateway.sink.reports) == 1


async def test_files_are_uploaded_once_and_reused(
    simulator: ApiGatewaySimulator,
    make_connector: MakeConnector,
    new_message: Callable[..., Message],
) -> None:
    conn: ApiGatewayConnector = await make_connector()
    mms = [new_message(i, channel=Channel.MMS, file_ids=("F1",)) for i in (1, 2)]
    assert {r.outcome for r in await conn.submit(mms[:1])} == {Outcome.ACCEPTED}
    assert {r.outcome for r in await conn.submit(mms[1:])} == {Outcome.ACCEPTED}
    assert simulator.count("/v1/storage/file") == 1
    # A connector that does not know the file uploads it again: 41000 is success.
    fresh: ApiGatewayConnector = await make_connector(name="up2")
    [result] = await fresh.submit(
        [new_message(3, channel=Channel.MMS, file_ids=("F1",))]
    )
    assert result.outcome is Outcome.ACCEPTED
    assert simulator.count("/v1/storage/file", 400) == 1


async def test_refusals_keep_the_raw_code(
    simulator: ApiGatewaySimulator,
    make_connector: MakeConnector,
    new_message: Callable[..., Message],
) -> None:
    conn: ApiGatewayConnector = await make_connector()
    landline = new_message(1, receiver="+82212345678")
    abroad = new_message(2, receiver="+819012345678")
    no_bill = new_message(3, extra={"originCode": "123456789"})
    gone = new_message(4, channel=Channel.MMS, file_ids=("NOPE",))
    results = {
        r.message_id: r for r in await conn.submit([landline, abroad, no_bill, gone])
    }
    assert {m: r.outcome for m, r in results.items()} == dict.fromkeys(
        (1, 2, 3, 4), Outcome.REJECTED
    )
    assert (results[1].code, results[1].raw_code) == (
        ResultCode.INVALID_NUMBER,
        "40015",
    )
    assert results[2].code is ResultCode.INVALID_NUMBER
    assert results[3].code is ResultCode.FAILED and "billCode" in results[3].detail
    assert results[4].code is ResultCode.CONTENT_REJECTED
    # Only the landline went up: the others were refused before sending.
    assert simulator.count("/v1/message/sms") == 1


async def test_superseded_token_is_renewed_and_the_send_repeated(
    simulator: ApiGatewaySimulator,
    make_connector: MakeConnector,
    new_message: Callable[..., Message],
) -> None:
    conn: ApiGatewayConnector = await make_connector()
    assert (await conn.submit([new_message(1)]))[0].outcome is Outcome.ACCEPTED
    assert simulator.gateway is not None
    # A credential of the account changes (here its ToBeText token): every token
    # issued before ends.
    await clients.update_client(
        simulator.gateway.db, ACCOUNT.client_id, tobetext_token="tbt-renewed"
    )
    results = await conn.submit([new_message(i) for i in range(2, 12)])
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    assert simulator.count("/v1/message/sms", 401) >= 1
    assert conn.token_requests == 2


async def test_forged_or_unsigned_pushes_are_refused(
    simulator: ApiGatewaySimulator,
    gateway: ConnectorGateway,
    make_connector: MakeConnector,
) -> None:
    await make_connector()
    body = b'{"srcMsgId": "5", "umsMsgId": "9", "channel": "SMS", "resultCode": "-100"}'
    url = f"{gateway.url}/callbacks/apigw/up"
    forged = clients.sign(clients.signing_key("not the secret"), 1, body)
    async with httpx.AsyncClient() as http:
        unsigned = await http.post(url, content=body)
        wrong = await http.post(
            url, content=body, headers={"X-Umsgate-Signature": forged}
        )
    assert (unsigned.status_code, wrong.status_code) == (401, 401)
    assert gateway.sink.reports == []


@pytest.mark.parametrize("sim_options", [{"delay": 0.05, "report_check_interval": 0.1}])
async def test_reports_that_are_not_pushed_are_checked(
    simulator: ApiGatewaySimulator,
    gateway: ConnectorGateway,
    make_connector: MakeConnector,
    new_message: Callable[..., Message],
) -> None:
    simulator.report_url = ""  # no pushes: the report check must find them
    assert simulator.gateway is not None
    await clients.update_client(simulator.gateway.db, ACCOUNT.client_id, report_url="")
    conn: ApiGatewayConnector = await make_connector(
        report_check=True, check_interval=0.2, check_after=0.2
    )
    messages = [new_message(i) for i in range(1, 31)]
    results = await conn.submit(messages)
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    await gateway.sink.wait_for_count(30, within=30)
    assert {r.code for r in gateway.sink.reports} == {ResultCode.DELIVERED}
    assert simulator.count("/v1/agent/rpt/sms", 200) >= 1
    # A later run resumes what was sent and finds the reports the same way.
    later: ApiGatewayConnector = await make_connector(
        name="later", report_check=True, check_interval=0.2
    )
    await later.resume(
        [
            new_message(m.id, provider_msg_id=r.provider_msg_id)
            for m, r in zip(messages[:5], results[:5], strict=True)
        ]
    )
    await wait_for(lambda: len(gateway.sink.reports) == 35, timeout=30)
    assert {r.connector for r in gateway.sink.reports[30:]} == {"later"}
    assert later.awaited == 0
