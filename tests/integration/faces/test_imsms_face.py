"""The IMS face of ``umsgate serve`` over real HTTP: the seed's JSON send with
``X-API-KEY``, the state query following the message's real status to the outcome the
sandbox carrier drew, every result code a request can trigger, and umsgate's own IMS
connector polling the face."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import re
import uuid
from typing import Any

import httpx

from tests.conftest import Running, Store, make_settings, running_gateway, status_counts
from tests.integration.faces.conftest import (
    AGENT,
    IMS_KEY,
    JPEG,
    PNG,
    ims_client,
)
from umsgate import clients
from umsgate.config import ConnectorSettings
from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.protocols.imsms import codec, codes, connector
from umsgate.protocols.imsms.face import SRC_PREFIX
from umsgate.testing import connector_gateway, wait_for
from umsgate.types import Outcome

MIX = {"2001": 0.3, "3000": 0.2}
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
JSON_TYPE = "application/json; charset=UTF-8"


def sample(i: int = 0, **changes: Any) -> dict[str, Any]:
    """The seed's sample request (made valid as the spec says), numbered."""
    body: dict[str, Any] = {
        "sendTo": f"+8210{40000000 + i}",
        "sendType": "S",
        "sendDate": "202307121530",
        "message": f"안녕하세요 {i}",
        "imsAgentId": AGENT,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def expected_code(running: Running, ums_msg_id: int) -> ResultCode:
    sandbox: Any = running.gateway.connectors["sandbox"]
    return ResultCode(sandbox.mix.draw(f"{ums_msg_id}:1"))


async def info(
    http: httpx.AsyncClient, ims_id: str, key: str = IMS_KEY
) -> tuple[int, codec.InfoAnswer]:
    r = await http.get(
        "/api/imsms/info", params={"imsId": ims_id}, headers={"X-API-KEY": key}
    )
    assert r.headers["content-type"] == JSON_TYPE
    return r.status_code, codec.parse_info_answer(r.content)


async def send(
    http: httpx.AsyncClient, body: Any, key: str | None = IMS_KEY
) -> tuple[int, codec.SendAnswer]:
    headers = {"X-API-KEY": key} if key is not None else {}
    r = await http.post("/api/imsms/send", json=body, headers=headers)
    assert r.headers["content-type"] == JSON_TYPE
    return r.status_code, codec.parse_send_answer(r.content)


async def test_state_follows_the_message_to_the_sandbox_outcome(store: Store) -> None:
    settings = make_settings(store, sandbox={"mix": MIX, "seed": 9, "delay": 0.5})
    async with running_gateway(settings) as gw:
        await ims_client(gw, agents={AGENT: "0212345678"})

        async def one(i: int) -> str:
            body = sample(i)
            if i % 5 == 0:
                body |= {
                    "attachment": base64.b64encode(JPEG).decode(),
                    "attachmentExt": "jpg",
                }
            status, answer = await send(gw.http, body)
            assert status == 200, answer
            assert (answer.result_cd, answer.result_msg) == ("000", "OK")
            assert answer.ims_id is not None and answer.ims_req_dttm is not None
            assert str(uuid.UUID(answer.ims_id)) == answer.ims_id
            assert TIME.fullmatch(answer.ims_req_dttm)
            return answer.ims_id

        ims_ids = await asyncio.gather(*map(one, range(20)))
        # Right after the send the message is on its way, not finished.
        status, early = await info(gw.http, ims_ids[-1])
        assert status == 200 and early.ims_data is not None
        assert not early.ims_data.message_finished
        assert early.ims_data.message_error is None
        assert not early.ims_data.message_sent

        async def all_finished() -> bool:
            counts = await status_counts(gw.gateway)
            return set(counts) <= {"DELIVERED", "FAILED", "EXPIRED"}

        await wait_for(all_finished, timeout=20, what="every message finished")
        answers = await asyncio.gather(*(info(gw.http, i) for i in ims_ids))
        seen = set()
        for i, (ims_id, (status, answer)) in enumerate(
            zip(ims_ids, answers, strict=True)
        ):
            data = answer.ims_data
            assert status == 200 and answer.result_cd == "000" and data is not None
            assert data.ims_id == ims_id
            assert data.send_to == f"+8210{40000000 + i}"
            assert (data.send_type, data.send_date) == ("S", "202307121530")
            assert data.message == f"안녕하세요 {i}"
            assert data.ims_agent_id == AGENT
            assert data.attachment is None
            assert data.attachment_ext == ("jpg" if i % 5 == 0 else None)
            assert data.message_guid is not None
            drawn = expected_code(gw, int(data.message_guid))
            seen.add(drawn)
            delivered = drawn is ResultCode.DELIVERED
            assert data.message_sent is delivered
            assert data.message_delivered is delivered
            assert data.message_error == (0 if delivered else int(drawn.value))
            assert data.message_date_delivered is not None or not delivered
            for stamp in (data.ims_req_dttm, data.send_end_dttm):
                assert stamp is not None and TIME.fullmatch(stamp)
            # What an IMS application (and umsgate's own connector) concludes.
            verdict = codes.verdict(
                finished=data.message_finished,
                sent=data.message_sent,
                delivered=data.message_delivered,
                error=data.message_error,
            )
            assert verdict is not None
            assert (verdict.code is ResultCode.DELIVERED) is delivered
            row = await gw.gateway.message_by_src("ims-app", SRC_PREFIX + ims_id)
            assert row is not None
            assert row.state["sender"] == "+82212345678"
            assert row.state["channel"] == ("MMS" if i % 5 == 0 else "SMS")
        # Ids differ from run to run, and so do the draws: the mix shows at least
        # delivered and one failure (every one of the three in 99 % of runs).
        assert ResultCode.DELIVERED in seen and len(seen) >= 2, seen


async def test_every_result_code(store: Store) -> None:
    async with running_gateway(make_settings(store)) as gw:
        await ims_client(gw, agents={AGENT: "", "second-agent": ""})
        await ims_client(gw, "other-app", "other-key")
        await ims_client(gw, "slow-app", "slow-key", tps=1)
        cases: list[tuple[str, Any, str | None, int, str]] = [
            ("no key", sample(), None, 401, "901"),
            (
                "unknown key",
                sample(),
                "d49855bc-0000-0000-0000-000000000000",
                401,
                "901",
            ),
            ("agent not allowed", sample(imsAgentId="ims-demo-"), IMS_KEY, 403, "902"),
            ("no agent", sample(imsAgentId=None), IMS_KEY, 400, "903"),
            ("not an object", [sample()], IMS_KEY, 400, "903"),
            ("sendTo a number", sample(sendTo=821012345678), IMS_KEY, 400, "903"),
            ("message a list", sample(message=["hi"]), IMS_KEY, 400, "903"),
            ("reserved send", sample(sendType="R"), IMS_KEY, 400, "903"),
            ("text over 2000 bytes", sample(message="가" * 1001), IMS_KEY, 400, "903"),
            (
                "bad base64",
                sample(attachment="iVBORwOKGgo!!", attachmentExt="png"),
                IMS_KEY,
                400,
                "903",
            ),
            (
                "extension not served",
                sample(attachment=base64.b64encode(JPEG).decode(), attachmentExt="gif"),
                IMS_KEY,
                400,
                "903",
            ),
            (
                "content not its extension",
                sample(attachment=base64.b64encode(PNG).decode(), attachmentExt="jpg"),
                IMS_KEY,
                400,
                "903",
            ),
            (
                "PNG cannot be an MMS image",
                sample(attachment=base64.b64encode(PNG).decode(), attachmentExt="png"),
                IMS_KEY,
                400,
                "903",
            ),
            ("no sendTo", sample(sendTo=None), IMS_KEY, 200, "100"),
            (
                "sendTo with letters",
                sample(sendTo="010-abcd-1234"),
                IMS_KEY,
                200,
                "100",
            ),
            ("landline sendTo", sample(sendTo="0212345678"), IMS_KEY, 200, "110"),
            ("empty message", sample(message=""), IMS_KEY, 200, "120"),
            ("no message", sample(message=None), IMS_KEY, 200, "120"),
        ]
        answers = await asyncio.gather(*(send(gw.http, c[1], c[2]) for c in cases))
        for (what, _, _, http_status, code), (status, answer) in zip(
            cases, answers, strict=True
        ):
            assert (status, answer.result_cd) == (http_status, code), what
            assert answer.ims_id is None and answer.ims_req_dttm is None, what
            assert answer.result_msg == codes.MESSAGES[codes.ResultCd(code)], what
        status, ok = await send(gw.http, sample(sendTo="01012345678"))
        assert (status, ok.result_cd) == (200, "000") and ok.ims_id is not None
        # State queries: only the key's own messages.
        assert (await info(gw.http, ok.ims_id))[0] == 200
        for what, ims_id, key, http_status, code in [
            ("another client's imsId", ok.ims_id, "other-key", 404, "904"),
            ("unknown imsId", str(uuid.uuid4()), IMS_KEY, 404, "904"),
            ("not our form", "123e4567", IMS_KEY, 404, "904"),
            ("empty imsId", "", IMS_KEY, 400, "903"),
            ("imsId with spaces", "a b", IMS_KEY, 400, "903"),
            ("unknown key", ok.ims_id, "nobody", 401, "901"),
        ]:
            status, state = await info(gw.http, ims_id, key)
            assert (status, state.result_cd) == (http_status, code), what
            assert state.ims_data is None, what
        r = await gw.http.get("/api/imsms/info", headers={"X-API-KEY": IMS_KEY})
        assert (r.status_code, r.json()["resultCd"]) == (400, "903")
        # Over the client's TPS: 429 and nothing taken.
        answers = [await send(gw.http, sample(i), "slow-key") for i in range(3)]
        busy = [a for s, a in answers if s == 429]
        assert busy and {a.result_cd for a in busy} == {"905"}
        assert all(a.ims_id is None for a in busy)
        # A withdrawn key stops working at once; given to another client, it is
        # that client's at once.
        await clients.update_client(gw.gateway.db, "other-app", imsms_key="")
        assert (await send(gw.http, sample(), "other-key"))[0] == 401
        await ims_client(gw, "third-app", "other-key")
        status, moved = await send(gw.http, sample(), "other-key")
        assert status == 200 and moved.ims_id is not None
        row = await gw.gateway.message_by_src("third-app", SRC_PREFIX + moved.ims_id)
        assert row is not None


def _message(mid: int) -> Message:
    now = dt.datetime.now(dt.UTC)
    return Message(
        id=mid,
        client_id="upstream",
        src_msg_id=f"s{mid}",
        channel=Channel.SMS,
        sender="+8215881234",
        receiver=f"+8210{50000000 + mid % 1000}",
        content=f"인증번호 {mid % 1000:04d}",
        created_at=now,
        due_at=now,
    )


async def test_umsgate_imsms_connector_against_the_face(store: Store) -> None:
    settings = make_settings(store, sandbox={"mix": {"2003": 0.3}, "seed": 4})
    async with running_gateway(settings) as gw, connector_gateway() as upstream:
        await ims_client(gw, agents={AGENT: "15881234"})
        conn: Any = connector.build(
            ConnectorSettings(
                name="ims",
                protocol="imsms",
                options={
                    "api_key": IMS_KEY,
                    "agent_id": AGENT,
                    "url": gw.url,
                    "poll_schedule": [0.1, 0.1, 0.2],
                },
            ),
            upstream.context,
        )
        await conn.start(upstream.sink)
        try:
            messages = [_message(10**17 + i) for i in range(12)]
            results = await conn.submit(messages)
            assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 12
            await upstream.sink.wait_for_count(12, within=20)
        finally:
            await conn.stop()
        reports = upstream.sink.by_message()
        for m, result in zip(messages, results, strict=True):
            [report] = reports[m.id]
            row = await gw.gateway.message_by_src(
                "ims-app", SRC_PREFIX + str(result.provider_msg_id)
            )
            assert row is not None
            drawn = expected_code(gw, int(row.state["id"]))
            if drawn is ResultCode.DELIVERED:
                assert (report.code, report.raw_code) == (ResultCode.DELIVERED, "0")
            else:
                assert (report.code, report.raw_code) == (ResultCode.FAILED, "2003")
