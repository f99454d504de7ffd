"""Benchmark: the CPU a process spends on one small write to a socket, when another
process is blocked reading it (the write wakes it) and when nobody waits.

Every hop between umsgate's processes (front ↔ gateway, gateway ↔ connector
process, connector ↔ SMSC) is such a write; this is why each side sends at most one
frame per event-loop turn.

    .venv/bin/python bench/wakeup.py [--n 50000] [--size 64]
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import time


def woken(n: int, size: int) -> float:
    """CPU µs of the writer per write, with a reader process blocked in recv."""
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # the reader: blocks in recv until every byte came
        ours.close()
        got = 0
        while got < n * size:
            got += len(theirs.recv(1 << 16))
        os._exit(0)
    theirs.close()
    payload = b"x" * size
    before = time.process_time()
    for _ in range(n):
        ours.send(payload)
        # Give the reader the core, so that it drains the socket and blocks again:
        # each send then finds a sleeping reader, as a busy gateway's does.
        time.sleep(0)
    cpu = time.process_time() - before
    os.waitpid(pid, 0)
    ours.close()
    return 1e6 * cpu / n


def unread(n: int, size: int) -> float:
    """CPU µs per write when nobody waits on the other end (read in bulk)."""
    ours, theirs = socket.socketpair()
    payload = b"x" * size
    before = time.process_time()
    for i in range(n):
        ours.send(payload)
        if i % 100 == 99:
            theirs.recv(1 << 20)  # the hundred writes so far, in one read
    cpu = time.process_time() - before
    ours.close()
    theirs.close()
    return 1e6 * cpu / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    n, size = args.n, args.size
    print(f"write of {size} bytes, a reader waiting: {woken(n, size):6.1f} µs CPU")
    print(f"write of {size} bytes, nobody waiting:   {unread(n, size):6.1f} µs CPU")


if __name__ == "__main__":
    main()
