"""The console's dictionary, HTML escaping and charts, without a server."""

from __future__ import annotations

from types import SimpleNamespace

from starlette.requests import Request
from starlette.responses import Response

from umsgate.config import ConsoleSettings
from umsgate.console import auth, charts, html, i18n
from umsgate.console.operators import NewSession


def _request(query: str = "", headers: dict[str, str] | None = None) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request(
        {"type": "http", "query_string": query.encode(), "headers": raw, "path": "/"}
    )


def test_both_languages_have_every_word() -> None:
    assert set(i18n.TEXT["en"]) == set(i18n.TEXT["ko"])
    for lang in i18n.LANGUAGES:
        assert all(i18n.TEXT[lang].values())


def test_language_choice() -> None:
    assert i18n.language(_request()) == "en"
    assert i18n.language(_request("lang=ko")) == "ko"
    assert i18n.language(_request("lang=xx")) == "en"
    assert i18n.language(_request(headers={"Accept-Language": "ko-KR,en;q=0.5"})) == (
        "ko"
    )
    assert i18n.language(_request(headers={"Accept-Language": "fr, en;q=0.5"})) == "en"
    words = i18n.Words("ko")
    assert words("logged_in_as", name="ops") == "ops(으)로 로그인됨"


def test_escaping() -> None:
    assert html.e('<a href="x">&') == "&lt;a href=&quot;x&quot;&gt;&amp;"
    assert html.e(None) == ""
    assert html.url("/messages", srcMsgId='a"b', empty="") == (
        "/console/messages?srcMsgId=a%22b"
    )
    table = html.table("cap<", ["h&"], [["<b>ok</b>"]], empty="none")
    assert "<caption>cap&lt;</caption>" in table and '<th scope="col">h&amp;' in table


def test_chart_is_an_accessible_svg() -> None:
    svg = charts.line_chart("Sent <now>", {"SMS": [0, 1, 2], "LMS": [3, 0, 0]}, 3)
    assert 'role="img"' in svg and "<title>Sent &lt;now&gt;</title>" in svg
    assert svg.count("<polyline") == 2
    assert "SMS (3)" in svg and "LMS (3)" in svg
    assert "stroke-dasharray" in svg  # the lines differ by more than colour


def test_session_cookie_is_secure_over_tls() -> None:
    app = SimpleNamespace(
        state=SimpleNamespace(
            gateway=SimpleNamespace(
                operator_sessions=SimpleNamespace(settings=ConsoleSettings())
            )
        )
    )
    new = NewSession(id="abc", csrf="def", expires_at=0.0)
    for scheme, secure in (("https", True), ("http", False)):
        request = Request(
            {
                "type": "http",
                "scheme": scheme,
                "server": ("example.com", 443),
                "path": "/",
                "query_string": b"",
                "headers": [],
                "app": app,
            }
        )
        response = Response()
        auth.set_session_cookie(request, response, new)
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Max-Age=43200" in cookie and "Path=/" in cookie
        assert ("Secure" in cookie) is secure


def test_errors_of_the_checks_are_shown_in_korean_too() -> None:
    from umsgate.console.i18n import ERRORS, Words

    en, ko = Words("en"), Words("ko")
    assert en.error("client 'shop' exists already") == "client 'shop' exists already"
    assert ko.error("client 'shop' exists already") == (
        "클라이언트 'shop'이(가) 이미 있습니다."
    )
    assert ko.error("TPS of SMS must be 1..1000000") == (
        "SMS TPS는 1부터 1000000까지입니다."
    )
    # A message no sentence knows: a Korean lead, then the detail as it is.
    odd = ko.error("something new went wrong")
    assert odd.startswith("입력값을 확인하세요: ")
    assert odd.endswith("something new went wrong")
    # Every sentence has as many places as its pattern has groups.
    for pattern, korean in ERRORS:
        assert korean.count("{") == pattern.groups
