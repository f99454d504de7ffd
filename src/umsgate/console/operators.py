"""Operator accounts, console sessions, operator tokens and the login backoff.

Passwords are scrypt hashes (`umsgate.hashing`, the parameters of client secrets),
checked in the gateway's bounded `HashPool`.
A session is a random id in an HttpOnly cookie; the store keeps only its SHA-256,
with its CSRF token, its last use and its absolute end: it ends after
``console.session_idle`` seconds unused or ``console.session_max`` seconds after the
login. Operator tokens (for scripts) are random, stored as SHA-256 digests, and
expire. Changing a password or removing an operator ends its sessions and tokens.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import secrets
import time
from collections.abc import Callable

from umsgate import clients, hashing, lockout
from umsgate.config import ConsoleSettings
from umsgate.errors import UmsgateError
from umsgate.store import operators as store
from umsgate.store.database import Database

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
#: Shortest password accepted (NIST SP 800-63B §5.1.1.2: at least 8).
MIN_PASSWORD = 8
#: Longest password accepted (scrypt hashes any length; a bound keeps it cheap).
MAX_PASSWORD = 1024
#: Longest operator token lifetime: 90 days.
MAX_TOKEN_TTL = 90 * 86400.0
#: Prefix of operator tokens, so a leaked one is recognisable.
TOKEN_PREFIX = "umsop_"
#: A session's last use is written at most this often (seconds).
TOUCH_EVERY = 30.0
#: Addresses and usernames whose failures are remembered, at most.
LIMITER_SIZE = 10_000


class OperatorError(UmsgateError):
    """The operator request is not acceptable."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Operator:
    """Who is asking: by a console session (with its CSRF token) or a token."""

    username: str
    #: The session's CSRF token; None for a bearer token.
    csrf: str | None = None
    #: SHA-256 of the session id (for logout); "" for a bearer token.
    session: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NewSession:
    #: The cookie value (shown only now).
    id: str
    csrf: str
    expires_at: float


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise OperatorError(
            "a username is 1-64 letters, digits or . _ @ - (starting with a letter "
            "or digit)"
        )
    return username


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise OperatorError(
            f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )
    return password


async def add_operator(
    db: Database, username: str, password: str, *, now: float | None = None
) -> None:
    check_username(username)
    check_password(password)
    digest = await asyncio.to_thread(hashing.hash_secret, password)
    t = time.time() if now is None else now
    record = store.OperatorRecord(
        username=username, password_hash=digest, created_at=t, updated_at=t
    )
    if not await store.add_operator(db, record):
        raise OperatorError(f"operator {username!r} exists already")


async def list_operators(db: Database) -> list[dict[str, object]]:
    return [
        {"username": r.username, "createdAt": r.created_at, "updatedAt": r.updated_at}
        for r in await store.list_operators(db)
    ]


async def remove_operator(db: Database, username: str) -> None:
    if not await store.remove_operator(db, username):
        raise OperatorError(f"no operator {username!r}")


async def set_password(db: Database, username: str, password: str) -> None:
    """Change an operator's password; its sessions and tokens end."""
    check_password(password)
    digest = await asyncio.to_thread(hashing.hash_secret, password)
    if not await store.set_password(db, username, digest, time.time()):
        raise OperatorError(f"no operator {username!r}")


async def issue_token(
    db: Database, username: str, ttl: float, *, now: float | None = None
) -> tuple[str, float]:
    """A bearer token for the admin API and when it expires."""
    if not 0 < ttl <= MAX_TOKEN_TTL:
        raise OperatorError(
            f"a token lives more than 0 s and at most {MAX_TOKEN_TTL:g} s (90 days)"
        )
    t = time.time() if now is None else now
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = store.TokenRecord(
        hash=clients.sha256_hex(token),
        username=username,
        created_at=t,
        expires_at=t + ttl,
    )
    if not await store.add_token(db, record):
        raise OperatorError(f"no operator {username!r}")
    return token, t + ttl


