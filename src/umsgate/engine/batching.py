"""What the acceptor and the ledger share as group committers: one task that writes
what callers queued, in batches, and ends once it is stopped with nothing left
queued; the callers of a batch whose write failed get its error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, ClassVar


class BatchWriter:
    """The task (`_run`, named `task_name`) of a group committer: it waits on
    `_wake` for work and returns once `_closing` is set and nothing is queued."""

    #: The name of the task.
    task_name: ClassVar[str]

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        """Write what is queued, then end the task."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        raise NotImplementedError


def fail_callers(
    batch: Iterable[tuple[object, asyncio.Future[Any]]], exc: BaseException
) -> None:
    """Give ``exc`` to the callers of a batch that was not written (those not
    answered already)."""
    for _, fut in batch:
        if not fut.done():
            fut.set_exception(exc)
