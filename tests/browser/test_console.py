"""The console in a real browser: Playwright drives Debian's Chromium
(``/usr/bin/chromium``, installed by ``scripts/test`` when missing) against a
gateway serving real HTTP, with an SMPP connector bound to a running simulator.

With ``UMSGATE_SCREENSHOTS=DIR`` the tests also save a screenshot of each page
there (``docs/console/`` holds the published ones).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import (
    Running,
    Store,
    make_settings,
    new_account,
    running_gateway,
    sms_body,
)
from tests.integration.console.support import PASSWORD, operator
from umsgate.protocols.smpp import options as smpp_options
from umsgate.protocols.smpp import simulator
from umsgate.protocols.smpp.connector import SmppConnector
from umsgate.testing import wait_for

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/test installs it)"
)
SHOTS = os.environ.get("UMSGATE_SCREENSHOTS", "")
#: Longest wait for one page condition (ms).
WAIT_MS = 10_000


def _shot_path(name: str) -> str:
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    return str(Path(SHOTS) / f"{name}.png")


async def shot(page: object, name: str) -> None:
    """A screenshot of the whole page when ``UMSGATE_SCREENSHOTS`` is set."""
    if SHOTS:
        await page.screenshot(path=_shot_path(name), full_page=True)  # type: ignore[attr-defined]


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    async with playwright_api.async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"]
        )
        try:
            yield chromium
        finally:
            await chromium.close()


def smpp_connector(port: int) -> SmppConnector:
    options = smpp_options.parse(
        "smsc1",
        {
            "host": "127.0.0.1",
            "port": port,
            "system_id": "esme",
            "password": "pw",
            "reconnect_initial": 0.05,
            "reconnect_max": 0.2,
            "connect_timeout": 2.0,
            "response_timeout": 2.0,
        },
    )
    return SmppConnector("smsc1", options)


async def log_in(running: Running, browser: object, path: str = "/console/") -> object:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    await page.goto(running.url + path)
    assert "/console/login" in page.url
    await page.get_by_label("Username").fill("ops")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**" + path)
    return page


async def test_operator_journey(sqlite_store: Store, browser: object) -> None:
    """Log in, find a message by its srcMsgId, open its timeline, create a client,
    see a stopped SMPP connector turn red, log out."""
    async with simulator.running(accounts={"esme": "pw"}, receipt_delay=0.05) as sim:
        connector = smpp_connector(sim.port)
        settings = make_settings(sqlite_store)
        async with running_gateway(settings, connectors={"smsc1": connector}) as gw:
            await operator(gw)
            acct = await new_account(gw, client_id="shop")
            for i in range(3):
                r = await gw.http.post(
                    "/v1/message/sms",
                    json=sms_body(f"order-{i}", receiver=f"0101234567{i}"),
                    headers=acct.headers(),
                )
                assert r.status_code == 200, r.text
            wanted = r.json()["umsMsgId"]
            await wait_for(lambda: connector.health().up, what="the SMPP bind")

            page = await log_in(gw, browser)
            await page.wait_for_selector("svg[role=img]")
            await shot(page, "dashboard")

            await page.get_by_role("link", name="Messages").click()
            await page.get_by_label("srcMsgId").fill("order-2")
            await page.get_by_role("button", name="Search").click()
            link = page.get_by_role("link", name=wanted)
            await link.wait_for(timeout=WAIT_MS)
            await shot(page, "messages")
            await link.click()
            await page.get_by_role("table", name="Timeline").wait_for(timeout=WAIT_MS)
            assert "ACCEPTED" in await page.content()
            await shot(page, "timeline")

            await page.get_by_role("link", name="Clients").click()
            await page.get_by_label("Client id").fill("newshop")
            await page.get_by_label("Report URL").fill("https://example.com/reports")
            await page.get_by_role("button", name="Create").click()
            await page.get_by_text("Client newshop created").wait_for(timeout=WAIT_MS)
            cell = page.get_by_role("rowheader", name="newshop")
            await cell.wait_for(timeout=WAIT_MS)
            await shot(page, "clients")

            await page.get_by_role("link", name="Connectors and routes").click()
            row = page.locator("#connectors tr", has_text="smsc1")
            assert "Up" in await row.inner_text()
            await sim.close()  # the SMSC goes away for real
            await wait_for(lambda: not connector.health().up, what="the unbind")
            await page.reload()
            row = page.locator("#connectors tr", has_text="smsc1")
            assert "Stopped" in await row.inner_text()
            assert await row.get_attribute("class") == "state-down"
            colour = await row.locator(".badge").evaluate(
                "el => getComputedStyle(el).color"
            )
            assert colour == "rgb(180, 35, 24)"  # red, besides the word
            await shot(page, "connectors")

            await page.get_by_role("link", name="Webhooks").click()
            await page.get_by_role("table").first.wait_for(timeout=WAIT_MS)
            await shot(page, "webhooks")
            await page.goto(gw.url + "/console/?lang=ko")
            await page.get_by_role("heading", name="대시보드").wait_for(timeout=WAIT_MS)
            await shot(page, "dashboard-ko")
            await page.goto(gw.url + "/console/?lang=en")

            await page.get_by_role("button", name="Log out").click()
            await page.wait_for_url("**/console/login")
            await page.goto(gw.url + "/console/clients")
            assert "/console/login" in page.url
            await shot(page, "login")


async def test_no_session_redirects_and_no_csrf_is_refused(
    sqlite_store: Store, browser: object
) -> None:
    async with running_gateway(make_settings(sqlite_store)) as gw:
        await operator(gw)
        page = await log_in(gw, browser, "/console/clients")
        # A change without the CSRF token: the form's hidden field removed.
        await page.evaluate(
            "document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())"
        )
        await page.get_by_label("Client id").fill("sneaky")
        async with page.expect_response("**/console/clients") as answer:
            await page.get_by_role("button", name="Create").click()
        assert (await answer.value).status == 403
        assert "refused" in await page.content()
        # The admin API with the page's session cookie but without the header
        # (the console's own pages may not fetch at all: connect-src is 'none').
        api = page.request
        refused = await api.post(gw.url + "/admin/api/clients", data={"clientId": "x"})
        assert refused.status == 403
        listed = await (await api.get(gw.url + "/admin/api/clients")).json()
        assert listed["clients"] == []
        other = await browser.new_page()  # type: ignore[attr-defined]
        await other.goto(gw.url + "/console/connectors")
        assert "/console/login?next=%2Fconsole%2Fconnectors" in other.url
