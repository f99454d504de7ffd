"""Client accounts: credentials, tokens, and the per-node cache of both.

Secrets are stored as scrypt hashes and client keys as SHA-256 digests; tokens are
random, stored only as SHA-256 digests, expire, and carry the client's ``version``:
a change of a credential (the secret, the key, a face's token or key) raises the
version, and every token issued before it stops working (apigw spec §3); a change of
a rate, the report URL, the IMS agents or the duplicate window keeps them. Each node
caches client rows for ``auth.cache_ttl`` seconds, so a change reaches every node
within that time.

Webhook signatures use a key derived from the secret,
``HMAC-SHA256(key=clientSecret, msg="umsgate-webhook-v1")``: the client computes it from
the secret it holds, and the stored key does not reveal the secret. ``umsgate client
rotate-webhook-key`` replaces it with a random key, shown once; the replaced key
still signs, beside the new one, for ``security.webhook_key_grace`` seconds, so a
receiver verifying with either key goes on accepting reports while it changes over.
Signing keys are stored sealed when the operator configured a secret key
(`umsgate.sealing`).

Token requests are checked off the event loop in a bounded pool
(`umsgate.hashing.HashPool`), against a dummy hash when the id is unknown (the same
work and time as a known one), and limited per client id and per address
(`umsgate.lockout.Guard`): a locked-out request is refused before any check.

The compatible faces authenticate with credentials of their own, set by the operator
(``umsgate client add/update``) and shown only when made up: a ToBeText ``token``
(the ``Cid`` is the client id), stored as an scrypt hash since an operator may carry
over an application's existing, possibly short, token; and an IMS ``X-API-KEY``,
which names the client by itself and is therefore stored as its SHA-256 digest, the
form it is looked up by. A checked ToBeText token is remembered per node (by digest
and client version, right or wrong), so scrypt runs once per token and change, in
the same pool; a ``Cid`` that is no client, or has no token, is checked against the
dummy hash.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import hmac
import logging
import re
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TypedDict

import orjson

from umsgate import targets
from umsgate.clock import Clock, SystemClock
from umsgate.domain import phone
from umsgate.errors import UmsgateError
from umsgate.hashing import DUMMY_HASH, HashPool, PoolBusy, hash_secret
from umsgate.lockout import Guard, Refusal
from umsgate.sealing import Sealer
from umsgate.store import accounts
from umsgate.store.accounts import ClientRecord
from umsgate.store.driver import Source, Tx, Value

log = logging.getLogger("umsgate.clients")

SIGNING_CONTEXT = b"umsgate-webhook-v1"
#: Tokens remembered per node (an LRU; a miss costs one query).
TOKEN_CACHE_SIZE = 100_000
DEFAULT_TPS: Mapping[str, int] = {"SMS": 100, "MMS": 100}
#: What the faces can carry as a credential, a ToBeText ``Cid`` or an IMS agent id:
#: 1–64 visible ASCII characters (the ToBeText and IMS codecs' patterns).
FACE_CREDENTIAL = re.compile(r"[\x21-\x7e]{1,64}")
#: Verified ToBeText tokens remembered per node.
FACE_CACHE_SIZE = 100_000
#: Longest client key accepted (the token request takes fields of up to 200).
MAX_KEY = 200
#: What a `Refusal`'s kind is called in a lockout's answer.
LOCKOUT_WORDS: Mapping[str, str] = {"client": "client id", "address": "address"}
#: Longest duplicate window: 30 days, the longest a message may wait (api.md).
MAX_DUP_WINDOW = 30 * 86400.0
#: A new client's id: letters, digits and ``. _ - @``, starting with a letter or a
#: digit (it travels in URLs, logs and the faces' credentials).
CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
#: Highest rate a client may be given per channel (messages per second).
MAX_TPS = 1_000_000_000


class AuthError(UmsgateError):
    """The credentials were not accepted."""

    def __init__(self, kind: str, message: str, *, retry_after: float = 0.0) -> None:
        super().__init__(message)
        #: invalid_client, unknown_key, invalid_token, locked_out (too many
        #: failures) or busy (too many checks waiting).
        self.kind = kind
        #: Seconds before trying again is any use (locked_out, busy).
        self.retry_after = retry_after


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def signing_key(secret: str) -> str:
    return hmac.new(secret.encode(), SIGNING_CONTEXT, hashlib.sha256).hexdigest()


def new_signing_key() -> str:
    """A random webhook signing key (32 bytes, hex), for a rotation."""
    return secrets.token_hex(32)


def sign(key_hex: str, timestamp: int, body: bytes, *, also: Sequence[str] = ()) -> str:
    """The webhook signature header value: ``t=<unix time>,v1=<hex HMAC-SHA256>`` over
    ``b"<t>." + body`` with the signing key's bytes; one more ``v1=`` for each key
    of ``also`` (a rotated key in its grace period), after the first."""
    message = str(timestamp).encode() + b"." + body
    macs = [
        hmac.new(bytes.fromhex(key), message, hashlib.sha256).hexdigest()
        for key in (key_hex, *also)
    ]
    return f"t={timestamp}," + ",".join(f"v1={mac}" for mac in macs)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClientInfo:
    id: str
    version: int
    report_url: str
    tps: Mapping[str, int]
    signing_key: str
    #: scrypt hash of the ToBeText token ("" when that face is closed to the client).
    tobetext_token_hash: str = ""
    #: SHA-256 hex of the IMS API key (None when that face is closed).
    imsms_key_hash: str | None = None
    #: IMS agent id → sender number (E.164 or ""); empty: any agent, no sender.
    imsms_agents: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: Seconds within which the same receiver and content is refused (0: off).
    dup_window: float = 0.0
    #: The signing key a rotation replaced ("" for none), and until when (epoch
    #: seconds) it signs beside `signing_key`.
    previous_signing_key: str = dataclasses.field(default="", repr=False)
    previous_key_until: float = 0.0
    #: Disabled by an operator: no face or token accepts it.
    disabled: bool = False

    @classmethod
    def from_row(cls, row: ClientRecord, sealer: Sealer | None = None) -> ClientInfo:
        """The client of a ``clients`` row, its signing keys opened with ``sealer``
        (stored in clear when None).

        Raises:
            SealError: a signing key is sealed and ``sealer`` cannot open it.
        """
        opener = sealer or Sealer()
        what = f"the webhook signing key of client {row.id!r}"
        previous = row.previous_signing_key
        return cls(
            id=row.id,
            version=int(row.version),
            report_url=row.report_url,
            tps=orjson.loads(row.tps),
            signing_key=opener.open(row.signing_key, what=what),
            previous_signing_key=opener.open(previous, what=what) if previous else "",
            previous_key_until=float(row.previous_key_until),
            tobetext_token_hash=row.tobetext_token_hash,
            imsms_key_hash=row.imsms_key_hash,
            imsms_agents=orjson.loads(row.imsms_agents),
            dup_window=float(row.dup_window),
            disabled=bool(row.disabled),
        )

    def signature(self, timestamp: int, body: bytes) -> str:
        """The ``X-Umsgate-Signature`` of ``body`` at ``timestamp``: by the signing
        key, and by the previous one while its grace period lasts."""
        also = (
            (self.previous_signing_key,)
            if self.previous_signing_key and timestamp < self.previous_key_until
            else ()
        )
        return sign(self.signing_key, timestamp, body, also=also)

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
        db: Source,
        *,
        token_ttl: float,
        cache_ttl: float,
        clock: Clock | None = None,
        sealer: Sealer | None = None,
        hash_workers: int = 1,
        guard: Guard | None = None,
    ) -> None:
        """Args:
        sealer: opens the stored signing keys (None: stored in clear).
        hash_workers: threads checking scrypt secrets (`HashPool`).
        guard: the failure limits of token requests (None: no limit).
        """
        self._db = db
        self._token_ttl = token_ttl
        self._cache_ttl = cache_ttl
        self._time = (clock or SystemClock()).time
        self._sealer = sealer or Sealer()
        self.hashes = HashPool(hash_workers)
        self.guard = guard
        self._clients: dict[str, tuple[ClientInfo, float]] = {}
        self._loading: dict[str, asyncio.Future[ClientInfo | None]] = {}
        self._tokens: collections.OrderedDict[str, tuple[str, int, float]] = (
            collections.OrderedDict()
        )
        #: (Cid, token digest) → (client version, whether the token is the client's).
        self._tobetext: collections.OrderedDict[tuple[str, str], tuple[int, bool]] = (
            collections.OrderedDict()
        )
        #: Checks under way, so that a burst with one token runs scrypt once.
        self._verifying: dict[tuple[str, str, int], asyncio.Task[bool]] = {}
        #: IMS key digest → client id.
        self._imsms: collections.OrderedDict[str, str] = collections.OrderedDict()

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

    def cached_client(self, client_id: str) -> ClientInfo | None:
        """The client's row if this node read it less than ``cache_ttl`` seconds
        ago; None when `client` would have to ask the store."""
        hit = self._clients.get(client_id)
        if hit is not None and time.monotonic() - hit[1] < self._cache_ttl:
            return hit[0]
        return None

    async def _load(self, client_id: str, now: float) -> ClientInfo | None:
        row = await accounts.get_client(self._db, client_id)
        if row is None:
            self._clients.pop(client_id, None)
            return None
        info = ClientInfo.from_row(row, self._sealer)
        self._clients[client_id] = (info, now)
        return info

    async def issue_token(
        self, client_id: str, secret: str, key: str, *, address: str = ""
    ) -> IssuedToken:
        """Check the three credentials and issue a token.

        The secret is checked in the `HashPool`, against `DUMMY_HASH` when the id
        is unknown; a request that the `Guard` finds locked out (when it is asked,
        and again once the pool's turn has come) is refused without a check.

        Args:
            address: the requester's address, for the per-address limit ("" when
                unknown).

        Raises:
            AuthError: ``invalid_client`` for an unknown id or wrong secret,
                ``unknown_key`` for a wrong client key, ``locked_out`` while too
                many requests failed, ``busy`` when too many checks wait.
        """
        guard = self.guard
        if guard is not None:
            self._refuse(guard.admit(client_id, address, time.monotonic()))
        try:
            row = await self._check_secret(client_id, secret, address)
            if row.disabled:
                raise AuthError("invalid_client", "the client is disabled")
            if not hmac.compare_digest(sha256_hex(key), row.key_hash):
                self._failed(client_id, address)
                raise AuthError("unknown_key", "ClientKey를 확인해주세요.")
        finally:
            if guard is not None:
                guard.finished(client_id)
        if guard is not None:
            guard.succeeded(client_id)
        info = ClientInfo.from_row(row, self._sealer)
        token = secrets.token_urlsafe(32)
        now = self._time()
        expires = now + self._token_ttl
        await accounts.insert_token(
            self._db,
            accounts.TokenRecord(
                hash=sha256_hex(token),
                client_id=info.id,
                version=info.version,
                expires_at=expires,
                created_at=now,
            ),
        )
        self._clients[info.id] = (info, time.monotonic())
        return IssuedToken(token=token, expires_at=expires, client=info)

    async def _check_secret(
        self, client_id: str, secret: str, address: str
    ) -> ClientRecord:
        """The client's row, if ``secret`` is its secret.

        Raises:
            AuthError: ``invalid_client``, ``locked_out`` or ``busy``.
        """
        row = None
        # Client ids are printable (add_client); a NUL would fail on PostgreSQL.
        if client_id.isprintable():
            row = await accounts.get_client(self._db, client_id)
        try:
            async with self.hashes.turn():
                if self.guard is not None:
                    # A lockout may have begun while this request waited.
                    now = time.monotonic()
                    self._refuse(self.guard.check(client_id, address, now))
                ok = await self.hashes.verify(
                    secret, DUMMY_HASH if row is None else row.secret_hash
                )
        except PoolBusy as exc:
            raise AuthError("busy", exc.message, retry_after=1.0) from None
        if row is None or not ok:
            self._failed(client_id, address)
            raise AuthError("invalid_client", "Client authentication failed")
        return row

    @staticmethod
    def _refuse(refusal: Refusal | None) -> None:
        if refusal is not None:
            raise AuthError(
                "locked_out",
                f"too many failed attempts by this {LOCKOUT_WORDS[refusal.kind]}",
                retry_after=refusal.retry_after,
            )

    def _failed(self, client_id: str, address: str) -> None:
        if self.guard is not None:
            self.guard.failed(client_id, address, time.monotonic())

    async def authenticate(self, token: str) -> ClientInfo:
        """The client a token belongs to.

        Raises:
            AuthError: ``invalid_token`` when it is unknown, expired or superseded.
        """
        digest = sha256_hex(token)
        hit = self._tokens.get(digest)
        if hit is None:
            row = await accounts.get_token(self._db, digest)
            if row is None:
                raise AuthError("invalid_token", "the token is not valid")
            hit = (row.client_id, row.version, row.expires_at)
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

    def authenticate_cached(
        self, token: str, *, digest: str | None = None
    ) -> ClientInfo | None:
        """`authenticate` from this node's caches alone, without a coroutine (the
        fronts' send path): the client, or None when the store must be asked (then
        call `authenticate`).

        Args:
            digest: the token's `sha256_hex`, when the caller has it already.

        Raises:
            AuthError: as `authenticate`, when the caches can tell.
        """
        hit = self._tokens.get(digest or sha256_hex(token))
        if hit is None:
            return None
        client_id, version, expires_at = hit
        if self._time() >= expires_at:
            raise AuthError("invalid_token", "the token has expired")
        info = self.cached_client(client_id)
        if info is None:
            return None
        if info.version != version:
            raise AuthError(
                "invalid_token", "the token was superseded by a change of the account"
            )
        return info

    async def authenticate_tobetext(self, cid: str, token: str) -> ClientInfo:
        """The client of a ToBeText ``Cid`` (its client id) and ``token``.

        Raises:
            AuthError: ``invalid_client`` when the client is unknown, has no ToBeText
                token, or the token is not its one.
        """
        info = await self.client(cid)
        key = (cid, sha256_hex(token))
        if info is None or info.disabled or not info.tobetext_token_hash:
            # The same work as a wrong token, so that the time does not tell.
            await self._verify_tobetext(key, token, None)
            raise AuthError("invalid_client", "Cid and token do not authenticate")
        hit = self._tobetext.get(key)
        if hit is not None and hit[0] == info.version:
            self._tobetext.move_to_end(key)
            ok = hit[1]
        else:
            ok = await self._verify_tobetext(key, token, info)
        if not ok:
            raise AuthError("invalid_client", "Cid and token do not authenticate")
        return info

    def authenticate_tobetext_cached(self, cid: str, token: str) -> ClientInfo | None:
        """`authenticate_tobetext` from this node's caches alone, without a
        coroutine: the client, or None when the store or scrypt must be asked (then
        call `authenticate_tobetext`).

        Raises:
            AuthError: as `authenticate_tobetext`, when the caches can tell.
        """
        info = self.cached_client(cid)
        if info is None:
            return None
        if info.disabled or not info.tobetext_token_hash:
            raise AuthError("invalid_client", "Cid and token do not authenticate")
        key = (cid, sha256_hex(token))
        hit = self._tobetext.get(key)
        if hit is None or hit[0] != info.version:
            return None
        self._tobetext.move_to_end(key)
        if not hit[1]:
            raise AuthError("invalid_client", "Cid and token do not authenticate")
        return info

    async def _verify_tobetext(
        self, key: tuple[str, str], token: str, info: ClientInfo | None
    ) -> bool:
        """scrypt of one (Cid, token) at one client version (None: a Cid without a
        ToBeText token, checked against `DUMMY_HASH`), in the `HashPool`, once
        however many requests ask at the same time; a known client's answer, right
        or wrong, is remembered until the client changes.

        Raises:
            AuthError: ``busy``, when too many checks wait for the pool.
        """
        version = 0 if info is None else info.version
        flight = (*key, version)
        task = self._verifying.get(flight)
        if task is None:
            stored = DUMMY_HASH if info is None else info.tobetext_token_hash
            task = asyncio.create_task(self._check_in_pool(token, stored))
            self._verifying[flight] = task
            task.add_done_callback(lambda _t: self._verifying.pop(flight, None))
        try:
            ok = await asyncio.shield(task)
        except PoolBusy as exc:
            raise AuthError("busy", exc.message, retry_after=1.0) from None
        if info is None:
            return False
        self._tobetext[key] = (info.version, ok)
        if len(self._tobetext) > FACE_CACHE_SIZE:
            self._tobetext.popitem(last=False)
        return ok

    async def _check_in_pool(self, secret: str, stored: str) -> bool:
        async with self.hashes.turn():
            return await self.hashes.verify(secret, stored)

    def close(self) -> None:
        """Stop the `HashPool`'s threads."""
        self.hashes.close()

    async def authenticate_imsms(self, api_key: str) -> ClientInfo:
        """The client an IMS ``X-API-KEY`` belongs to.

        Raises:
            AuthError: ``invalid_client`` when no client has this key.
        """
        digest = sha256_hex(api_key)
        cached = self._imsms.get(digest)
        if cached is not None:
            info = await self._imsms_holder(cached, digest)
            if info is not None:
                return info
        # Not cached, or withdrawn or moved to another client since: ask the store.
        row = await accounts.client_by_imsms_key(self._db, digest)
        info = None if row is None else await self._imsms_holder(row.id, digest)
        if info is None:
            raise AuthError("invalid_client", "unknown X-API-KEY")
        return info

    async def _imsms_holder(self, client_id: str, digest: str) -> ClientInfo | None:
        """The client, if its IMS key has ``digest`` (remembered); else None
        (forgotten)."""
        info = await self.client(client_id)
        if (
            info is None
            or info.disabled
            or info.imsms_key_hash is None
            or not hmac.compare_digest(info.imsms_key_hash, digest)
        ):
            self._imsms.pop(digest, None)
            return None
        self._imsms[digest] = client_id
        self._imsms.move_to_end(digest)
        if len(self._imsms) > FACE_CACHE_SIZE:
            self._imsms.popitem(last=False)
        return info


