"""umsgate's ``reserveTime`` and ``expireTime`` on the native API: a reserved message
waits in the queue until its time; one whose expiry passes before it is sent ends
EXPIRED, reported with the seed's code 96 (apigw spec §13.2)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from tests.conftest import (
    Receiver,
    Store,
    make_settings,
    new_account,
    running_gateway,
    sms_body,
)
from tests.integration.native.support import (
    KST,
    STAMP,
    iso,
    kst_minute,
    message,
    report_rows,
)
from umsgate.testing import wait_for


async def test_reserved_messages_wait_for_their_time(
    store: Store, receiver: Receiver
) -> None:
    async with running_gateway(make_settings(store)) as gw:
        acct = await new_account(gw, report_url=receiver.url)
        now = time.time()
        # A minute ahead at least, in the minute format (KST).
        minute = kst_minute(now + 120)
        later = (
            await gw.http.post(
                "/v1/message/sms",
                json=sms_body("res-min", reserveTime=minute),
                headers=acct.headers(),
            )
        ).json()
        # Two seconds ahead, in ISO 8601 with an offset.
        soon_at = now + 2.0
        soon = (
            await gw.http.post(
                "/v1/message/sms",
                json=sms_body("res-iso", reserveTime=iso(soon_at)),
                headers=acct.headers(),
            )
        ).json()
        plain = (
            await gw.http.post(
                "/v1/message/sms", json=sms_body("plain"), headers=acct.headers()
            )
        ).json()
        for doc in (later, soon, plain):
            assert doc["resultCode"] == "10000"

        await wait_for(
            lambda: plain["umsMsgId"] in receiver.by_id(), what="the unreserved message"
        )
        row = await message(gw, later["umsMsgId"])
        assert row["status"] == "QUEUED"
        due = dt.datetime.strptime(minute, "%Y%m%d%H%M").replace(tzinfo=KST).timestamp()
        assert row["due_at"] == due
        assert row["sent_at"] is None

        await wait_for(
            lambda: soon["umsMsgId"] in receiver.by_id(),
            timeout=15,
            what="the reserved message",
        )
        row = await message(gw, soon["umsMsgId"])
        assert row["status"] == "DELIVERED"
        assert row["due_at"] == pytest.approx(
            soon_at, abs=0.002
        )  # iso() keeps milliseconds
        assert row["sent_at"] >= row["due_at"]
        # The minute-reserved one still waits, with no report.
        assert (await message(gw, later["umsMsgId"]))["status"] == "QUEUED"
        assert await report_rows(gw, later["umsMsgId"]) == []
        assert later["umsMsgId"] not in receiver.by_id()


async def test_expiry_while_waiting(store: Store, receiver: Receiver) -> None:
    # The dispatcher looks for due messages every 1.5 s here (or when a message comes
    # in), so the message below is due (0.6 s) and past its expiry (0.8 s) before it
    # is looked at again.
    settings = make_settings(store, engine={"poll_interval": 1.5})
    async with running_gateway(settings) as gw:
        acct = await new_account(gw, report_url=receiver.url)
        now = time.time()
        body = sms_body("exp-1", reserveTime=iso(now + 0.6), expireTime=iso(now + 0.8))
        r = await gw.http.post("/v1/message/sms", json=body, headers=acct.headers())
        assert r.status_code == 200, r.text
        ums = r.json()["umsMsgId"]
        await wait_for(lambda: ums in receiver.by_id(), what="the expiry report")
        report = receiver.by_id()[ums][0]
        assert (report["resultCode"], report["resultMessage"]) == (
            "96",
            "Not received SUBMIT_ACK from Mno from 1day",
        )
        assert (report["srcMsgId"], report["channel"]) == ("exp-1", "SMS")
        assert STAMP.match(report["srcSndDttm"])
        # Never handed to a carrier: no send time, no carrier time.
        assert (
            report["pfmSndDttm"],
            report["pfmRcvDttm"],
            report["serviceProvider"],
        ) == ("", "", "")
        row = await message(gw, ums)
        assert row["status"] == "EXPIRED"
        assert row["sent_at"] is None
        assert row["done_at"] >= now + 0.8

        # An expireTime already past is refused at once (40012).
        r = await gw.http.post(
            "/v1/message/sms",
            json=sms_body("exp-2", expireTime=iso(time.time() - 1)),
            headers=acct.headers(),
        )
        assert (r.status_code, r.json()["resultCode"]) == (400, "40012")
        assert "expireTime" in r.json()["resultMessage"]
