"""One message through the native API to its webhook, on each store."""

from __future__ import annotations

from tests.conftest import (
    Receiver,
    Store,
    make_settings,
    new_account,
    running_gateway,
    sms_body,
)
from umsgate.testing import wait_for


async def test_sms_reaches_the_webhook(store: Store, receiver: Receiver) -> None:
    async with running_gateway(make_settings(store)) as gw:
        acct = await new_account(gw, report_url=receiver.url)
        r = await gw.http.post(
            "/v1/message/sms", json=sms_body("m1"), headers=acct.headers()
        )
        assert r.status_code == 200, r.text
        ums = r.json()["umsMsgId"]
        await wait_for(lambda: ums in receiver.by_id(), what="the report webhook")
        report = receiver.by_id()[ums][0]
        assert report["resultCode"] == "-100"
        assert report["srcMsgId"] == "m1"
        assert report["channel"] == "SMS"
