"""ToBeText over real HTTP: the connector against the simulator to final reports,
and the seed's own ways of calling the provider."""

from __future__ import annotations

import asyncio
import collections
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from umsgate.domain.message import Message
from umsgate.protocols.tobetext import codec, codes
from umsgate.protocols.tobetext.simulator import ToBeTextSimulator
from umsgate.testing import running_asgi
from umsgate.types import Outcome

N = 1000


async def test_thousand_messages_to_final_reports(
    simulator: ToBeTextSimulator,
    make_rig: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    rig = await make_rig(concurrency=32)
    messages = [new_message(10**17 + i) for i in range(N)]
    started = time.monotonic()
    results = []
    for start in range(0, N, 100):
        results += await rig.connector.submit(messages[start : start + 100])
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * N
    assert len({r.provider_msg_id for r in results}) == N
    sink = rig.gateway.sink
    await sink.wait_for_count(N, within=60)
    elapsed = time.monotonic() - started
    grouped = sink.by_message()
    assert set(grouped) == {m.id for m in messages}
    raw_seen: collections.Counter[str] = collections.Counter()
    for m, result in zip(messages, results, strict=True):
        [report] = grouped[m.id]
        expected = simulator.outcome(str(m.id))
        assert report.raw_code == str(expected)
        assert report.code is codes.callback_result(expected)
        assert report.provider_msg_id == result.provider_msg_id
        raw_seen[report.raw_code] += 1
    # The mix shows: about 10 % 400, 5 % 411, 5 % 412, the rest delivered.
    assert set(raw_seen) == {"200", "400", "411", "412"}
    assert 700 <= raw_seen["200"] <= 900
    assert simulator.accepted == N
    print(f"\n{N} ToBeText messages to final reports in {elapsed:.2f} s")


@pytest.mark.parametrize("ckey", [True, False], ids=["by-ckey", "by-msgid-only"])
async def test_callbacks_before_their_acknowledgements(
    ckey: bool,
    simulator: ToBeTextSimulator,
    make_rig: Callable[..., Any],
    new_message: Callable[..., Message],
) -> None:
    simulator.report_first = True
    simulator.callback_ckey = ckey
    rig = await make_rig()
    messages = [new_message(10**17 + i) for i in range(50)]
    results = await rig.connector.submit(messages)
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    # Every callback was reported before its acknowledgement was read...
    sink = rig.gateway.sink
    assert len(sink.reports) == len(messages)
    by_msg_id = {r.provider_msg_id: r for r in sink.reports}
    for m, result in zip(messages, results, strict=True):
        report = by_msg_id[result.provider_msg_id]
        # ...naming its message by CKey, or only by MsgId (the ledger's lookup).
        assert report.message_id == (m.id if ckey else None)
        assert report.raw_code == str(simulator.outcome(str(m.id)))
    # The acknowledgements that came after them wait for no callback.
    assert rig.connector.awaited == 0
    assert all(a.ok and a.attempt == 1 for a in simulator.pusher.attempts)


async def test_seed_sample_clients(simulator: ToBeTextSimulator) -> None:
    """Call the simulator the way the seed's curl, PHP and Java samples do."""
    callbacks: list[dict[str, str]] = []
    arrived = asyncio.Event()

    async def receive(request: Request) -> PlainTextResponse:
        body = await request.body()
        callbacks.append(dict(urllib.parse.parse_qsl(body.decode())))
        if len(callbacks) == 3:
            arrived.set()
        return PlainTextResponse("OK")

    customer = Starlette(routes=[Route("/recv/", receive, methods=["POST"])])
    async with running_asgi(customer) as base, httpx.AsyncClient() as http:
        callback = f"{base}/recv/"
        common = {
            "RecvNum": "+821012341234",
            "SendNum": "+821012341234",
            "Cid": "C000123",
            "token": "9f2c1e7a",
            "callback": callback,
        }
        # curl -X POST URL -d 'Ckey=…' -d 'Body=메시지본문' …: raw UTF-8, not escaped.
        raw = "&".join(f"{k}={v}" for k, v in common.items() if k != "callback")
        curl_body = f"Ckey=curl-1&Body=메시지본문&{raw}&callback={callback}".encode()
        curl = await http.post(
            simulator.url,
            content=curl_body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        # PHP: CURLOPT_POSTFIELDS with an array sends multipart/form-data.
        php = await http.post(
            simulator.url,
            data=common | {"Ckey": "php-1", "Body": "메시지본문"},
            files={"unused": ("", b"")},
        )
        assert php.request.headers["content-type"].startswith("multipart/form-data")
        # Java: DataOutputStream.writeBytes, no content type set by the sample.
        java_body = urllib.parse.urlencode(
            common | {"Ckey": "java-1", "Body": "Hello from Java"}
        ).encode()
        java = await http.post(
            simulator.url, content=java_body, headers={"User-Agent": "Mozilla/5.0"}
        )
        acks = [codec.parse_ack(a.content) for a in (curl, php, java)]
        for answer, ack in zip((curl, php, java), acks, strict=True):
            assert answer.status_code == 200
            assert answer.headers["content-type"] == "application/xml; charset=UTF-8"
            assert ack.success and ack.status == "SUCCESS"
            assert len(ack.msg_id) == 32
            assert ack.recv_num == "821012341234"
        assert [a.ckey for a in acks] == ["curl-1", "php-1", "java-1"]
        async with asyncio.timeout(10):
            await arrived.wait()
    assert {c["CKey"] for c in callbacks} == {"curl-1", "php-1", "java-1"}
    for c in callbacks:
        assert set(c) == set(codec.RESULT_FIELDS)
        assert c["ErrorCode"] in {"200", "400", "411", "412"}
        assert c["Status"] == ("SUCCESS" if c["ErrorCode"] == "200" else "FAIL")
    bodies = {r.fields.get("ckey"): r.fields.get("body") for r in simulator.received}
    assert bodies["curl-1"] == bodies["php-1"] == "메시지본문"


async def test_repeated_ckey(simulator: ToBeTextSimulator) -> None:
    fields = {
        "Ckey": "rep-1",
        "RecvNum": "+821012341234",
        "SendNum": "+821012341234",
        "Body": "hi",
        "Cid": "C000123",
        "token": "9f2c1e7a",
    }
    async with httpx.AsyncClient() as http:
        first = codec.parse_ack((await http.post(simulator.url, data=fields)).content)
        same = codec.parse_ack((await http.post(simulator.url, data=fields)).content)
        other = codec.parse_ack(
            (await http.post(simulator.url, data=fields | {"Body": "bye"})).content
        )
        wrong = codec.parse_ack(
            (await http.post(simulator.url, data=fields | {"token": "nope"})).content
        )
    assert first == same
    assert (other.error_code, other.status) == (2001, "FAIL")
    assert wrong.error_code == 410
    assert simulator.accepted == 1


async def test_oversized_request_refused(simulator: ToBeTextSimulator) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            simulator.url,
            content=b"Body=" + b"x" * codec.MAX_REQUEST_BYTES,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 413
    ack = codec.parse_ack(answer.content)
    assert (ack.error_code, ack.status) == (2005, "FAIL")
    assert simulator.accepted == 0
