"""Benchmark: the same end-to-end SMS workload through Kannel and through umsgate.

Each run sends N one-part Korean SMS (UCS-2 on the wire) over a gateway's HTTP send
API at --concurrency keep-alive connections (the lean load generator of
``bench/_load.py``, in this process), the gateway submits them over one SMPP
transceiver bind with a window of --window to ``bench/peer_smsc.py`` (an SMSC that
shares no code with umsgate), which answers each submit with a decimal message id
and a delivery receipt (after --receipt-delay; 0: in the same write as the
submit_sm_resp), and the gateway reports each message's final state over HTTP to
``bench/e2e_receiver.py``, which keeps the id of every report.

* Kannel 1.4.5 (Debian package ``kannel``, installed with apt-get if ``bearerbox``
  is missing): bearerbox and smsbox with a configuration written into a fresh
  temporary directory per run. The load is ``GET /cgi-bin/sendsms`` with
  ``coding=2&charset=UTF-8``, ``dlr-mask=19`` (delivered, not delivered, SMSC
  reject: the final states) and a ``dlr-url`` that carries the request's own
  number, so each report names its message.
* umsgate: ``bench/e2e.py --peer --json`` in a subprocess (the same SMSC, receiver,
  load generator, N, concurrency and window), with --umsgate-args (default: HTTP
  fronts, the connector in its own process, reports in arrays of up to 50).

Runs alternate, Kannel then umsgate, --runs times. Each run prints the accepted
msg/s (200/202 answers over the time from the first request to the last answer),
the end-to-end msg/s (accepted messages over the time from the first request to the
last report), the accepted messages without a report, the peak RSS of the gateway's
processes (VmHWM summed: bearerbox and smsbox; umsgate serve and every process
under it), their CPU per accepted message, and the SMSC's counts. Then the medians
and the ratio umsgate/Kannel of the end-to-end rate, per pair and their median.

Kannel answers a send once the message is queued in bearerbox's memory (no
store-file); umsgate answers once it is committed to disk.

    .venv/bin/python bench/kannel.py [--n 20000] [--concurrency 64] [--window 128]
        [--receipt-delay 0] [--runs 3] [--db URL]
        [--umsgate-args "--workers 2 --own-process --reports-per-post 50"]
        [--umsgate-defaults] [--only kannel|umsgate] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import _load
from _procs import cpu_seconds, descendants, free_port, peak_rss_kib

HERE = Path(__file__).parent
FAST = "--workers 2 --own-process --reports-per-post 50"
#: dlr-mask: 1 delivered to the phone, 2 not delivered to the phone, 16 rejected by
#: the SMSC (Kannel's user guide, "Delivery Reports"): the final states only, as
#: umsgate reports them; 4 (buffered) and 8 (accepted by the SMSC) are not final.
DLR_MASK = 19
ACCEPTED = (200, 202)
#: Longest wait for a process to stop once asked (bearerbox unbinds first).
STOP_TIMEOUT = 30.0

Figures = dict[str, Any]


def ensure_kannel() -> str:
    """The path of ``bearerbox``, installing the Debian package when it is missing."""
    found = shutil.which("bearerbox") or shutil.which("bearerbox", path="/usr/sbin")
    if found:
        return found
    print("bearerbox not found: apt-get install -y kannel", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    install = [*sudo, "apt-get", "install", "-y", "-q", "kannel"]
    if subprocess.run(install, env=env, timeout=900).returncode != 0:
        # A fresh machine may have no package lists yet.
        subprocess.run([*sudo, "apt-get", "update", "-q"], env=env, timeout=900)
        subprocess.run(install, env=env, timeout=900, check=True)
    found = shutil.which("bearerbox") or shutil.which("bearerbox", path="/usr/sbin")
    if not found:
        raise SystemExit("apt-get installed kannel, but bearerbox is not on the PATH")
    return found


def kannel_version() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", "kannel"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if out.returncode == 0 and out.stdout:
            return out.stdout
    return "unknown"


def other_kannels() -> list[int]:
    """Pids of running bearerbox and smsbox processes, called before this script
    starts its own (a system service would share the cores with the benchmark)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (entry / "comm").read_text().strip() in ("bearerbox", "smsbox"):
                out.append(int(entry.name))
    return out


