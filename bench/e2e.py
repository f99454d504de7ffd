"""Benchmark: messages per second through the whole gateway over SMPP.

    load generator (this process, native HTTP API, keep-alive, --concurrency)
      → umsgate serve (SQLite in a temporary directory, or --db)
      → SMPP connector (one transceiver bind, --window)
      → umsgate sim smpp (a receipt for every submit after --receipt-delay)
      → umsgate serve (receipts → final status → webhook)
      → webhook receiver (bench/e2e_receiver.py, its own process, answers OK)

Every part runs in its own process. The messages are one-part Korean SMS (UCS-2), so
messages and SMPP submits are the same count. Prints:

* accepted msg/s: 200s over the time from the first request to the last answer;
* SMPP submits/s: the gateway's ``umsgate_messages_submitted`` counter, from the
  first submit to the last (sampled every ``--sample`` seconds);
* webhook reports/s: reports the receiver counted, from its first to its last;
* end to end: from the first request to the last report, and messages/s over it;
* losses: umsMsgIds that got a 200 and no report (must be 0);
* CPU seconds of each process and per message (with ``--db``, the PostgreSQL
  server's too when it runs on this machine);
* peak RSS of the gateway: the ``VmHWM`` of the serve process and of every process
  under it (fronts, connector processes), summed, read at the end of the run;
* what became of the simulator's receipts (sent, answered, refused, lost), how long
  the gateway took to answer them (p50, p90, p99; a receipt holds a slot of the
  SMSC's window until then) and the most unanswered at once on a session.

``--receipt-delay 0`` sends each receipt in the write of its submit_sm_resp;
``--early F`` sends that share before it, ``--burst S`` holds receipts and sends
them together every S seconds, ``--receipt-window 0`` lets the SMSC ignore windows
and ``--no-resend`` makes a refused receipt a lost report.

``--no-webhook`` gives the client no report URL: the run ends when every message is
final (``umsgate_messages_final``), which shows what the pipeline does without the
webhook client (losses are then accepted messages not final).

``--connect-first`` opens the load generator's connections before its first request
and times the run from that request (``bench/kannel.py`` uses it on both gateways:
Kannel's listen backlog is 10). ``--json`` prints, after all that, one line with a
JSON object of the figures (``bench/kannel.py`` runs this script and reads it).

``--profile FILE`` samples the serve process with py-spy during the run
(``py-spy record --format raw``: collapsed stacks) and prints where its time went
(``.venv/bin/pip install py-spy`` first).

    .venv/bin/python bench/e2e.py [--n 20000] [--concurrency 64] [--window 50]
                                  [--receipt-delay 0.5] [--receipt-window 50]
                                  [--early F] [--burst S] [--no-resend]
                                  [--db URL] [--profile FILE]
                                  [--workers N] [--reports-per-post N] [--no-webhook]
                                  [--own-process] [--peer] [--json]

``--workers N`` runs ``serve --workers N``: N HTTP front processes take the sends
and hand them to the gateway process (whose CPU then includes theirs; the split is
printed). ``--reports-per-post N`` sets ``webhook.reports_per_post``: the client's
due reports go up to N to a POST, as a JSON array.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).parent))
import _load
from _procs import (
    bench_schema,
    children_cpu_seconds,
    cpu_seconds,
    descendants,
    drop_schema,
    free_port,
    peak_rss_by_kind,
    peak_rss_kib,
    postgres_cpu_seconds,
    send_headers,
    serve,
    tree_cpu_seconds,
    umsgate,
)

_METRIC = re.compile(
    rb"^(umsgate_[a-z_]+?)(?:_total)?(?:\{[^}]*\})? ([0-9.e+]+)$", re.M
)


def start_listening(
    cmd: list[str], env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``cmd``; its process and the first line it prints (``listening …``)."""
    with open(log, "ab") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("listening"):
        proc.kill()
        raise SystemExit(f"{cmd[:4]} did not start: {line!r}; see {log}")
    return proc, line


