"""Timed jobs: "do this to that item at that time", run by one loop.

The IMS and AI CROSS connectors poll each sent message on a schedule, the ToBeText
connector expires messages whose callback never came, and the simulators push
callbacks after a delay and retry them. All of these are an `Agenda`: a heap of
(time, item) with one task that wakes at the earliest time, or when an earlier item
is added, and hands due items to a handler, at most ``concurrency`` at once.

Times are the ``clock``'s monotonic seconds. A handler that raises is
logged and does not stop the loop; a handler reschedules an item by adding it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from umsgate.clock import Monotonic, SystemClock
from umsgate.errors import UmsgateError

T = TypeVar("T")

logger = logging.getLogger(__name__)

#: Items an agenda holds by default (a poll per message in flight: a day of traffic
#: at a few hundred messages a minute).
DEFAULT_MAX_ITEMS = 1_000_000


class AgendaFull(UmsgateError):
    """The agenda holds its maximum number of items."""


class Agenda(Generic[T]):
    """Items due at given times, handed to ``handler`` when due.

    Args:
        handler: called with each due item; its exceptions are logged.
        concurrency: handlers running at once.
        clock: the times are its monotonic seconds (the connector's clock; the
            system clock by default).
        max_items: most items waiting; `add` raises `AgendaFull` above it.
        name: used in log records.
    """

    def __init__(
        self,
        handler: Callable[[T], Awaitable[None]],
        *,
        concurrency: int = 16,
        clock: Monotonic | None = None,
        max_items: int = DEFAULT_MAX_ITEMS,
        name: str = "agenda",
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be ≥ 1, got {concurrency}")
        self._handler = handler
        self._clock = (clock or SystemClock()).monotonic
        self._max_items = max_items
        self._name = name
        self._heap: list[tuple[float, int, T]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._running: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def active(self) -> int:
        """Handlers running now."""
        return len(self._running)

    def add(self, item: T, *, at: float | None = None, delay: float = 0.0) -> None:
        """Schedule ``item`` at clock time ``at`` (or ``delay`` seconds from now).

        Raises:
            AgendaFull: the agenda holds ``max_items`` already.
        """
        if len(self._heap) >= self._max_items:
            raise AgendaFull(f"{self._name}: {self._max_items} items waiting")
        when = self._clock() + delay if at is None else at
        first = not self._heap or when < self._heap[0][0]
        heapq.heappush(self._heap, (when, next(self._seq), item))
        self._idle.clear()
        if first:
            self._wake.set()

    def start(self) -> None:
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Stop the loop and cancel running handlers; waiting items are kept."""
        tasks = [t for t in (self._loop_task, *self._running) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loop_task = None

    async def wait_idle(self, within: float) -> None:
        """Wait until nothing is waiting or running.

        Raises:
            TimeoutError: after ``within`` seconds.
        """
        async with asyncio.timeout(within):
            await self._idle.wait()

    def drop(self, keep: Callable[[T], bool]) -> int:
        """Remove waiting items for which ``keep`` is false; returns how many."""
        before = len(self._heap)
        self._heap = [entry for entry in self._heap if keep(entry[2])]
        heapq.heapify(self._heap)
        self._update_idle()
        return before - len(self._heap)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            now = self._clock()
            if self._heap and self._heap[0][0] <= now:
                # Take a slot before the item leaves the heap, so that an item is
                # always either waiting or running (`wait_idle` relies on it).
                await self._slots.acquire()
                if not self._heap or self._heap[0][0] > self._clock():
                    self._slots.release()  # dropped meanwhile
                    continue
                _, _, item = heapq.heappop(self._heap)
                task = asyncio.create_task(self._handle(item))
                self._running.add(task)
                task.add_done_callback(self._done)
                continue
            wait = self._heap[0][0] - now if self._heap else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def _handle(self, item: T) -> None:
        try:
            await self._handler(item)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception(
                "handler failed",
                extra={"event": "agenda_handler_failed", "agenda": self._name},
            )

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._slots.release()
        self._update_idle()

    def _update_idle(self) -> None:
        if not self._heap and not self._running:
            self._idle.set()