# -- administration (CLI) --------------------------------------------------------------


def new_tobetext_token() -> str:
    """A ToBeText token: 32 hex digits (128 random bits)."""
    return secrets.token_hex(16)


def new_imsms_key() -> str:
    """An IMS API key, shaped like the seed's sample key (a random UUID)."""
    return str(uuid.uuid4())


def _face_values(
    client_id: str,
    *,
    tobetext_token: str | None,
    imsms_key: str | None,
    imsms_agents: Mapping[str, str] | None,
) -> dict[str, Value]:
    """Column values for the faces' credentials; "" withdraws one.

    Raises:
        UmsgateError: a credential or agent the faces could not carry.
    """
    values: dict[str, Value] = {}
    if tobetext_token is not None:
        if tobetext_token and not FACE_CREDENTIAL.fullmatch(client_id):
            raise UmsgateError(
                f"client id {client_id!r} cannot be a ToBeText Cid "
                "(1-64 visible ASCII characters)"
            )
        if tobetext_token and not FACE_CREDENTIAL.fullmatch(tobetext_token):
            raise UmsgateError(
                "a ToBeText token is 1-64 visible ASCII characters (no spaces)"
            )
        values["tobetext_token_hash"] = (
            hash_secret(tobetext_token) if tobetext_token else ""
        )
    if imsms_key is not None:
        if imsms_key and not FACE_CREDENTIAL.fullmatch(imsms_key):
            raise UmsgateError(
                "an IMS API key is 1-64 visible ASCII characters (no spaces)"
            )
        values["imsms_key_hash"] = sha256_hex(imsms_key) if imsms_key else None
    if imsms_agents is not None:
        agents: dict[str, str] = {}
        for agent, sender in imsms_agents.items():
            if not FACE_CREDENTIAL.fullmatch(agent):
                raise UmsgateError(
                    f"IMS agent id {agent!r} is not 1-64 visible ASCII characters"
                )
            try:
                agents[agent] = phone.sender(sender) if sender else ""
            except phone.InvalidNumber:
                raise UmsgateError(
                    f"sender {sender!r} of IMS agent {agent!r} is not a valid number"
                ) from None
        values["imsms_agents"] = orjson.dumps(agents).decode()
    return values


