"""/metrics counts the backlog: messages not final yet by status and channel, and
the reports waiting for their webhook with the age of the oldest."""

from __future__ import annotations

import re

from tests.conftest import Store, make_settings, new_account, running_gateway, sms_body
from umsgate.testing import wait_for


def gauges(text: str, name: str) -> dict[str, float]:
    """``labels → value`` of one metric family in the exposition text."""
    out: dict[str, float] = {}
    for m in re.finditer(rf"^{name}(\{{[^}}]*\}})? (\S+)$", text, re.MULTILINE):
        out[m.group(1) or ""] = float(m.group(2))
    return out


async def test_backlog_and_waiting_webhooks_show_in_metrics(store: Store) -> None:
    # Reports held 1 s by the sandbox; webhooks to a port where nothing listens.
    settings = make_settings(store, sandbox={"delay": 1.0})
    async with running_gateway(settings) as gw:
        acct = await new_account(gw, report_url="http://127.0.0.1:9/reports")
        for i in range(3):
            r = await gw.http.post(
                "/v1/message/sms", json=sms_body(f"backlog-{i}"), headers=acct.headers()
            )
            assert r.status_code == 200, r.text
        text = (await gw.http.get("/metrics")).text
        backlog = gauges(text, "umsgate_backlog_messages")
        assert sum(backlog.values()) == 3, backlog
        assert all('channel="SMS"' in labels for labels in backlog)
        assert gauges(text, "umsgate_webhook_backlog") == {"": 0.0}

        state: dict[str, dict[str, float]] = {}

        async def scraped() -> bool:
            text = (await gw.http.get("/metrics")).text
            state["backlog"] = gauges(text, "umsgate_backlog_messages")
            state["webhooks"] = gauges(text, "umsgate_webhook_backlog")
            state["oldest"] = gauges(text, "umsgate_webhook_oldest_pending_seconds")
            return state["webhooks"] == {"": 3.0}

        await wait_for(scraped, timeout=20, interval=0.5, what="3 waiting webhooks")
        # Every message final: the statuses counted before now read 0.
        assert state["backlog"] and set(state["backlog"].values()) == {0.0}
        assert state["oldest"][""] > 0


async def test_outcomes_and_latencies_by_status_channel_and_connector(
    store: Store,
) -> None:
    settings = make_settings(
        store, sandbox={"delay": 0.05, "mix": {"2001": 0.5}, "seed": 3}
    )
    async with running_gateway(settings) as gw:
        acct = await new_account(gw)
        sandbox = gw.gateway.connectors["sandbox"]
        ids = []
        for i in range(20):
            r = await gw.http.post(
                "/v1/message/sms", json=sms_body(f"outcome-{i}"), headers=acct.headers()
            )
            assert r.status_code == 200, r.text
            ids.append(int(r.json()["umsMsgId"]))
        drawn = [sandbox.mix.draw(f"{mid}:1") for mid in ids]
        failed = sum(code != "1000" for code in drawn)
        assert 0 < failed < 20  # the mix gives both outcomes

        async def counted() -> bool:
            text = (await gw.http.get("/metrics")).text
            state["finals"] = gauges(text, "umsgate_messages_final_total")
            state["sent"] = gauges(text, "umsgate_accept_to_sent_seconds_count")
            state["final"] = gauges(text, "umsgate_sent_to_final_seconds_count")
            return sum(state["finals"].values()) == 20

        state: dict[str, dict[str, float]] = {}
        await wait_for(counted, timeout=20, interval=0.2, what="20 final messages")
    labels = 'channel="SMS",connector="sandbox"'
    assert state["finals"] == {
        f'{{{labels},status="DELIVERED"}}': 20 - failed,
        f'{{{labels},status="FAILED"}}': failed,
    }
    assert state["sent"] == {'{channel="SMS"}': 20.0}
    assert state["final"] == {f"{{{labels}}}": 20.0}
