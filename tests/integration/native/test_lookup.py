"""Message lookup in the native API: ``GET /v1/messages/{umsMsgId}`` shows a message
and its whole timeline, ``GET /v1/messages`` searches a page at a time, and no client
sees another's messages."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.conftest import Receiver, Store, make_settings, new_account, running_gateway
from tests.integration.engine.test_outcomes import Scripted, accepted, final, send
from umsgate.config import RouteSettings
from umsgate.domain.message import Message
from umsgate.domain.results import ResultCode
from umsgate.testing import wait_for
from umsgate.types import Outcome, SubmitResult


class Named(Scripted):
    def __init__(self, name: str, script: Any) -> None:
        super().__init__(script)
        self.name = name


def busy(_c: Scripted, m: Message) -> SubmitResult:
    return SubmitResult(
        message_id=m.id,
        outcome=Outcome.RETRY,
        code=ResultCode.THROTTLED,
        raw_code="0x58",
        detail="throttled",
        retry_after=0.0,
    )


async def test_the_timeline_shows_failover_retry_report_and_webhook_tries_in_order(
    store: Store, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = Named("first", busy), Named("second", accepted())
    settings = dataclasses.replace(
        make_settings(store),
        routes=(RouteSettings(name="all", connectors=("first", "second")),),
    )
    receiver.fail_first = 1  # the first webhook try is answered 500
    async with running_gateway(settings, {"first": first, "second": second}) as gw:
        acct = await new_account(gw, report_url=receiver.url)
        other = await new_account(gw, "other")
        mid = await send(gw, acct, "tl-1")
        await wait_for(
            lambda: bool(second.submits), what="the try on the second connector"
        )
        await second.deliver(
            provider_msg_id=f"P{mid}", code=ResultCode.DELIVERED, raw_code="DELIVRD"
        )
        await final(gw, mid)
        await wait_for(lambda: bool(receiver.reports), what="the webhook's second try")

        async def webhook_done() -> bool:
            r = await gw.http.get(f"/v1/messages/{mid}", headers=acct.headers())
            return bool(r.json()["webhook"]["state"] == "done")

        await wait_for(webhook_done, what="the webhook's result recorded")
        r = await gw.http.get(f"/v1/messages/{mid}", headers=acct.headers())
        theirs = await gw.http.get(f"/v1/messages/{mid}", headers=other.headers())
        unknown = await gw.http.get("/v1/messages/123456789", headers=acct.headers())
        nobody = await gw.http.get(f"/v1/messages/{mid}")

    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["umsMsgId"] == str(mid) and doc["srcMsgId"] == "tl-1"
    assert doc["status"] == "DELIVERED" and doc["channel"] == "SMS"
    assert doc["receiver"] == "+821012345678"
    assert doc["connector"] == "second" and doc["providerMsgId"] == f"P{mid}"
    assert doc["rawCode"] == "DELIVRD" and doc["resultCode"] == "1000"
    assert doc["attempts"] >= 2 and doc["segments"] == 1
    assert doc["createdAt"] and doc["sentAt"] and doc["doneAt"]
    assert doc["fallbackOf"] is None and doc["fallbackTo"] is None
    assert doc["webhook"] == {"state": "done", "attempts": 2, "lastError": ""}
    steps = [(e["type"], e["status"], e["detail"]) for e in doc["events"]]
    statuses = [s for t, s, _ in steps if t == "status"]
    assert statuses == [
        "ACCEPTED",
        "QUEUED",
        "SENDING",
        "QUEUED",
        "SENDING",
        "SENT",
        "DELIVERED",
    ], steps
    details = [d for _, _, d in steps]
    assert details[2].endswith("via first"), steps
    assert details[3] == "first: [0x58] throttled", steps
    assert doc["events"][3]["code"] == ResultCode.THROTTLED.value
    assert details[4].endswith("via second") and details[5] == f"second P{mid}"
    assert details[6].startswith("[DELIVRD]"), steps
    # After the report: one failed webhook try, then the one answered OK.
    assert [t for t, _, _ in steps[7:]] == ["webhook", "webhook"], steps
    assert details[7].startswith("try 1: HTTP 500") and "next try in" in details[7]
    assert details[8] == "try 2: OK (HTTP 200)"
    ats = [e["at"] for e in doc["events"]]
    assert ats == sorted(ats)
    # The failed try is logged once for its client, with a count.
    failing = [
        r for r in caplog.records if r.__dict__.get("event") == "webhook_failing"
    ]
    assert [(r.__dict__["client_id"], r.__dict__["failed"]) for r in failing] == [
        ("acme", 1)
    ]

    # Another client's message is a message that does not exist.
    for refused in (theirs, unknown):
        assert refused.status_code == 404
        assert refused.json()["resultCode"] == "40400"
    assert nobody.status_code == 401


async def _all_pages(gw: Any, acct: Any, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        r = await gw.http.get("/v1/messages", params=query, headers=acct.headers())
        assert r.status_code == 200, r.text
        pages.append([m["srcMsgId"] for m in r.json()["messages"]])
        cursor = r.json()["nextCursor"]
        if cursor is None:
            return pages


async def test_search_pages_through_a_clients_messages(store: Store) -> None:
    async with running_gateway(make_settings(store)) as gw:
        acct = await new_account(gw)
        other = await new_account(gw, "other")
        sent = []
        for i in range(11):
            to = "01099998888" if i % 4 == 0 else "01012345678"
            r = await gw.http.post(
                "/v1/message/sms",
                json={
                    "srcMsgId": f"s-{i}",
                    "callback": "01059120601",
                    "receiver": to,
                    "content": "hello",
                },
                headers=acct.headers(),
            )
            assert r.status_code == 200, r.text
            sent.append(r.json()["umsMsgId"])
        await send(gw, other, "s-0")  # the same srcMsgId, another client's
        newest_first = [f"s-{i}" for i in reversed(range(11))]

        pages = await _all_pages(gw, acct, limit=3)
        by_src = await _all_pages(gw, acct, srcMsgId="s-5")
        # A receiver as the sends take it, in any of their forms.
        to_one = await _all_pages(gw, acct, receiver="010-9999-8888")
        by_channel = await _all_pages(gw, acct, channel="LMS")
        others = await _all_pages(gw, other)
        one = await gw.http.get(
            "/v1/messages", params={"srcMsgId": "s-5"}, headers=acct.headers()
        )
        first = one.json()["messages"][0]
        # The time range compares acceptance times: all of them, then none.
        created = first["createdAt"]
        since = await _all_pages(gw, acct, **{"from": "2024-01-01T00:00:00Z"})
        before = await _all_pages(gw, acct, to="2024-01-01T00:00:00Z")

        refusals = {}
        for name, params in {
            "limit": {"limit": "201"},
            "limit0": {"limit": "0"},
            "limitx": {"limit": "ten"},
            "cursor": {"cursor": "not-a-cursor"},
            "status": {"status": "LOST"},
            "channel": {"channel": "FAX"},
            "receiver": {"receiver": "12"},
            "from": {"from": "yesterday"},
            "unknown": {"sender": "01059120601"},
        }.items():
            r = await gw.http.get("/v1/messages", params=params, headers=acct.headers())
            refusals[name] = (r.status_code, r.json()["resultCode"], r.json())

    assert [len(p) for p in pages] == [3, 3, 3, 2]
    flat = [s for p in pages for s in p]
    assert flat == newest_first  # no gap, no repeat, newest first
    assert by_src == [["s-5"]]
    assert to_one == [["s-8", "s-4", "s-0"]]
    assert by_channel == [[]]
    assert others == [["s-0"]]
    assert first["umsMsgId"] == sent[5] and first["receiver"] == "+821012345678"
    assert "events" not in first and created
    assert [s for p in since for s in p] == newest_first
    assert before == [[]]
    assert refusals["limit"][:2] == (400, "40012")
    assert "1..200" in refusals["limit"][2]["resultMessage"]
    assert refusals["limit0"][:2] == (400, "40012")
    assert refusals["limitx"][:2] == (400, "40000")
    assert refusals["cursor"][:2] == (400, "40000")
    assert refusals["status"][:2] == (400, "40012")
    assert refusals["channel"][:2] == (400, "40012")
    assert refusals["receiver"][:2] == (400, "40015")
    assert refusals["from"][0] == 400
    assert refusals["unknown"][:2] == (400, "40012")
    assert "sender" in refusals["unknown"][2]["resultMessage"]
