"""IMS SMS over real HTTP: the connector against the simulator to final reports,
and the seed's own way of calling the provider."""

from __future__ import annotations

import base64
import collections
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.protocols.imsms import codec
from umsgate.protocols.imsms.simulator import ImsSimulator
from umsgate.testing import ConnectorGateway, wait_for
from umsgate.types import Outcome

N = 1000


async def test_thousand_messages_to_final_reports(
    simulator: ImsSimulator,
    gateway: ConnectorGateway,
    make_connector: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    conn = await make_connector(concurrency=16, poll_schedule=[0.25, 0.1])
    messages = [new_message(10**17 + i) for i in range(N)]
    started = time.monotonic()
    results = []
    for start in range(0, N, 100):
        results += await conn.submit(messages[start : start + 100])
    outcomes = {m.id: simulator.outcome(m.receiver, m.content) for m in messages}
    accepted = []
    for m, result in zip(messages, results, strict=True):
        if outcomes[m.id] == "130":
            assert (result.outcome, result.raw_code) == (Outcome.REJECTED, "130")
            assert result.code is ResultCode.FAILED
        else:
            assert result.outcome is Outcome.ACCEPTED
            assert result.provider_msg_id in simulator.taken
            accepted.append(m)
    await gateway.sink.wait_for_count(len(accepted), within=90)
    elapsed = time.monotonic() - started
    grouped = gateway.sink.by_message()
    assert set(grouped) == {m.id for m in accepted}
    seen: collections.Counter[str] = collections.Counter()
    for m in accepted:
        [report] = grouped[m.id]
        outcome = outcomes[m.id]
        seen[outcome] += 1
        if outcome == "delivered":
            assert (report.code, report.raw_code) == (ResultCode.DELIVERED, "0")
            assert report.detail == "delivered"
        elif outcome == "undelivered":
            assert report.code is ResultCode.DELIVERED
            assert "unconfirmed" in report.detail
        else:
            assert (report.code, report.raw_code) == (ResultCode.FAILED, "3001")
    assert set(seen) == {"delivered", "undelivered", "E3001"}
    assert N - len(accepted) > 0
    assert conn.awaited == 0
    print(f"\n{N} IMS messages to final reports in {elapsed:.2f} s")


async def test_mms_attachment_reaches_the_provider(
    simulator: ImsSimulator,
    gateway: ConnectorGateway,
    make_connector: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    conn = await make_connector()
    [result] = await conn.submit(
        [new_message(5, channel=Channel.MMS, file_ids=("f-1",), content="사진")]
    )
    assert result.outcome is Outcome.ACCEPTED
    taken = simulator.taken[result.provider_msg_id]
    assert taken.extra["attachmentExt"] == "png"
    attachment = simulator.attachment(taken)
    assert attachment is not None
    assert attachment.startswith(b"\x89PNG")


async def test_seed_sample_client(simulator: ImsSimulator) -> None:
    """JSON with X-API-KEY, as the seed shows, then the state until finished."""
    key = {"X-API-KEY": "d49855bc-0da6-4214-baf1-543564b25cfc"}
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(16)).decode()
    body = {
        "sendTo": "+821012345678",
        "sendType": "S",
        "sendDate": "202307121530",
        "message": "안녕하세요",
        "attachment": png,
        "attachmentExt": "png",
        "imsAgentId": "ims-demo-web-kr",
    }
    async with httpx.AsyncClient(base_url=simulator.url) as http:
        answer = await http.post("/api/imsms/send", json=body, headers=key)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json; charset=UTF-8"
        sent = orjson.loads(answer.content)
        assert set(sent) == {"resultCd", "resultMsg", "imsId", "imsReqDttm"}
        assert (sent["resultCd"], sent["resultMsg"]) == ("000", "OK")
        ims_id = sent["imsId"]

        async def finished() -> bool:
            state = await http.get(
                "/api/imsms/info", params={"imsId": ims_id}, headers=key
            )
            data = orjson.loads(state.content)["imsData"]
            return bool(data["messageFinished"])

        await wait_for(finished, what="the message to finish")
        state = await http.get("/api/imsms/info", params={"imsId": ims_id}, headers=key)
        answer_data = orjson.loads(state.content)
        assert answer_data["resultCd"] == "000"
        data = answer_data["imsData"]
        assert data["imsId"] == ims_id and data["sendType"] == "S"
        assert data["messageSent"] is True
        assert isinstance(data["messageError"], int)
        codec.parse_time(data["sendEndDttm"])
        failed = await http.post(
            "/api/imsms/send", json=body | {"sendTo": "010-1234-5678"}, headers=key
        )
        assert orjson.loads(failed.content) == {
            "resultCd": "100",
            "resultMsg": "전화번호가 형식에 맞지 않습니다.",
            "imsId": None,
            "imsReqDttm": None,
        }
        nokey = await http.post("/api/imsms/send", json=body)
        assert (nokey.status_code, orjson.loads(nokey.content)["resultCd"]) == (
            401,
            "901",
        )
        agent = await http.post(
            "/api/imsms/send", json=body | {"imsAgentId": "other"}, headers=key
        )
        assert (agent.status_code, orjson.loads(agent.content)["resultCd"]) == (
            403,
            "902",
        )
        unknown = await http.get(
            "/api/imsms/info", params={"imsId": "nope"}, headers=key
        )
        assert unknown.status_code == 404
        assert orjson.loads(unknown.content)["imsData"] is None


async def test_oversized_and_mistyped_requests_refused(simulator: ImsSimulator) -> None:
    key = {"X-API-KEY": "d49855bc-0da6-4214-baf1-543564b25cfc"}
    async with httpx.AsyncClient(base_url=simulator.url) as http:
        big = await http.post(
            "/api/imsms/send",
            content=b"{" + b" " * codec.MAX_REQUEST_BYTES,
            headers=key,
        )
        typed = await http.post(
            "/api/imsms/send",
            json={
                "sendTo": 1012345678,
                "message": "x",
                "imsAgentId": "ims-demo-web-kr",
            },
            headers=key,
        )
    for answer in (big, typed):
        assert answer.status_code == 400
        assert orjson.loads(answer.content)["resultCd"] == "903"
    assert simulator.taken == {}