def check_client_id(client_id: str) -> None:
    """Raises:
    UmsgateError: not 1-64 letters, digits or ``. _ - @`` (a letter or digit first).
    """
    if not CLIENT_ID.fullmatch(client_id):
        raise UmsgateError(
            f"client id {client_id!r}: 1-64 letters, digits, '.', '_', '-' or '@', "
            "starting with a letter or a digit"
        )


def check_tps(tps: Mapping[str, int]) -> None:
    """Raises:
    UmsgateError: a rate that is not a whole number of messages per second in
        1..`MAX_TPS`.
    """
    for channel, rate in tps.items():
        if isinstance(rate, bool) or not isinstance(rate, int):
            raise UmsgateError(f"{channel} TPS must be a whole number, not {rate!r}")
        if not 1 <= rate <= MAX_TPS:
            raise UmsgateError(
                f"{channel} TPS is messages per second in 1..{MAX_TPS}, not {rate}"
            )


def check_report_url(url: str) -> None:
    """A report URL is ``http://`` or ``https://`` with a host ("" is none): the one
    place the clients' report URLs are judged when they are set (the CLI and
    `add_client`/`update_client` call it), by the outbound URL policy's own rule
    (`umsgate.targets.check_url`; the addresses are judged by the caller,
    which knows the policy, and at each webhook).

    Raises:
        TargetRefused: saying what is wrong with it.
    """
    if url:
        targets.check_url(url)


