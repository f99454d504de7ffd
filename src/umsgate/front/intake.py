"""A front's `Intake`: its messages go to the gateway process over the Unix socket
(`umsgate.front.wire`), all those of one event-loop turn in one frame."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from typing import Any

from umsgate.engine.accept import Accepted, Submission
from umsgate.engine.intake import Throttled
from umsgate.errors import StoreError, ValidationError
from umsgate.front import wire

log = logging.getLogger("umsgate.front")


class GatewayGone(StoreError):
    """The gateway process closed the socket: the message may or may not be stored."""


class RemoteIntake:
    def __init__(
        self,
        path: str,
        *,
        counts: Callable[[], dict[str, Any] | None] = lambda: None,
        on_lost: Callable[[], None] = lambda: None,
    ) -> None:
        """Args:
        path: the gateway's socket.
        counts: what to send along with each frame (the refusals since the last).
        on_lost: called once when the gateway closes the socket.
        """
        self._path = path
        self._counts = counts
        self._on_lost = on_lost
        self._tags = itertools.count()
        self._waiting: dict[int, asyncio.Future[Accepted]] = {}
        self._out: list[list[Any]] = []
        self._flush_scheduled = False
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._lost = False
        self._closing = False

    async def connect(self, timeout: float = 10.0) -> None:
        reader, self._writer = await asyncio.wait_for(
            asyncio.open_unix_connection(self._path, limit=wire.MAX_FRAME), timeout
        )
        self._reader_task = asyncio.create_task(self._read(reader), name="intake")

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None:
            self._flush()
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task

    def _send(self, payload: dict[str, Any]) -> None:
        """One frame to the gateway, unless it is gone."""
        if self._writer is not None and not self._lost:
            self._writer.write(wire.frame(payload))

    def send_counts(self) -> None:
        """Send the refusal counts now (they ride on the next frame otherwise)."""
        counts = self._counts()
        if counts:
            self._send({"m": counts})

    def send_ready(self) -> None:
        """Tell the gateway that this front is listening."""
        self._send({"r": 1})

    async def submit(
        self, submission: Submission, tps_key: str, tps: float | None
    ) -> Accepted:
        if self._lost or self._writer is None:
            raise GatewayGone("the gateway process is not reachable")
        tag = next(self._tags)
        fut: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._waiting[tag] = fut
        self._out.append([tag, submission.row, submission.dup_window, tps_key, tps])
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return await fut

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._out:
            return
        payload: dict[str, Any] = {"s": self._out}
        self._out = []
        counts = self._counts()
        if counts:
            payload["m"] = counts
        self._send(payload)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                for answer in await wire.read_frame(reader):
                    fut = self._waiting.pop(answer[0], None)
                    if fut is None or fut.done():
                        continue
                    kind = answer[1]
                    if kind == wire.OK:
                        fut.set_result(
                            Accepted(
                                id=answer[2], created_at=answer[3], repeated=answer[4]
                            )
                        )
                    elif kind == wire.THROTTLED:
                        fut.set_exception(Throttled())
                    elif kind == wire.REFUSED:
                        fut.set_exception(
                            ValidationError(answer[2], answer[3], field=answer[4])
                        )
                    else:
                        fut.set_exception(StoreError(answer[2]))
        except Exception as exc:
            if self._closing:
                return
            detail = "closed" if isinstance(exc, asyncio.IncompleteReadError) else exc
            log.error(
                "the gateway process's socket is gone (%s)",
                detail,
                extra={"event": "front_lost_gateway"},
            )
        finally:
            self._lost = True
            waiting, self._waiting = self._waiting, {}
            for fut in waiting.values():
                if not fut.done():
                    fut.set_exception(
                        GatewayGone("the gateway process closed its socket")
                    )
            if not self._closing:
                self._on_lost()
