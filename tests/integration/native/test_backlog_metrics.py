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
