"""The admin API under /admin/api: operator auth (session cookie with the CSRF
header, or an operator token), the dashboard's figures, clients, messages with
their timelines, webhooks, and its place in the OpenAPI document."""

from __future__ import annotations

import time

import httpx

from tests.conftest import (
    Account,
    Receiver,
    Store,
    get_token,
    make_settings,
    new_account,
    running_gateway,
    sms_body,
)
from tests.integration.console.support import login, operator
from tests.integration.native.support import rcs_body, with_connectors
from umsgate import config
from umsgate.console import operators
from umsgate.testing import wait_for


async def test_operator_auth_and_csrf(store: Store) -> None:
    async with running_gateway(make_settings(store)) as gw:
        await operator(gw)
        assert (await gw.http.get("/admin/api/stats")).status_code == 401
        assert (
            await gw.http.get(
                "/admin/api/stats", headers={"Authorization": "Bearer umsop_nope"}
            )
        ).status_code == 401
        token, _ = await operators.issue_token(gw.gateway.db, "ops", 60)
        bearer = {"Authorization": f"Bearer {token}"}
        assert (
            await gw.http.get("/admin/api/stats", headers=bearer)
        ).status_code == 200
        # A token needs no CSRF header: it is not sent by a browser on its own.
        r = await gw.http.post(
            "/admin/api/clients", json={"clientId": "bytoken"}, headers=bearer
        )
        assert r.status_code == 201, r.text
        http, csrf = await login(gw)
        try:
            assert (await http.get("/admin/api/clients")).status_code == 200
            refused = await http.post("/admin/api/clients", json={"clientId": "x"})
            assert refused.status_code == 403
            assert refused.json()["error"] == "csrf"
            wrong = await http.post(
                "/admin/api/clients",
                json={"clientId": "x"},
                headers={"X-CSRF-Token": csrf[:-1] + ("B" if csrf[-1] == "A" else "A")},
            )
            assert wrong.status_code == 403
            ok = await http.post(
                "/admin/api/clients",
                json={"clientId": "x"},
                headers={"X-CSRF-Token": csrf},
            )
            assert ok.status_code == 201, ok.text
        finally:
            await http.aclose()
        ids = {c["clientId"] for c in (await http_clients(gw.url, bearer))}
        assert ids == {"bytoken", "x"}


async def http_clients(url: str, headers: dict[str, str]) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=url) as http:
        r = await http.get("/admin/api/clients", headers=headers)
        assert r.status_code == 200
        clients: list[dict[str, object]] = r.json()["clients"]
        return clients


async def test_clients_create_change_rotate_disable(store: Store) -> None:
    async with running_gateway(make_settings(store)) as gw:
        await operator(gw)
        token, _ = await operators.issue_token(gw.gateway.db, "ops", 60)
        h = {"Authorization": f"Bearer {token}"}
        for bad, word in (
            ({"clientId": "a", "tps": {"SMS": -5}}, "TPS"),
            ({"clientId": "a", "reportUrl": "not-a-url"}, "http"),
            ({"clientId": "a", "tps": {"XXX": 5}}, "TPS keys"),
            ({}, "clientId"),
        ):
            r = await gw.http.post("/admin/api/clients", json=bad, headers=h)
            assert r.status_code == 400 and word in r.json()["message"], r.text
        r = await gw.http.post("/admin/api/clients", content=b"{not json", headers=h)
        assert r.status_code == 400
        r = await gw.http.post(
            "/admin/api/clients",
            json={"clientId": "shop", "tps": {"SMS": 7}, "reportUrl": "http://x/r"},
            headers=h,
        )
        assert r.status_code == 201
        creds = r.json()
        again = await gw.http.post(
            "/admin/api/clients", json={"clientId": "shop"}, headers=h
        )
        assert again.status_code == 409
        acct = Account(
            client_id="shop", secret=creds["clientSecret"], key=creds["clientKey"]
        )
        acct.token = await get_token(gw.http, acct)
        r = await gw.http.patch(
            "/admin/api/clients/shop",
            json={"tps": {"SMS": 9}, "reportUrl": "https://y/r"},
            headers=h,
        )
        assert r.status_code == 200, r.text
        assert r.json()["tps"]["SMS"] == 9
        assert r.json()["reportUrl"] == "https://y/r"
        missing = await gw.http.patch(
            "/admin/api/clients/nobody", json={"disabled": True}, headers=h
        )
        assert missing.status_code == 404
        # Disabled: its token stops working and no new one is issued.
        r = await gw.http.patch(
            "/admin/api/clients/shop", json={"disabled": True}, headers=h
        )
        assert r.json()["disabled"] is True
        sent = await gw.http.post(
            "/v1/message/sms", json=sms_body("d1"), headers=acct.headers()
        )
        assert sent.status_code == 401
        refused = await gw.http.post(
            "/v1/auth/token",
            json={
                "clientId": "shop",
                "clientSecret": acct.secret,
                "clientKey": acct.key,
            },
        )
        assert refused.status_code == 401
        await gw.http.patch(
            "/admin/api/clients/shop", json={"disabled": False}, headers=h
        )
        acct.token = await get_token(gw.http, acct)
        # A new secret: the old one no longer gets a token, the new one does.
        r = await gw.http.post("/admin/api/clients/shop/secret", headers=h)
        assert r.status_code == 200
        old_secret, acct.secret = acct.secret, r.json()["clientSecret"]
        assert old_secret != acct.secret
        acct.token = await get_token(gw.http, acct)
        r = await gw.http.post("/admin/api/clients/nobody/secret", headers=h)
        assert r.status_code == 404


