"""Process helpers the benchmarks share: free ports, the ``umsgate`` command, a
gateway serving in its own process, a client's send headers, and the PostgreSQL
schema of a run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def bench_schema() -> str:
    """The PostgreSQL schema of this run (``store.schema``), dropped at its end by
    `drop_schema`: runs of 100,000 messages leave hundreds of MB otherwise."""
    return f"bench_{os.getpid()}"


def drop_schema(url: str, schema: str) -> None:
    """Drop ``schema`` and everything in it from the database at ``url``."""
    import asyncio

    import asyncpg

    from umsgate.store.driver import pg_dsn

    dsn = pg_dsn(url)
    if dsn is None:
        raise ValueError(f"not a PostgreSQL URL: {url}")

    async def drop() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(drop())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def umsgate(*args: str, env: dict[str, str]) -> str:
    """Run ``umsgate ARGS`` to completion; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "umsgate", *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return done.stdout


def _stat(proc: Path) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command's name (which may hold
    spaces and parentheses): [0] state, [1] parent, [11] utime, [12] stime,
    [13] cutime, [14] cstime."""
    return (proc / "stat").read_text().rsplit(")", 1)[1].split()


def _seconds(ticks: int) -> float:
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux /proc)."""
    fields = _stat(Path(f"/proc/{pid}"))
    return _seconds(int(fields[11]) + int(fields[12]))


def postgres_cpu_seconds() -> float | None:
    """CPU time of this machine's PostgreSQL server: its live processes, and the
    backends that have ended (the postmaster's reaped children). None when no
    server runs here, or its processes cannot be read."""
    total = 0
    found = False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = _stat(entry)
        except OSError:
            continue
        found = True
        total += int(fields[11]) + int(fields[12])  # utime, stime
        parent = Path(f"/proc/{fields[1]}/comm")
        try:
            is_postmaster = parent.read_text().strip() != "postgres"
        except OSError:
            is_postmaster = True
        if is_postmaster:
            total += int(fields[13]) + int(fields[14])  # cutime, cstime
    return _seconds(total) if found else None


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a live process and of its live children (``serve --workers``'s
    fronts, connector processes)."""
    return cpu_seconds(pid) + sum(children_cpu_seconds(pid).values())


def children_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time of a live process's live children, summed by what they run: the
    word after ``umsgate`` in their command line (``front``, ``connector-process``)."""
    out: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(entry)
            if int(fields[1]) != pid:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        kind = "other"
        if b"umsgate" in argv and argv.index(b"umsgate") + 1 < len(argv):
            kind = argv[argv.index(b"umsgate") + 1].decode()
        cpu = _seconds(int(fields[11]) + int(fields[12]))
        out[kind] = out.get(kind, 0.0) + cpu
    return out


def descendants(pid: int) -> list[int]:
    """The live descendants of a live process: its children, theirs, and so on."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_stat(entry)[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        out.extend(children)
        todo.extend(children)
    return out


def peak_rss_by_kind(pid: int) -> dict[str, int]:
    """Peak RSS (``VmHWM``, KiB) of a live process (``serve``) and of its live
    descendants, summed by what they run (as `children_cpu_seconds` names them)."""
    out = {"serve": peak_rss_kib([pid])}
    for child in descendants(pid):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        kind = "other"
        if b"umsgate" in argv and argv.index(b"umsgate") + 1 < len(argv):
            kind = argv[argv.index(b"umsgate") + 1].decode()
        out[kind] = out.get(kind, 0) + peak_rss_kib([child])
    return out


def peak_rss_kib(pids: list[int]) -> int:
    """The sum of the peak resident set sizes (``VmHWM``, KiB) of live processes;
    a process gone already counts 0, so read it before stopping them."""
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
                break
    return total


def serve(
    port: int,
    store: list[str],
    config: Path,
    env: dict[str, str],
    log: Path,
    workers: int | None = 0,
) -> subprocess.Popen[bytes]:
    """``umsgate serve`` on ``port`` with ``config`` (and ``workers`` HTTP fronts;
    None: serve's default), its output appended to ``log``."""
    fronts = [] if workers is None else ["--workers", str(workers)]
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "umsgate", "serve", "--port", str(port),
             *store, "--config", str(config), "--log-level", "WARNING", *fronts],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )  # fmt: skip


def send_headers(url: str, creds: dict[str, str]) -> dict[str, str]:
    """A token for ``creds`` and the headers every send request carries."""
    import httpx

    token = httpx.post(
        url + "/v1/auth/token",
        json={k: creds[k] for k in ("clientId", "clientSecret", "clientKey")},
    ).json()["accessToken"]
    return {
        "Authorization": f"Bearer {token}",
        "originCode": "123456789",
        "billCode": "12345",
    }
