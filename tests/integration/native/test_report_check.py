"""The report check (apigw spec §12): a client's reports by umsMsgId, at most 1000
ids, at most one request per interval; the fallback reports of RCS and KakaoTalk
messages (resolution of §12)."""

from __future__ import annotations

import math
import time

import httpx
import orjson

from tests.conftest import (
    Account,
    Receiver,
    Running,
    Store,
    make_settings,
    new_account,
    running_gateway,
    sms_body,
)
from tests.integration.native.support import (
    check_report,
    kko_body,
    kst_minute,
    lms_body,
    rcs_body,
    report_rows,
    with_connectors,
)
from umsgate import config
from umsgate.testing import wait_for


async def next_check(
    running: Running, url: str, ids: list[str], acct: Account
) -> httpx.Response:
    """The answer of the first report check that the interval lets through."""
    answers: list[httpx.Response] = []

    async def allowed() -> bool:
        r = await running.http.post(
            f"/v1/agent/rpt/{url}", json=ids, headers=acct.headers()
        )
        assert r.status_code in (200, 429), r.text
        answers.append(r)
        return r.status_code == 200

    await wait_for(allowed, what=f"a report check of {acct.client_id}")
    return answers[-1]


async def test_report_check(store: Store) -> None:
    interval = 1.0
    settings = make_settings(store, report_check={"interval": interval})
    async with running_gateway(settings) as gw:
        acct = await new_account(gw, "acme")
        other = await new_account(gw, "other")
        # Reports are kept for the pull even when a client has no webhook.
        mine = (
            await gw.http.post(
                "/v1/message/sms", json=sms_body("a-1"), headers=acct.headers()
            )
        ).json()
        lms = (
            await gw.http.post(
                "/v1/message/mms", json=lms_body("a-2"), headers=acct.headers()
            )
        ).json()
        reserved = (
            await gw.http.post(
                "/v1/message/sms",
                json=sms_body("a-3", reserveTime=kst_minute(time.time() + 3600)),
                headers=acct.headers(),
            )
        ).json()
        theirs = (
            await gw.http.post(
                "/v1/message/sms", json=sms_body("b-1"), headers=other.headers()
            )
        ).json()
        for doc in (mine, lms, theirs):
            ums = doc["umsMsgId"]

            async def reported(ums: str = ums) -> bool:
                return bool(await report_rows(gw, ums))

            await wait_for(reported, what=f"the report of {ums}")

        ids = [
            mine["umsMsgId"],
            lms["umsMsgId"],
            reserved["umsMsgId"],
            theirs["umsMsgId"],
            # Ids are opaque strings (resolution 36): none of these matches anything.
            "999",
            "x",
            "",
            "-1",
            "²",
            "١٢٣",
            "9" * 19,
            "9" * 30,
        ]
        first = time.monotonic()
        r = await gw.http.post("/v1/agent/rpt/sms", json=ids, headers=acct.headers())
        assert r.status_code == 200, r.text
        reports = r.json()
        # Only this client's SMS report: not the LMS (its URL is mms), not the reserved
        # message (no report yet), not another client's, not unknown ids.
        assert len(reports) == 1
        check_report(reports[0], channel="SMS", src="a-1", ums=mine["umsMsgId"])

        # Too early: 429/42900, on another URL too (the limit is per client).
        r = await gw.http.post("/v1/agent/rpt/kko", json=ids, headers=acct.headers())
        assert time.monotonic() - first < interval, "too slow to test the interval"
        assert r.status_code == 429
        assert r.json()["resultCode"] == "42900"
        assert "report check" in r.json()["resultMessage"]
        # When to ask again: whole seconds, at most the interval, rounded up.
        assert 1 <= int(r.headers["Retry-After"]) <= math.ceil(interval)
        # The other client has its own allowance.
        r = await gw.http.post("/v1/agent/rpt/sms", json=ids, headers=other.headers())
        assert r.status_code == 200
        assert [x["umsMsgId"] for x in r.json()] == [theirs["umsMsgId"]]

        # Once the interval passed, the next check goes through.
        r = await next_check(gw, "mms", ids, acct)
        assert time.monotonic() - first >= interval
        assert [x["umsMsgId"] for x in r.json()] == [lms["umsMsgId"]]
        assert r.json()[0]["channel"] == "LMS"

        # Refusals come before the allowance is used.
        too_many = [str(10**17 + i) for i in range(1001)]
        for body in (too_many, [1, 2], ["1", None], {"ids": ["1"]}, "1"):
            r = await gw.http.post(
                "/v1/agent/rpt/sms", json=body, headers=other.headers()
            )
            assert r.status_code == 400, body
            assert r.json()["resultCode"] == "40018"
            assert "umsMsgId" in r.json()["resultMessage"]
        r = await gw.http.post(
            "/v1/agent/rpt/sms",
            content=b"[1, 2",
            headers={**other.headers(), "Content-Type": "application/json"},
        )
        assert (r.status_code, r.json()["resultCode"]) == (400, "40000")
        r = await gw.http.post("/v1/agent/rpt/fax", json=[], headers=other.headers())
        assert (r.status_code, r.json()["resultCode"]) == (400, "40012")
        # 1000 ids are allowed.
        thousand = [theirs["umsMsgId"], *too_many[:999]]
        r = await next_check(gw, "sms", thousand, other)
        assert [x["umsMsgId"] for x in r.json()] == [theirs["umsMsgId"]]