async def test_stats_search_timeline_and_webhooks(
    store: Store, receiver: Receiver
) -> None:
    settings = make_settings(store, webhook={"max_retries": 1, "retry_interval": 0.05})
    async with running_gateway(settings) as gw:
        await operator(gw)
        token, _ = await operators.issue_token(gw.gateway.db, "ops", 60)
        h = {"Authorization": f"Bearer {token}"}
        acct = await new_account(gw, report_url=receiver.url)
        receiver.fail_first = 1000  # every webhook fails
        ums = []
        for i in range(5):
            r = await gw.http.post(
                "/v1/message/sms",
                json=sms_body(f"s-{i}", receiver=f"0101234000{i}"),
                headers=acct.headers(),
            )
            assert r.status_code == 200, r.text
            ums.append(r.json()["umsMsgId"])

        async def ended() -> bool:
            r = await gw.http.get("/admin/api/stats", headers=h)
            totals = r.json()["totals"]
            return bool(totals["delivered"] + totals["failed"] == 5)

        await wait_for(ended, what="5 messages ended")
        stats = (await gw.http.get("/admin/api/stats", headers=h)).json()
        assert stats["totals"]["accepted"] == 5
        assert sum(stats["accepted"]["SMS"]) == 5
        assert len(stats["minutes"]) == 60
        assert stats["deliveryRatio"] is not None
        assert set(stats["backlog"]) == {"ACCEPTED", "QUEUED", "SENDING", "SENT"}
        assert sum(stats["byConnector"]["sandbox"].values()) == 5

        found = await gw.http.get(
            "/admin/api/messages", params={"srcMsgId": "s-3"}, headers=h
        )
        assert [m["umsMsgId"] for m in found.json()["messages"]] == [ums[3]]
        by_receiver = await gw.http.get(
            "/admin/api/messages", params={"receiver": "01012340001"}, headers=h
        )
        assert [m["srcMsgId"] for m in by_receiver.json()["messages"]] == ["s-1"]
        page1 = (
            await gw.http.get("/admin/api/messages", params={"limit": 2}, headers=h)
        ).json()
        assert [m["umsMsgId"] for m in page1["messages"]] == [ums[4], ums[3]]
        page2 = (
            await gw.http.get(
                "/admin/api/messages",
                params={"limit": 2, "before": page1["next"]},
                headers=h,
            )
        ).json()
        assert [m["umsMsgId"] for m in page2["messages"]] == [ums[2], ums[1]]
        now = time.time()
        later = await gw.http.get(
            "/admin/api/messages", params={"since": now + 60}, headers=h
        )
        assert later.json()["messages"] == []
        window = await gw.http.get(
            "/admin/api/messages",
            params={"since": now - 600, "until": now + 60, "limit": 10},
            headers=h,
        )
        assert len(window.json()["messages"]) == 5
        before = await gw.http.get(
            "/admin/api/messages", params={"until": now - 600}, headers=h
        )
        assert before.json()["messages"] == []
        for bad in (
            {"status": "NOPE"},
            {"limit": 0},
            {"since": "yesterday"},
            {"receiver": "12"},
        ):
            r = await gw.http.get("/admin/api/messages", params=bad, headers=h)
            assert r.status_code == 400, bad

        timeline = (
            await gw.http.get(f"/admin/api/messages/{ums[0]}", headers=h)
        ).json()
        # The webhook's tries are on the timeline too, written after the receiver
        # answered: the message's own states end with its final one.
        statuses = [e["status"] for e in timeline["events"] if e["status"] != "WEBHOOK"]
        assert statuses[0] in {"ACCEPTED", "QUEUED"}
        assert statuses[-1] in {"DELIVERED", "FAILED"}
        assert timeline["clientId"] == acct.client_id
        for missing in ("123", "abc"):
            r = await gw.http.get(f"/admin/api/messages/{missing}", headers=h)
            assert r.status_code == 404

        async def given_up() -> bool:
            wh = (await gw.http.get("/admin/api/webhooks", headers=h)).json()
            return any(c["failed"] == 5 for c in wh["clients"])

        await wait_for(given_up, what="5 webhooks given up")
        wh = (await gw.http.get("/admin/api/webhooks", headers=h)).json()
        report = wh["reports"][0]
        assert report["state"] == "failed" and report["attempts"] == 2
        receiver.fail_first = 0
        before = len(receiver.reports)
        r = await gw.http.post(f"/admin/api/webhooks/{report['id']}/resend", headers=h)
        assert r.status_code == 200
        await wait_for(lambda: len(receiver.reports) > before, what="the resend")
        assert (
            await gw.http.post("/admin/api/webhooks/999999/resend", headers=h)
        ).status_code == 404