def parse_ttl(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``1h`` or ``7d`` in seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if match is None:
        raise OperatorError(f"a lifetime is a number with s, m, h or d, not {text!r}")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * unit


class Sessions:
    """Logins, sessions and tokens of one gateway process."""

    def __init__(
        self,
        db: Database,
        settings: ConsoleSettings,
        *,
        hashes: hashing.HashPool | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Args:
        hashes: the pool that checks passwords (the gateway's; default: a
            thread per check).
        """
        self._db = db
        self.settings = settings
        self._hashes = hashes
        self._time = clock
        self.limiter = LoginLimiter(
            free=settings.login_free_failures,
            most=settings.login_backoff_max,
            clock=clock,
        )

    async def login(
        self, username: str, password: str, address: str
    ) -> NewSession | None:
        """A new session, or None when the username or password is wrong.

        Raises:
            TooManyFailures: the username or address must wait before trying again.
        """
        limiter = self.limiter
        limiter.admit(username, address)
        try:
            row = await store.get_operator(self._db, username)
            # An unknown username is checked against a dummy hash, so that it
            # takes as long as a wrong password.
            stored = hashing.DUMMY_HASH if row is None else row.password_hash
            if self._hashes is None:
                ok = await asyncio.to_thread(hashing.verify_secret, password, stored)
            else:
                try:
                    async with self._hashes.turn():
                        # A lockout may have begun while this waited its turn.
                        limiter.check(username, address)
                        ok = await self._hashes.verify(password, stored)
                except hashing.PoolBusy:
                    raise TooManyFailures(1.0) from None
            if row is None or not ok:
                limiter.failed(username, address)
                return None
        finally:
            limiter.finished(username)
        limiter.succeeded(username, address)
        now = self._time()
        new = NewSession(
            id=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            expires_at=now + self.settings.session_max,
        )
        await store.add_session(
            self._db,
            store.SessionRecord(
                hash=clients.sha256_hex(new.id),
                username=username,
                csrf=new.csrf,
                created_at=now,
                last_seen=now,
                expires_at=new.expires_at,
            ),
        )
        return new

    async def session(self, session_id: str) -> Operator | None:
        """The operator of a live session (marking it used), or None."""
        if not session_id or len(session_id) > 100:
            return None
        digest = clients.sha256_hex(session_id)
        row = await store.get_session(self._db, digest)
        now = self._time()
        if row is None:
            return None
        if now >= row.expires_at or now - row.last_seen >= self.settings.session_idle:
            await store.delete_session(self._db, digest)
            return None
        if now - row.last_seen >= TOUCH_EVERY:
            await store.touch_session(self._db, digest, now)
        return Operator(username=row.username, csrf=row.csrf, session=digest)

    async def logout(self, operator: Operator) -> None:
        if operator.session:
            await store.delete_session(self._db, operator.session)

    async def token(self, token: str) -> Operator | None:
        """The operator of a bearer token that has not expired, or None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return None
        row = await store.get_token(self._db, clients.sha256_hex(token))
        if row is None or self._time() >= row.expires_at:
            return None
        return Operator(username=row.username)

    async def purge(self) -> int:
        return await store.delete_expired(
            self._db, self._time(), self.settings.session_idle
        )


class TooManyFailures(OperatorError):
    """Too many failed logins: wait before trying again."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after:.0f} s")
        self.retry_after = retry_after


class LoginLimiter:
    """Failed logins per username and per client address (an IPv6 address by its
    /64), with the lockouts of `umsgate.lockout`: after ``free`` failures in a
    row each further try waits 1 s, doubled per failure, at most ``most`` seconds.
    A success clears the username. An unknown address ("") counts for nothing, so
    that requests passed on by the front processes do not share one. Checks under
    way count as failures to come (`lockout.Guard`): sixteen logins at once with
    wrong passwords cost ``free`` password checks, not sixteen, and the others are
    refused at once. Kept per process, in memory."""

    def __init__(
        self, *, free: int, most: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._time = clock
        self.guard = lockout.Guard(
            client_free=free,
            address_free=free,
            max_seconds=most,
            keys=LIMITER_SIZE,
            checked="console logins",
            key_name="username",
        )

    def admit(self, username: str, address: str) -> None:
        """Let a check of ``username``'s password begin (call `finished` after it).

        Raises:
            TooManyFailures: the username or address is locked out, or as many
                checks of the username are under way as it has failures left.
        """
        _refuse(self.guard.admit(username, address, self._time()))

    def check(self, username: str, address: str) -> None:
        """Raises `TooManyFailures` while the username or address is locked out."""
        _refuse(self.guard.check(username, address, self._time()))

    def finished(self, username: str) -> None:
        self.guard.finished(username)

    def failed(self, username: str, address: str) -> None:
        self.guard.failed(username, address, self._time())

    def succeeded(self, username: str, address: str) -> None:
        self.guard.succeeded(username)


def _refuse(refusal: lockout.Refusal | None) -> None:
    if refusal is not None:
        raise TooManyFailures(max(1.0, refusal.retry_after))
