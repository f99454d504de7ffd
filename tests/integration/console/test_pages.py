"""The console's pages over real HTTP: the login (cookie attributes, wrong
passwords, the backoff), redirects without a session, CSRF on every form, logout,
English and Korean, escaping, and what each page shows."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx

from tests.conftest import Store, make_settings, new_account, running_gateway, sms_body
from tests.integration.console.support import PASSWORD, csrf_of, login, operator
from umsgate.testing import wait_for


async def test_login_cookie_logout_and_redirects(store: Store) -> None:
    async with running_gateway(make_settings(store)) as gw:
        await operator(gw)
        bare = await gw.http.get("/console", follow_redirects=True)
        assert bare.url.path == "/console/login"
        for path in ("/console/", "/console/messages?srcMsgId=a", "/console/clients"):
            r = await gw.http.get(path)
            assert r.status_code == 303
            assert r.headers["location"].startswith("/console/login?next=")
        http = httpx.AsyncClient(base_url=gw.url)
        try:
            form = await http.get("/console/login")
            assert '<html lang="en">' in form.text
            assert 'for="username"' in form.text and 'for="password"' in form.text
            # The login form has a CSRF token of its own.
            no_token = await http.post(
                "/console/login", data={"username": "ops", "password": PASSWORD}
            )
            assert no_token.status_code == 403
            token = csrf_of(form.text)
            wrong = await http.post(
                "/console/login",
                data={"username": "ops", "password": "wrong pass", "csrf": token},
            )
            assert wrong.status_code == 401
            assert "wrong" in wrong.text
            r = await http.post(
                "/console/login?next=/console/clients",
                data={"username": "ops", "password": PASSWORD, "csrf": token},
            )
            assert r.status_code == 303
            assert r.headers["location"] == "/console/clients"
            cookie = r.headers["set-cookie"]
            assert "umsgate_session=" in cookie
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie
            assert "Secure" not in cookie  # plain HTTP here
            page = await http.get("/console/clients")
            assert page.status_code == 200
            csrf = csrf_of(page.text)
            refused = await http.post("/console/logout")
            assert refused.status_code == 403
            out = await http.post("/console/logout", data={"csrf": csrf})
            assert out.status_code == 303
            assert (await http.get("/console/")).status_code == 303
        finally:
            await http.aclose()


async def test_no_open_redirect_after_login(store: Store) -> None:
    async with running_gateway(make_settings(store)) as gw:
        await operator(gw)
        async with httpx.AsyncClient(base_url=gw.url) as http:
            token = csrf_of((await http.get("/console/login")).text)
            r = await http.post(
                "/console/login?next=//evil.example/",
                data={"username": "ops", "password": PASSWORD, "csrf": token},
            )
            assert r.headers["location"] == "/console/"


async def test_failed_logins_back_off(sqlite_store: Store) -> None:
    settings = make_settings(sqlite_store, console={"login_free_failures": 2})
    async with running_gateway(settings) as gw:
        await operator(gw)
        async with httpx.AsyncClient(base_url=gw.url) as http:
            token = csrf_of((await http.get("/console/login")).text)
            codes = []
            for _ in range(3):
                r = await http.post(
                    "/console/login",
                    data={"username": "ops", "password": "nope nope", "csrf": token},
                )
                codes.append(r.status_code)
            assert codes == [401, 401, 429]
            assert int(r.headers["retry-after"]) >= 1
            # The right password waits too, until the backoff is over.
            r = await http.post(
                "/console/login",
                data={"username": "ops", "password": PASSWORD, "csrf": token},
            )
            assert r.status_code == 429


async def test_pages_show_the_gateway_in_both_languages(store: Store) -> None:
    async with running_gateway(make_settings(store)) as gw:
        await operator(gw)
        acct = await new_account(gw, client_id="shop")
        # A srcMsgId that is markup (client ids cannot be): shown as text.
        r = await gw.http.post(
            "/v1/message/sms", json=sms_body("<b>find-me</b>"), headers=acct.headers()
        )
        assert r.status_code == 200
        ums = r.json()["umsMsgId"]
        http, _csrf = await login(gw)
        try:

            async def ended() -> bool:
                page = await http.get(f"/console/messages/{ums}")
                return "DELIVERED" in page.text or "FAILED" in page.text

            await wait_for(ended, what="the message's end")
            for path in (
                "/console/",
                "/console/messages",
                "/console/clients",
                "/console/connectors",
                "/console/webhooks",
            ):
                page = await http.get(path)
                assert page.status_code == 200, path
                text = page.text
                assert '<a class="skip" href="#main">' in text
                assert '<main id="main"' in text and "<h1>" in text
                assert 'aria-current="page"' in text
                # Data is escaped: the srcMsgId shows as text, never as markup.
                assert "<b>find-me</b>" not in text
                assert "content-security-policy" in page.headers
            clients_page = await http.get("/console/clients")
            assert ">shop<" in clients_page.text
            found = await http.get(
                "/console/messages", params={"srcMsgId": "<b>find-me</b>"}
            )
            assert f'href="/console/messages/{ums}"' in found.text
            assert "&lt;b&gt;find-me&lt;/b&gt;" in found.text
            none = await http.get("/console/messages", params={"srcMsgId": "nothing"})
            assert "No message matches." in none.text
            bad = await http.get("/console/messages", params={"status": "BOGUS"})
            assert bad.status_code == 400
            timeline = await http.get(f"/console/messages/{ums}")
            assert "<caption>Timeline</caption>" in timeline.text
            assert (await http.get("/console/messages/42")).status_code == 404
            dash = await http.get("/console/")
            assert "<svg" in dash.text and 'role="img"' in dash.text
            conn = await http.get("/console/connectors")
            assert 'data-state="up"' in conn.text and ">sandbox<" in conn.text
            # Korean by ?lang=, remembered by a cookie, or by Accept-Language.
            ko = await http.get("/console/?lang=ko")
            assert '<html lang="ko">' in ko.text and "대시보드" in ko.text
            assert '<html lang="ko">' in (await http.get("/console/clients")).text
            # The checks' errors too: a search with a status that is none.
            bad_ko = await http.get("/console/messages", params={"status": "BOGUS"})
            assert bad_ko.status_code == 400
            assert "상태는 " in bad_ko.text and " 중 하나입니다." in bad_ko.text
            http.cookies.delete("umsgate_lang")
            by_header = await http.get(
                "/console/webhooks", headers={"Accept-Language": "ko-KR,ko;q=0.9"}
            )
            assert '<html lang="ko">' in by_header.text and "웹훅" in by_header.text
            css = await http.get("/console/static/console.css")
            assert css.status_code == 200 and ":focus-visible" in css.text
        finally:
            await http.aclose()


async def test_client_forms_need_the_csrf_token(store: Store) -> None:
    async with running_gateway(make_settings(store)) as gw:
        await operator(gw)
        http, csrf = await login(gw)
        try:
            refused = await http.post("/console/clients", data={"clientId": "c1"})
            assert refused.status_code == 403
            wrong = await http.post(
                "/console/clients", data={"clientId": "c1", "csrf": "x" * 43}
            )
            assert wrong.status_code == 403
            made = await http.post(
                "/console/clients",
                data={"clientId": "c1", "tpsSms": "5", "tpsMms": "6", "csrf": csrf},
            )
            assert made.status_code == 200
            assert "clientSecret" in made.text
            secret = re.search(
                r"<dt>clientSecret</dt><dd class=\"secret\">([^<]+)</dd>", made.text
            )
            assert secret is not None
            bad = await http.post(
                "/console/clients",
                data={"clientId": "c2", "tpsSms": "-5", "csrf": csrf},
            )
            assert bad.status_code == 400 and "whole number" in bad.text
            saved = await http.post(
                "/console/clients/c1",
                data={
                    "tpsSms": "9",
                    "reportUrl": "https://example.com/r",
                    "csrf": csrf,
                },
            )
            assert "Saved." in saved.text
            rotated = await http.post("/console/clients/c1/secret", data={"csrf": csrf})
            assert "New secret of c1" in rotated.text
            assert secret.group(1) not in rotated.text
            off = await http.post(
                "/console/clients/c1/state", data={"disabled": "1", "csrf": csrf}
            )
            assert "Disabled" in off.text
            refused = await http.post(
                "/console/clients/c1/state", data={"disabled": "0"}
            )
            assert refused.status_code == 403
            listed = await http.get("/admin/api/clients")
            (row,) = listed.json()["clients"]
            assert row["disabled"] is True and row["tps"]["SMS"] == 9
        finally:
            await http.aclose()


async def test_a_form_too_large_is_refused(sqlite_store: Store) -> None:
    """A form is read with the limit of every body: one sent in chunks with no
    length is refused with the login page and 400, never taken whole."""
    async with running_gateway(make_settings(sqlite_store)) as gw:
        await operator(gw)
        async with httpx.AsyncClient(base_url=gw.url) as http:
            token = csrf_of((await http.get("/console/login")).text)

            async def chunks() -> AsyncIterator[bytes]:
                yield f"csrf={token}&username=ops&password=".encode()
                for _ in range(40):
                    yield b"x" * 1024

            big = await http.post(
                "/console/login",
                content=chunks(),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert big.status_code == 400
            assert "too large" in big.text
            fine = await http.post(
                "/console/login",
                data={"username": "ops", "password": PASSWORD, "csrf": token},
            )
            assert fine.status_code == 303
