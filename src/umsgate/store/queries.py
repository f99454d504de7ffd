"""The readiness check of the store. Messages, reports and nodes have modules of
their own (`messages`, `reports`, `nodes`), and so have accounts and files
(`accounts`, `files`).
"""

from __future__ import annotations

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncConnection


async def ping(conn: AsyncConnection) -> None:
    """A round trip to the database (``/readyz``)."""
    await conn.execute(select(literal(1)))
