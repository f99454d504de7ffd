"""The ToBeText face's status callbacks follow the spec's retry rule (any 2xx is
received; 4 attempts in all), here with 0.1 s between attempts; and umsgate's own
ToBeText connector, a ToBeText client written from the spec, works against the face."""

from __future__ import annotations

from typing import Any

from tests.conftest import Store, make_settings, webhook_states
from tests.integration.faces.conftest import (
    CID,
    TOKEN,
    CallbackReceiver,
    ack,
    encoded_body,
    running_quick_faces,
    send_fields,
    tobetext_client,
)
from umsgate.config import ConnectorSettings
from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.protocols.tobetext import connector
from umsgate.testing import connector_gateway, wait_for
from umsgate.types import Outcome


async def test_callbacks_follow_the_retry_rule(
    store: Store, callbacks: CallbackReceiver
) -> None:
    """A callback answered 503 twice is received on the third attempt; one that never
    gets a 2xx, or whose URL is unreachable, is given up after four."""
    async with running_quick_faces(make_settings(store)) as gw:
        await tobetext_client(gw)
        base = callbacks.url.removesuffix("/recv/")
        callbacks.failing = {"/never/"}
        callbacks.fail_first = 2
        answers = [
            ack(
                await gw.http.post(
                    "/sms", content=encoded_body(send_fields(ckey, callback=url))
                )
            )
            for ckey, url in (
                ("r-1", callbacks.url),
                ("r-2", base + "/never/"),
                ("r-3", "http://127.0.0.1:9/unreachable"),
            )
        ]
        assert [a.error_code for a in answers] == [200, 200, 200]

        async def settled() -> bool:
            return await webhook_states(gw.gateway) == {"done": 1, "failed": 2}

        await wait_for(settled, what="one callback received, two given up")
        paths = [path for path, _ in callbacks.requests]
        assert paths.count("/never/") == 4
        assert [r.msg_id for r in callbacks.results] == [answers[0].msg_id]
        # r-1's attempts: refused while fail_first lasted, then received once.
        assert 1 <= paths.count("/recv/") <= 3


def _message(mid: int, body: str) -> Message:
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    return Message(
        id=mid,
        client_id="upstream",
        src_msg_id=f"s{mid}",
        channel=Channel.SMS,
        sender="+821012341234",
        receiver=f"+8210{30000000 + mid % 1000}",
        content=body,
        created_at=now,
        due_at=now,
    )


async def test_umsgate_tobetext_connector_against_the_face(store: Store) -> None:
    settings = make_settings(store, sandbox={"mix": {"2003": 0.3}, "seed": 11})
    async with running_quick_faces(settings) as gw, connector_gateway() as upstream:
        await tobetext_client(gw)
        conn: Any = connector.build(
            ConnectorSettings(
                name="tbt",
                protocol="tobetext",
                options={"cid": CID, "token": TOKEN, "url": gw.url + "/sms"},
            ),
            upstream.context,
        )
        await conn.start(upstream.sink)
        try:
            messages = [_message(10**17 + i, f"코드 {i:04d}") for i in range(12)]
            results = await conn.submit(messages)
            assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 12
            await upstream.sink.wait_for_count(12, within=20)
        finally:
            await conn.stop()
        sandbox: Any = gw.gateway.connectors["sandbox"]
        reports = upstream.sink.by_message()
        for m, result in zip(messages, results, strict=True):
            [report] = reports[m.id]
            assert report.provider_msg_id == result.provider_msg_id
            drawn = ResultCode(sandbox.mix.draw(f"{int(result.provider_msg_id, 16)}:1"))
            if drawn is ResultCode.DELIVERED:
                assert (report.code, report.raw_code) == (ResultCode.DELIVERED, "200")
            else:
                assert (report.code, report.raw_code) == (ResultCode.FAILED, "400")
