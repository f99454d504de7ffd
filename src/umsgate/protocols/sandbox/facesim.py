"""A compatible face served as its provider's simulator: the face's own routes (the
same codec, validation and answers as in the gateway) in front of a fake carrier
that keeps what it takes in memory, instead of the gateway's pipeline.

* `FakeCarrier` takes a face's submissions (the `Intake` or the acceptor of the
  face's host): it gives each a new id, answers a repeated idempotency key with
  the first message (or refuses it with other values, as the acceptor does) and
  hands each new message to a hook before the face answers, where a simulator
  schedules (or makes at once) its report.
* `FaceSimulator` serves the routes with the fault switches of every simulator
  (answer 500, stall, garble, go down), recording each request and its answer.

What makes a simulator adversarial (reports that overtake the answer, outcome
mixes, delays, states that change with time) lives in the simulator, its hook and
its fake host, never in the face.
"""

from __future__ import annotations

import collections
import dataclasses
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

import orjson
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import Message, Receive, Scope, Send

from umsgate.domain.results import Invalid
from umsgate.domain.submission import Accepted, Submission
from umsgate.errors import ValidationError
from umsgate.protocols._http.pusher import PushPolicy
from umsgate.protocols._http.simbase import (
    Asgi,
    SimulatorBase,
    held_answer,
    respond,
)

#: Messages kept (oldest forgotten first).
MAX_KEPT = 1_000_000
#: Row columns that depend on when a request came, not on what it asked.
_TIMED = frozenset({"due_at", "expires_at"})

R = TypeVar("R")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Taken:
    """A message the fake carrier took."""

    id: int
    #: (client id, idempotency key).
    key: tuple[str, str]
    #: Its ``messages`` row as the face built it, with ``id`` and ``created_at``.
    row: Mapping[str, object]
    #: Its ``extra`` column, decoded.
    extra: Mapping[str, object]
    #: Epoch seconds when it was taken.
    created_at: float
    #: Monotonic seconds when it was taken.
    at: float


#: What a simulator does with a new message before the face answers its send.
TakenHook = Callable[[Taken], Awaitable[None]]


class FakeCarrier:
    """The face's intake: messages into memory, with the acceptor's idempotency.

    Args:
        on_taken: called with each new message before the send is answered.
    """

    def __init__(self, on_taken: TakenHook | None = None) -> None:
        self.on_taken = on_taken
        self.taken: collections.OrderedDict[int, Taken] = collections.OrderedDict()
        self._ids: dict[tuple[str, str], int] = {}

    async def submit(
        self, submission: Submission, tps_key: str, tps: float | None
    ) -> Accepted:
        """`accept`, as an `Intake` (TPS is not limited here)."""
        return await self.accept(submission)

    async def accept(self, submission: Submission) -> Accepted:
        """Take ``submission``, as an acceptor.

        Raises:
            ValidationError: its idempotency key was used with other values.
        """
        key = submission.key
        prior = self.taken.get(self._ids.get(key, 0))
        if prior is not None:
            if _same(prior.row, submission.row):
                return Accepted(id=prior.id, created_at=prior.created_at, repeated=True)
            raise ValidationError(
                Invalid.ID_REUSED, "id already used with other values"
            )
        mid = uuid.uuid4().int
        now = time.time()
        taken = Taken(
            id=mid,
            key=key,
            row={**submission.row, "id": mid, "created_at": now},
            extra=orjson.loads(submission.row["extra"]),
            created_at=now,
            at=time.monotonic(),
        )
        self.taken[mid] = taken
        self._ids[key] = mid
        while len(self.taken) > MAX_KEPT:
            _, old = self.taken.popitem(last=False)
            self._ids.pop(old.key, None)
        if self.on_taken is not None:
            await self.on_taken(taken)
        return Accepted(id=mid, created_at=now, repeated=False)

    def by_src(self, client_id: str, src_msg_id: str) -> Taken | None:
        """A message by its client and idempotency key."""
        return self.taken.get(self._ids.get((client_id, src_msg_id), 0))


def _same(a: Mapping[str, object], b: Mapping[str, object]) -> bool:
    return all(a.get(k) == v for k, v in b.items() if k not in _TIMED)


class Counts:
    """The counts a face adds to (`umsgate.ports.Counts`), kept for a look."""

    def __init__(self) -> None:
        self.counted: collections.Counter[tuple[str, str]] = collections.Counter()

    def accepted(self, channel: str, repeated: bool) -> None:
        self.counted["repeated" if repeated else "accepted", channel] += 1

    def rejected(self, channel: str, reason: str) -> None:
        self.counted["rejected", f"{channel}:{reason}"] += 1


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Exchange:
    """One request as the face read it, and what it answered."""

    scope: Scope
    #: The request body as far as the face read it.
    body: bytes
    status: int
    answer: bytes


class FaceSimulator(SimulatorBase[R]):
    """A face's ``routes`` served before ``gateway`` (what the routes read from
    ``request.app.state.gateway``), with the fault switches; subclasses say what
    they keep of an exchange (`record`) and how they answer the 500 fault
    (`internal_error`)."""

    def __init__(
        self,
        routes: Sequence[BaseRoute],
        gateway: object,
        *,
        host: str,
        port: int,
        push: PushPolicy | None = None,
    ) -> None:
        face = Starlette(routes=list(routes))
        face.state.gateway = gateway
        self._face = face
        super().__init__(Asgi(self._serve), host=host, port=port, push=push)

    def record(self, exchange: Exchange) -> R | None:
        """What ``received`` keeps of an exchange (None: nothing)."""
        return None

    def internal_error(self) -> tuple[int, str, bytes]:
        """(status, content type, body) of the 500 fault's answer."""
        return 500, "text/plain; charset=utf-8", b"Internal Server Error"

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._face(scope, receive, send)
            return
        if self.faults.status_500:
            status, content_type, body = self.internal_error()
            self._keep(Exchange(scope=scope, body=b"", status=status, answer=body))
            await respond(
                send, status, [(b"content-type", content_type.encode())], body
            )
            return
        read: list[bytes] = []

        async def tee() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                read.append(message.get("body", b""))
            return message

        start, body = await held_answer(self._face, scope, tee)
        self._keep(
            Exchange(
                scope=scope, body=b"".join(read), status=start["status"], answer=body
            )
        )
        await self._answer_held(send, start, body)

    def _keep(self, exchange: Exchange) -> None:
        kept = self.record(exchange)
        if kept is not None:
            self.received.append(kept)
