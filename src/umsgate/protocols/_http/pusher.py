"""A simulator's callbacks to its customer: POST a body to a URL after a delay, and
try again on a schedule until the customer answers 2xx or the tries run out.

This is how ToBeText pushes status callbacks (tobetext spec §5: 4 attempts, 60 s
apart, 10 s answer timeout) and AI CROSS pushes DLRs (aicross spec §6: 5 attempts,
60 s apart). Every attempt is recorded, so tests can see retries and give-ups.
"""

from __future__ import annotations

import collections
import dataclasses

import httpx

from umsgate.protocols._http.exchange import Answer, Limits, exchange
from umsgate.protocols._http.schedule import Agenda

#: Attempts kept in `Pusher.attempts` (oldest dropped first).
MAX_RECORDED_ATTEMPTS = 100_000
#: Largest answer read from the customer (only its status matters).
MAX_ANSWER = 4096


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PushPolicy:
    #: Attempts in all, the first included.
    attempts: int = 4
    #: Seconds between attempts.
    interval: float = 60.0
    #: Seconds an attempt may take.
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.interval < 0 or self.timeout <= 0:
            raise ValueError(f"bad push policy {self}")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One callback to make."""

    #: What the callback is about (the provider's message id), for the records.
    key: str
    url: str
    body: bytes
    content_type: str
    attempt: int = 1


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    key: str
    url: str
    attempt: int
    #: HTTP status answered, or None when no answer came.
    status: int | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Pusher:
    """Makes `Delivery` callbacks with retries.

    Args:
        client: the HTTP client to call with (owned by the caller).
        policy: attempts, interval and timeout.
        concurrency: callbacks in flight at once.
    """

    def __init__(
        self, client: httpx.AsyncClient, policy: PushPolicy, *, concurrency: int = 32
    ) -> None:
        self.client = client
        self.policy = policy
        self.attempts: collections.deque[Attempt] = collections.deque(
            maxlen=MAX_RECORDED_ATTEMPTS
        )
        #: Keys whose callback got a 2xx.
        self.delivered: set[str] = set()
        #: Keys whose callback failed every attempt.
        self.abandoned: set[str] = set()
        self._limits = Limits(
            connect=policy.timeout, total=policy.timeout, max_body=MAX_ANSWER
        )
        self._agenda: Agenda[Delivery] = Agenda(
            self._scheduled,
            concurrency=concurrency,
            name="pusher",
        )

    def start(self) -> None:
        self._agenda.start()

    async def stop(self) -> None:
        await self._agenda.stop()

    @property
    def pending(self) -> int:
        """Callbacks waiting or in flight."""
        return len(self._agenda) + self._agenda.active

    def push(self, delivery: Delivery, *, delay: float = 0.0) -> None:
        self._agenda.add(delivery, delay=delay)

    async def push_now(self, delivery: Delivery) -> Attempt:
        """Make the first attempt now and return when it is answered (or timed
        out: at most the policy's ``timeout``); later attempts, if it failed, are
        scheduled as `push` schedules them. For a simulator that calls back
        before it answers the request the callback is about."""
        return await self._attempt(delivery)

    async def _scheduled(self, delivery: Delivery) -> None:
        await self._attempt(delivery)

    async def _attempt(self, delivery: Delivery) -> Attempt:
        result = await exchange(
            self.client,
            "POST",
            delivery.url,
            limits=self._limits,
            content=delivery.body,
            headers={"content-type": delivery.content_type},
        )
        if isinstance(result, Answer):
            record = Attempt(
                key=delivery.key,
                url=delivery.url,
                attempt=delivery.attempt,
                status=result.status,
            )
        else:
            record = Attempt(
                key=delivery.key,
                url=delivery.url,
                attempt=delivery.attempt,
                status=None,
                error=result.detail,
            )
        self.attempts.append(record)
        if record.ok:
            self.delivered.add(delivery.key)
        elif delivery.attempt < self.policy.attempts:
            self._agenda.add(
                dataclasses.replace(delivery, attempt=delivery.attempt + 1),
                delay=self.policy.interval,
            )
        else:
            self.abandoned.add(delivery.key)
        return record