async def test_fallback_reports(store: Store, receiver: Receiver) -> None:
    # RCS and KakaoTalk go to a carrier that cannot deliver them; the rest to the
    # default sandbox, which delivers.
    settings = with_connectors(
        make_settings(store, report_check={"interval": 0.0}),
        (
            config.ConnectorSettings(
                name="no-rich",
                protocol="sandbox",
                options={"delay": 0.05, "mix": {"2010": 1.0}},
            ),
        ),
        (
            config.RouteSettings(
                name="rich", connectors=("no-rich",), channels=("RCS", "KKO")
            ),
            config.RouteSettings(name="rest", connectors=("sandbox",)),
        ),
    )
    async with running_gateway(settings) as gw:
        acct = await new_account(gw, report_url=receiver.url)
        rcs = (
            await gw.http.post(
                "/v1/message/rcs", json=rcs_body("r-1"), headers=acct.rcs_headers()
            )
        ).json()
        kko_fallback = {"type": "LMS", "subject": "대체", "content": "대체 발송 본문"}
        kko = (
            await gw.http.post(
                "/v1/message/kko",
                json=kko_body(
                    "k-1", cmpMsgId="c-9", usedFallback=True, fallback=kko_fallback
                ),
                headers=acct.rcs_headers(),
            )
        ).json()
        alone = (
            await gw.http.post(
                "/v1/message/rcs",
                json=rcs_body("r-2", usedFallback=False),
                headers=acct.rcs_headers(),
            )
        ).json()
        rcs_id, kko_id, alone_id = rcs["umsMsgId"], kko["umsMsgId"], alone["umsMsgId"]

        def pushed() -> bool:
            got = receiver.by_id()
            return (
                len(got.get(rcs_id, [])) == 2
                and len(got.get(kko_id, [])) == 2
                and alone_id in got
            )

        await wait_for(pushed, what="both reports of each fallen-back message")
        by_channel = {(r["umsMsgId"], r["channel"]): r for r in receiver.reports}
        failed = by_channel[(rcs_id, "RCS")]
        assert (failed["resultCode"], failed["srcMsgId"]) == ("2010", "r-1")
        check_report(by_channel[(rcs_id, "SMS")], channel="SMS", src="r-1", ums=rcs_id)
        assert by_channel[(kko_id, "KKO")]["resultCode"] == "2010"
        assert by_channel[(kko_id, "KKO")]["cmpMsgId"] == "c-9"
        check_report(by_channel[(kko_id, "LMS")], channel="LMS", src="k-1", ums=kko_id)
        assert by_channel[(kko_id, "LMS")]["cmpMsgId"] == "c-9"
        # Without a fallback there is only the failure.
        assert [r["channel"] for r in receiver.by_id()[alone_id]] == ["RCS"]

        async def check(url: str, ids: list[str]) -> list[tuple[str, str]]:
            r = await gw.http.post(
                f"/v1/agent/rpt/{url}", json=ids, headers=acct.headers()
            )
            assert r.status_code == 200, r.text
            pulled = r.json()
            # The pull returns the very bodies that were pushed.
            for report in pulled:
                assert report == by_channel[(report["umsMsgId"], report["channel"])]
            return sorted((x["umsMsgId"], x["channel"]) for x in pulled)

        every = [rcs_id, kko_id, alone_id]
        assert await check("rcs", every) == sorted(
            [(rcs_id, "RCS"), (rcs_id, "SMS"), (alone_id, "RCS")]
        )
        assert await check("kko", every) == sorted([(kko_id, "KKO"), (kko_id, "LMS")])
        assert await check("sms", every) == [(rcs_id, "SMS")]
        assert await check("mms", every) == [(kko_id, "LMS")]
        # Each report was pushed once.
        assert len(receiver.reports) == 5
        assert orjson.dumps(sorted(receiver.by_id())) == orjson.dumps(sorted(every))
