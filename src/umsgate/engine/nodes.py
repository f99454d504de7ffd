"""Gateway nodes: each process holds a slot in the ``nodes`` table and beats.

The slot (0–255) goes into every message id it makes, so ids never collide across
processes. A node whose heartbeat is older than ``node_timeout`` is dead, and so is a
node on this host whose process is gone (checked at once, so a restart after a crash
recovers its claims without waiting for the timeout). Claims of dead nodes are taken
over by the dispatcher's recovery.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Iterable

from umsgate.clock import Clock
from umsgate.domain.ids import MAX_SLOT
from umsgate.errors import StoreError
from umsgate.store import queries
from umsgate.store.database import Database

log = logging.getLogger("umsgate.engine.nodes")


def _host() -> str:
    return socket.gethostname()[:20]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Nodes:
    def __init__(self, db: Database, *, timeout: float, clock: Clock) -> None:
        self._db = db
        self._timeout = timeout
        self._time = clock.time
        self.node_id = f"{_host()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.slot = -1
        self.live: set[str] = {self.node_id}

    def _dead(self, node_id: str, heartbeat: float, now: float) -> bool:
        if node_id == self.node_id:
            return False
        if heartbeat < now - self._timeout:
            return True
        host, _, rest = node_id.partition(":")
        pid_text = rest.partition(":")[0]
        return host == _host() and pid_text.isdigit() and not _pid_alive(int(pid_text))

    async def join(self) -> int:
        """Take a free or dead node's slot.

        Raises:
            StoreError: all 256 slots are held by live nodes.
        """
        for _ in range(10):
            now = self._time()
            async with self._db.transaction() as conn:
                rows = {r.slot: r for r in await queries.node_rows(conn)}
                for slot in range(MAX_SLOT + 1):
                    row = rows.get(slot)
                    if row is None:
                        if await queries.take_free_slot(conn, slot, self.node_id, now):
                            self.slot = slot
                            break
                    elif self._dead(row.node_id, row.heartbeat, now):
                        if await queries.take_stale_slot(
                            conn, slot, self.node_id, row.node_id, now
                        ):
                            self.slot = slot
                            break
            if self.slot >= 0:
                log.info(
                    "joined as node %s in slot %d",
                    self.node_id,
                    self.slot,
                    extra={"event": "node_join"},
                )
                return self.slot
        raise StoreError("no free node slot: 256 gateway processes are alive")

    async def beat(self) -> bool:
        """Refresh the heartbeat and the set of live nodes; False if our slot was
        lost."""
        now = self._time()
        async with self._db.transaction() as conn:
            ok = await queries.heartbeat(conn, self.slot, self.node_id, now)
            rows = await queries.node_rows(conn)
        self.live = {
            r.node_id for r in rows if not self._dead(r.node_id, r.heartbeat, now)
        }
        self.live.add(self.node_id)
        return ok

    def dead_among(self, owners: Iterable[str]) -> list[str]:
        """The owners that are not live nodes (as of the last beat)."""
        out = []
        for owner in owners:
            if owner in self.live:
                host, _, rest = owner.partition(":")
                pid_text = rest.partition(":")[0]
                if (
                    host == _host()
                    and pid_text.isdigit()
                    and owner != self.node_id
                    and not _pid_alive(int(pid_text))
                ):
                    out.append(owner)
            else:
                out.append(owner)
        return out

    async def leave(self) -> None:
        async with self._db.transaction() as conn:
            await queries.release_slot(conn, self.slot, self.node_id)
