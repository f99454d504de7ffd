"""The gateway's service endpoints beside the API: /healthz, /metrics, /openapi.json
and /docs."""

from __future__ import annotations

import html
import re

import httpx

from tests.conftest import Store, make_settings, new_account, running_gateway, sms_body
from umsgate import __version__


async def test_service_endpoints(store: Store) -> None:
    async with running_gateway(make_settings(store)) as gw:
        r = await gw.http.get("/healthz")
        assert r.status_code == 200
        health = r.json()
        assert health["status"] == "ok"
        assert health["version"] == __version__
        assert health["node"] == gw.gateway.nodes.node_id
        assert health["connectors"]["sandbox"]["up"] is True

        acct = await new_account(gw)
        for i in range(3):
            r = await gw.http.post(
                "/v1/message/sms", json=sms_body(f"m-{i}"), headers=acct.headers()
            )
            assert r.status_code == 200
        await gw.http.post(
            "/v1/message/sms", json=sms_body("m-0"), headers=acct.headers()
        )
        await gw.http.post(
            "/v1/message/sms",
            json=sms_body("bad", receiver="0"),
            headers=acct.headers(),
        )
        r = await gw.http.get("/metrics")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        text = r.text
        assert "# TYPE umsgate_messages_accepted_total counter" in text
        assert 'umsgate_messages_accepted_total{channel="SMS",repeat="no"} 3.0' in text
        assert 'umsgate_messages_accepted_total{channel="SMS",repeat="yes"} 1.0' in text
        assert (
            'umsgate_requests_rejected_total{channel="sms",reason="bad_receiver"} 1.0'
            in text
        )

        r = await gw.http.get("/openapi.json")
        assert r.status_code == 200
        schema = r.json()
        assert schema["openapi"].startswith("3.")
        assert schema["info"]["version"] == __version__
        for path in (
            "/v1/auth/token",
            "/v1/storage/file",
            "/v1/storage/{fileId}",
            "/v1/message/sms",
            "/v1/message/mms",
            "/v1/message/rcs",
            "/v1/message/kko",
            "/v1/agent/rpt/{channel}",
        ):
            assert path in schema["paths"], path
        assert "copyAllowed" in schema["components"]["schemas"]["Rcs"]["required"]

        assert "/v1/messages/{umsMsgId}" in schema["paths"]
        assert "/v1/messages" in schema["paths"]

        r = await gw.http.get("/docs")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert "/openapi.json" in r.text
        await _served_offline(gw.http, r.text)
        # Every path of the document is on the page, and so is each schema.
        for path in schema["paths"]:
            assert html.escape(path) in r.text, path
        for name in schema["components"]["schemas"]:
            assert f'id="schema-{name}"' in r.text, name


async def _served_offline(http: httpx.AsyncClient, page: str) -> None:
    """Everything the page refers to is served by the gateway itself: no URL to
    another host, and each of its own links answers."""
    assert not re.search(r"(?i)https?://", page), "a URL to another host"
    assert "//" not in re.sub(r"(?i)<!doctype[^>]*>", "", page).replace("://", "")
    links = set(re.findall(r'(?:src|href)="([^"#][^"]*)"', page))
    assert "/openapi.json" in links
    for link in links:
        assert link.startswith("/"), link
        r = await http.get(link)
        assert r.status_code == 200, link
    for target in re.findall(r'href="#([^"]+)"', page):
        assert f'id="{target}"' in page, target
