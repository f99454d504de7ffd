"""SMPP through the whole gateway: ``umsgate sim smpp`` and ``umsgate serve`` as real
processes, messages over the native HTTP API, SMPP receipts back to the client's
webhook.

Two connectors bind to one simulator: Korean text on one goes as KS C 5601
(data_coding 0x0E), on the other as UCS-2 (0x08). A quarter of the messages are LMS
cut into three concatenated parts. The simulator's ``--record`` file shows what
arrived on the wire; the gateway's store shows every part's receipt matched.

The helpers here (the simulator process, the settings file, the sender, the store
checks) serve ``test_smpp_faults.py`` too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import signal
import sys
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import Receiver, Store
from tests.e2e.conftest import (
    Server,
    add_client,
    db_rows,
    free_port,
    token,
)
from umsgate.testing import wait_for

#: Bind credentials of the two connectors (one account each on the simulator).
KSC = ("esme-ksc", "pw-ksc")
UCS = ("esme-ucs", "pw-ucs")
#: Receivers under this prefix are routed to the KS C 5601 connector.
KSC_PREFIX = "+82102"

FINAL = ("DELIVERED", "FAILED", "EXPIRED")


class SimProcess:
    """``umsgate sim smpp`` as a subprocess on a free port, recording every accepted
    submit_sm to ``record`` (one JSON line each)."""

    def __init__(self, tmp_path: Path, args: Sequence[str], name: str = "sim") -> None:
        self.args = list(args)
        self.record = tmp_path / f"{name}.record.jsonl"
        self.log = tmp_path / f"{name}.log"
        self.port = 0
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with open(self.log, "ab") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "umsgate",
                "sim",
                "smpp",
                "--port",
                "0",
                "--record",
                str(self.record),
                *self.args,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        assert self.proc.stdout is not None
        try:
            line = (await asyncio.wait_for(self.proc.stdout.readline(), 30)).decode()
        except TimeoutError:
            line = ""
        if not line.startswith("listening smpp="):
            self.kill()
            await self.proc.wait()
            raise RuntimeError(
                f"umsgate sim smpp did not start: {line!r} {self.log.read_text()}"
            )
        self.port = int(line.rsplit(":", 1)[1])

    def records(self) -> list[dict[str, Any]]:
        """Every part the simulator accepted so far, in order."""
        if not self.record.exists():
            return []
        data = self.record.read_bytes()
        # A line being written is complete only with its newline.
        return [orjson.loads(line) for line in data.split(b"\n")[:-1] if line]

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()

    async def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


@contextlib.asynccontextmanager
async def sim_process(
    tmp_path: Path, *args: str, name: str = "sim"
) -> AsyncIterator[SimProcess]:
    """A started simulator (accounts of `KSC` and `UCS`), stopped on exit."""
    accounts = [f"--account={KSC[0]}:{KSC[1]}", f"--account={UCS[0]}:{UCS[1]}"]
    sim = SimProcess(tmp_path, [*accounts, *args], name)
    await sim.start()
    try:
        yield sim
    finally:
        try:
            await sim.stop()
        finally:
            sim.kill()
            if sim.proc is not None:
                await sim.proc.wait()


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(value)


def smpp_settings(path: Path, port: int, **options: Any) -> Path:
    """A settings file: SMS and LMS to ``+82102…`` go to connector ``smsc-ksc``
    (Korean as KS C 5601), every other SMS and LMS to ``smsc-ucs`` (Korean as UCS-2),
    both bound to the simulator on ``port``; ``options`` go to both connectors."""
    common: dict[str, Any] = {
        "protocol": "smpp",
        "host": "127.0.0.1",
        "port": port,
        "window": 50,
        "reconnect_initial": 0.1,
        "reconnect_max": 0.5,
        "response_timeout": 5.0,
        # In the gateway process unless a test asks otherwise ("auto" would put
        # them in processes of their own on a machine of several cores).
        "own_process": False,
        **options,
    }
    connectors = [
        {"name": "smsc-ksc", "system_id": KSC[0], "password": KSC[1], **common,
         "korean": "ksc5601"},
        {"name": "smsc-ucs", "system_id": UCS[0], "password": UCS[1], **common},
    ]  # fmt: skip
    routes = [
        {"name": "korean-ksc", "channels": ["SMS", "LMS"], "prefixes": [KSC_PREFIX],
         "connectors": ["smsc-ksc"]},
        {"name": "sms", "channels": ["SMS", "LMS"], "connectors": ["smsc-ucs"]},
    ]  # fmt: skip
    lines: list[str] = []
    for table, rows in (("connectors", connectors), ("routes", routes)):
        for row in rows:
            lines.append(f"[[{table}]]")
            lines.extend(f"{k} = {_toml(v)}" for k, v in row.items())
            lines.append("")
    path.write_text("\n".join(lines))
    return path


# ------------------------------------------------------------------ the messages


@dataclasses.dataclass(frozen=True, slots=True)
class Sample:
    """One message to send and what the SMSC must receive for it."""

    src: str
    path: str  # /v1/message/sms or /v1/message/mms (LMS)
    body: dict[str, str]
    #: The text on the wire: an LMS's subject comes first on its own line.
    wire_text: str
    #: E.164 digits the SMSC sees as destination_addr (TON 1).
    destination: str
    data_coding: int
    parts: int
    system_id: str


_KOREAN_LINE = "가나다라마바사아자차카타파하"  # 14 syllables


def sample(i: int, tag: str = "m") -> Sample:
    """Message ``i``: a quarter each of ASCII SMS, Korean SMS, Korean LMS in three
    parts, and — every tenth — an ASCII LMS in three parts. Even ``i`` go to the KS C
    5601 connector, odd ``i`` to the UCS-2 one."""
    ksc = i % 2 == 0
    national = f"010{2 if ksc else 3}{i:07d}"
    destination = "82" + national[1:]
    kind = i % 20
    path = "/v1/message/sms"
    subject = ""
    if kind < 5:
        content, coding, parts = f"Order {i} has shipped. Thank you!", 0x00, 1
    elif kind < 12:
        content = f"주문하신 상품 {i}번이 발송되었습니다. 감사합니다."
        coding, parts = (0x0E if ksc else 0x08), 1
    elif kind < 18:
        # 152-160 characters: 3 parts of 67 UCS-2 units; 300-odd bytes in cp949,
        # 3 parts of 134 octets.
        path, subject = "/v1/message/mms", f"공지 {i}"
        content = f"안내 {_KOREAN_LINE * 10} {i}"
        coding, parts = (0x0E if ksc else 0x08), 3
    else:
        # 400-odd GSM characters: 3 parts of 153 septets.
        path, subject = "/v1/message/mms", f"Notice {i}"
        content = f"Dear customer {i}, " + "your parcel is on its way. " * 14
        coding, parts = 0x00, 3
    body = {
        "srcMsgId": f"{tag}{i}",
        "callback": "0212345678",
        "receiver": national,
        "content": content,
    }
    if subject:
        body["subject"] = subject
    return Sample(
        src=f"{tag}{i}",
        path=path,
        body=body,
        wire_text=f"{subject}\n{content}" if subject else content,
        destination=destination,
        data_coding=coding,
        parts=parts,
        system_id=KSC[0] if ksc else UCS[0],
    )


def headers(tok: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {tok}",
        "originCode": "123456789",
        "billCode": "12345",
    }


async def send_all(
    url: str,
    tok: str,
    samples: Sequence[Sample],
    concurrency: int,
    *,
    timeout: float = 300,
    after: Callable[[int], Awaitable[None]] | None = None,
) -> dict[str, str]:
    """POST every sample over ``concurrency`` keep-alive connections; srcMsgId →
    umsMsgId of each 200 (every answer must be 200). ``after(n)`` runs after the
    n-th answer.

    A request that got no answer (the connection failed) is sent again with the same
    srcMsgId, as the API tells clients to; a few such repeats are allowed, and the
    repeat must answer the same way."""
    acked: dict[str, str] = {}
    repeats: list[str] = []
    todo = iter(samples)
    hdrs = headers(tok)
    # A client per sender, each with one connection: httpx's pool scans all of its
    # connections at every request, which at 48 of them cost the test's process
    # more CPU than the gateway spent on the message.
    one = httpx.Limits(max_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=30, limits=one)
            )
            for _ in range(concurrency)
        ]

        async def sender(http: httpx.AsyncClient) -> None:
            for s in todo:
                for attempt in range(3):
                    try:
                        r = await http.post(s.path, json=s.body, headers=hdrs)
                        break
                    except httpx.TransportError as exc:
                        repeats.append(f"{s.src}: {exc!r}")
                        if attempt == 2:
                            raise
                assert r.status_code == 200, r.text
                acked[s.src] = r.json()["umsMsgId"]
                if after is not None:
                    await after(len(acked))

        await asyncio.wait_for(
            asyncio.gather(*(sender(http) for http in clients)), timeout
        )
    assert len(repeats) <= 5, repeats
    return acked


async def client_token(store: Store, server: Server, receiver: Receiver) -> str:
    creds = add_client(store, "shop", receiver.url)
    async with httpx.AsyncClient(timeout=30) as http:
        return await token(http, server.url, creds)


# ------------------------------------------------------------------ the checks


def check_final_once(
    store: Store, receiver: Receiver, acked: Mapping[str, str], status: str
) -> None:
    """Every acknowledged message is stored, has ``status``, exactly one final event,
    one stored report, and exactly one webhook with the matching result code."""
    rows = db_rows(store, "select src_msg_id, id, status from messages")
    stored = {src: (str(mid), st) for src, mid, st in rows}
    assert set(acked) <= set(stored), "a message that got a 200 is not stored"
    assert {stored[s][0] for s in acked} == set(acked.values())
    wrong = {s: stored[s][1] for s in acked if stored[s][1] != status}
    assert not wrong, f"{len(wrong)} messages not {status}: {list(wrong.items())[:5]}"
    finals = dict(
        db_rows(
            store,
            "select message_id, count(*) from events where status in (?, ?, ?) "
            "group by message_id",
            *FINAL,
        )
    )
    reports = dict(
        db_rows(store, "select message_id, count(*) from reports group by message_id")
    )
    ids = [int(u) for u in acked.values()]
    assert all(finals.get(m) == 1 for m in ids), "a message has no or two finals"
    assert all(reports.get(m) == 1 for m in ids), "a message has no or two reports"
    by_id = receiver.by_id()
    missing = [u for u in acked.values() if u not in by_id]
    assert not missing, f"{len(missing)} messages without a webhook"
    repeated = [u for u in acked.values() if len(by_id[u]) != 1]
    assert not repeated, f"{len(repeated)} messages with several webhooks"
    code = {"DELIVERED": "-100"}.get(status)
    if code is not None:
        assert all(by_id[u][0]["resultCode"] == code for u in acked.values())


def by_destination(
    records: Iterable[dict[str, Any]],
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        out.setdefault(rec["destination_addr"], []).append(rec)
    return out


def check_wire(
    records: Sequence[dict[str, Any]], samples: Sequence[Sample], *, once: bool
) -> dict[str, list[str]]:
    """What the SMSC received matches every sample: its account, data_coding, parts
    with one concatenation header, and the text put back together. ``once``: each
    message went exactly once (no part re-sent). Returns destination → the SMSC ids
    of the last complete sending, in part order."""
    wire = by_destination(records)
    ids: dict[str, list[str]] = {}
    for s in samples:
        got = wire.get(s.destination, [])
        assert got, f"{s.src}: nothing reached the SMSC"
        if once:
            assert len(got) == s.parts, f"{s.src}: {len(got)} parts, not {s.parts}"
        assert {r["system_id"] for r in got} == {s.system_id}, s.src
        assert {r["data_coding"] for r in got} == {s.data_coding}, s.src
        last = got[-s.parts :]
        if s.parts == 1:
            assert last[0]["concat"] is None, s.src
        else:
            refs = {tuple(r["concat"][:2]) for r in last}
            assert len(refs) == 1 and next(iter(refs))[1] == s.parts, (s.src, refs)
            last = sorted(last, key=lambda r: r["concat"][2])
            assert [r["concat"][2] for r in last] == list(range(1, s.parts + 1))
        assert "".join(r["text"] for r in last) == s.wire_text, s.src
        ids[s.destination] = [r["message_id"] for r in last]
    return ids


def check_parts(
    store: Store,
    acked: Mapping[str, str],
    samples: Sequence[Sample],
    smsc_ids: Mapping[str, Sequence[str]],
) -> None:
    """Each multi-part message has one stored part per SMSC id, each with its own
    DELIVRD receipt; a one-part message's provider id is the SMSC's id."""
    parts: dict[int, list[tuple[int, str, str | None, str | None]]] = {}
    for mid, part, pid, code, raw in db_rows(
        store,
        "select message_id, part, provider_msg_id, result_code, raw_code "
        "from message_parts",
    ):
        parts.setdefault(mid, []).append((part, pid, code, raw))
    provider = dict(db_rows(store, "select id, provider_msg_id from messages"))
    for s in samples:
        mid = int(acked[s.src])
        if s.parts == 1:
            assert provider[mid] == smsc_ids[s.destination][0], s.src
            continue
        stored = sorted(parts.get(mid, []))
        assert [p[1] for p in stored] == list(smsc_ids[s.destination]), s.src
        assert all(p[2] == "1000" and p[3] == "DELIVRD/000" for p in stored), stored


async def connector_pids(srv: Server) -> dict[str, int]:
    """Connector name → the pid of its process (``own_process``), from /healthz."""
    async with httpx.AsyncClient(timeout=10) as http:
        health = (await http.get(srv.url + "/healthz")).json()
    return {
        name: c["process"]["pid"]
        for name, c in health["connectors"].items()
        if c.get("process") and c["process"]["pid"]
    }


def log_events(log: Path, event: str) -> list[str]:
    return [line for line in log.read_text().splitlines() if f"event={event}" in line]


OUTSTANDING = re.compile(r"(\d+) requests outstanding become retries")


# ------------------------------------------------------------------ the tests


async def run_through(
    tmp_path: Path,
    store: Store,
    receiver: Receiver,
    total: int,
    concurrency: int,
    **options: Any,
) -> None:
    samples = [sample(i) for i in range(total)]
    async with sim_process(tmp_path, "--receipt-delay", "0.2") as sim:
        config = smpp_settings(tmp_path / "umsgate.toml", sim.port, **options)
        srv = Server(store, free_port(), tmp_path / "serve.log", config=config)
        await srv.start()
        try:
            tok = await client_token(store, srv, receiver)
            if options.get("own_process"):
                pids = await connector_pids(srv)
                assert len(pids) == 2 and srv.proc is not None
                assert srv.proc.pid not in pids.values()
            acked = await send_all(srv.url, tok, samples, concurrency)
            assert len(acked) == total
            wanted = set(acked.values())
            await wait_for(
                lambda: wanted <= receiver.by_id().keys(),
                timeout=max(60, total / 50),
                interval=0.2,
                what="a webhook for every message",
            )
        finally:
            srv.stop()
        records = sim.records()
    assert log_events(srv.log, "stop"), "umsgate serve did not stop cleanly"
    check_final_once(store, receiver, acked, "DELIVERED")
    smsc_ids = check_wire(records, samples, once=True)
    assert len(records) == sum(s.parts for s in samples)
    check_parts(store, acked, samples, smsc_ids)
    # What the test set out to cover did happen: both Korean codings, 3-part LMS.
    codings = {r["data_coding"] for r in records}
    assert codings == {0x00, 0x08, 0x0E}
    assert sum(1 for r in records if r["concat"]) >= total // 4
    # No session ended before the gateway's own unbind at the stop.
    closed = log_events(srv.log, "smpp.session_closed")
    assert all("(unbound)" in line for line in closed), closed


@pytest.mark.parametrize("own_process", [False, True], ids=["in-gateway", "own"])
async def test_smpp_through_serve(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path, own_process: bool
) -> None:
    """A short run of the same path, for every test run; with the connectors in the
    gateway process, and each in a process of its own (``own_process``)."""
    await run_through(
        tmp_path,
        sqlite_store,
        receiver,
        total=400,
        concurrency=32,
        own_process=own_process,
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_ten_thousand_through_serve(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    # The connectors in processes of their own, as a busy SMPP route runs.
    await run_through(
        tmp_path,
        sqlite_store,
        receiver,
        total=10_000,
        concurrency=48,
        own_process=True,
    )
