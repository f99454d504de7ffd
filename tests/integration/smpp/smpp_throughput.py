"""Messages per second through connector → simulator → receipts, with the simulator
in its own process (``python -m umsgate.protocols.smpp.simulator``, as ``umsgate sim
smpp`` runs it) and the connector in this one, both on uvloop.

    .venv/bin/python tests/integration/smpp/smpp_throughput.py [MESSAGES] [WINDOW]

Prints one line per run. Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

import uvloop
from smpp_it import RecordingSink, connector, message

from umsgate.types import Outcome


async def run(total: int, window: int) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "umsgate.protocols.smpp.simulator",
        "--port",
        "0",
        "--account",
        "bench:pw",
        "--receipt-delay",
        "0.1",
        "--window",
        str(window * 2),
        stdout=asyncio.subprocess.PIPE,
        env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        port = int(line.rsplit(":", 1)[1])
        conn = connector(port, "bench", system_id="bench", window=window)
        sink = RecordingSink()
        await conn.start(sink)
        texts = ["Your code is 123456", "[알림] 주문하신 상품이 발송되었습니다."]
        messages = [message(i, texts[i % 2]) for i in range(total)]
        started = time.perf_counter()
        own_started = time.process_time()
        sim_started = _cpu_seconds(proc.pid)
        accepted = 0
        for start in range(0, total, 500):
            results = await conn.submit(messages[start : start + 500])
            accepted += sum(r.outcome is Outcome.ACCEPTED for r in results)
        submitted = time.perf_counter()
        await sink.wait_count(accepted, within=120)
        done = time.perf_counter()
        await conn.stop()
        sim_cpu = _cpu_seconds(proc.pid) - sim_started
        own_cpu = time.process_time() - own_started
        took = done - started
        print(
            f"{total} messages, window {window}: "
            f"submitted {total / (submitted - started):.0f}/s; "
            f"with every receipt back {total / took:.0f}/s ({took:.2f} s; "
            f"{accepted} accepted, {len(sink.reports)} reports); CPU per message: "
            f"simulator {sim_cpu / total * 1e6:.0f} µs, "
            f"connector {own_cpu / total * 1e6:.0f} µs"
        )
    finally:
        proc.terminate()
        await proc.wait()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    w = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run(n, w))
