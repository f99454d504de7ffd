"""Process helpers the benchmarks share: free ports and the ``umsgate`` command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
