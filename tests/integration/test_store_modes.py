"""Files at rest (issue 16): a new data directory is 0700, the SQLite database and
its -wal and -shm files 0600, whatever the umask; existing ones that others may
read are reported, not changed."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Store, make_settings, new_account, running_gateway, sms_body


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_store_is_private(tmp_path: Path) -> None:
    data = tmp_path / "deep" / "data"
    store = Store(backend="sqlite", data_dir=data)
    # A permissive umask: the modes must not come from it.
    with umask(0o000):
        async with running_gateway(make_settings(store)) as gw:
            acct = await new_account(gw)
            r = await gw.http.post(
                "/v1/message/sms", json=sms_body("m-1"), headers=acct.headers()
            )
            assert r.status_code == 200
            files = sorted(p.name for p in data.iterdir())
            assert {"umsgate.db", "umsgate.db-wal", "umsgate.db-shm"} <= set(files)
            assert mode(data) == 0o700
            for name in files:
                assert mode(data / name) == 0o600, name


async def test_an_existing_open_store_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    db = data / "umsgate.db"
    db.touch()
    db.chmod(0o644)
    caplog.set_level(logging.WARNING, logger="umsgate.store")
    async with running_gateway(make_settings(Store(backend="sqlite", data_dir=data))):
        pass
    warned = [r.getMessage() for r in caplog.records if r.name == "umsgate.store"]
    assert any("0755" in m and str(data) in m for m in warned), warned
    assert any("0644" in m and str(db) in m for m in warned), warned
    assert (mode(data), mode(db)) == (0o755, 0o644)
