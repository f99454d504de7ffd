"""Benchmark: how many SMS per second the native API accepts with durable commit.

Starts ``umsgate serve`` (SQLite in a temporary directory, or ``--db``; sandbox
carrier) as a subprocess, creates a client, then sends N SMS over real HTTP at the
given concurrency from this process, and prints accepted msg/s and p50/p99 latency.
Every 200 is a committed message: the script counts the stored messages afterwards.

Two workloads:
  deliver  (default) the messages are due at once: the gateway delivers them through
           the sandbox carrier while it accepts (the whole pipeline runs);
  reserve  the messages are reserved an hour ahead (a campaign upload): the figure
           is the accept path alone (HTTP, validation, JSON, group commit).

``--face tobetext`` sends ToBeText's ``POST /sms`` forms instead of the native
JSON (that face has no reservation: its messages are delivered meanwhile).

    .venv/bin/python bench/accept.py [--n 20000] [--concurrency 64]
                                     [--workload deliver|reserve] [--db URL]
                                     [--workers N] [--face native|tobetext]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).parent))
import _load
from _procs import (
    bench_schema,
    cpu_seconds,
    drop_schema,
    free_port,
    tree_cpu_seconds,
    umsgate,
)


def wait_ready(url: str, workers: int = 0, timeout: float = 30.0) -> None:
    """Until /healthz answers (and, with fronts, every front listens)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(url + "/healthz", timeout=1)
            if answer.status_code == 200 and (
                not workers or answer.json()["fronts"]["ready"] == workers
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("gateway did not start")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workload", choices=["deliver", "reserve"], default="deliver")
    parser.add_argument("--db", default="", help="database URL (default: SQLite)")
    parser.add_argument(
        "--workers", type=int, default=0, help="serve --workers (HTTP front processes)"
    )
    parser.add_argument(
        "--face",
        choices=["native", "tobetext"],
        default="native",
        help="the native API's JSON sends, or ToBeText's POST /sms",
    )
    args = parser.parse_args()
    tobetext_token = "bench-tobetext-token"

    tmp = Path(tempfile.mkdtemp(prefix="umsgate-bench-"))
    store = ["--db", args.db] if args.db else ["--data-dir", str(tmp)]
    env = dict(os.environ, UMSGATE_SANDBOX_DELAY="0.5")
    if args.db:
        env["UMSGATE_STORE_SCHEMA"] = bench_schema()
    creds = json.loads(
        umsgate(
            "client",
            "add",
            "--id",
            "bench",
            "--tps-sms",
            "1000000",
            "--tps-mms",
            "1000000",
            "--create",
            "--tobetext-token",
            tobetext_token,
            *store,
            env=env,
        )
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "umsgate",
            "serve",
            "--port",
            str(port),
            *store,
            "--workers",
            str(args.workers),
            "--log-level",
            "WARNING",
        ],
        env=env,
    )
    try:
        wait_ready(url, args.workers)
        token = httpx.post(
            url + "/v1/auth/token",
            json={k: creds[k] for k in ("clientId", "clientSecret", "clientKey")},
        ).json()["accessToken"]
        headers = {
            "Authorization": f"Bearer {token}",
            "originCode": "123456789",
            "billCode": "12345",
        }
        host = f"127.0.0.1:{port}"
        extra = {}
        if args.workload == "reserve":
            kst_in_an_hour = time.gmtime(time.time() + 9 * 3600 + 3600)
            extra["reserveTime"] = time.strftime("%Y%m%d%H%M", kst_in_an_hour)

        def make(i: int) -> bytes:
            body = orjson.dumps(
                {
                    "srcMsgId": f"b{i}",
                    "callback": "0212345678",
                    "receiver": f"010{10000000 + i % 90000000:08d}",
                    "content": f"벤치마크 메시지 {i}",
                    **extra,
                }
            )
            return _load.post(host, "/v1/message/sms", body, headers)

        def make_tobetext(i: int) -> bytes:
            form = urllib.parse.urlencode(
                {
                    "Ckey": f"b{i}",
                    "RecvNum": f"+8210{10000000 + i % 90000000:08d}",
                    "SendNum": "+82212345678",
                    "Body": f"벤치마크 메시지 {i}",
                    "Cid": "bench",
                    "token": tobetext_token,
                }
            ).encode()
            head = (
                f"POST /sms HTTP/1.1\r\nHost: {host}\r\nContent-Type: "
                "application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(form)}\r\n\r\n"
            )
            return head.encode() + form

        load_before = os.getloadavg()[0]
        serve_before = tree_cpu_seconds(server.pid)
        owner_before = cpu_seconds(server.pid)
        self_before = time.process_time()
        with _load.runner() as load_runner:
            result = load_runner.run(
                _load.run(
                    "127.0.0.1",
                    port,
                    total=args.n,
                    concurrency=args.concurrency,
                    make_request=make if args.face == "native" else make_tobetext,
                )
            )
        serve_cpu = tree_cpu_seconds(server.pid) - serve_before
        owner_cpu = cpu_seconds(server.pid) - owner_before
        self_cpu = time.process_time() - self_before
    finally:
        server.terminate()
        server.wait(timeout=60)
        if args.db:
            drop_schema(args.db, bench_schema())
    ok = result.statuses.get(200, 0)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(f"load average before the run: {load_before:.2f}")
    workload = args.workload if args.face == "native" else "tobetext"
    print(
        f"workload: {workload}, store: {'PostgreSQL' if args.db else 'SQLite'}, "
        f"fronts: {args.workers}"
    )
    print(
        f"sent {args.n} SMS at concurrency {args.concurrency} in {result.elapsed:.2f} s"
    )
    print(f"statuses: {result.statuses}")
    print(f"accepted: {ok / result.elapsed:.0f} msg/s")
    p50, p99 = result.percentile(50) * 1000, result.percentile(99) * 1000
    print(f"latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(
        f"CPU: umsgate serve {serve_cpu:.1f} s ({serve_cpu / args.n * 1e6:.0f} µs/msg, "
        f"{serve_cpu / result.elapsed * 100:.0f} % of a core), load generator "
        f"{self_cpu:.1f} s ({self_cpu / args.n * 1e6:.0f} µs/msg)"
    )
    if args.workers:
        print(
            f"of which the gateway process {owner_cpu:.1f} s "
            f"({owner_cpu / args.n * 1e6:.0f} µs/msg), its {args.workers} fronts "
            f"{serve_cpu - owner_cpu:.1f} s "
            f"({(serve_cpu - owner_cpu) / args.n * 1e6:.0f} µs/msg)"
        )
    if not args.db:
        with sqlite3.connect(tmp / "umsgate.db") as conn:
            stored = conn.execute("select count(*) from messages").fetchone()[0]
        print(f"stored: {stored} messages (200s: {ok})")
        if stored != ok:
            raise SystemExit("the stored messages and the 200s differ")


if __name__ == "__main__":
    main()
