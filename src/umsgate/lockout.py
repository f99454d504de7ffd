"""Failed credential checks, counted per client id and per remote address, and the
lockouts they start.

Theory of operation
-------------------
A `Limiter` counts the consecutive failures of each key. The ``free``-th failure
in a row starts a lockout of 1 s; every further failure (it can only come after
the lockout ended) starts one twice as long, up to ``max_seconds``. While a key is
locked out, its requests are refused at once (429 with ``Retry-After``) and no
secret is checked. A success forgets the key; so does a quiet spell of
`forget_after` seconds. Keys are kept in an LRU of at most ``keys`` entries, the
least recently failed dropped first, so that an attacker who makes up ids or
addresses uses a bounded amount of memory (and only makes the counts forget).

A `Guard` holds two limiters: one per client id (a success resets it) and one per
address (several honest clients may share an address behind a NAT, so its
threshold is higher, and only a quiet spell resets it). It reports each failure,
each refusal and each lockout start to the metrics, and logs one line per lockout
start, never one per refused request. It also counts the checks under way for each
client id as failures to come: when they and the failures so far reach the
threshold, a new request is refused for `FIRST_LOCKOUT` seconds (one check at a
time is always let through when no lockout runs). Sixteen
concurrent requests with a wrong secret then cost ``free`` checks, not sixteen,
and the first refusals come at once instead of after the queued checks.

An IPv6 address is counted by its /64 network: one host is commonly given a whole
/64, and counting each of its addresses apart would let it try 2^64 times.

Nothing here reads a clock: ``now`` is given (monotonic seconds).
"""

from __future__ import annotations

import collections
import dataclasses
import ipaddress
import logging
from collections.abc import Callable

log = logging.getLogger("umsgate.auth")

#: The first lockout, in seconds; each further failure doubles it.
FIRST_LOCKOUT = 1.0
#: The longest a key's failures are remembered without a new one (seconds), at
#: least: it is twice the longest lockout when that is longer.
FORGET_AFTER = 900.0


@dataclasses.dataclass(slots=True)
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


class Limiter:
    """Consecutive failures per key, and the lockouts they start."""

    def __init__(self, *, free: int, max_seconds: float, keys: int) -> None:
        """Args:
        free: the failure in a row that starts the first lockout.
        max_seconds: the longest lockout.
        keys: most keys remembered (least recently failed forgotten first).
        """
        self.free = free
        self.max_seconds = max_seconds
        self.keys = keys
        self.forget_after = max(FORGET_AFTER, 2 * max_seconds)
        self._records: collections.OrderedDict[str, _Record] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def _record(self, key: str, now: float) -> _Record | None:
        record = self._records.get(key)
        if record is not None and now - record.last_failure > self.forget_after:
            del self._records[key]
            return None
        return record

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        record = self._record(key, now)
        if record is None:
            return 0.0
        return max(0.0, record.locked_until - now)

    def failed(self, key: str, now: float) -> float:
        """Count a failure; the length of the lockout it starts (0: none)."""
        record = self._record(key, now)
        if record is None:
            record = self._records[key] = _Record()
        self._records.move_to_end(key)
        while len(self._records) > self.keys:
            self._records.popitem(last=False)
        record.failures += 1
        record.last_failure = now
        if record.failures < self.free:
            return 0.0
        length = min(
            self.max_seconds, FIRST_LOCKOUT * 2.0 ** (record.failures - self.free)
        )
        record.locked_until = max(record.locked_until, now + length)
        return length

    def succeeded(self, key: str) -> None:
        self._records.pop(key, None)

    def failures(self, key: str) -> int:
        """The failures in a row counted for ``key``."""
        record = self._records.get(key)
        return 0 if record is None else record.failures


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """Why a request is refused without a check: which limiter, and for how long."""

    #: ``client`` or ``address``.
    kind: str
    retry_after: float


def _nothing(*_args: str) -> None:
    return None


def address_key(address: str) -> str:
    """What an address is counted as: an IPv4 address itself, an IPv6 address's
    /64 network (an address that is neither, as it is)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class Guard:
    """The per-client-id and per-address limits of one credential check (the
    native token endpoint; the console's logins, by username)."""

    def __init__(
        self,
        *,
        client_free: int,
        address_free: int,
        max_seconds: float,
        keys: int,
        on_failure: Callable[[], None] = _nothing,
        on_refused: Callable[[str], None] = _nothing,
        on_lockout: Callable[[str], None] = _nothing,
        checked: str = "token requests",
        key_name: str = "client id",
    ) -> None:
        """Args:
        checked: what is checked, for the lockout's log line.
        key_name: what the client id is, for the same line.
        on_failure: called for every failed check.
        on_refused: called with the kind of lockout that refused a request.
        on_lockout: called with the kind of each lockout that starts.
        """
        self.clients = Limiter(free=client_free, max_seconds=max_seconds, keys=keys)
        self.addresses = Limiter(free=address_free, max_seconds=max_seconds, keys=keys)
        #: Checks under way by client id (each entry lives as long as a request).
        self._checking: dict[str, int] = {}
        self._on_failure = on_failure
        self._on_refused = on_refused
        self._on_lockout = on_lockout
        self._checked = checked
        self._key_name = key_name

    def admit(self, client_id: str, address: str, now: float) -> Refusal | None:
        """None when a request of ``client_id`` from ``address`` may be checked
        (then call `finished` after it); else why not. Look again with `check`
        after waiting for a `HashPool` turn."""
        refusal = self.check(client_id, address, now)
        if refusal is not None:
            return refusal
        under_way = self._checking.get(client_id, 0)
        failures = self.clients.failures(client_id)
        if under_way and failures + under_way >= self.clients.free:
            self._on_refused("client")
            return Refusal(kind="client", retry_after=FIRST_LOCKOUT)
        self._checking[client_id] = under_way + 1
        return None

    def finished(self, client_id: str) -> None:
        """The check `admit` let through is over."""
        left = self._checking.get(client_id, 0) - 1
        if left > 0:
            self._checking[client_id] = left
        else:
            self._checking.pop(client_id, None)

    def check(self, client_id: str, address: str, now: float) -> Refusal | None:
        """None when neither ``client_id`` nor ``address`` is locked out; else why
        not."""
        wait = self.clients.retry_after(client_id, now)
        kind = "client"
        if address:
            by_address = self.addresses.retry_after(address_key(address), now)
            if by_address > wait:
                wait, kind = by_address, "address"
        if wait <= 0:
            return None
        self._on_refused(kind)
        return Refusal(kind=kind, retry_after=wait)

    def failed(self, client_id: str, address: str, now: float) -> None:
        self._on_failure()
        length = self.clients.failed(client_id, now)
        if length:
            self._started("client", client_id, address, length)
        if address:
            length = self.addresses.failed(address_key(address), now)
            if length:
                self._started("address", client_id, address, length)

    def succeeded(self, client_id: str) -> None:
        self.clients.succeeded(client_id)

    def _started(self, kind: str, client_id: str, address: str, length: float) -> None:
        self._on_lockout(kind)
        limiter = self.clients if kind == "client" else self.addresses
        key = client_id if kind == "client" else address_key(address)
        failures = limiter.failures(key)
        # The client id is what the request said (any printable text): repr, cut.
        log.warning(
            "%s locked out for %g s by %s after %d failures in a row (%s %s, "
            "address %s)",
            self._checked,
            length,
            kind,
            failures,
            self._key_name,
            repr(client_id[:64]),
            address or "?",
            extra={"event": "auth_lockout", "kind": kind, "seconds": length},
        )