def wait_ready(url: str, workers: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            health = httpx.get(url + "/healthz", timeout=1).json()
            if health["connectors"]["smsc"]["up"] and (
                not workers or health["fronts"]["ready"] == workers
            ):
                return
        time.sleep(0.1)
    raise SystemExit("the gateway did not start or did not bind")


def metrics(text: bytes) -> dict[str, float]:
    out: dict[str, float] = collections.defaultdict(float)
    for name, value in _METRIC.findall(text):
        out[name.decode()] += float(value)
    return out


def settings_file(
    path: Path,
    sim_port: int,
    window: int,
    reports_per_post: int,
    own_process: bool | None,
) -> Path:
    """The gateway's settings (``own_process`` None: left to serve's default)."""
    process = "" if own_process is None else f"own_process = {str(own_process).lower()}"
    path.write_text(
        f"""[webhook]
reports_per_post = {reports_per_post}
allow_private_targets = true

[[connectors]]
name = "smsc"
protocol = "smpp"
host = "127.0.0.1"
port = {sim_port}
system_id = "bench"
password = "bench"
window = {window}
{process}

[[routes]]
name = "sms"
channels = ["SMS", "LMS"]
connectors = ["smsc"]
"""
    )
    return path


class Sampler:
    """Samples the gateway's metrics and the receiver's counts while the run goes."""

    def __init__(self, gateway: str, receiver: str, interval: float) -> None:
        self.gateway = gateway
        self.receiver = receiver
        self.interval = interval
        #: (monotonic time, submitted, reports at the receiver, final messages,
        #: accepted)
        self.samples: list[tuple[float, float, int, float, float]] = []
        self.first_final = 0.0
        self.last_final = 0.0
        self.first_submit = 0.0
        self.last_submit = 0.0

    async def run(self, until: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            last = -1.0
            while True:
                now = time.monotonic()
                m = metrics((await http.get(self.gateway + "/metrics")).content)
                stats = (await http.get(self.receiver + "/stats")).json()
                submitted = m.get("umsgate_messages_submitted", 0.0)
                final = m.get("umsgate_messages_final", 0.0)
                if submitted and not self.first_submit:
                    self.first_submit = now - self.interval / 2
                if submitted != last:
                    self.last_submit = now
                    last = submitted
                if final and not self.first_final:
                    self.first_final = now - self.interval / 2
                if not self.samples or final != self.samples[-1][3]:
                    self.last_final = now
                accepted = m.get("umsgate_messages_accepted", 0.0)
                self.samples.append(
                    (now, submitted, int(stats["reports"]), final, accepted)
                )
                if until.is_set():
                    return
                await asyncio.sleep(self.interval)

    def timeline(self, start: float) -> None:
        """Print the counts of every sample, from ``start``."""
        print("   t (s)  accepted submitted    final  reports")
        for at, submitted, reports, final, accepted in self.samples:
            print(
                f"{at - start:8.1f} {accepted:9.0f} {submitted:9.0f} {final:8.0f} "
                f"{reports:8d}"
            )

    def peak(self, column: int, span: float = 2.0) -> float:
        """Highest rate of a column over ``span`` seconds."""
        best = 0.0
        s = self.samples
        j = 0
        for i in range(len(s)):
            while s[i][0] - s[j][0] > span:
                j += 1
            if i > j and s[i][0] - s[j][0] > 0:
                best = max(best, (s[i][column] - s[j][column]) / (s[i][0] - s[j][0]))
        return best


def summarise_profile(raw: Path, top: int = 20) -> None:
    """Print where the serve process's samples went, from py-spy's collapsed stacks
    (``thread;frame;frame;… count``): per thread, then the event loop thread by
    area (inclusive) and by function (self).

    The aiosqlite worker thread's own frame is mostly its wait for the next
    statement (py-spy cannot tell that wait from work); SQLite's work shows under
    ``Connection._execute``. A leaf in ``Runner.run`` is the event loop itself
    (uvloop, in C: polling and callbacks)."""
    threads: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    areas: collections.Counter[str] = collections.Counter()
    main = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        thread = frames[0].split(": ", 1)[-1]
        thread = "MainThread" if thread == "MainThread" else "aiosqlite worker"
        threads[thread] += n
        if thread != "MainThread":
            continue
        main += n
        leaf[_short(frames[-1])] += n
        for name in {_group(f) for f in frames[1:]} - {""}:
            areas[name] += n
    total = sum(threads.values())
    if not total:
        print("profile: no samples")
        return
    print(
        f"profile: {total} samples of the serve process: "
        + ", ".join(f"{k} {100 * v / total:.0f} %" for k, v in threads.items())
    )
    print("  event loop thread by area (inclusive; % of its samples):")
    for name, n in areas.most_common(top):
        print(f"    {100 * n / main:5.1f} %  {name}")
    print("  event loop thread by function (self):")
    for name, n in leaf.most_common(top):
        print(f"    {100 * n / main:5.1f} %  {name}")


def _short(frame: str) -> str:
    # py-spy frames: "function (path/to/file.py:line)"
    m = re.match(r"(.*) \((.*?):?(\d+)?\)$", frame)
    if not m:
        return frame
    func, path = m.group(1), m.group(2)
    return f"{func} ({_module(path)})"


def _module(path: str) -> str:
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return path.removesuffix(".py").replace("/", ".")


_AREAS = [
    ("umsgate.protocols.apigw", "native API (umsgate.protocols.apigw)"),
    ("umsgate.engine.accept", "acceptor (group commit)"),
    ("umsgate.engine.dispatcher", "dispatcher"),
    ("umsgate.engine.ledger", "ledger"),
    ("umsgate.store", "store (umsgate.store, aiosqlite calls)"),
    ("aiosqlite", "store (umsgate.store, aiosqlite calls)"),
    ("umsgate.protocols.smpp", "SMPP connector (umsgate.protocols.smpp)"),
    ("umsgate.reports", "notifier (umsgate.reports)"),
    ("httpx", "httpx/httpcore/anyio (webhook client)"),
    ("httpcore", "httpx/httpcore/anyio (webhook client)"),
    ("anyio", "httpx/httpcore/anyio (webhook client)"),
    ("h11", "httpx/httpcore/anyio (webhook client)"),
    ("<frozen importlib", "import machinery (httpcore's failed 'import sniffio')"),
    ("uvicorn.protocols", "HTTP server (uvicorn, httptools)"),
    ("uvicorn.middleware", "HTTP server (uvicorn, httptools)"),
    ("logging", "logging"),
    ("prometheus_client", "prometheus_client"),
]


def _group(frame: str) -> str:
    module = _short(frame)
    if module.startswith("Runner.run (asyncio.runners"):
        return ""
    for prefix, name in _AREAS:
        if f"({prefix}" in module:
            return name
    return ""


@contextlib.contextmanager
def profiling(pid: int, out: Path | None) -> Iterator[None]:
    if out is None:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    proc = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--format", "raw", "--output", str(out),
         "--rate", "200", "--nonblocking", "--threads"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode not in (0, -signal.SIGINT) and not out.exists():
            print(f"py-spy failed: {err.decode()[-500:]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--window", type=int, default=50, help="connector window")
    parser.add_argument("--receipt-delay", type=float, default=0.5)
    parser.add_argument(
        "--receipt-window",
        type=int,
        default=50,
        help="the simulator's window of unanswered receipts per session (0: none)",
    )
    parser.add_argument(
        "--peer",
        action="store_true",
        help="use bench/peer_smsc.py (no umsgate code) instead of umsgate sim smpp",
    )
    parser.add_argument(
        "--early",
        type=float,
        default=0.0,
        help="the share of receipts sent before their submit_sm_resp",
    )
    parser.add_argument(
        "--burst",
        type=float,
        default=0.0,
        help="hold receipts and send them together every BURST seconds",
    )
    parser.add_argument(
        "--no-resend",
        action="store_true",
        help="umsgate sim smpp --no-resend-refused: a refused receipt is lost "
        "(bench/peer_smsc.py never sends one again)",
    )
    parser.add_argument("--db", default="", help="database URL (default: SQLite)")
    parser.add_argument("--sample", type=float, default=0.5)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument(
        "--workers", type=int, default=0, help="serve --workers (HTTP front processes)"
    )
    parser.add_argument(
        "--reports-per-post",
        type=int,
        default=1,
        help="webhook.reports_per_post: most reports in one webhook POST",
    )
    parser.add_argument(
        "--own-process",
        action="store_true",
        help="own_process = true: the SMPP connector runs in a process of its own",
    )
    parser.add_argument(
        "--timeline", action="store_true", help="print the counts of every sample"
    )
    parser.add_argument(
        "--serve-defaults",
        action="store_true",
        help="leave --workers and own_process to serve's defaults (auto)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the data directory (and the PostgreSQL schema of --db)",
    )
    parser.add_argument(
        "--no-webhook", action="store_true", help="the client has no report URL"
    )
    parser.add_argument(
        "--connect-first",
        action="store_true",
        help="open every connection of the load before the first request, and time "
        "the run from that request",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the figures as one JSON object on the last line",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="umsgate-e2e-"))
    store = ["--db", args.db] if args.db else ["--data-dir", str(tmp)]
    # The receiver listens on 127.0.0.1: `client add --report-url` and the
    # gateway must allow private targets (docs/security.md).
    env = dict(
        os.environ,
        UMSGATE_LOG_LEVEL="WARNING",
        UMSGATE_WEBHOOK_ALLOW_PRIVATE_TARGETS="1",
    )
    if args.db:
        env["UMSGATE_STORE_SCHEMA"] = bench_schema()
    procs: list[subprocess.Popen[bytes]] = []
    receipt_waits = ""
    try:
        if args.peer:
            sim_cmd = [
                sys.executable, str(Path(__file__).parent / "peer_smsc.py"),
                "--receipt-delay", str(args.receipt_delay),
                "--window", str(args.receipt_window), "--early", str(args.early),
                "--burst", str(args.burst),
            ]  # fmt: skip
        else:
            sim_cmd = [
                sys.executable, "-m", "umsgate", "sim", "smpp", "--port", "0",
                "--account", "bench:bench", "--receipt-delay", str(args.receipt_delay),
                "--receipt-window", str(args.receipt_window),
                "--early-receipts", str(args.early), "--receipt-burst", str(args.burst),
                *(["--no-resend-refused"] if args.no_resend else []),
            ]  # fmt: skip
        sim, line = start_listening(sim_cmd, env, tmp / "sim.log")
        procs.append(sim)
        sim_port = int(line.replace(":", " ").split()[-1])
        receiver, line = start_listening(
            [sys.executable, str(Path(__file__).parent / "e2e_receiver.py")],
            env,
            tmp / "receiver.log",
        )
        procs.append(receiver)
        receiver_url = f"http://127.0.0.1:{line.split()[1]}"
        report_url = "" if args.no_webhook else receiver_url + "/hook"
        creds = json.loads(
            umsgate(
                "client", "add", "--id", "bench", "--tps-sms", "1000000",
                "--report-url", report_url, "--create", *store, env=env,
            )
        )  # fmt: skip
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        config = settings_file(
            tmp / "umsgate.toml",
            sim_port,
            args.window,
            args.reports_per_post,
            None if args.serve_defaults else args.own_process,
        )
        workers = None if args.serve_defaults else args.workers
        server = serve(port, store, config, env, tmp / "serve.log", workers)
        procs.append(server)
        if args.serve_defaults:
            sys.path.insert(0, str(Path(__file__).parent.parent / "src"))
            from umsgate.config import auto_workers

            wait_ready(url, auto_workers())
        else:
            wait_ready(url, args.workers)
        headers = send_headers(url, creds)
        host = f"127.0.0.1:{port}"

        def make(i: int) -> bytes:
            body = orjson.dumps(
                {
                    "srcMsgId": f"e{i}",
                    "callback": "0212345678",
                    "receiver": f"010{20000000 + i % 70000000:08d}",
                    "content": f"벤치마크 메시지 {i}",
                }
            )
            return _load.post(host, "/v1/message/sms", body, headers)

        cpu_before = {p.pid: tree_cpu_seconds(p.pid) for p in procs}
        pg_before = postgres_cpu_seconds() if args.db else None
        owner_before = cpu_seconds(server.pid)
        children_before = children_cpu_seconds(server.pid)
        self_before = time.process_time()
        sampler = Sampler(url, receiver_url, args.sample)

        async def run() -> tuple[_load.Result, float]:
            done = asyncio.Event()
            sampling = asyncio.create_task(sampler.run(done))
            start = time.monotonic()
            result = await _load.run(
                "127.0.0.1",
                port,
                total=args.n,
                concurrency=args.concurrency,
                make_request=make,
                keep_bodies=True,
                timeout=60,
                connect_first=args.connect_first,
            )
            accepted = result.statuses.get(200, 0)
            deadline = time.monotonic() + max(120, args.n / 100)
            async with httpx.AsyncClient(timeout=10) as http:
                while time.monotonic() < deadline:
                    if args.no_webhook:
                        m = metrics((await http.get(url + "/metrics")).content)
                        done_count = m.get("umsgate_messages_final", 0.0)
                    else:
                        stats = (await http.get(receiver_url + "/stats")).json()
                        done_count = stats["reports"]
                    if done_count >= accepted:
                        break
                    await asyncio.sleep(0.1)
            done.set()
            await sampling
            return result, start

        with profiling(server.pid, args.profile):
            with _load.runner() as load_runner:
                result, start = load_runner.run(run())
        cpu_after = {p.pid: tree_cpu_seconds(p.pid) for p in procs}
        pg_after = postgres_cpu_seconds() if args.db else None
        owner_cpu = cpu_seconds(server.pid) - owner_before
        children_after = children_cpu_seconds(server.pid)
        children_cpu = {
            kind: sec - children_before.get(kind, 0.0)
            for kind, sec in children_after.items()
        }
        self_cpu = time.process_time() - self_before
        stats = httpx.get(receiver_url + "/stats").json()
        got = set(httpx.get(receiver_url + "/ids", timeout=60).content.split(b"\n"))
        final_metrics = metrics(httpx.get(url + "/metrics").content)
        # Before the processes stop: a process gone has no /proc/PID/status.
        gateway_pids = [server.pid, *descendants(server.pid)]
        peak_rss = peak_rss_kib(gateway_pids)
        rss_split = peak_rss_by_kind(server.pid)
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
        if procs and procs[0].stdout is not None:
            # The simulator's last lines: its receipts sent, answered, refused and
            # lost, and how long they waited for answers.
            receipt_waits = procs[0].stdout.read().decode().strip()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
            if args.db:
                drop_schema(args.db, bench_schema())

    ok = result.statuses.get(200, 0)
    acked = {
        orjson.loads(b)["umsMsgId"].encode()
        for b in result.bodies
        if b.startswith(b"{") and b'"umsMsgId"' in b
    }
    finals = final_metrics.get("umsgate_messages_final", 0.0)
    missing = int(ok - finals) if args.no_webhook else len(acked - got)
    submitted = final_metrics.get("umsgate_messages_submitted", 0.0)
    submit_span = max(1e-9, sampler.last_submit - sampler.first_submit)
    report_span = max(1e-9, stats["last"] - stats["first"])
    # From the first request (with --connect-first, after the connections opened);
    # the receiver's times are epoch seconds, the sampler's monotonic.
    end = stats["last"] - result.started
    first = result.started - (time.time() - time.monotonic())
    load = os.getloadavg()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average before the end "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(
        f"store: {'PostgreSQL' if args.db else 'SQLite'}, connector window "
        f"{args.window}, receipt delay {args.receipt_delay} s"
    )
    print(
        f"sent {args.n} SMS at concurrency {args.concurrency} in "
        f"{result.elapsed:.2f} s; statuses {result.statuses}"
    )
    print(
        f"accepted:        {ok / result.elapsed:7.0f} msg/s   (p50 "
        f"{result.percentile(50) * 1000:.1f} ms, p99 "
        f"{result.percentile(99) * 1000:.1f} ms)"
    )
    print(
        f"SMPP submits:    {submitted / submit_span:7.0f} /s      ({submitted:.0f} in "
        f"{submit_span:.1f} s; best 2 s: {sampler.peak(1):.0f}/s)"
    )
    if args.no_webhook:
        final_span = max(1e-9, sampler.last_final - sampler.first_final)
        end = sampler.last_final - first
        print(
            f"final statuses:  {finals / final_span:7.0f} /s      ({finals:.0f} in "
            f"{final_span:.1f} s; best 2 s: {sampler.peak(3):.0f}/s); no webhooks"
        )
        print(
            f"end to end:      {ok / end:7.0f} msg/s   (last final status {end:.1f} s "
            f"after the first request, ±{args.sample} s)"
        )
        print(f"losses: {missing} of {len(acked)} acknowledged messages are not final")
    else:
        print(
            f"webhook reports: {stats['reports'] / report_span:7.0f} /s      "
            f"({stats['reports']} in {report_span:.1f} s in {stats['requests']} "
            f"POSTs; best 2 s: {sampler.peak(2):.0f}/s)"
        )
        print(
            f"end to end:      {ok / end:7.0f} msg/s   (last report {end:.1f} s after "
            f"the first request)"
        )
        print(f"losses: {missing} of {len(acked)} acknowledged messages have no report")
    names = ["peer_smsc" if args.peer else "umsgate sim smpp", "receiver"]
    names.append("umsgate serve")
    cpu = {
        name: cpu_after[p.pid] - cpu_before[p.pid]
        for name, p in zip(names, procs, strict=True)
    }
    cpu["load generator"] = self_cpu
    if pg_before is not None and pg_after is not None:
        # A server on this machine shares the cores: its CPU over the run.
        cpu["PostgreSQL server"] = pg_after - pg_before
    print(
        "CPU: "
        + ", ".join(
            f"{name} {sec:.1f} s ({1e6 * sec / max(1, ok):.0f} µs/msg)"
            for name, sec in cpu.items()
        )
    )
    labels = {
        "front": "fronts",
        "connector-process": "connector process",
    }
    if children_cpu:
        print(
            f"     of umsgate serve: the gateway process {owner_cpu:.1f} s "
            f"({1e6 * owner_cpu / max(1, ok):.0f} µs/msg), "
            + ", ".join(
                f"its {labels.get(kind, kind)} {sec:.1f} s "
                f"({1e6 * sec / max(1, ok):.0f} µs/msg)"
                for kind, sec in sorted(children_cpu.items())
            )
        )
    print(
        f"peak RSS: {peak_rss / 1024:.1f} MiB (umsgate serve and the "
        f"{len(gateway_pids) - 1} processes under it, VmHWM summed: "
        + ", ".join(
            f"{labels.get(kind, kind)} {kib / 1024:.1f}"
            for kind, kib in sorted(rss_split.items())
        )
        + ")"
    )
    if receipt_waits:
        print(f"SMSC: receipt window {args.receipt_window}")
        for line in receipt_waits.splitlines():
            print(f"SMSC: {line}")
    if args.timeline:
        sampler.timeline(start)
    if args.profile is not None and args.profile.exists():
        summarise_profile(args.profile)
    if args.json:
        smsc: object = receipt_waits
        with contextlib.suppress(ValueError):
            smsc = json.loads(receipt_waits)
        figures = {
            "gateway": "umsgate",
            "n": args.n,
            "concurrency": args.concurrency,
            "window": args.window,
            "receipt_delay": args.receipt_delay,
            "receipt_window": args.receipt_window,
            "store": "PostgreSQL" if args.db else "SQLite",
            "workers": args.workers,
            "own_process": args.own_process,
            "reports_per_post": args.reports_per_post,
            "statuses": result.statuses,
            "accepted": ok,
            "accepted_per_s": ok / result.elapsed,
            "answer_ms": {
                f"p{q}": round(1000 * result.percentile(q), 1) for q in (50, 99, 100)
            },
            "end_to_end_s": end,
            "end_to_end_per_s": ok / end if end > 0 else 0.0,
            "reports": stats["reports"],
            "missing": missing,
            "cpu_us_per_msg": {
                name: 1e6 * sec / max(1, ok) for name, sec in cpu.items()
            },
            "gateway_cpu_us_per_msg": 1e6 * cpu["umsgate serve"] / max(1, ok),
            "gateway_split_us_per_msg": {
                "gateway process": 1e6 * owner_cpu / max(1, ok),
                **{
                    labels.get(kind, kind): 1e6 * sec / max(1, ok)
                    for kind, sec in sorted(children_cpu.items())
                },
            },
            "peak_rss_kib": peak_rss,
            "peak_rss_split_kib": rss_split,
            "gateway_processes": len(gateway_pids),
            "smsc": smsc,
            "load_average": list(load),
        }
        print(json.dumps(figures), flush=True)
    if missing:
        raise SystemExit(f"{missing} acknowledged messages have no report")


if __name__ == "__main__":
    main()