def _check_dup_window(window: float) -> None:
    if not 0 <= window <= MAX_DUP_WINDOW:
        raise UmsgateError(
            f"the duplicate window is seconds in 0..{MAX_DUP_WINDOW:g} (0: off), "
            f"not {window!r}"
        )


async def _check_imsms_key_free(
    tx: Tx, client_id: str, values: Mapping[str, Value]
) -> None:
    digest = values.get("imsms_key_hash")
    if not isinstance(digest, str):
        return
    holder = await accounts.client_by_imsms_key(tx, digest)
    if holder is not None and holder.id != client_id:
        raise UmsgateError("this IMS API key belongs to another client")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    client_id: str
    client_secret: str
    client_key: str


async def add_client(
    db: Source,
    client_id: str,
    *,
    secret: str | None = None,
    key: str | None = None,
    tps: Mapping[str, int] | None = None,
    report_url: str = "",
    now: float | None = None,
    tobetext_token: str | None = None,
    imsms_key: str | None = None,
    imsms_agents: Mapping[str, str] | None = None,
    dup_window: float = 0.0,
    sealer: Sealer | None = None,
) -> Credentials:
    """Create a client; returns its credentials (the only time the secret and key are
    shown). ``secret`` and ``key`` are made up when not given; a simulator gives them,
    so that a connector configured with known credentials can log in.

    Args:
        tobetext_token: opens the ToBeText face to the client with this token.
        imsms_key: opens the IMS face to the client with this API key.
        imsms_agents: IMS agent ids it may use → sender number ("" for none).
        dup_window: seconds within which the same receiver and content is refused
            as a duplicate send (0: not blocked).
        sealer: seals the signing key for the store (None: stored in clear).

    Raises:
        UmsgateError: the id is taken or not acceptable, a face credential is not
            acceptable, or the IMS key is another client's.
        TargetRefused: the report URL is not an http(s) URL with a host
            (`umsgate.targets.check_url`; the addresses it may reach are
            judged by the caller, which knows the policy, and at each webhook).
    """
    check_client_id(client_id)
    check_report_url(report_url)
    check_tps(tps or DEFAULT_TPS)
    if key is not None and (not key or len(key) > MAX_KEY or not key.isprintable()):
        raise UmsgateError(f"client key must be 1..{MAX_KEY} printable characters")
    faces = _face_values(
        client_id,
        tobetext_token=tobetext_token,
        imsms_key=imsms_key,
        imsms_agents=imsms_agents,
    )
    _check_dup_window(dup_window)
    secret = secret or new_secret()
    key = key or secrets.token_hex(32)
    t = time.time() if now is None else now
    async with accounts.transaction(db) as tx:
        if await accounts.get_client(tx, client_id) is not None:
            raise UmsgateError(f"client {client_id!r} exists already")
        await _check_imsms_key_free(tx, client_id, faces)
        record = ClientRecord(
            id=client_id,
            secret_hash=hash_secret(secret),
            key_hash=sha256_hex(key),
            signing_key=(sealer or Sealer()).seal(signing_key(secret)),
            report_url=report_url,
            tps=orjson.dumps(dict(tps or DEFAULT_TPS)).decode(),
            version=1,
            created_at=float(t),
            updated_at=float(t),
            dup_window=float(dup_window),
        )
        await accounts.insert_client(tx, record)
        if faces:
            await accounts.update_client(tx, client_id, faces, revoke=False)
    log.info(
        "client %s added",
        client_id,
        extra={"event": "client.added", "client_id": client_id},
    )
    return Credentials(client_id=client_id, client_secret=secret, client_key=key)