async def test_openapi_documents_the_admin_api(store: Store) -> None:
    async with running_gateway(make_settings(store)) as gw:
        doc = (await gw.http.get("/openapi.json")).json()
        assert "/v1/message/sms" in doc["paths"]
        for path in (
            "/admin/api/stats",
            "/admin/api/clients",
            "/admin/api/clients/{clientId}",
            "/admin/api/messages",
            "/admin/api/messages/{umsMsgId}",
            "/admin/api/connectors",
            "/admin/api/webhooks/{reportId}/resend",
        ):
            assert path in doc["paths"], path
        assert "operatorToken" in doc["components"]["securitySchemes"]
        assert "bearer" in doc["components"]["securitySchemes"]


async def test_timeline_links_a_message_and_its_fallback(sqlite_store: Store) -> None:
    settings = with_connectors(
        make_settings(sqlite_store),
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
        await operator(gw)
        token, _ = await operators.issue_token(gw.gateway.db, "ops", 60)
        h = {"Authorization": f"Bearer {token}"}
        acct = await new_account(gw)
        r = await gw.http.post(
            "/v1/message/rcs", json=rcs_body("r-1"), headers=acct.rcs_headers()
        )
        ums = r.json()["umsMsgId"]

        async def fallback() -> list[str]:
            doc = (await gw.http.get(f"/admin/api/messages/{ums}", headers=h)).json()
            found: list[str] = doc["fallbacks"]
            return found

        await wait_for(fallback, what="the fallback")
        (child,) = await fallback()
        doc = (await gw.http.get(f"/admin/api/messages/{child}", headers=h)).json()
        assert doc["kind"] == "fallback" and doc["parentId"] == ums
        assert doc["channel"] in {"SMS", "LMS"}
        http, _ = await login(gw)
        try:
            page = await http.get(f"/console/messages/{ums}")
            assert f'href="/console/messages/{child}"' in page.text
            assert "Fallback message" in page.text
        finally:
            await http.aclose()


async def test_report_urls_follow_the_outbound_policy(sqlite_store: Store) -> None:
    settings = make_settings(sqlite_store, webhook={"allow_private_targets": False})
    async with running_gateway(settings) as gw:
        await operator(gw)
        token, _ = await operators.issue_token(gw.gateway.db, "ops", 60)
        h = {"Authorization": f"Bearer {token}"}
        r = await gw.http.post(
            "/admin/api/clients",
            json={"clientId": "a", "reportUrl": "http://127.0.0.1/r"},
            headers=h,
        )
        assert r.status_code == 400 and "127.0.0.1" in r.json()["message"], r.text
        r = await gw.http.post("/admin/api/clients", json={"clientId": "a"}, headers=h)
        assert r.status_code == 201
        r = await gw.http.patch(
            "/admin/api/clients/a", json={"reportUrl": "http://10.1.2.3/r"}, headers=h
        )
        assert r.status_code == 400


async def test_malformed_admin_requests_get_the_api_s_own_errors(
    sqlite_store: Store,
) -> None:
    async with running_gateway(make_settings(sqlite_store)) as gw:
        await operator(gw)
        token, _ = await operators.issue_token(gw.gateway.db, "ops", 60)
        bearer = {"Authorization": f"Bearer {token}"}
        # TPS that is not an object of channels.
        for doc in ({"clientId": "a", "tps": [None]}, {"clientId": "a", "tps": 5}):
            r = await gw.http.post("/admin/api/clients", json=doc, headers=bearer)
            assert r.status_code == 400, r.text
            assert "tps" in r.json()["message"]
        r = await gw.http.patch(
            "/admin/api/clients/a", json={"tps": [None, None]}, headers=bearer
        )
        assert r.status_code == 400, r.text
        # A time past any message id's.
        r = await gw.http.get(
            "/admin/api/messages", params={"since": "7.6e123"}, headers=bearer
        )
        assert r.status_code == 400, r.text
        # A report id that is no number: JSON, as every answer of this API.
        r = await gw.http.post("/admin/api/webhooks/x%C3%BF/resend", headers=bearer)
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/json")
        # A client that exists already: 409, documented.
        assert (
            await gw.http.post(
                "/admin/api/clients", json={"clientId": "twice"}, headers=bearer
            )
        ).status_code == 201
        r = await gw.http.post(
            "/admin/api/clients", json={"clientId": "twice"}, headers=bearer
        )
        assert r.status_code == 409
