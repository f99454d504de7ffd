"""Operator accounts, console sessions and their expiry, operator tokens, and the
login backoff, on real SQLite and PostgreSQL stores."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Store, make_settings
from umsgate.config import ConsoleSettings
from umsgate.console import operators
from umsgate.console.operators import LoginLimiter, Sessions, TooManyFailures
from umsgate.store import migrate
from umsgate.store.database import Database, open_database


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def _db(store: Store) -> Database:
    db = open_database(make_settings(store))
    await migrate.upgrade(db)
    return db


async def test_add_list_passwd_remove(store: Store) -> None:
    db = await _db(store)
    try:
        await operators.add_operator(db, "alice", "long enough pw")
        with pytest.raises(operators.OperatorError, match="exists already"):
            await operators.add_operator(db, "alice", "long enough pw")
        with pytest.raises(operators.OperatorError, match="username"):
            await operators.add_operator(db, "bad name!", "long enough pw")
        with pytest.raises(operators.OperatorError, match="password"):
            await operators.add_operator(db, "bob", "short")
        assert [o["username"] for o in await operators.list_operators(db)] == ["alice"]
        sessions = Sessions(db, ConsoleSettings())
        new = await sessions.login("alice", "long enough pw", "127.0.0.1")
        assert new is not None
        token, _ = await operators.issue_token(db, "alice", 3600)
        assert await sessions.session(new.id) is not None
        assert await sessions.token(token) is not None
        # A new password ends the sessions and tokens made with the old one.
        await operators.set_password(db, "alice", "another long pw")
        assert await sessions.session(new.id) is None
        assert await sessions.token(token) is None
        assert await sessions.login("alice", "long enough pw", "127.0.0.2") is None
        assert await sessions.login("alice", "another long pw", "127.0.0.3")
        await operators.remove_operator(db, "alice")
        assert await operators.list_operators(db) == []
        with pytest.raises(operators.OperatorError, match="no operator"):
            await operators.remove_operator(db, "alice")
    finally:
        await db.close()


async def test_sessions_end_when_idle_or_too_old(sqlite_store: Store) -> None:
    db = await _db(sqlite_store)
    clock = Clock()
    try:
        await operators.add_operator(db, "ops", "long enough pw")
        sessions = Sessions(
            db, ConsoleSettings(session_idle=600, session_max=3600), clock=clock
        )
        idle = await sessions.login("ops", "long enough pw", "a")
        assert idle is not None
        clock.now += 599
        assert await sessions.session(idle.id) is not None
        clock.now += 599  # used 599 s ago: still alive
        assert await sessions.session(idle.id) is not None
        clock.now += 600
        assert await sessions.session(idle.id) is None
        old = await sessions.login("ops", "long enough pw", "a")
        assert old is not None
        for _ in range(6):
            clock.now += 590
            assert await sessions.session(old.id) is not None
        clock.now += 590  # 3,540 + 590 s after the login
        assert await sessions.session(old.id) is None
        assert await sessions.session("not-a-session") is None
    finally:
        await db.close()


async def test_tokens_expire_and_are_stored_hashed(sqlite_store: Store) -> None:
    db = await _db(sqlite_store)
    clock = Clock()
    try:
        await operators.add_operator(db, "ops", "long enough pw")
        token, expires = await operators.issue_token(db, "ops", 60, now=clock.now)
        assert token.startswith("umsop_") and expires == clock.now + 60
        sessions = Sessions(db, ConsoleSettings(), clock=clock)
        assert await sessions.token(token) is not None
        async with db.read() as conn:
            stored = await conn.exec_driver_sql("SELECT hash FROM operator_tokens")
            assert token not in {r[0] for r in stored}
        clock.now += 60
        assert await sessions.token(token) is None
        assert await sessions.purge() == 1
        with pytest.raises(operators.OperatorError, match="no operator"):
            await operators.issue_token(db, "nobody", 60)
        with pytest.raises(operators.OperatorError, match="90 days"):
            await operators.issue_token(db, "ops", 91 * 86400)
    finally:
        await db.close()


async def test_no_token_outlives_its_operator_removed_meanwhile(store: Store) -> None:
    """Issuing a token while another process removes its operator fails on
    PostgreSQL as on SQLite: the issue waits for the removal to commit and then
    finds no operator, instead of leaving a token that goes on working."""
    db = await _db(store)
    other = open_database(make_settings(store))
    try:
        await operators.add_operator(db, "ops", "long enough pw")
        async with other.driver.transaction() as tx:
            # remove_operator's statements, in a transaction not committed yet.
            await tx.execute("DELETE FROM operators WHERE username = ?", ("ops",))
            await tx.execute("DELETE FROM operator_tokens WHERE username = ?", ("ops",))
            issue = asyncio.create_task(operators.issue_token(db, "ops", 3600))
            done, _ = await asyncio.wait({issue}, timeout=1.0)
            assert not done, "the token was issued before the removal committed"
        with pytest.raises(operators.OperatorError, match="no operator"):
            await issue
        rows = await other.driver.fetch("SELECT hash FROM operator_tokens")
        assert rows == []
    finally:
        await other.close()
        await db.close()


def test_ttl_words() -> None:
    assert operators.parse_ttl("90") == 90
    assert operators.parse_ttl("15m") == 900
    assert operators.parse_ttl("1h") == 3600
    assert operators.parse_ttl("7d") == 7 * 86400
    with pytest.raises(operators.OperatorError):
        operators.parse_ttl("1 week")


def test_login_backoff_per_username_and_address() -> None:
    clock = Clock()
    limiter = LoginLimiter(free=3, most=300, clock=clock)
    for _ in range(3):
        limiter.check("ops", "10.0.0.1")
        limiter.failed("ops", "10.0.0.1")
    # The fourth try waits 1 s, for this username from any address…
    with pytest.raises(TooManyFailures):
        limiter.check("ops", "10.0.0.9")
    # …and for any username from this address.
    with pytest.raises(TooManyFailures):
        limiter.check("other", "10.0.0.1")
    limiter.check("other", "10.0.0.9")
    clock.now += 1
    limiter.check("ops", "10.0.0.1")
    limiter.failed("ops", "10.0.0.1")
    clock.now += 1.5  # the next wait is 2 s
    with pytest.raises(TooManyFailures) as info:
        limiter.check("ops", "10.0.0.1")
    assert info.value.retry_after >= 0.5
    clock.now += 0.5
    limiter.succeeded("ops", "10.0.0.1")
    limiter.check("ops", "10.0.0.1")
    # An unknown address is no bucket of its own: only the username counts.
    for user in ("a", "b", "c", "d"):
        limiter.failed(user, "")
    limiter.check("e", "")


async def test_logins_at_once_with_wrong_passwords_cost_free_checks(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # Sixteen wrong passwords for one username at the same time: the checks under
    # way count as failures to come, so only `login_free_failures` passwords are
    # checked and the others are refused at once; then the username is locked
    # out, the right password too.
    db = await _db(sqlite_store)
    try:
        await operators.add_operator(db, "ops", "long enough pw")
        sessions = Sessions(db, ConsoleSettings(login_free_failures=3))
        outcomes = await asyncio.gather(
            *(
                sessions.login("ops", f"wrong password {i}", f"10.0.0.{i}")
                for i in range(16)
            ),
            return_exceptions=True,
        )
        refused = [o for o in outcomes if isinstance(o, TooManyFailures)]
        assert outcomes.count(None) == 3 and len(refused) == 13, outcomes
        assert sessions.limiter.guard.clients.failures("ops") == 3
        with pytest.raises(TooManyFailures):
            await sessions.login("ops", "long enough pw", "10.0.1.1")
    finally:
        await db.close()
    # The lockout is logged once, with what was locked out.
    lines = [
        r.getMessage()
        for r in caplog.records
        if getattr(r, "event", "") == "auth_lockout"
    ]
    assert len(lines) == 1 and "console logins" in lines[0], lines
    assert "username 'ops'" in lines[0], lines
