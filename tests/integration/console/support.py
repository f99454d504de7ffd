"""Helpers of the console's tests: an operator, a logged-in HTTP client."""

from __future__ import annotations

import re

import httpx

from tests.conftest import Running
from umsgate.console import operators

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match is not None, html[:500]
    return match.group(1)


async def operator(running: Running, username: str = "ops") -> str:
    await operators.add_operator(running.gateway.db, username, PASSWORD)
    return username


async def login(
    running: Running, username: str = "ops", password: str = PASSWORD
) -> tuple[httpx.AsyncClient, str]:
    """A new HTTP client logged in to the console, and its session's CSRF token."""
    http = httpx.AsyncClient(base_url=running.url, timeout=30)
    form = await http.get("/console/login")
    assert form.status_code == 200
    r = await http.post(
        "/console/login",
        data={"username": username, "password": password, "csrf": csrf_of(form.text)},
    )
    assert r.status_code == 303, r.text
    page = await http.get("/console/")
    assert page.status_code == 200, page.text
    return http, csrf_of(page.text)
