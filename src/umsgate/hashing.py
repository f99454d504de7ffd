"""Secrets stored as scrypt hashes, and the bounded pool that checks them off the
event loop.

A client secret or ToBeText token is kept as ``scrypt$n$r$p$salt$hash`` (RFC 7914,
interactive parameters: about 50 ms and 16 MiB per check). Checking one on the event
loop stops every other request for that long: sixteen concurrent wrong-secret
token requests once raised other clients' send latency from a 7 ms maximum to
644 ms. So every check runs in `HashPool`: a few threads (``hashlib.scrypt``
releases the GIL while it works), entered through a semaphore so that at most
`HashPool.workers` checks run at once and at most `HashPool.max_waiting` wait for a
turn; a request beyond that is refused (`PoolBusy`) instead of queueing without
bound.

An unknown client is checked against `DUMMY_HASH`, a hash of the same parameters,
so that its answer costs and takes what a known client's does (otherwise the time
of a refusal tells whether the id exists).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator

from umsgate.errors import UmsgateError

#: scrypt cost (RFC 7914 interactive parameters: about 50 ms, 16 MiB).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
#: Checks waiting for a turn per worker; more are refused (`PoolBusy`). A token is
#: asked for once a day per client, so a queue this long is an attack or a
#: stampede, and waiting in it would take seconds.
WAITING_PER_WORKER = 32


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str) -> bool:
    """Whether ``secret`` hashes to ``stored``; False for a malformed ``stored``.
    Takes the full scrypt time (run it in a `HashPool`)."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(
            secret.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


#: What an unknown client's secret is checked against: a hash of a random secret
#: nobody knows, with the parameters of every stored one.
DUMMY_HASH = hash_secret(secrets.token_urlsafe(32))


class PoolBusy(UmsgateError):
    """Too many secret checks are waiting; try again shortly."""


class HashPool:
    """At most ``workers`` scrypt checks at once, in threads of their own.

    Use `turn` to wait for a slot (it raises `PoolBusy` when `max_waiting` wait
    already), then `verify` inside it. The caller can look again, once its turn has
    come, at whether the check is still wanted (a lockout may have begun while it
    waited).
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"a hash pool needs at least one worker, not {workers}")
        self.workers = workers
        self.max_waiting = workers * WAITING_PER_WORKER
        self._slots = asyncio.Semaphore(workers)
        self._waiting = 0
        #: Checks run so far.
        self.checks = 0
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="scrypt"
        )

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """A slot of the pool, for one `verify`.

        Raises:
            PoolBusy: `max_waiting` checks are waiting already.
        """
        if self._slots.locked() and self._waiting >= self.max_waiting:
            raise PoolBusy
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()

    async def verify(self, secret: str, stored: str) -> bool:
        """`verify_secret` on a worker thread (call it inside `turn`)."""
        self.checks += 1
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, verify_secret, secret, stored)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
