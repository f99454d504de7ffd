"""A front's `Intake`: its messages go to the gateway process over the Unix socket
(`umsgate.front.wire`), all those of one event-loop turn in one frame.

The socket is read by a protocol, not a stream reader: the gateway's answers are
handed to their senders in the callback that received them (`enqueue`'s ``then``),
so a front's send needs neither a task nor a future between its intake and its
answer (`umsgate.front.sends`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Mapping
from typing import cast

from umsgate.domain.submission import Accepted, Submission
from umsgate.errors import GatewayGone as GatewayGone  # named here for callers
from umsgate.errors import StoreError, Throttled, ValidationError
from umsgate.front import wire

log = logging.getLogger("umsgate.front")

#: What a sender is told: the message as accepted, or why not (`Intake.submit`'s
#: exceptions).
Outcome = Accepted | Exception
Then = Callable[[Outcome], None]


class RemoteIntake(asyncio.Protocol):
    def __init__(
        self,
        path: str,
        *,
        counts: Callable[[], Mapping[str, object] | None] = lambda: None,
        counts_every: float = 1.0,
        on_lost: Callable[[], None] = lambda: None,
    ) -> None:
        """Args:
        path: the gateway's socket.
        counts: what to send along with a frame (the sends accepted and refused
            since the last counts).
        counts_every: seconds between two frames that carry counts (taking them
            costs the front, and adding them up the gateway, a little per frame).
        on_lost: called once when the gateway closes the socket.
        """
        self._path = path
        self._counts = counts
        self._counts_every = counts_every
        self._counts_due = 0.0
        self._on_lost = on_lost
        self._tags = itertools.count()
        self._waiting: dict[int, Then] = {}
        #: ``[tag, row, dup_window, tps_key, tps]`` of the messages not yet sent.
        self._out: list[list[object]] = []
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transport: asyncio.Transport | None = None
        self._frames = wire.FrameReader()
        self._lost = False
        self._closing = False
        self._closed: asyncio.Future[None] | None = None

    async def connect(self, timeout: float = 10.0) -> None:
        self._loop = loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            await loop.create_unix_connection(lambda: self, self._path)

    async def close(self) -> None:
        self._closing = True
        if self._transport is not None:
            self._flush()
            self._transport.close()
        if self._closed is not None:
            await self._closed

    # -- sending --------------------------------------------------------------------

    def _send(self, payload: Mapping[str, object]) -> None:
        """One frame to the gateway, unless it is gone."""
        if self._transport is not None and not self._lost:
            self._transport.write(wire.frame(payload))

    def send_counts(self) -> None:
        """Send the counts now (they ride on a frame otherwise, at most every
        ``counts_every`` seconds)."""
        if self._loop is not None:
            self._counts_due = self._loop.time() + self._counts_every
        counts = self._counts()
        if counts:
            self._send({"m": counts})

    def send_ready(self) -> None:
        """Tell the gateway that this front is listening."""
        self._send({"r": 1})

    async def submit(
        self, submission: Submission, tps_key: str, tps: float | None
    ) -> Accepted:
        if self._loop is None:
            raise GatewayGone("the gateway process is not reachable")
        future: asyncio.Future[Accepted] = self._loop.create_future()

        def then(outcome: Outcome) -> None:
            if future.done():
                return
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

        self.enqueue(submission, tps_key, tps, then)
        return await future

    def enqueue(
        self, submission: Submission, tps_key: str, tps: float | None, then: Then
    ) -> None:
        """`submit` without a coroutine or a future (the fronts' send path):
        ``then`` is called once with the outcome, in the callback that reads the
        gateway's answer.

        Raises:
            GatewayGone: the gateway process is not reachable (``then`` is not
                called).
        """
        if self._lost or self._transport is None:
            raise GatewayGone("the gateway process is not reachable")
        tag = next(self._tags)
        self._waiting[tag] = then
        self._out.append([tag, submission.row, submission.dup_window, tps_key, tps])
        if not self._flush_scheduled:
            self._flush_scheduled = True
            cast(asyncio.AbstractEventLoop, self._loop).call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._out:
            return
        payload: dict[str, object] = {"s": self._out}
        self._out = []
        loop = cast(asyncio.AbstractEventLoop, self._loop)
        if loop.time() >= self._counts_due:
            self._counts_due = loop.time() + self._counts_every
            counts = self._counts()
            if counts:
                payload["m"] = counts
        self._send(payload)

    # -- asyncio.Protocol -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._closed = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._frames.feed(data)
        except wire.FrameError as exc:
            log.error(
                "the gateway process sent what is not a frame: %s",
                exc,
                extra={"event": "front_lost_gateway"},
            )
            if self._transport is not None:
                self._transport.abort()
            return
        waiting = self._waiting
        for answers in frames:
            if not isinstance(answers, list):
                raise wire.FrameError("a frame that is not a list of answers")
            for answer in answers:
                then = waiting.pop(answer[0], None)
                if then is None:
                    continue
                kind = answer[1]
                outcome: Outcome
                if kind == wire.OK:
                    outcome = Accepted(
                        id=answer[2], created_at=answer[3], repeated=answer[4]
                    )
                elif kind == wire.THROTTLED:
                    outcome = Throttled()
                elif kind == wire.REFUSED:
                    outcome = ValidationError(answer[2], answer[3], field=answer[4])
                else:
                    outcome = StoreError(answer[2])
                try:
                    then(outcome)
                except Exception:
                    _failed()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._transport = None
        if not self._closing:
            log.error(
                "the gateway process's socket is gone (%s)",
                exc or "closed",
                extra={"event": "front_lost_gateway"},
            )
        waiting, self._waiting = self._waiting, {}
        for then in waiting.values():
            try:
                then(GatewayGone("the gateway process closed its socket"))
            except Exception:
                _failed()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        if not self._closing:
            self._on_lost()


def _failed() -> None:
    """A sender failed on its answer: its own failure (logged), not the other
    senders'."""
    log.exception("answering a message failed", extra={"event": "front_request_error"})
