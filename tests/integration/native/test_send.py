"""Sending on every channel through the native API (apigw spec §6–§11): the answer,
what is stored, and the DELIVERED report at the client's webhook; unknown fields;
idempotency on ``srcMsgId`` (resolution 32)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import orjson

from tests.conftest import (
    Receiver,
    Store,
    make_settings,
    new_account,
    running_gateway,
    sms_body,
)
from tests.integration.native.support import (
    ISO_WITH_OFFSET,
    UMS_MSG_ID,
    check_report,
    count_messages,
    kko_body,
    lms_body,
    message,
    message_rows,
    rcs_body,
    report_rows,
    upload_ok,
)
from umsgate.testing import wait_for


async def test_every_channel_is_delivered(store: Store, receiver: Receiver) -> None:
    async with running_gateway(make_settings(store)) as gw:
        acct = await new_account(gw, report_url=receiver.url)
        files = [await upload_ok(gw, acct, tag) for tag in (b"one", b"two", b"three")]
        requests = [
            ("sms", sms_body("s-1", content="안녕하세요 SMS"), acct.headers(), "SMS"),
            ("mms", lms_body("l-1"), acct.headers(), "LMS"),
            ("mms", lms_body("m-1", fileIds=files), acct.headers(), "MMS"),
            ("rcs", rcs_body("r-1"), acct.rcs_headers(), "RCS"),
            ("kko", kko_body("k-1", cmpMsgId="order-77"), acct.rcs_headers(), "KKO"),
        ]
        sent: dict[str, tuple[str, str]] = {}
        for kind, body, headers, channel in requests:
            before = time.time()
            r = await gw.http.post(f"/v1/message/{kind}", json=body, headers=headers)
            assert r.status_code == 200, (kind, r.text)
            doc = r.json()
            assert set(doc) == {
                "resultCode",
                "resultMessage",
                "transferTime",
                "umsMsgId",
                "srcMsgId",
            }
            assert (doc["resultCode"], doc["resultMessage"]) == (
                "10000",
                "transfer request successful",
            )
            assert doc["srcMsgId"] == body["srcMsgId"]
            assert UMS_MSG_ID.match(doc["umsMsgId"]), doc["umsMsgId"]
            assert ISO_WITH_OFFSET.match(doc["transferTime"]), doc["transferTime"]
            transfer = dt.datetime.fromisoformat(doc["transferTime"]).timestamp()
            assert before - 1 <= transfer <= time.time() + 1
            sent[doc["umsMsgId"]] = (channel, body["srcMsgId"])
        assert len(sent) == 5

        # The answer came after the commit: every message is stored, as sent.
        row = await message(gw, next(u for u, (c, _) in sent.items() if c == "MMS"))
        assert (row["channel"], orjson.loads(row["file_ids"])) == ("MMS", files)
        row = await message(gw, next(u for u, (c, _) in sent.items() if c == "SMS"))
        assert (row["sender"], row["receiver"]) == ("+821059120601", "+821012345678")
        assert row["content"] == "안녕하세요 SMS"

        await wait_for(lambda: set(receiver.by_id()) >= set(sent), what="five reports")
        for ums, (channel, src) in sent.items():
            reports = receiver.by_id()[ums]
            assert len(reports) == 1, reports
            check_report(reports[0], channel=channel, src=src, ums=ums)
            assert reports[0]["cmpMsgId"] == ("order-77" if channel == "KKO" else "")
            assert (await message(gw, ums))["status"] == "DELIVERED"
        # A delivered RCS message has no fallback.
        assert (
            len(await message_rows(gw, client_id=acct.client_id, src_msg_id="r-1")) == 1
        )

        # Unknown fields are tolerated on every channel.
        extra = {"futureField": {"nested": [1, 2, 3]}, "priority": 9, "memo": None}
        for kind, body, headers in (
            ("sms", sms_body("u-1", **extra), acct.headers()),
            ("mms", lms_body("u-2", **extra), acct.headers()),
            ("rcs", rcs_body("u-3", **extra), acct.rcs_headers()),
            ("kko", kko_body("u-4", **extra), acct.rcs_headers()),
        ):
            r = await gw.http.post(f"/v1/message/{kind}", json=body, headers=headers)
            assert r.status_code == 200, (kind, r.text)
        # Unknown headers too; and header names in any case (spec §2).
        r = await gw.http.post(
            "/v1/message/sms",
            json=sms_body("u-5"),
            headers={**acct.headers(), "X-Trace": "1"},
        )
        assert r.status_code == 200
        r = await gw.http.post(
            "/v1/message/sms",
            json=sms_body("u-6"),
            headers={
                "authorization": f"Bearer {acct.token}",
                "ORIGINCODE": "123456789",
                "billcode": "12345",
            },
        )
        assert r.status_code == 200, r.text
        row = await message(gw, r.json()["umsMsgId"])
        assert orjson.loads(row["extra"]) == {
            "originCode": "123456789",
            "billCode": "12345",
        }
        assert await count_messages(gw, acct.client_id) == 5 + 6


async def test_a_new_request_sent_several_times_at_once(
    store: Store, receiver: Receiver
) -> None:
    """Copies of a request whose srcMsgId is new land in one group commit: one
    message is stored and every copy gets its umsMsgId."""
    async with running_gateway(make_settings(store)) as gw:
        acct = await new_account(gw, report_url=receiver.url)
        bodies = [sms_body("burst-1")] * 6 + [sms_body(f"burst-{i}") for i in (2, 3)]
        answers = await asyncio.gather(
            *(
                gw.http.post("/v1/message/sms", json=b, headers=acct.headers())
                for b in bodies
            )
        )
        assert [a.status_code for a in answers] == [200] * 8
        ids = [a.json()["umsMsgId"] for a in answers]
        assert len(set(ids[:6])) == 1
        assert len(set(ids)) == 3
        assert await count_messages(gw, acct.client_id) == 3


async def test_the_same_request_twice(store: Store, receiver: Receiver) -> None:
    async with running_gateway(make_settings(store)) as gw:
        acct = await new_account(gw, report_url=receiver.url)
        body = sms_body("dup-1")
        first = await gw.http.post("/v1/message/sms", json=body, headers=acct.headers())
        assert first.status_code == 200, first.text
        # The same srcMsgId and content: the first answer again, nothing new stored.
        again = await gw.http.post("/v1/message/sms", json=body, headers=acct.headers())
        assert again.status_code == 200
        assert again.json() == first.json()
        # Concurrent repeats (one group commit) agree too.
        answers = await asyncio.gather(
            *(
                gw.http.post("/v1/message/sms", json=body, headers=acct.headers())
                for _ in range(5)
            )
        )
        assert {a.json()["umsMsgId"] for a in answers} == {first.json()["umsMsgId"]}

        # The same srcMsgId with other content: 40017.
        for change in (
            {"content": "other"},
            {"receiver": "01099998888"},
            {"cmpMsgId": "x"},
        ):
            r = await gw.http.post(
                "/v1/message/sms", json={**body, **change}, headers=acct.headers()
            )
            assert r.status_code == 400
            assert r.json()["resultCode"] == "40017"
            assert "srcMsgId" in r.json()["resultMessage"]
            assert "dup-1" in r.json()["resultMessage"]
        # ... and on another channel.
        r = await gw.http.post(
            "/v1/message/mms", json=lms_body("dup-1"), headers=acct.headers()
        )
        assert (r.status_code, r.json()["resultCode"]) == (400, "40017")
        # srcMsgId is unique per client: another client may use it.
        other = await new_account(gw, "other", report_url=receiver.url)
        r = await gw.http.post("/v1/message/sms", json=body, headers=other.headers())
        assert r.status_code == 200
        assert r.json()["umsMsgId"] != first.json()["umsMsgId"]

        assert await count_messages(gw, acct.client_id) == 1
        ums = first.json()["umsMsgId"]
        await wait_for(lambda: ums in receiver.by_id(), what="the report")
        await wait_for(
            lambda: r.json()["umsMsgId"] in receiver.by_id(), what="the other report"
        )
        assert len(receiver.by_id()[ums]) == 1
        assert len(await report_rows(gw, ums)) == 1
        # A repeat after the message ended is still the same message.
        late = await gw.http.post("/v1/message/sms", json=body, headers=acct.headers())
        assert late.json() == first.json()
        assert await count_messages(gw, acct.client_id) == 1
