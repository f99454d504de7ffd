"""Duplicate-send blocking: a client with a duplicate window has a message refused
(40019; on the compatible faces in their own codes) when the same receiver got the
same content under another srcMsgId within the window, also when the two arrive in
one group commit or on two nodes at once; nothing of a refused message is stored."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import (
    Account,
    Running,
    Store,
    get_token,
    make_settings,
    running_gateway,
    sms_body,
)
from tests.integration.faces.conftest import (
    AGENT,
    IMS_KEY,
    TOKEN,
    ack,
    encoded_body,
    send_fields,
)
from umsgate import clients
from umsgate.protocols.imsms import codec as ims_codec
from umsgate.store.tables import messages
from umsgate.testing import wait_for


async def account(running: Running, client_id: str, window: float) -> Account:
    creds = await clients.add_client(
        running.gateway.db,
        client_id,
        tps={"SMS": 100_000, "MMS": 100_000},
        dup_window=window,
    )
    acct = Account(
        client_id=creds.client_id, secret=creds.client_secret, key=creds.client_key
    )
    acct.token = await get_token(running.http, acct)
    return acct


async def send(
    running: Running, acct: Account, src: str, **fields: Any
) -> httpx.Response:
    return await running.http.post(
        "/v1/message/sms", json=sms_body(src, **fields), headers=acct.headers()
    )


async def stored(running: Running, client_id: str) -> set[str]:
    """srcMsgIds of the client's stored messages."""
    query = select(messages.c.src_msg_id).where(messages.c.client_id == client_id)
    async with running.gateway.db.transaction() as conn:
        return {r.src_msg_id for r in await conn.execute(query)}


def code(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["resultCode"]


async def test_the_same_receiver_and_content_is_refused_within_the_window(
    store: Store,
) -> None:
    async with running_gateway(make_settings(store)) as gw:
        acct = await account(gw, "dup", 3600)
        first = await send(gw, acct, "a1")
        assert code(first) == (200, "10000")
        refused = await send(gw, acct, "a2")
        assert code(refused) == (400, "40019")
        assert "duplicate send blocked" in refused.json()["resultMessage"]
        # Another receiver, other text or another channel is another message.
        assert code(await send(gw, acct, "a3", receiver="01098765432")) == (
            200,
            "10000",
        )
        assert code(await send(gw, acct, "a4", content="hello again")) == (200, "10000")
        lms = await gw.http.post(
            "/v1/message/mms",
            json=sms_body("a5", subject="s"),
            headers=acct.headers(),
        )
        assert code(lms) == (200, "10000")
        # The sender number is not part of the content.
        assert code(await send(gw, acct, "a6", callback="0212345678")) == (400, "40019")
        # A repeat of the first srcMsgId is the idempotent repeat, not a duplicate.
        again = await send(gw, acct, "a1")
        assert code(again) == (200, "10000")
        assert again.json()["umsMsgId"] == first.json()["umsMsgId"]
        # Nothing of the refused ones was stored; their srcMsgIds stay free.
        assert await stored(gw, "dup") == {"a1", "a3", "a4", "a5"}
        assert code(await send(gw, acct, "a2", content="another text")) == (
            200,
            "10000",
        )

        # A client without a window is not blocked.
        plain = await account(gw, "plain", 0)
        assert code(await send(gw, plain, "p1")) == (200, "10000")
        assert code(await send(gw, plain, "p2")) == (200, "10000")


async def test_the_window_ends(sqlite_store: Store) -> None:
    window = 0.5
    async with running_gateway(make_settings(sqlite_store)) as gw:
        acct = await account(gw, "dup", window)
        assert code(await send(gw, acct, "w0")) == (200, "10000")
        start = time.monotonic()
        tries = iter(range(1, 1000))
        accepted_after = 0.0

        async def accepted() -> bool:
            nonlocal accepted_after
            r = await send(gw, acct, f"w{next(tries)}")
            if r.status_code == 200:
                accepted_after = time.monotonic() - start
                return True
            assert code(r) == (400, "40019")
            return False

        # Refused tries do not extend the window: the first message's time counts.
        await wait_for(accepted, timeout=10, interval=0.05, what="the window to end")
        assert window * 0.8 <= accepted_after <= window + 2.0


async def test_concurrent_duplicates_in_one_commit(store: Store) -> None:
    async with running_gateway(make_settings(store)) as gw:
        acct = await account(gw, "dup", 60)
        answers = await asyncio.gather(*(send(gw, acct, f"c{i}") for i in range(30)))
        codes = sorted(code(r) for r in answers)
        assert codes == [(200, "10000")] + [(400, "40019")] * 29
        assert len(await stored(gw, "dup")) == 1


@pytest.mark.postgres
async def test_concurrent_duplicates_on_two_nodes(pg_store: Store) -> None:
    settings = make_settings(pg_store)
    async with (
        running_gateway(settings) as a,
        running_gateway(settings) as b,
    ):
        acct = await account(a, "dup", 60)
        for round_ in range(3):  # three races, each won by exactly one request
            answers = await asyncio.gather(
                *(
                    send(node, acct, f"n{round_}-{i}-{j}", content=f"race {round_}")
                    for i in range(10)
                    for j, node in enumerate((a, b))
                )
            )
            codes = sorted(code(r) for r in answers)
            assert codes == [(200, "10000")] + [(400, "40019")] * 19, (round_, codes)
        assert len(await stored(a, "dup")) == 3


async def test_the_compatible_faces_refuse_in_their_own_codes(store: Store) -> None:
    async with running_gateway(make_settings(store)) as gw:
        await clients.add_client(
            gw.gateway.db,
            "tbt",
            tobetext_token=TOKEN,
            imsms_key=IMS_KEY,
            dup_window=60,
        )
        # ToBeText has no duplicate code: the Body error, saying why.
        first = ack(await gw.http.post("/sms", content=encoded_body(f("k1"))))
        again = ack(await gw.http.post("/sms", content=encoded_body(f("k2"))))
        assert first.error_code == 200
        assert (again.error_code, again.status) == (2005, "FAIL")
        assert "duplicate send blocked" in again.error_msg
        # IMS: a send that failed (130), HTTP 200 as the seed's table says.
        body = {
            "sendTo": "+821040000001",
            "sendType": "S",
            "message": "안녕하세요",
            "imsAgentId": AGENT,
        }
        headers = {"X-API-KEY": IMS_KEY}
        ok = await gw.http.post("/api/imsms/send", json=body, headers=headers)
        dup = await gw.http.post("/api/imsms/send", json=body, headers=headers)
        assert ims_codec.parse_send_answer(ok.content).result_cd == "000"
        assert dup.status_code == 200
        assert ims_codec.parse_send_answer(dup.content).result_cd == "130"


def f(ckey: str) -> list[tuple[str, str]]:
    return send_fields(ckey, cid="tbt")
