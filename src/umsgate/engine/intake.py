"""Where a face hands a validated message: the client's TPS bucket, then the acceptor.

In one process the faces call `LocalIntake` directly. With HTTP front processes
(`umsgate.front`) the fronts call a `umsgate.front.intake.RemoteIntake`, which hands
the same submissions to this process's `LocalIntake` over a Unix socket, so the
buckets, the idempotency keys and the group commit stay in one place and a client's
TPS holds however its connections are spread over the fronts.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from umsgate.domain.submission import Accepted, Submission
from umsgate.engine.throttle import Throttles
from umsgate.errors import Throttled as Throttled

if TYPE_CHECKING:
    from umsgate.engine.accept import Acceptor


class Intake(Protocol):
    async def submit(
        self, submission: Submission, tps_key: str, tps: float | None
    ) -> Accepted:
        """Store one message within the client's ``tps`` for ``tps_key``; returns
        once it is committed.

        Raises:
            Throttled: over the client's TPS (nothing stored).
            ValidationError: refused by the acceptor (a reused id, a duplicate).
            Exception: the store failed (nothing stored).
        """
        ...


class LocalIntake:
    def __init__(self, throttles: Throttles, acceptor: Acceptor) -> None:
        self._throttles = throttles
        self._acceptor = acceptor

    async def submit(
        self, submission: Submission, tps_key: str, tps: float | None
    ) -> Accepted:
        if not self._throttles.allow(submission.row["client_id"], tps_key, tps):
            raise Throttled
        return await self._acceptor.accept(submission)

    def submit_nowait(
        self, submission: Submission, tps_key: str, tps: float | None
    ) -> asyncio.Future[Accepted] | None:
        """`submit` without a coroutine per message (the fronts' batches): the
        future of the commit, or None when over the TPS."""
        if not self._throttles.allow(submission.row["client_id"], tps_key, tps):
            return None
        return self._acceptor.enqueue(submission)
