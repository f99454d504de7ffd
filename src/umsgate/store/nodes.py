"""Gateway nodes in the store: each process's slot in the ``nodes`` table and its
heartbeat (`umsgate.engine.nodes` decides who is dead), and the schedule of each
paced connector that the nodes share (``connector_pace``). Each operation is a
transaction of its own, on the driver (`umsgate.store.driver`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from umsgate.store.driver import Source, Tx


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NodeInfo:
    """A node's row: its slot, its id and its last heartbeat."""

    slot: int
    node_id: str
    heartbeat: float


async def _nodes(tx: Tx) -> list[NodeInfo]:
    rows = await tx.fetch("SELECT slot, node_id, heartbeat FROM nodes")
    return [
        NodeInfo(slot=int(s or 0), node_id=str(n), heartbeat=float(h or 0))
        for s, n, h in rows
    ]


async def take_slot(
    db: Source,
    node_id: str,
    now: float,
    *,
    slots: int,
    is_dead: Callable[[NodeInfo], bool],
) -> int | None:
    """Take the first of ``slots`` that is free or held by a node ``is_dead`` says
    is dead, in one transaction; the slot taken, or None (every slot is held by a
    live node, or another node took the slot first)."""
    async with db.driver.transaction() as tx:
        held = {n.slot: n for n in await _nodes(tx)}
        for slot in range(slots):
            node = held.get(slot)
            if node is None:
                changed = await tx.execute(
                    "INSERT INTO nodes (slot, node_id, heartbeat, started_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (slot) DO NOTHING",
                    (slot, node_id, now, now),
                )
            elif is_dead(node):
                changed = await tx.execute(
                    "UPDATE nodes SET node_id = ?, heartbeat = ?, started_at = ?"
                    " WHERE slot = ? AND node_id = ?",
                    (node_id, now, now, slot, node.node_id),
                )
            else:
                continue
            if changed:
                return slot
    return None


async def heartbeat(
    db: Source, slot: int, node_id: str, now: float
) -> tuple[bool, list[NodeInfo]]:
    """Refresh our heartbeat; (False when another node took our slot: we were dead,
    every node's row)."""
    async with db.driver.transaction() as tx:
        changed = await tx.execute(
            "UPDATE nodes SET heartbeat = ? WHERE slot = ? AND node_id = ?",
            (now, slot, node_id),
        )
        return bool(changed), await _nodes(tx)


async def release_slot(db: Source, slot: int, node_id: str) -> None:
    async with db.driver.transaction() as tx:
        await tx.execute(
            "DELETE FROM nodes WHERE slot = ? AND node_id = ?", (slot, node_id)
        )


#: Moves a connector's shared schedule in one statement (atomic across nodes).
_MOVE_PACE = (
    "UPDATE connector_pace SET tat = CASE WHEN tat > ? THEN tat ELSE ? END + ?"
    " WHERE name = ? RETURNING tat"
)


async def reserve_pace(db: Source, name: str, floor: float, step: float) -> float:
    """Move the shared schedule of connector ``name`` to ``max(tat, floor) + step``
    in one statement (atomic across nodes) and return the new ``tat``."""
    params = (floor, floor, step, name)
    async with db.driver.transaction() as tx:
        rows = await tx.fetch(_MOVE_PACE, params)
        if not rows:
            # The connector's first chunk: create the row (another node may do so
            # at the same moment), then move it.
            await tx.execute(
                "INSERT INTO connector_pace (name, tat) VALUES (?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                (name, floor),
            )
            rows = await tx.fetch(_MOVE_PACE, params)
    return float(rows[0][0] or 0)
