"""Stored images for MMS: upload checks, de-duplication, expiry, and reading them back
for connectors (`umsgate.protocols.registry.FileSource`).

A file is accepted only if its bytes are a JPEG (the marker structure up to the start
of scan is walked; the name and the declared type are not trusted), at most
1,048,576 bytes (apigw spec §4). The same content uploaded again by the same client
while the stored copy has at least a day left answers 41000 with the existing id
(resolution of §4). Files expire 30 days after upload and are then deleted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from collections.abc import Sequence

from umsgate.domain.results import Invalid
from umsgate.errors import UmsgateError, ValidationError
from umsgate.store import files as stored
from umsgate.store.driver import Source

#: Largest image (apigw spec §4).
MAX_FILE_BYTES = 1_048_576
#: Validity of an uploaded file (apigw spec §4: 30 days).
FILE_TTL = 30 * 86400.0
#: A duplicate upload reuses the stored copy only if it has this long left.
DEDUP_MIN_LEFT = 86400.0
#: Longest file name kept.
MAX_NAME = 255
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


class NotJpeg(UmsgateError):
    """The upload is not a JPEG image."""


def is_jpeg(data: bytes) -> bool:
    """Whether ``data`` starts like a JPEG: SOI, then well-formed marker segments up
    to a start-of-scan (JPEG, ITU T.81 §B.1)."""
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        return False
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD8 or marker == 0x00:
            return False
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > len(data):
            return False
        if marker == 0xDA:  # start of scan: the headers were well formed
            return True
        pos += 2 + length
    return False


def new_file_id() -> str:
    """13 characters of Crockford base32 (65 random bits), like the seed's
    ``0GBBSVB5JSAYS``."""
    n = secrets.randbits(65)
    return "".join(_ALPHABET[(n >> (5 * i)) & 31] for i in range(13))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Stored:
    file_id: str
    expires_at: float
    duplicate: bool


class FileStore:
    def __init__(self, db: Source) -> None:
        self._db = db

    async def put(
        self, client_id: str, name: str, data: bytes, *, now: float | None = None
    ) -> Stored:
        """Store an upload.

        Raises:
            ValidationError: TOO_LONG over the size limit.
            NotJpeg: the bytes are not a JPEG.
        """
        if len(data) > MAX_FILE_BYTES:
            raise ValidationError(
                Invalid.TOO_LONG,
                f"img is {len(data)} bytes; at most {MAX_FILE_BYTES}",
                field="img",
            )
        if not is_jpeg(data):
            raise NotJpeg("img is not a JPEG image")
        t = time.time() if now is None else now
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        new = stored.FileMeta(
            id=new_file_id(),
            client_id=client_id,
            name=name[:MAX_NAME] or "image.jpg",
            md5=md5,
            size=len(data),
            expires_at=t + FILE_TTL,
        )
        kept = await stored.store_file(
            self._db, new, data, created_at=t, reuse_until=t + DEDUP_MIN_LEFT
        )
        return Stored(
            file_id=kept.id, expires_at=kept.expires_at, duplicate=kept.duplicate
        )

    async def meta(
        self, client_id: str, file_id: str, *, now: float | None = None
    ) -> dict[str, object] | None:
        t = time.time() if now is None else now
        if not (file_id.isascii() and file_id.isalnum()):
            return None  # never a stored id (and NUL cannot reach PostgreSQL)
        found = await stored.file_meta(self._db, [file_id])
        row = found.get(file_id)
        if row is None or row.client_id != client_id or row.expires_at <= t:
            return None
        return {
            "fileId": row.id,
            "name": row.name,
            "md5": row.md5,
            "size": row.size,
            "expires_at": row.expires_at,
        }

    async def check_usable(
        self, client_id: str, file_ids: Sequence[str], *, field: str, until: float
    ) -> None:
        """Every id must exist, belong to the client and live until ``until``.

        Raises:
            ValidationError: BAD_FILE naming the first id that does not.
        """
        if not file_ids:
            return
        found = await stored.file_meta(self._db, file_ids)
        for fid in file_ids:
            row = found.get(fid)
            if row is None or row.client_id != client_id or row.expires_at <= until:
                raise ValidationError(
                    Invalid.BAD_FILE,
                    f"{field}: {fid!r} is unknown or expired",
                    field=field,
                )

    async def load(self, file_id: str) -> tuple[str, bytes]:
        row = await stored.file_data(self._db, file_id)
        if row is None:
            raise KeyError(file_id)
        return row.name, row.data

    async def purge(self, now: float | None = None) -> int:
        return await stored.delete_expired_files(
            self._db, time.time() if now is None else now
        )
