"""AI CROSS over real HTTP: the connector against the simulator to final reports by
DLR and by polling, and the seed's curl-style call."""

from __future__ import annotations

import collections
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from umsgate.domain.message import Message
from umsgate.domain.results import ResultCode
from umsgate.protocols.aicross import codes
from umsgate.protocols.aicross.simulator import AiCrossSimulator
from umsgate.testing import ConnectorGateway, wait_for
from umsgate.types import Outcome

N = 1000
EXPECTED = {
    "delivered": ResultCode.DELIVERED,
    "60001": ResultCode.INVALID_NUMBER,
    "60002": ResultCode.CARRIER_REJECTED,
    "60003": ResultCode.EXPIRED,
}


async def test_thousand_messages_by_dlr(
    simulator: AiCrossSimulator,
    gateway: ConnectorGateway,
    make_connector: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    conn = await make_connector(concurrency=16)
    messages = [new_message(10**17 + i) for i in range(N)]
    started = time.monotonic()
    results = []
    for start in range(0, N, 100):
        results += await conn.submit(messages[start : start + 100])
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    await gateway.sink.wait_for_count(N, within=90)
    elapsed = time.monotonic() - started
    grouped = gateway.sink.by_message()
    seen: collections.Counter[str] = collections.Counter()
    for m in messages:
        [report] = grouped[m.id]
        outcome = simulator.outcome(str(m.id))
        seen[outcome] += 1
        assert report.code is EXPECTED[outcome]
        assert report.raw_code == (None if outcome == "delivered" else outcome)
        assert report.carrier == simulator.carrier(m.receiver) != "unknown"
    assert set(seen) == set(EXPECTED)
    assert conn.awaited == 0
    print(f"\n{N} AI CROSS messages to final reports in {elapsed:.2f} s")


async def test_dlrs_before_their_send_answers(
    simulator: AiCrossSimulator,
    gateway: ConnectorGateway,
    make_connector: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    simulator.report_first = True
    conn = await make_connector()
    messages = [new_message(10**17 + i) for i in range(50)]
    results = await conn.submit(messages)
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    # Every DLR was reported, by clientTag = message id, before its answer was read.
    grouped = gateway.sink.by_message()
    assert set(grouped) == {m.id for m in messages}
    for m in messages:
        [report] = grouped[m.id]
        assert report.code is EXPECTED[simulator.outcome(str(m.id))]
    # The answers that came after them leave nothing to poll for.
    assert conn.awaited == 0


async def test_results_by_polling_alone(
    simulator: AiCrossSimulator,
    gateway: ConnectorGateway,
    make_connector: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    simulator.dlr_url = None
    conn = await make_connector(name="polling", dlr=False, poll_schedule=[0.05])
    messages = [new_message(i) for i in range(1, 101)]
    results = await conn.submit(messages)
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    await gateway.sink.wait_for_count(len(messages))
    for report in gateway.sink.reports:
        assert report.code is EXPECTED[simulator.outcome(str(report.message_id))]
    polls = [r for r in simulator.received if r.path.endswith("result.json")]
    assert len(polls) >= len(messages)


async def test_seed_style_curl_call(simulator: AiCrossSimulator) -> None:
    """curl -X POST -d 'token=…&to=%2B81…&text=…&clientTag=…' …/send.json"""
    body = (
        "token=tok-1&to=%2B819012345678&text=%E3%83%86%E3%82%B9%E3%83%88&clientTag=t-1"
    )
    form = {"content-type": "application/x-www-form-urlencoded"}
    async with httpx.AsyncClient(base_url=simulator.url) as http:
        sent = await http.post("/api/p5/send.json", content=body, headers=form)
        assert sent.status_code == 200
        assert sent.headers["content-type"] == "application/json; charset=UTF-8"
        assert orjson.loads(sent.content) == {
            "status": "accepted",
            "clientTag": "t-1",
            "errorCode": None,
            "message": "OK",
        }
        again = await http.post("/api/p5/send.json", content=body, headers=form)
        assert again.status_code == 409
        assert orjson.loads(again.content)["errorCode"] == "40901"
        query = urllib.parse.urlencode({"token": "tok-1", "clientTag": "t-1"})

        async def final() -> bool:
            answer = await http.post("/api/p5/result.json", content=query, headers=form)
            return bool(orjson.loads(answer.content)["status"] != "delivering")

        await wait_for(final, what="a final result")
        answer = orjson.loads(
            (
                await http.post("/api/p5/result.json", content=query, headers=form)
            ).content
        )
        assert answer["clientTag"] == "t-1" and answer["carrier"] == "softbank"
        assert answer["status"] in ("delivered", "failed")
        assert answer["doneAt"].endswith("+09:00")
        bad = await http.post(
            "/api/p5/send.json", content=body.replace("tok-1", "nope"), headers=form
        )
        assert (bad.status_code, orjson.loads(bad.content)["errorCode"]) == (
            401,
            codes.ErrorCode.BAD_TOKEN,
        )
        unknown = await http.post(
            "/api/p5/result.json", content="token=tok-1&clientTag=zz", headers=form
        )
        assert unknown.status_code == 404


async def test_oversized_request_refused(simulator: AiCrossSimulator) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    async with httpx.AsyncClient(base_url=simulator.url) as http:
        answer = await http.post(
            "/api/p5/send.json",
            content=b"token=tok-1&text=" + b"x" * 70000,
            headers=form,
        )
    assert answer.status_code == 400
    assert orjson.loads(answer.content)["errorCode"] == "40001"
    assert not simulator.taken
