"""Benchmark: a burst drained at a connector's TPS.

    load generator (this process, native HTTP API, keep-alive, --concurrency)
      → umsgate serve (SQLite in a temporary directory, or --db)
      → SMPP connector with ``tps = --tps`` (the route's only connector)
      → umsgate sim smpp (records the arrival time of every submit_sm)

All N one-part SMS are sent at once, as fast as the gateway accepts them; the
gateway queues what the connector's rate cannot take and drains it at that rate.
Prints, from the simulator's record:

* the submit rate from the first submit_sm to the last (``(N - 1) / span``);
* submits in every whole second, and the lowest and highest of them (the last,
  partial second left out);
* losses: messages that got a 200 and did not end DELIVERED (``umsgate_messages_
  final`` against the 200s), and messages that reached the simulator twice;
* the machine's load average (other work shares its cores).

``--sim-tps`` gives the simulator a TPS limit of its own (beyond it: ESME_RTHROTTLED),
to see that the gateway stays under a provider's limit.

    .venv/bin/python bench/drain.py [--n 5000] [--tps 100] [--concurrency 64]
                                    [--db URL] [--sim-tps N]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).parent))
import _load
from _procs import bench_schema, drop_schema, free_port, send_headers, serve, umsgate

from e2e import metrics, start_listening, wait_ready


def settings_file(path: Path, sim_port: int, tps: float) -> Path:
    path.write_text(
        f"""[[connectors]]
name = "smsc"
protocol = "smpp"
host = "127.0.0.1"
port = {sim_port}
system_id = "bench"
password = "bench"
tps = {tps}

[[routes]]
name = "sms"
channels = ["SMS", "LMS"]
connectors = ["smsc"]
"""
    )
    return path


def records(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().split(b"\n")[:-1] if line]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--tps", type=float, default=100.0, help="connector tps")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--db", default="", help="database URL (default: SQLite)")
    parser.add_argument("--sim-tps", type=float, default=0.0)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the data directory (and the PostgreSQL schema of --db)",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="umsgate-drain-"))
    store = ["--db", args.db] if args.db else ["--data-dir", str(tmp)]
    env = dict(os.environ, UMSGATE_LOG_LEVEL="WARNING")
    if args.db:
        env["UMSGATE_STORE_SCHEMA"] = bench_schema()
    record = tmp / "sim.record.jsonl"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        sim_cmd = [
            sys.executable, "-m", "umsgate", "sim", "smpp", "--port", "0",
            "--account", "bench:bench", "--receipt-delay", "0.5",
            "--record", str(record),
        ]  # fmt: skip
        if args.sim_tps:
            sim_cmd += ["--tps", str(args.sim_tps)]
        sim, line = start_listening(sim_cmd, env, tmp / "sim.log")
        procs.append(sim)
        sim_port = int(line.rsplit(":", 1)[1])
        creds = json.loads(
            umsgate(
                "client", "add", "--id", "bench", "--tps-sms", "1000000",
                "--create", *store, env=env,
            )
        )  # fmt: skip
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        config = settings_file(tmp / "umsgate.toml", sim_port, args.tps)
        server = serve(port, store, config, env, tmp / "serve.log")
        procs.append(server)
        wait_ready(url)
        headers = send_headers(url, creds)
        host = f"127.0.0.1:{port}"

        def make(i: int) -> bytes:
            body = orjson.dumps(
                {
                    "srcMsgId": f"d{i}",
                    "callback": "0212345678",
                    "receiver": f"010{30000000 + i:08d}",
                    "content": f"drain {i}",
                }
            )
            return _load.post(host, "/v1/message/sms", body, headers)

        result = asyncio.run(
            _load.run(
                "127.0.0.1",
                port,
                total=args.n,
                concurrency=args.concurrency,
                make_request=make,
                timeout=60,
            )
        )
        accepted = result.statuses.get(200, 0)
        deadline = time.monotonic() + accepted / args.tps * 2 + 120
        final = 0.0
        while time.monotonic() < deadline:
            final = metrics(httpx.get(url + "/metrics").content).get(
                "umsgate_messages_final", 0.0
            )
            if final >= accepted:
                break
            time.sleep(0.5)
        load = os.getloadavg()
        submitted = records(record)
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
            if args.db:
                drop_schema(args.db, bench_schema())

    times = sorted(float(str(r["at"])) for r in submitted)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    counts = collections.Counter(int(t - times[0]) for t in times)
    whole = [counts[s] for s in range(int(span))]
    destinations = collections.Counter(str(r["destination_addr"]) for r in submitted)
    twice = sum(1 for n in destinations.values() if n > 1)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average at the end "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(
        f"store: {'PostgreSQL' if args.db else 'SQLite'}; connector tps {args.tps:g}"
        + (f", simulator limit {args.sim_tps:g}/s" if args.sim_tps else "")
    )
    print(
        f"sent {args.n} SMS at concurrency {args.concurrency}: {accepted} accepted in "
        f"{result.elapsed:.1f} s ({accepted / result.elapsed:.0f} msg/s); "
        f"statuses {result.statuses}"
    )
    if len(times) > 1:
        print(
            f"submit rate: {(len(times) - 1) / span:.1f} /s ({len(times)} submit_sm "
            f"in {span:.1f} s)"
        )
    if whole:
        print(f"per second: min {min(whole)}, max {max(whole)}; {whole}")
    losses = int(accepted - final)
    print(
        f"losses: {losses} of {accepted} accepted messages not final; "
        f"{twice} sent twice; {len(destinations)} distinct receivers at the SMSC"
    )
    if losses or twice or len(destinations) != accepted:
        raise SystemExit("messages were lost or sent twice")


if __name__ == "__main__":
    main()