def free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def listening(port: int) -> bool:
    """Whether a socket listens on TCP ``port`` (Linux /proc/net/tcp). Read, not
    probed with a bind, which could race with the server's own bind; connections
    of the past in TIME_WAIT do not count."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                # local_address is ADDR:PORT in hex; state 0A is LISTEN.
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def kannel_config(
    path: Path,
    *,
    admin_port: int,
    smsbox_port: int,
    sendsms_port: int,
    smsc_port: int,
    window: int,
    logs: Path,
) -> Path:
    """Write the one configuration file that bearerbox and smsbox both read.

    Each setting and why, from Kannel's user guide:

    * core: the admin and smsbox ports on the loopback only; DLRs kept in memory
      (``dlr-storage = internal``, the default, as fast as Kannel goes); no
      ``store-type``, so a message is in memory only until it is sent; the log at
      level 2 (warnings) and no access-log, so nothing is written per message.
    * smsc: SMPP 3.4 over one transceiver bind (``transceiver-mode``), with
      ``max-pending-submits`` at the window that umsgate's connector has;
      ``msg-id-type = 0x00`` because peer_smsc gives decimal message ids in both
      the submit_sm_resp and the receipt, so Kannel compares them as numbers; an
      ``smsc-id``, which the guide requires for delivery reports; no
      ``throughput``, so Kannel does not throttle.
    * smsbox: the sendsms HTTP port on the loopback; ``immediate-sendsms-reply``
      left false, so smsbox answers once bearerbox has taken the message.
    * sendsms-user: the account of the load generator.
    """
    path.write_text(
        f"""group = core
admin-port = {admin_port}
admin-interface = "127.0.0.1"
admin-password = bench
admin-allow-ip = "127.0.0.1"
smsbox-port = {smsbox_port}
smsbox-interface = "127.0.0.1"
box-deny-ip = "*.*.*.*"
box-allow-ip = "127.0.0.1"
dlr-storage = internal
log-file = "{logs / "bearerbox.log"}"
log-level = 2

group = smsc
smsc = smpp
smsc-id = peer
host = 127.0.0.1
port = {smsc_port}
transceiver-mode = true
smsc-username = bench
smsc-password = bench
system-type = ""
address-range = ""
max-pending-submits = {window}
msg-id-type = 0x00

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox_port}
sendsms-port = {sendsms_port}
sendsms-interface = "127.0.0.1"
log-file = "{logs / "smsbox.log"}"
log-level = 2

group = sendsms-user
username = bench
password = bench
"""
    )
    return path


def start_listening(
    cmd: list[str], log: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``cmd``, which prints ``listening PORT`` once ready; its process and
    port."""
    with open(log, "ab") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("listening"):
        proc.kill()
        proc.wait()
        raise SystemExit(f"{cmd[:3]} did not start: {line!r}; see {log}")
    return proc, int(line.split()[-1])


