"""``umsgate admin``: operators made, listed, re-passworded and removed from the
command line, a token for the admin API, and a served console that logs them in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from tests.conftest import Store
from tests.e2e.conftest import FAST_ENV, cli, server
from tests.integration.console.support import csrf_of


def admin(
    store: Store, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "umsgate", "admin", *args, *store.cli_args()],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **FAST_ENV, **store.env()},
        timeout=60,
        check=False,
    )


async def test_admin_commands(sqlite_store: Store, tmp_path: Path) -> None:
    made = admin(
        sqlite_store, "add", "--username", "alice", "--password-stdin",
        stdin="first password\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    listed = [orjson.loads(line) for line in cli(sqlite_store, "admin", "list").split()]
    assert [o["username"] for o in listed] == ["alice"]
    assert "password" not in str(listed)
    token = cli(sqlite_store, "admin", "token", "--username", "alice", "--ttl", "15m")
    token = token.strip()
    assert token.startswith("umsop_")

    async with server(sqlite_store, tmp_path) as srv, httpx.AsyncClient() as http:
        r = await http.get(
            srv.url + "/admin/api/clients",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200 and r.json() == {"clients": []}
        form = await http.get(srv.url + "/console/login")
        r = await http.post(
            srv.url + "/console/login",
            data={
                "username": "alice",
                "password": "first password",
                "csrf": csrf_of(form.text),
            },
        )
        assert r.status_code == 303
        assert (await http.get(srv.url + "/console/")).status_code == 200

    changed = admin(
        sqlite_store, "passwd", "--username", "alice", "--password-stdin",
        stdin="second password\n",
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    removed = admin(sqlite_store, "remove", "--username", "alice")
    assert removed.returncode == 0
    assert cli(sqlite_store, "admin", "list") == ""
