"""umsgate's ``reserveTime`` and ``expireTime`` on the native API: a reserved message
waits in the queue until its time; one whose expiry passes before it is sent ends
EXPIRED, reported with the seed's code 96 (apigw spec §13.2)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

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

#: The dispatcher looks for due messages this often (or when a message comes in).
POLL = 2.0


async def test_reserved_and_expiring_messages(store: Store, receiver: Receiver) -> None:
    settings = make_settings(store, engine={"poll_interval": POLL})
    async with running_gateway(settings) as gw:
        acct = await new_account(gw, report_url=receiver.url)

        async def send(src: str, **fields: Any) -> str:
            r = await gw.http.post(
                "/v1/message/sms", json=sms_body(src, **fields), headers=acct.headers()
            )
            assert r.status_code == 200, r.text
            ums: str = r.json()["umsMsgId"]
            return ums

        now = time.time()
        # At least a minute ahead, in the minute format (KST).
        minute = kst_minute(now + 120)
        later = await send("res-min", reserveTime=minute)
        # Two seconds ahead, in ISO 8601 with an offset.
        soon_at = now + 2.0
        soon = await send("res-iso", reserveTime=iso(soon_at))
        plain = await send("plain")
        # Sent last, so that only its own arrival wakes the dispatcher: due at 0.8 s
        # and past its expiry at 1 s before the dispatcher looks again at 2 s.
        start = time.time()
        doomed = await send(
            "exp-1", reserveTime=iso(start + 0.8), expireTime=iso(start + 1.0)
        )

        await wait_for(lambda: plain in receiver.by_id(), what="the unreserved message")
        row = await message(gw, later)
        assert row["status"] == "QUEUED"
        due = dt.datetime.strptime(minute, "%Y%m%d%H%M").replace(tzinfo=KST).timestamp()
        assert row["due_at"] == due
        assert row["sent_at"] is None

        # The message that expired while it waited: EXPIRED, reported as 96.
        await wait_for(lambda: doomed in receiver.by_id(), what="the expiry report")
        report = receiver.by_id()[doomed][0]
        assert (report["resultCode"], report["resultMessage"]) == (
            "96",
            "Not received SUBMIT_ACK from Mno from 1day",
        )
        assert (report["srcMsgId"], report["channel"]) == ("exp-1", "SMS")
        assert STAMP.match(report["srcSndDttm"])
        # Never handed to a carrier: no send time, no carrier time, no carrier.
        assert (
            report["pfmSndDttm"],
            report["pfmRcvDttm"],
            report["serviceProvider"],
        ) == (
            "",
            "",
            "",
        )
        row = await message(gw, doomed)
        assert row["status"] == "EXPIRED"
        assert row["sent_at"] is None
        assert row["done_at"] >= start + 1.0

        # The message reserved two seconds ahead: delivered, and not before its time.
        await wait_for(lambda: soon in receiver.by_id(), what="the reserved message")
        row = await message(gw, soon)
        assert row["status"] == "DELIVERED"
        assert row["due_at"] == pytest.approx(soon_at, abs=0.002)  # iso() keeps ms
        assert row["sent_at"] >= row["due_at"]

        # The minute-reserved one still waits, with no report.
        assert (await message(gw, later))["status"] == "QUEUED"
        assert await report_rows(gw, later) == []
        assert later not in receiver.by_id()

        # An expireTime already past is refused at once (40012).
        r = await gw.http.post(
            "/v1/message/sms",
            json=sms_body("exp-2", expireTime=iso(time.time() - 1)),
            headers=acct.headers(),
        )
        assert (r.status_code, r.json()["resultCode"]) == (400, "40012")
        assert "expireTime" in r.json()["resultMessage"]
