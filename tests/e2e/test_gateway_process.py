"""``umsgate serve`` checks its options, then becomes the gateway process with
``exec``: the same process id (which a service manager signals) runs ``python -m
umsgate gateway …`` and has not loaded the command line's libraries (Typer checks
options with pydantic, whose compiled core would be mapped into the process). It
brings the store's schema up to date before it becomes the gateway, which then
serves, looks messages up and answers its readiness check without loading
SQLAlchemy (its compiled modules, and greenlet's, stay unmapped)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import Store
from tests.e2e.conftest import server


def _argv(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def _proc(pid: int, name: str) -> str:
    return Path(f"/proc/{pid}/{name}").read_text()


@pytest.mark.parametrize("workers", [0, 1], ids=["one-process", "with-a-front"])
async def test_serve_becomes_a_lean_gateway_process(
    sqlite_store: Store, tmp_path: Path, workers: int
) -> None:
    async with server(sqlite_store, tmp_path, workers=workers) as srv:
        assert srv.proc is not None
        pid = srv.proc.pid
        argv = _argv(pid)
        assert argv[1:4] == ["-m", "umsgate", "gateway"], argv
        assert f"--port={srv.port}" in argv
        assert "pydantic_core" not in _proc(pid, "maps")
        children = _proc(pid, f"task/{pid}/children").split()
        kinds = [_argv(int(child))[3] for child in children]
        assert kinds.count("front") == workers
        async with httpx.AsyncClient() as http:
            assert (await http.get(srv.url + "/healthz")).status_code == 200
            assert (await http.get(srv.url + "/readyz")).status_code == 200
        maps = _proc(pid, "maps")
        assert "/sqlalchemy/" not in maps
        assert "/greenlet/" not in maps
    # srv.stop() sent SIGTERM to that pid: the gateway process ended in order
    # (uvicorn raises the signal again once it has shut down).
    assert srv.proc.returncode == -15
    assert "gateway stopped" in srv.log.read_text()


async def _serve_on(store: str, cwd: Path) -> tuple[int | None, str]:
    """``serve`` with ``--db store``, which ends at once: its status and stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "umsgate", "serve", "--port", "0", "--db", store,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, err.decode()


async def test_serve_ends_with_the_reason_when_the_store_cannot_be_reached(
    tmp_path: Path,
) -> None:
    """No server listens on the store's port: ``serve`` says so and exits 1 before
    it becomes the gateway process (no traceback, no half-started gateway)."""
    store = "postgresql://postgres@127.0.0.1:9/none"
    status, message = await _serve_on(store, tmp_path)
    assert status == 1
    assert f"error: cannot bring the store at {store} up to date" in message
    assert "Traceback" not in message


async def test_serve_refuses_a_store_url_it_does_not_support(tmp_path: Path) -> None:
    status, message = await _serve_on("mysql://root@127.0.0.1/test", tmp_path)
    assert status == 2
    assert message.strip() == (
        "configuration error: store.url: 'mysql' databases are not supported"
        " (sqlite, postgresql)"
    )
