"""The pacer of one connector: waits for its rate and its window, and keeps the
claimed backlog short. The policy is `umsgate.engine.pacing`; this module adds
the waiting and, on PostgreSQL, the schedule shared by every node (one row of
``connector_pace`` per connector, see `umsgate.store.nodes.reserve_pace`).
"""

from __future__ import annotations

import asyncio
import logging

from umsgate.clock import Clock
from umsgate.config import ConnectorSettings
from umsgate.engine import pacing
from umsgate.store import nodes as node_store
from umsgate.store.database import Database

log = logging.getLogger("umsgate.engine.pacer")


class Pacer:
    """Rate, window and backlog of one connector on this node.

    Args:
        name: the connector's name (the key of its shared schedule).
        tps: messages per second, or None.
        window: most messages in flight, or None.
        max_chunk: the dispatcher's chunk size.
        db: where the schedule is shared (PostgreSQL); None keeps it in process.
        clock: its ``time`` is Unix time in seconds (shared with other nodes).
    """

    def __init__(
        self,
        name: str,
        *,
        tps: float | None,
        window: int | None,
        max_chunk: int,
        db: Database | None,
        clock: Clock,
    ) -> None:
        self.name = name
        self._db = db
        self._time = clock.time
        limit = pacing.chunk_size(max_chunk, window)
        self.pace = pacing.Pace(tps, max_chunk=limit) if tps is not None else None
        self.window = pacing.Window(window) if window is not None else None
        self.backlog = (
            pacing.Backlog(tps, chunk=self.pace.chunk)
            if tps is not None and self.pace is not None
            else None
        )
        #: Messages handed to ``submit`` at once.
        self.chunk = self.pace.chunk if self.pace is not None else limit
        self._freed = asyncio.Event()
        self._shared_failed = False

    @classmethod
    def for_connector(
        cls,
        settings: ConnectorSettings,
        *,
        max_chunk: int,
        db: Database,
        clock: Clock,
        own_window: bool = False,
    ) -> Pacer | None:
        """The pacer a ``[[connectors]]`` table asks for; None when it sets neither
        ``tps`` nor ``window`` (or only a window that its protocol's sessions hold
        themselves: ``own_window``, from `umsgate.protocols.registry.OWN_WINDOW`)."""
        window = None if own_window else settings.window
        if settings.tps is None and window is None:
            return None
        return cls(
            settings.name,
            tps=settings.tps,
            window=window,
            max_chunk=max_chunk,
            db=None if db.is_sqlite else db,
            clock=clock,
        )

    def admit(self, count: int) -> tuple[int, list[float]]:
        """Of ``count`` messages just claimed for the connector, how many to send
        now and the delays of the others (see `pacing.Backlog.admit`); each kept
        message must end with `done`."""
        if self.backlog is None:
            return count, []
        return self.backlog.admit(count, self._time())

    def done(self, n: int) -> None:
        if self.backlog is not None:
            self.backlog.done(n)

    async def turn(self, n: int) -> None:
        """Wait for the slots of ``n`` messages."""
        if self.pace is None:
            return
        for _ in range(pacing.RETAKES):
            start = await self._reserve(n)
            await self._until(start)
            if not self.pace.missed(start, self._time()):
                return
            # The event loop was busy past these slots: sending now would add them
            # to the slots that follow (a burst); take new ones.

    async def _until(self, at: float) -> None:
        delay = at - self._time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _reserve(self, n: int) -> float:
        assert self.pace is not None
        now = self._time()
        if self._db is None:
            return self.pace.reserve(n, now)
        try:
            tat = await node_store.reserve_pace(
                self._db, self.name, self.pace.floor(now), self.pace.step(n)
            )
        except Exception:
            # Without the database nothing new is claimed either; what is claimed
            # goes on at this node's own pace rather than waiting for it.
            if not self._shared_failed:
                log.exception(
                    "the shared pace of %s is unreachable; pacing in process",
                    self.name,
                    extra={"event": "pace_error", "route": self.name},
                )
            self._shared_failed = True
            return self.pace.reserve(n, now)
        self._shared_failed = False
        return self.pace.slots_before(tat, n)

    async def enter(self, n: int) -> None:
        """Wait until ``n`` more messages fit the window; `leave` when answered."""
        if self.window is None:
            return
        while not self.window.take(n):
            self._freed.clear()
            await self._freed.wait()

    def leave(self, n: int) -> None:
        if self.window is not None:
            self.window.release(n)
            self._freed.set()
