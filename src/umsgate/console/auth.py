"""Who is asking, for the console's pages and the admin API.

A console session is the ``umsgate_session`` cookie: HttpOnly, SameSite=Strict,
Secure when the request came over TLS, path ``/`` (the pages and the admin API).
Every request that changes something must also carry the session's CSRF token: the
``csrf`` form field of a page's form, or the ``X-CSRF-Token`` header of an API call;
it is compared in constant time and a request without it is refused with 403.
Scripts use ``Authorization: Bearer <operator token>`` instead (no cookie, so no
CSRF token either).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from umsgate.config import Settings
from umsgate.console.operators import NewSession, Operator, Sessions
from umsgate.engine.dispatcher import Dispatcher
from umsgate.engine.router import Router
from umsgate.reports.notifier import Notifier
from umsgate.store.database import Database
from umsgate.types import Connector

SESSION_COOKIE = "umsgate_session"
#: The login form's own CSRF token (a double-submit cookie, before any session).
LOGIN_COOKIE = "umsgate_login"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ConsoleHost(Protocol):
    """What the console's pages and admin API read of the gateway process (the
    composition root's `Gateway` satisfies it; see `umsgate.ports`)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def db(self) -> Database: ...
    @property
    def operator_sessions(self) -> Sessions: ...
    @property
    def connectors(self) -> Mapping[str, Connector]: ...
    @property
    def router(self) -> Router: ...
    @property
    def dispatcher(self) -> Dispatcher: ...
    @property
    def notifier(self) -> Notifier: ...


def gateway(request: Request) -> ConsoleHost:
    gw: ConsoleHost = request.app.state.gateway
    return gw


def sessions(request: Request) -> Sessions:
    return gateway(request).operator_sessions


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def client_address(request: Request) -> str:
    """The peer's address; "" when unknown (a request a front process passed on
    over a Unix socket), which the login backoff then leaves out."""
    return request.client.host if request.client and request.client.host else ""


async def operator(request: Request) -> Operator | None:
    """The operator of the request's bearer token or session cookie, or None."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return await sessions(request).token(header[7:].strip())
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if not cookie:
        return None
    return await sessions(request).session(cookie)


def csrf_ok(op: Operator, given: str | None) -> bool:
    """Whether a change may go ahead: always for a bearer token; for a session,
    when ``given`` is its CSRF token."""
    if op.csrf is None:
        return True
    if not given:
        return False
    return hmac.compare_digest(given.encode(), op.csrf.encode())


def set_session_cookie(request: Request, response: Response, new: NewSession) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        new.id,
        max_age=int(sessions(request).settings.session_max),
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_tls(request),
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_tls(request),
    )