def stop(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def kannel_status(admin_port: int) -> str:
    return httpx.get(
        f"http://127.0.0.1:{admin_port}/status.txt",
        params={"password": "bench"},
        timeout=5,
    ).text


def wait_listening(
    port: int, procs: list[subprocess.Popen[bytes]], timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while not listening(port):
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            raise SystemExit(f"bearerbox did not listen on port {port}; see its log")
        time.sleep(0.05)


def wait_kannel_ready(
    admin_port: int, procs: list[subprocess.Popen[bytes]], timeout: float = 60.0
) -> None:
    """Until the SMPP bind is online and smsbox is connected to bearerbox."""
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise SystemExit("bearerbox or smsbox exited at start; see their logs")
        with contextlib.suppress(httpx.HTTPError):
            status = kannel_status(admin_port)
            smsc = status.partition("SMSC connections:")[2]
            boxes = status.partition("Box connections:")[2].partition("SMSC")[0]
            if "(online" in smsc and "smsbox:" in boxes and "on-line" in boxes:
                return
        time.sleep(0.1)
    raise SystemExit(f"Kannel did not get ready in {timeout:.0f} s:\n{status}")


def kannel_run(args: argparse.Namespace, bearerbox: str) -> Figures:
    tmp = Path(tempfile.mkdtemp(prefix="umsgate-kannel-"))
    env = dict(os.environ)
    helpers: list[subprocess.Popen[bytes]] = []
    boxes: list[subprocess.Popen[bytes]] = []
    smsc_line = ""
    ports: list[int] = []
    try:
        smsc, smsc_port = start_listening(
            [sys.executable, str(HERE / "peer_smsc.py"),
             "--receipt-delay", str(args.receipt_delay),
             "--window", str(args.receipt_window)],
            tmp / "smsc.log",
            env,
        )  # fmt: skip
        helpers.append(smsc)
        receiver, receiver_port = start_listening(
            [sys.executable, str(HERE / "e2e_receiver.py")], tmp / "receiver.log", env
        )
        helpers.append(receiver)
        receiver_url = f"http://127.0.0.1:{receiver_port}"
        ports = free_ports(3)
        admin_port, smsbox_port, sendsms_port = ports
        conf = kannel_config(
            tmp / "kannel.conf",
            admin_port=admin_port,
            smsbox_port=smsbox_port,
            sendsms_port=sendsms_port,
            smsc_port=smsc_port,
            window=args.window,
            logs=tmp,
        )
        smsbox = str(Path(bearerbox).with_name("smsbox"))
        # -v 3: errors only on the console (the default, 0, prints every PDU).
        for program in (bearerbox, smsbox):
            with open(tmp / f"{Path(program).name}.out", "ab") as out:
                boxes.append(
                    subprocess.Popen(
                        [program, "-v", "3", str(conf)],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        cwd=tmp,
                    )
                )
            if program == bearerbox:
                # smsbox gives up at once if bearerbox does not listen yet.
                wait_listening(smsbox_port, boxes)
        wait_kannel_ready(admin_port, boxes)

        host = f"127.0.0.1:{sendsms_port}"
        fixed = urllib.parse.urlencode(
            {
                "username": "bench",
                "password": "bench",
                "from": "0212345678",
                "coding": "2",
                "charset": "UTF-8",
                "dlr-mask": str(DLR_MASK),
            }
        )
        text = urllib.parse.quote("벤치마크 메시지 ")
        # Kannel fills in %d (the report type) when it calls the URL back.
        dlr_head = urllib.parse.quote(f"{receiver_url}/dlr?id=", safe="")
        dlr_tail = urllib.parse.quote("&type=%d", safe="")

        def make(i: int) -> bytes:
            return _load.get(
                host,
                f"/cgi-bin/sendsms?{fixed}&to=010{20000000 + i % 70000000:08d}"
                f"&text={text}{i}&dlr-url={dlr_head}{i}{dlr_tail}",
            )

        cpu_before = {p.pid: cpu_seconds(p.pid) for p in [*boxes, *helpers]}
        self_before = time.process_time()

        async def run() -> _load.Result:
            result = await _load.run(
                "127.0.0.1",
                sendsms_port,
                total=args.n,
                concurrency=args.concurrency,
                make_request=make,
                keep_bodies=True,
                timeout=60,
                connect_first=True,
            )
            accepted = sum(result.statuses.get(s, 0) for s in ACCEPTED)
            deadline = time.monotonic() + max(120, args.n / 100)
            async with httpx.AsyncClient(timeout=10) as http:
                while time.monotonic() < deadline:
                    stats = (await http.get(receiver_url + "/stats")).json()
                    if stats["reports"] >= accepted:
                        break
                    await asyncio.sleep(0.1)
            return result

        with _load.runner() as load_runner:
            result = load_runner.run(run())
        cpu_after = {p.pid: cpu_seconds(p.pid) for p in [*boxes, *helpers]}
        self_cpu = time.process_time() - self_before
        # Before the processes stop: a process gone has no /proc/PID/status.
        gateway_pids = [p.pid for p in boxes]
        for p in boxes:
            gateway_pids.extend(descendants(p.pid))
        peak_rss = peak_rss_kib(gateway_pids)
        status = kannel_status(admin_port)
        stats = httpx.get(receiver_url + "/stats", timeout=10).json()
        got = httpx.get(receiver_url + "/ids", timeout=60).content.split(b"\n")
    finally:
        # smsbox first: it is a client of bearerbox.
        for proc in reversed(boxes):
            stop(proc)
        for proc in helpers:
            stop(proc)
        if helpers and helpers[0].stdout is not None:
            smsc_line = helpers[0].stdout.read().decode().strip()
        for proc in helpers:
            if proc.stdout is not None:
                proc.stdout.close()
        deadline = time.monotonic() + 10
        while any(listening(p) for p in ports):
            if time.monotonic() > deadline:
                raise SystemExit(f"Kannel's ports {ports} are still bound after it")
            time.sleep(0.1)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"  Kannel's files kept in {tmp}")

    ok = sum(result.statuses.get(s, 0) for s in ACCEPTED)
    taken = {i for i, code in result.answers if code in ACCEPTED}
    reported = {int(x) for x in got if x.isdigit()}
    # From the first request, written once every connection was open.
    end = stats["last"] - result.started if stats["reports"] else 0.0
    cpu = {
        name: 1e6 * (cpu_after[p.pid] - cpu_before[p.pid]) / max(1, ok)
        for name, p in zip(
            ["bearerbox", "smsbox", "peer_smsc", "receiver"],
            [*boxes, *helpers],
            strict=True,
        )
    }
    cpu["load generator"] = 1e6 * self_cpu / max(1, ok)
    smsc_counts: object = smsc_line
    with contextlib.suppress(ValueError):
        smsc_counts = json.loads(smsc_line)
    kannel_sms = next(
        (line.strip() for line in status.splitlines() if line.startswith("SMS: rec")),
        "",
    )
    kannel_dlr = next(
        (line.strip() for line in status.splitlines() if line.startswith("DLR: rec")),
        "",
    )
    return {
        "gateway": "kannel",
        "statuses": result.statuses,
        "accepted": ok,
        "accepted_per_s": ok / result.elapsed,
        "answer_ms": answer_ms(result),
        "end_to_end_s": end,
        "end_to_end_per_s": ok / end if end > 0 else 0.0,
        "reports": stats["reports"],
        "dlr_types": stats.get("dlr_types", {}),
        "missing": len(taken - reported),
        "cpu_us_per_msg": cpu,
        "gateway_cpu_us_per_msg": cpu["bearerbox"] + cpu["smsbox"],
        "peak_rss_kib": peak_rss,
        "gateway_processes": len(gateway_pids),
        "smsc": smsc_counts,
        "kannel_status": f"{kannel_sms}; {kannel_dlr}",
        "load_average": list(os.getloadavg()),
    }


def answer_ms(result: _load.Result) -> dict[str, float]:
    """Percentiles of the HTTP answer times."""
    return {f"p{q}": round(1000 * result.percentile(q), 1) for q in (50, 99, 100)}


def umsgate_run(args: argparse.Namespace) -> Figures:
    cmd = [
        sys.executable, str(HERE / "e2e.py"), "--peer", "--json", "--connect-first",
        "--n", str(args.n), "--concurrency", str(args.concurrency),
        "--window", str(args.window), "--receipt-delay", str(args.receipt_delay),
        "--receipt-window", str(args.receipt_window),
        *(["--db", args.db] if args.db else []),
        *shlex.split(args.umsgate_args),
    ]  # fmt: skip
    # e2e.py bounds each of its own waits; this bounds the whole run on top.
    timeout = 300 + max(120, args.n / 100) + args.n / 100
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = done.stdout.strip().splitlines()
    try:
        figures: Figures = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise SystemExit(
            f"bench/e2e.py failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
            f"{done.stderr[-3000:]}"
        ) from None
    return figures


def show(run: int, figures: Figures) -> None:
    cpu = figures["cpu_us_per_msg"]
    ms = figures["answer_ms"]
    if figures["gateway"] == "kannel":
        parts = {k: cpu[k] for k in ("bearerbox", "smsbox")}
        extra = (
            f"     Kannel's status: {figures['kannel_status']}; report types "
            f"{figures['dlr_types']}"
        )
        others = {k: v for k, v in cpu.items() if k not in parts}
    else:
        parts = figures.get("gateway_split_us_per_msg", {})
        extra = ""
        others = {k: v for k, v in cpu.items() if k != "umsgate serve"}
    split = " + ".join(f"{k} {v:.0f}" for k, v in parts.items())
    count = figures["gateway_processes"]
    print(
        f"run {run} {figures['gateway']:8s} accepted "
        f"{figures['accepted_per_s']:7,.0f} msg/s | end to end "
        f"{figures['end_to_end_per_s']:7,.0f} msg/s "
        f"({figures['end_to_end_s']:.1f} s) | without a report "
        f"{figures['missing']} of {figures['accepted']} | peak RSS "
        f"{figures['peak_rss_kib'] / 1024:.1f} MiB ({count} "
        f"process{'es' if count != 1 else ''}) | CPU "
        f"{figures['gateway_cpu_us_per_msg']:.0f} µs/msg"
        + (f" ({split})" if split else "")
    )
    print(
        f"     statuses {figures['statuses']}, answered in p50 {ms['p50']} ms, "
        f"p99 {ms['p99']} ms, max {ms['p100']} ms; others' CPU µs/msg: "
        + ", ".join(f"{k} {v:.0f}" for k, v in others.items())
        + f"; load average {figures['load_average'][0]:.2f}"
    )
    rss = figures.get("peak_rss_split_kib")
    if rss:
        print(
            "     peak RSS by process, MiB: "
            + ", ".join(f"{k} {v / 1024:.1f}" for k, v in sorted(rss.items()))
        )
    if extra:
        print(extra)
    print(f"     SMSC: {json.dumps(figures['smsc'])}", flush=True)


def median(runs: list[Figures], key: str) -> float:
    return statistics.median(float(r[key]) for r in runs)


def summary(kannel: list[Figures], umsgate: list[Figures]) -> None:
    print()
    print(
        f"{'median of':10s} {'runs':>4s} {'accepted msg/s':>15s} "
        f"{'end to end msg/s':>17s} {'without a report':>17s} {'peak RSS MiB':>13s} "
        f"{'CPU µs/msg':>11s}"
    )
    for name, runs in (("Kannel", kannel), ("umsgate", umsgate)):
        if not runs:
            continue
        print(
            f"{name:10s} {len(runs):4d} {median(runs, 'accepted_per_s'):15,.0f} "
            f"{median(runs, 'end_to_end_per_s'):17,.0f} "
            f"{median(runs, 'missing'):17.0f} "
            f"{median(runs, 'peak_rss_kib') / 1024:13.1f} "
            f"{median(runs, 'gateway_cpu_us_per_msg'):11.0f}"
        )
    ratios = [
        u["end_to_end_per_s"] / k["end_to_end_per_s"]
        for k, u in zip(kannel, umsgate, strict=False)
        if k["end_to_end_per_s"] > 0
    ]
    if ratios:
        print(
            "umsgate/Kannel, end to end msg/s: "
            + ", ".join(f"pair {i} {r:.2f}" for i, r in enumerate(ratios, 1))
            + f"; median {statistics.median(ratios):.2f}"
        )
    print(
        "(Kannel answers the HTTP send once the message is queued in memory, "
        "umsgate once it is committed to disk.)"
    )


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} cores ({model}), Python "
        f"{platform.python_version()}, load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000, help="messages per run")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--window",
        type=int,
        default=128,
        help="SMPP window: umsgate's connector window, Kannel's max-pending-submits",
    )
    parser.add_argument(
        "--receipt-delay",
        type=float,
        default=0.0,
        help="seconds from a submit to its receipt (0: in the same write as the "
        "submit_sm_resp)",
    )
    parser.add_argument(
        "--receipt-window",
        type=int,
        default=None,
        help="peer_smsc's receipts unanswered at most per session (default: "
        "--window; 0: no limit)",
    )
    parser.add_argument("--runs", type=int, default=3, help="pairs of runs")
    parser.add_argument(
        "--db", default="", help="umsgate's database URL (default: SQLite)"
    )
    parser.add_argument(
        "--umsgate-args",
        default=FAST,
        help=f"options for bench/e2e.py (default: {FAST!r})",
    )
    parser.add_argument(
        "--umsgate-defaults",
        action="store_true",
        help="plain umsgate serve: no fronts, no own process, one report a POST",
    )
    parser.add_argument(
        "--only", choices=["kannel", "umsgate"], help="run one of the gateways"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep Kannel's configuration and logs"
    )
    args = parser.parse_args()
    if args.umsgate_defaults:
        args.umsgate_args = "--serve-defaults"
    if args.receipt_window is None:
        args.receipt_window = args.window

    bearerbox = "" if args.only == "umsgate" else ensure_kannel()
    print(machine())
    if bearerbox:
        print(f"Kannel {kannel_version()} ({bearerbox})")
        if others := other_kannels():
            print(f"warning: other bearerbox/smsbox processes run: {others}")
    print(
        f"{args.n} one-part Korean SMS (UCS-2) a run at concurrency "
        f"{args.concurrency}; SMPP window {args.window}; receipts "
        + (
            f"{args.receipt_delay} s after the submit"
            if args.receipt_delay
            else "in the write of the submit_sm_resp"
        )
        + f", at most {args.receipt_window or 'any'} unanswered; umsgate on "
        f"{'PostgreSQL' if args.db else 'SQLite'}, e2e.py "
        f"{args.umsgate_args}"
    )
    print(
        "Kannel answers the HTTP send once the message is queued in memory, "
        "umsgate once it is committed to disk.",
        flush=True,
    )
    kannel: list[Figures] = []
    umsgate: list[Figures] = []
    for run in range(1, args.runs + 1):
        if args.only != "umsgate":
            kannel.append(kannel_run(args, bearerbox))
            show(run, kannel[-1])
        if args.only != "kannel":
            umsgate.append(umsgate_run(args))
            show(run, umsgate[-1])
    summary(kannel, umsgate)


if __name__ == "__main__":
    main()
