"""The per-client TPS of the account's ``service`` table (apigw spec §1, §14):
requests over it get 429/42900 and nothing of them is stored."""

from __future__ import annotations

import asyncio

from tests.conftest import Store, make_settings, new_account, running_gateway, sms_body
from tests.integration.native.support import (
    count_messages,
    lms_body,
    message_rows,
    rcs_body,
)

TPS_EXCEEDED = {
    "resultCode": "42900",
    "resultMessage": "전송가능한 TPS가 초과되었습니다.",
}


async def test_sending_over_the_tps(store: Store) -> None:
    async with running_gateway(make_settings(store)) as gw:
        # Rates low enough that no refill lets all requests through, however slowly
        # a loaded machine serves them.
        acct = await new_account(gw, tps={"SMS": 2, "MMS": 1})
        answers = await asyncio.gather(
            *(
                gw.http.post(
                    "/v1/message/sms", json=sms_body(f"t-{i}"), headers=acct.headers()
                )
                for i in range(30)
            )
        )
        ok = [a for a in answers if a.status_code == 200]
        refused = [a for a in answers if a.status_code == 429]
        assert len(ok) + len(refused) == 30, [a.text for a in answers]
        # A full bucket holds one second (2); refilling it for all 30 takes 14 s.
        assert 2 <= len(ok) < 30
        assert refused
        assert all(a.json() == TPS_EXCEEDED for a in refused)
        # Exactly the answered messages were stored.
        stored = await message_rows(gw, client_id=acct.client_id)
        assert len(stored) == len(ok)
        assert {str(m["id"]) for m in stored} == {a.json()["umsMsgId"] for a in ok}

        # LMS counts against the MMS key (§14).
        answers = await asyncio.gather(
            *(
                gw.http.post(
                    "/v1/message/mms", json=lms_body(f"l-{i}"), headers=acct.headers()
                )
                for i in range(8)
            )
        )
        lms_ok = sum(a.status_code == 200 for a in answers)
        assert 1 <= lms_ok < 8
        assert all(a.json() == TPS_EXCEEDED for a in answers if a.status_code != 200)

        # RCS has no key in this account's table: it is not limited.
        answers = await asyncio.gather(
            *(
                gw.http.post(
                    "/v1/message/rcs",
                    json=rcs_body(f"r-{i}"),
                    headers=acct.rcs_headers(),
                )
                for i in range(10)
            )
        )
        assert [a.status_code for a in answers] == [200] * 10
        assert await count_messages(gw, acct.client_id) == len(ok) + lms_ok + 10

        # Another client has a bucket of its own.
        other = await new_account(gw, "other", tps={"SMS": 2})
        r = await gw.http.post(
            "/v1/message/sms", json=sms_body("o-1"), headers=other.headers()
        )
        assert r.status_code == 200