async def update_client(
    db: Source,
    client_id: str,
    *,
    secret: str | None = None,
    new_key: bool = False,
    tps: Mapping[str, int] | None = None,
    report_url: str | None = None,
    tobetext_token: str | None = None,
    imsms_key: str | None = None,
    imsms_agents: Mapping[str, str] | None = None,
    dup_window: float | None = None,
    sealer: Sealer | None = None,
) -> str | None:
    """Change a client; returns the new client key if one was made. A change of a
    credential (``secret``, ``new_key``, ``tobetext_token``, ``imsms_key``) raises
    its version, so that every token issued before stops working; other changes
    keep them. A face credential given as "" closes that face to the client; an
    empty ``imsms_agents`` lets it use any agent id.

    Raises:
        UmsgateError: no such client, or a face credential that is not acceptable
            (see `add_client`).
        TargetRefused: the report URL is not acceptable (see `add_client`).
    """
    values: dict[str, Value] = {
        "updated_at": time.time(),
        **_face_values(
            client_id,
            tobetext_token=tobetext_token,
            imsms_key=imsms_key,
            imsms_agents=imsms_agents,
        ),
    }
    key = None
    if secret is not None:
        values["secret_hash"] = hash_secret(secret)
        # A new secret gives a new signing key at once, and ends any rotation's
        # grace period (docs/api.md).
        values["signing_key"] = (sealer or Sealer()).seal(signing_key(secret))
        values["previous_signing_key"] = ""
        values["previous_key_until"] = 0.0
    if new_key:
        key = secrets.token_hex(32)
        values["key_hash"] = sha256_hex(key)
    if report_url is not None:
        check_report_url(report_url)
        values["report_url"] = report_url
    if tps is not None:
        check_tps(tps)
    if dup_window is not None:
        _check_dup_window(dup_window)
        values["dup_window"] = float(dup_window)
    async with accounts.transaction(db) as tx:
        row = await accounts.get_client(tx, client_id)
        if row is None:
            raise UmsgateError(f"no client {client_id!r}")
        await _check_imsms_key_free(tx, client_id, values)
        if tps is not None:
            merged = {**orjson.loads(row.tps), **tps}
            values["tps"] = orjson.dumps(merged).decode()
        revoke = (
            secret is not None
            or new_key
            or tobetext_token is not None
            or imsms_key is not None
        )
        await accounts.update_client(tx, client_id, values, revoke=revoke)
    changed = sorted(k for k in values if k != "updated_at")
    log.info(
        "client %s changed (%s); %s",
        client_id,
        ", ".join(changed) or "nothing",
        "its tokens are revoked" if revoke else "its tokens stay valid",
        extra={"event": "client.changed", "client_id": client_id, "revoked": revoke},
    )
    return key


