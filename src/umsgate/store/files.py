"""Stored files (MMS images), on the driver (`umsgate.store.driver`): the front
processes check a send's files without SQLAlchemy, the gateway stores uploads and
reads them back for the connectors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from umsgate.store.driver import Source, chunks, marks


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FileMeta:
    """What is known of a stored file but its bytes."""

    id: str
    client_id: str
    name: str
    md5: str
    size: int
    expires_at: float


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FileData:
    name: str
    data: bytes


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Kept:
    """Where an upload ended up: its id and end, and whether it was a copy of a
    file stored already (whose id it then has)."""

    id: str
    expires_at: float
    duplicate: bool


async def store_file(
    source: Source, new: FileMeta, data: bytes, *, created_at: float, reuse_until: float
) -> Kept:
    """Store the upload ``new`` of bytes ``data``, unless the client stored the same
    bytes (by MD5) before and that copy lives until ``reuse_until`` at least: then
    that copy's id."""
    async with source.driver.transaction() as tx:
        rows = await tx.fetch(
            "SELECT id, expires_at FROM files WHERE client_id = ? AND md5 = ?"
            " AND expires_at >= ? ORDER BY expires_at DESC LIMIT 1",
            (new.client_id, new.md5, reuse_until),
        )
        if rows:
            file_id, expires_at = rows[0]
            return Kept(
                id=str(file_id), expires_at=float(expires_at or 0), duplicate=True
            )
        await tx.execute(
            "INSERT INTO files (id, client_id, name, md5, size, data, created_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.id,
                new.client_id,
                new.name,
                new.md5,
                new.size,
                data,
                created_at,
                new.expires_at,
            ),
        )
    return Kept(id=new.id, expires_at=new.expires_at, duplicate=False)


async def file_meta(source: Source, file_ids: Sequence[str]) -> dict[str, FileMeta]:
    """The files of ``file_ids`` that exist, by id."""
    found: dict[str, FileMeta] = {}
    for chunk in chunks(list(file_ids)):
        rows = await source.driver.fetch(
            "SELECT id, client_id, name, md5, size, expires_at FROM files"
            f" WHERE id IN ({marks(len(chunk))})",
            tuple(chunk),
        )
        for file_id, client_id, name, md5, size, expires_at in rows:
            found[str(file_id)] = FileMeta(
                id=str(file_id),
                client_id=str(client_id),
                name=str(name),
                md5=str(md5),
                size=int(size or 0),
                expires_at=float(expires_at or 0),
            )
    return found


async def file_data(source: Source, file_id: str) -> FileData | None:
    rows = await source.driver.fetch(
        "SELECT name, data FROM files WHERE id = ?", (file_id,)
    )
    if not rows:
        return None
    name, data = rows[0]
    return FileData(name=str(name), data=data if isinstance(data, bytes) else b"")


async def delete_expired_files(source: Source, now: float) -> int:
    async with source.driver.transaction() as tx:
        return await tx.execute("DELETE FROM files WHERE expires_at < ?", (now,))
