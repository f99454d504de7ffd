"""Gateway nodes in the store: each process's slot in the ``nodes`` table and its
heartbeat (`umsgate.engine.nodes` decides who is dead), and the schedule of each
paced connector that the nodes share (``connector_pace``). Each operation is a
transaction of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from sqlalchemy import Table, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from umsgate.store.database import Database
from umsgate.store.tables import connector_pace, nodes


def _insert(db: Database, table: Table) -> sqlite.Insert | postgresql.Insert:
    return (sqlite.insert if db.is_sqlite else postgresql.insert)(table)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NodeInfo:
    """A node's row: its slot, its id and its last heartbeat."""

    slot: int
    node_id: str
    heartbeat: float


async def _nodes(conn: AsyncConnection) -> list[NodeInfo]:
    rows = (
        await conn.execute(select(nodes.c.slot, nodes.c.node_id, nodes.c.heartbeat))
    ).all()
    return [NodeInfo(slot=int(s), node_id=n, heartbeat=float(h)) for s, n, h in rows]


async def take_slot(
    db: Database,
    node_id: str,
    now: float,
    *,
    slots: int,
    is_dead: Callable[[NodeInfo], bool],
) -> int | None:
    """Take the first of ``slots`` that is free or held by a node ``is_dead`` says
    is dead, in one transaction; the slot taken, or None (every slot is held by a
    live node, or another node took the slot first)."""
    async with db.transaction() as conn:
        held = {n.slot: n for n in await _nodes(conn)}
        for slot in range(slots):
            node = held.get(slot)
            if node is None:
                stmt = _insert(db, nodes).values(
                    slot=slot, node_id=node_id, heartbeat=now, started_at=now
                )
                result = await conn.execute(
                    stmt.on_conflict_do_nothing(index_elements=["slot"])
                )
            elif is_dead(node):
                result = await conn.execute(
                    update(nodes)
                    .where(nodes.c.slot == slot, nodes.c.node_id == node.node_id)
                    .values(node_id=node_id, heartbeat=now, started_at=now)
                )
            else:
                continue
            if result.rowcount:
                return slot
    return None


async def heartbeat(
    db: Database, slot: int, node_id: str, now: float
) -> tuple[bool, list[NodeInfo]]:
    """Refresh our heartbeat; (False when another node took our slot: we were dead,
    every node's row)."""
    async with db.transaction() as conn:
        result = await conn.execute(
            update(nodes)
            .where(nodes.c.slot == slot, nodes.c.node_id == node_id)
            .values(heartbeat=now)
        )
        return bool(result.rowcount), await _nodes(conn)


async def release_slot(db: Database, slot: int, node_id: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            delete(nodes).where(nodes.c.slot == slot, nodes.c.node_id == node_id)
        )


async def reserve_pace(db: Database, name: str, floor: float, step: float) -> float:
    """Move the shared schedule of connector ``name`` to ``max(tat, floor) + step``
    in one statement (atomic across nodes) and return the new ``tat``."""
    tat = connector_pace.c.tat
    stmt = (
        update(connector_pace)
        .where(connector_pace.c.name == name)
        .values(tat=case((tat > floor, tat), else_=floor) + step)
        .returning(tat)
    )
    async with db.transaction() as conn:
        value = (await conn.execute(stmt)).scalar()
        if value is None:
            # The connector's first chunk: create the row (another node may do so
            # at the same moment), then move it.
            await conn.execute(
                _insert(db, connector_pace)
                .values(name=name, tat=floor)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            value = (await conn.execute(stmt)).scalar_one()
    return float(value)