class ClientJson(TypedDict):
    """A client as ``umsgate client list`` and the console show it."""

    clientId: str
    reportUrl: str
    #: Channel (``SMS``, ``MMS``, ...) → messages per second.
    tps: dict[str, int]
    version: int
    tobetext: bool
    imsms: bool
    #: imsms agent → its sender number ("" for none).
    imsmsAgents: dict[str, str]
    dupWindow: float
    disabled: bool


async def list_clients(db: Source) -> list[ClientJson]:
    rows = await accounts.list_clients(db)
    return [
        {
            "clientId": r.id,
            "reportUrl": r.report_url,
            "tps": orjson.loads(r.tps),
            "version": r.version,
            "tobetext": bool(r.tobetext_token_hash),
            "imsms": r.imsms_key_hash is not None,
            "imsmsAgents": orjson.loads(r.imsms_agents),
            "dupWindow": float(r.dup_window),
            "disabled": bool(r.disabled),
        }
        for r in rows
    ]


async def set_disabled(db: Source, client_id: str, disabled: bool) -> None:
    """Disable a client (its tokens stop working, none is issued, the compatible
    faces refuse it) or enable it again.

    Raises:
        UmsgateError: no such client.
    """
    if not await accounts.set_client_disabled(db, client_id, disabled, time.time()):
        raise UmsgateError(f"no client {client_id!r}")
    log.info(
        "client %s %s",
        client_id,
        "disabled" if disabled else "enabled",
        extra={
            "event": "client.disabled" if disabled else "client.enabled",
            "client_id": client_id,
        },
    )


async def rotate_secret(db: Source, client_id: str) -> str:
    """Give a client a new, made-up secret (its tokens stop working, its webhook
    signing key changes); returns the secret, shown only this once.

    Raises:
        UmsgateError: no such client.
    """
    secret = new_secret()
    await update_client(db, client_id, secret=secret)
    return secret


def new_secret() -> str:
    return secrets.token_urlsafe(24)
