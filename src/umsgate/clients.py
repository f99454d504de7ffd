"""Client accounts: credentials, tokens, and the per-node cache of both.

Secrets are stored as scrypt hashes and client keys as SHA-256 digests; tokens are
random, stored only as SHA-256 digests, expire, and carry the client's ``version``:
any change of secret, key, TPS or report URL raises the version, and every token
issued before it stops working (apigw spec §3). Each node caches client rows for
``auth.cache_ttl`` seconds, so a change reaches every node within that time.

Webhook signatures use a key derived from the secret,
``HMAC-SHA256(key=clientSecret, msg="umsgate-webhook-v1")``: the client computes it from
the secret it holds, and the stored key does not reveal the secret.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from umsgate.errors import UmsgateError
from umsgate.store import queries
from umsgate.store.database import Database

#: scrypt cost (RFC 7914 interactive parameters: about 50 ms, 16 MiB).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SIGNING_CONTEXT = b"umsgate-webhook-v1"
#: Tokens remembered per node (an LRU; a miss costs one query).
TOKEN_CACHE_SIZE = 100_000
DEFAULT_TPS: Mapping[str, int] = {"SMS": 100, "MMS": 100}
MAX_CLIENT_ID = 64


class AuthError(UmsgateError):
    """The credentials were not accepted."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        #: invalid_client, unknown_key or invalid_token.
        self.kind = kind


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(
            secret.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def signing_key(secret: str) -> str:
    return hmac.new(secret.encode(), SIGNING_CONTEXT, hashlib.sha256).hexdigest()


def sign(key_hex: str, timestamp: int, body: bytes) -> str:
    """The webhook signature header value: ``t=<unix time>,v1=<hex HMAC-SHA256>`` over
    ``b"<t>." + body`` with the signing key's bytes."""
    mac = hmac.new(
        bytes.fromhex(key_hex), str(timestamp).encode() + b"." + body, hashlib.sha256
    )
    return f"t={timestamp},v1={mac.hexdigest()}"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClientInfo:
    id: str
    version: int
    report_url: str
    tps: Mapping[str, int]
    signing_key: str

    @classmethod
    def from_row(cls, row: Any) -> ClientInfo:
        return cls(
            id=row.id,
            version=int(row.version),
            report_url=row.report_url,
            tps=orjson.loads(row.tps),
            signing_key=row.signing_key,
        )

    def tps_for(self, key: str) -> float | None:
        """TPS of a channel key; None when the account sets no limit for it
        (apigw spec §14: RCS/KKO are limited only when the table names them)."""
        value = self.tps.get(key)
        return None if value is None else float(value)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class IssuedToken:
    token: str
    expires_at: float
    client: ClientInfo


class Directory:
    """Clients and tokens, with a per-node cache."""

    def __init__(
        self,
        db: Database,
        *,
        token_ttl: float,
        cache_ttl: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._token_ttl = token_ttl
        self._cache_ttl = cache_ttl
        self._time = clock
        self._clients: dict[str, tuple[ClientInfo, float]] = {}
        self._loading: dict[str, asyncio.Future[ClientInfo | None]] = {}
        self._tokens: collections.OrderedDict[str, tuple[str, int, float]] = (
            collections.OrderedDict()
        )

    async def client(self, client_id: str) -> ClientInfo | None:
        """The client's row, at most ``cache_ttl`` seconds old.

        When the cached row is too old, one query refreshes it and every request that
        needs it meanwhile waits for that one query (a busy client would otherwise
        send one query per request in flight at the moment the row expires).
        """
        now = time.monotonic()
        hit = self._clients.get(client_id)
        if hit is not None and now - hit[1] < self._cache_ttl:
            return hit[0]
        pending = self._loading.get(client_id)
        if pending is None:
            pending = asyncio.ensure_future(self._load(client_id, now))
            self._loading[client_id] = pending
            pending.add_done_callback(lambda _f: self._loading.pop(client_id, None))
        return await asyncio.shield(pending)

    async def _load(self, client_id: str, now: float) -> ClientInfo | None:
        async with self._db.transaction() as conn:
            row = await queries.get_client(conn, client_id)
        if row is None:
            self._clients.pop(client_id, None)
            return None
        info = ClientInfo.from_row(row)
        self._clients[client_id] = (info, now)
        return info

    async def issue_token(self, client_id: str, secret: str, key: str) -> IssuedToken:
        """Check the three credentials and issue a token.

        Raises:
            AuthError: ``invalid_client`` for an unknown id or wrong secret,
                ``unknown_key`` for a wrong client key.
        """
        # Client ids are printable (add_client); a NUL would fail on PostgreSQL.
        if not client_id.isprintable():
            raise AuthError("invalid_client", "Client authentication failed")
        async with self._db.transaction() as conn:
            row = await queries.get_client(conn, client_id)
        if row is None or not verify_secret(secret, row.secret_hash):
            raise AuthError("invalid_client", "Client authentication failed")
        if not hmac.compare_digest(sha256_hex(key), row.key_hash):
            raise AuthError("unknown_key", "ClientKey를 확인해주세요.")
        info = ClientInfo.from_row(row)
        token = secrets.token_urlsafe(32)
        now = self._time()
        expires = now + self._token_ttl
        async with self._db.transaction() as conn:
            await queries.insert_token(
                conn,
                {
                    "hash": sha256_hex(token),
                    "client_id": info.id,
                    "version": info.version,
                    "expires_at": expires,
                    "created_at": now,
                },
            )
        self._clients[info.id] = (info, time.monotonic())
        return IssuedToken(token=token, expires_at=expires, client=info)

    async def authenticate(self, token: str) -> ClientInfo:
        """The client a token belongs to.

        Raises:
            AuthError: ``invalid_token`` when it is unknown, expired or superseded.
        """
        digest = sha256_hex(token)
        hit = self._tokens.get(digest)
        if hit is None:
            async with self._db.transaction() as conn:
                row = await queries.get_token(conn, digest)
            if row is None:
                raise AuthError("invalid_token", "the token is not valid")
            hit = (row.client_id, int(row.version), float(row.expires_at))
            self._tokens[digest] = hit
            if len(self._tokens) > TOKEN_CACHE_SIZE:
                self._tokens.popitem(last=False)
        client_id, version, expires_at = hit
        if self._time() >= expires_at:
            raise AuthError("invalid_token", "the token has expired")
        info = await self.client(client_id)
        if info is None or info.version != version:
            raise AuthError(
                "invalid_token", "the token was superseded by a change of the account"
            )
        return info


# -- administration (CLI) --------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    client_id: str
    client_secret: str
    client_key: str


async def add_client(
    db: Database,
    client_id: str,
    *,
    secret: str | None = None,
    tps: Mapping[str, int] | None = None,
    report_url: str = "",
    now: float | None = None,
) -> Credentials:
    """Create a client; returns its credentials (the only time the secret and key are
    shown).

    Raises:
        UmsgateError: the id is taken or not acceptable.
    """
    if not client_id or len(client_id) > MAX_CLIENT_ID or not client_id.isprintable():
        raise UmsgateError(f"client id must be 1..{MAX_CLIENT_ID} printable characters")
    secret = secret or secrets.token_urlsafe(24)
    key = secrets.token_hex(32)
    t = time.time() if now is None else now
    async with db.transaction() as conn:
        if await queries.get_client(conn, client_id) is not None:
            raise UmsgateError(f"client {client_id!r} exists already")
        await queries.insert_client(
            conn,
            {
                "id": client_id,
                "secret_hash": hash_secret(secret),
                "key_hash": sha256_hex(key),
                "signing_key": signing_key(secret),
                "report_url": report_url,
                "tps": orjson.dumps(dict(tps or DEFAULT_TPS)).decode(),
                "version": 1,
                "created_at": t,
                "updated_at": t,
            },
        )
    return Credentials(client_id=client_id, client_secret=secret, client_key=key)


async def update_client(
    db: Database,
    client_id: str,
    *,
    secret: str | None = None,
    new_key: bool = False,
    tps: Mapping[str, int] | None = None,
    report_url: str | None = None,
) -> str | None:
    """Change a client (raising its version); returns the new client key if one was
    made.

    Raises:
        UmsgateError: no such client.
    """
    values: dict[str, Any] = {"updated_at": time.time()}
    key = None
    if secret is not None:
        values["secret_hash"] = hash_secret(secret)
        values["signing_key"] = signing_key(secret)
    if new_key:
        key = secrets.token_hex(32)
        values["key_hash"] = sha256_hex(key)
    if report_url is not None:
        values["report_url"] = report_url
    async with db.transaction() as conn:
        row = await queries.get_client(conn, client_id)
        if row is None:
            raise UmsgateError(f"no client {client_id!r}")
        if tps is not None:
            merged = {**orjson.loads(row.tps), **tps}
            values["tps"] = orjson.dumps(merged).decode()
        await queries.update_client(conn, client_id, values)
    return key


async def list_clients(db: Database) -> list[dict[str, Any]]:
    async with db.transaction() as conn:
        rows = await queries.list_clients(conn)
    return [
        {
            "clientId": r.id,
            "reportUrl": r.report_url,
            "tps": orjson.loads(r.tps),
            "version": r.version,
        }
        for r in rows
    ]
