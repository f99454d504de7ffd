"""Gateway nodes: each process holds a slot in the ``nodes`` table and beats.

The slot (0–255) goes into every message id it makes, so ids never collide across
processes. A node whose heartbeat is older than ``node_timeout`` is dead, and so is a
node on this host whose process is gone (checked at once, so a restart after a crash
recovers its claims without waiting for the timeout). Claims of dead nodes are taken
over by the dispatcher's recovery.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import socket
from collections.abc import Iterable

from umsgate.clock import Clock
from umsgate.domain.ids import MAX_SLOT
from umsgate.errors import StoreError
from umsgate.store import nodes as node_store
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

    def _dead_node(self, now: float, node: node_store.NodeInfo) -> bool:
        return self._dead(node.node_id, node.heartbeat, now)

    async def join(self) -> int:
        """Take a free or dead node's slot.

        Raises:
            StoreError: all 256 slots are held by live nodes.
        """
        for _ in range(10):
            now = self._time()
            slot = await node_store.take_slot(
                self._db,
                self.node_id,
                now,
                slots=MAX_SLOT + 1,
                is_dead=functools.partial(self._dead_node, now),
            )
            if slot is not None:
                self.slot = slot
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
        ok, rows = await node_store.heartbeat(self._db, self.slot, self.node_id, now)
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
        await node_store.release_slot(self._db, self.slot, self.node_id)
