"""Process helpers the benchmarks share: free ports and the ``umsgate`` command."""

from __future__ import annotations

import socket
import subprocess
import sys


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
