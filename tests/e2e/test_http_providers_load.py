"""Every HTTP provider end to end over real HTTP: ``umsgate serve`` routes to
``umsgate sim PROVIDER`` (both real processes); 1,000 messages sent through the
native API reach final statuses and their reports reach the client's webhook, and
the simulator's outcome mix shows up as the unified statuses it stands for, message
by message. Midway the simulator process is stopped: what is sent meanwhile is
retried with a clear code and goes out once it is started again on its port.

The helpers here (`Provider`, `SimProcess`, `gateway_config`, `send_many`, `final`)
serve the fault tests too (test_http_providers_faults.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Receiver, Store
from tests.e2e.conftest import FAST_ENV, Server, add_client, free_port, token
from umsgate.domain import phone
from umsgate.protocols.aicross import simulator as aicross_sim
from umsgate.protocols.imsms import simulator as imsms_sim
from umsgate.protocols.sandbox.mix import OutcomeMix
from umsgate.protocols.tobetext import simulator as tobetext_sim
from umsgate.sim import apigw as apigw_sim
from umsgate.testing import wait_for

TOTAL = 1000
CONCURRENCY = 32
#: Native report resultCode of each unified code the mixes below produce.
NATIVE = {"1000": "-100", "3000": "96"}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Sent:
    """A message the gateway took: what decides the simulator's draw."""

    ums: str
    receiver: str
    content: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Provider:
    """How to run one provider's simulator and point a connector at it."""

    name: str
    #: ``umsgate sim NAME`` arguments, given the gateway's base URL.
    sim_args: Callable[[str], list[str]]
    #: The connector's options, given the simulator's and the gateway's base URLs.
    options: Callable[[str, str], dict[str, Any]]
    #: (status, unified code) a message ends with, given its `Sent` and provider id.
    expected: Callable[[Sent, str], tuple[str, str]]


def _tobetext(sent: Sent, pid: str) -> tuple[str, str]:
    drawn = tobetext_sim.parse_mix(TOBETEXT_MIX, seed=5).draw(sent.ums)
    return ("DELIVERED", "1000") if drawn == "200" else ("FAILED", "2000")


def _imsms(sent: Sent, pid: str) -> tuple[str, str]:
    drawn = imsms_sim.parse_mix(IMSMS_MIX, seed=5).draw(
        f"{phone.receiver(sent.receiver)}\n{sent.content}"
    )
    if drawn in (imsms_sim.DELIVERED, imsms_sim.UNDELIVERED):
        return "DELIVERED", "1000"
    return "FAILED", "2000"


def _aicross(sent: Sent, pid: str) -> tuple[str, str]:
    drawn = aicross_sim.parse_mix(AICROSS_MIX, seed=5).draw(sent.ums)
    return {
        aicross_sim.DELIVERED: ("DELIVERED", "1000"),
        "60001": ("FAILED", "2001"),
        "60002": ("FAILED", "2099"),
        "60003": ("EXPIRED", "3000"),
    }[drawn]


def _apigw(sent: Sent, pid: str) -> tuple[str, str]:
    mix = OutcomeMix(apigw_sim.parse_mix(APIGW_MIX), default="1000", seed=5)
    drawn = mix.draw(f"{pid}:1")  # the upstream sandbox: its id, first attempt
    status = {"1000": "DELIVERED", "3000": "EXPIRED"}.get(drawn, "FAILED")
    return status, drawn


TOBETEXT_MIX = "400=0.05,411=0.03"
IMSMS_MIX = "undelivered=0.05,E3001=0.03,130=0.02"
AICROSS_MIX = "60001=0.05,60002=0.03,60003=0.02"
APIGW_MIX = "2001=0.05,2003=0.03,3000=0.02"
APIGW_CLIENT = ("up", "up:secret", "k" * 64)

PROVIDERS = {
    "tobetext": Provider(
        name="tobetext",
        sim_args=lambda gw: [
            *("--account", "C1:T1", "--delay", "0.2", "--mix", TOBETEXT_MIX),
            *("--seed", "5", "--callback-interval", "0.5"),
        ],
        options=lambda sim, gw: {
            "cid": "C1",
            "token": "T1",
            "url": f"{sim}/sms",
            "connect_timeout": 2.0,
        },
        expected=_tobetext,
    ),
    "imsms": Provider(
        name="imsms",
        sim_args=lambda gw: [
            *("--api-key", "K1", "--agent", "A1", "--delay", "0.3"),
            *("--mix", IMSMS_MIX, "--seed", "5"),
        ],
        options=lambda sim, gw: {
            "api_key": "K1",
            "agent_id": "A1",
            "url": sim,
            "poll_schedule": [0.5, 0.5, 1.0],
            "connect_timeout": 2.0,
        },
        expected=_imsms,
    ),
    "aicross": Provider(
        name="aicross",
        sim_args=lambda gw: [
            *("--token", "T1", "--delay", "0.2", "--mix", AICROSS_MIX, "--seed", "5"),
            *("--dlr-url", f"{gw}/callbacks/aicross/p", "--dlr-interval", "0.5"),
        ],
        options=lambda sim, gw: {
            "url": sim,
            "token": "T1",
            "poll_schedule": [5.0, 5.0],
            "connect_timeout": 2.0,
        },
        expected=_aicross,
    ),
    "apigw": Provider(
        name="apigw",
        sim_args=lambda gw: [
            *("--client", ":".join(APIGW_CLIENT), "--report-url"),
            *(f"{gw}/callbacks/apigw/p", "--delay", "0.2", "--mix", APIGW_MIX),
            *("--seed", "5", "--tps", "100000", "--token-ttl", "3"),
            *("--webhook-retry-interval", "0.5"),
        ],
        options=lambda sim, gw: {
            "url": sim,
            "client_id": APIGW_CLIENT[0],
            "client_secret": APIGW_CLIENT[1],
            "client_key": APIGW_CLIENT[2],
            "signing_secret": APIGW_CLIENT[1],
            "connect_timeout": 2.0,
        },
        expected=_apigw,
    ),
}


class SimProcess:
    """``umsgate sim NAME`` as a subprocess, restartable on the same port."""

    def __init__(self, name: str, args: Sequence[str], log: Path) -> None:
        self.name = name
        self.args = list(args)
        self.log = log
        self.port = 0
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        with open(self.log, "ab") as err:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "umsgate",
                "sim",
                self.name,
                "--port",
                str(self.port),
                *self.args,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
                env={**os.environ},
            )
        assert self.process.stdout is not None
        async with asyncio.timeout(60):
            line = (await self.process.stdout.readline()).decode().strip()
        assert line.startswith(f"listening {self.name}="), self.log.read_text()
        self.port = int(line.rpartition(":")[2])

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(30):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "[" + ", ".join(_toml(v) for v in value) + "]"


def gateway_config(
    path: Path, gw_url: str, protocol: str, options: Mapping[str, Any]
) -> Path:
    """A settings file: ``public_url``, one connector ``p``, everything routed to it."""
    lines = [
        "[server]",
        f"public_url = {_toml(gw_url)}",
        "",
        "[[connectors]]",
        'name = "p"',
        f"protocol = {_toml(protocol)}",
        *(f"{key} = {_toml(value)}" for key, value in options.items()),
        "",
        "[[routes]]",
        'name = "all"',
        'connectors = ["p"]',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def body(index: int) -> dict[str, str]:
    return {
        "srcMsgId": f"m{index}",
        "callback": "0212345678",
        "receiver": f"010{20000000 + index:08d}",
        "content": f"e2e {index}",
    }


async def send_many(
    http: httpx.AsyncClient, headers: Mapping[str, str], indexes: Iterable[int]
) -> dict[str, Sent]:
    """Send SMS ``m<index>`` for each index; ``srcMsgId`` → `Sent`."""
    todo = iter(indexes)
    sent: dict[str, Sent] = {}

    async def worker() -> None:
        # A client per worker: one httpx pool shared by many requests in flight
        # costs the test's process more CPU than the gateway spends on them.
        async with httpx.AsyncClient(base_url=http.base_url, timeout=30) as own:
            await work(own)

    async def work(own: httpx.AsyncClient) -> None:
        for index in todo:
            doc = body(index)
            answer = await own.post("/v1/message/sms", json=doc, headers=headers)
            assert answer.status_code == 200, answer.text
            sent[doc["srcMsgId"]] = Sent(
                ums=answer.json()["umsMsgId"],
                receiver=doc["receiver"],
                content=doc["content"],
            )

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return sent


async def client_headers(
    store: Store, gw: Server, http: httpx.AsyncClient, receiver: Receiver
) -> dict[str, str]:
    creds = add_client(store, "shop", receiver.url)
    return {
        "Authorization": f"Bearer {await token(http, gw.url, creds)}",
        "originCode": "123456789",
        "billCode": "12345",
    }


async def reported(receiver: Receiver, sent: Iterable[Sent], within: float) -> None:
    wanted = {s.ums for s in sent}
    await wait_for(
        lambda: wanted <= set(receiver.by_id()),
        timeout=within,
        interval=0.2,
        what=f"reports of {len(wanted)} messages at the client's webhook",
    )


def final(store: Store) -> dict[str, tuple[str, str, str]]:
    """umsMsgId → (status, unified code, provider id) from the gateway's store."""
    with contextlib.closing(sqlite3.connect(store.data_dir / "umsgate.db")) as db:
        rows = db.execute(
            "select id, status, result_code, provider_msg_id from messages"
        ).fetchall()
    return {str(r[0]): (r[1], r[2] or "", r[3] or "") for r in rows}


def messages_with_event(store: Store, code: str) -> set[str]:
    """umsMsgIds of the messages with an event of ``code`` (a retry's reason)."""
    with contextlib.closing(sqlite3.connect(store.data_dir / "umsgate.db")) as db:
        rows = db.execute(
            "select distinct message_id from events where code = ?", (code,)
        ).fetchall()
    return {str(r[0]) for r in rows}


def check_outcomes(
    provider: Provider, store: Store, receiver: Receiver, sent: Mapping[str, Sent]
) -> Counter[tuple[str, str]]:
    """Every message ended as the simulator's draw says, and the client got exactly
    that report; the counts by (status, unified code)."""
    stored = final(store)
    by_id = receiver.by_id()
    counts: Counter[tuple[str, str]] = Counter()
    for s in sent.values():
        status, code, pid = stored[s.ums]
        want = provider.expected(s, pid)
        assert (status, code) == want, (s, pid)
        assert {r["resultCode"] for r in by_id[s.ums]} == {NATIVE.get(code, code)}
        counts[want] += 1
    return counts


@pytest.mark.slow  # 30-60 s each on a busy two-core machine
@pytest.mark.parametrize("name", sorted(PROVIDERS))
async def test_thousand_messages_and_a_restart_of_the_provider(
    name: str, sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    provider = PROVIDERS[name]
    gw_port = free_port()
    gw_url = f"http://127.0.0.1:{gw_port}"
    sim = SimProcess(name, provider.sim_args(gw_url), tmp_path / "sim.log")
    await sim.start()
    try:
        config = gateway_config(
            tmp_path / "umsgate.toml", gw_url, name, provider.options(sim.url, gw_url)
        )
        gw = Server(sqlite_store, gw_port, tmp_path / "serve.log", FAST_ENV, config)
        await gw.start()
        try:
            async with httpx.AsyncClient(base_url=gw.url, timeout=30) as http:
                headers = await client_headers(sqlite_store, gw, http, receiver)
                half = TOTAL // 2
                sent = await send_many(http, headers, range(half))
                await reported(receiver, sent.values(), within=120)
                await sim.stop()
                later = await send_many(http, headers, range(half, TOTAL))
                waiting = {s.ums for s in later.values()}
                await wait_for(
                    lambda: waiting <= messages_with_event(sqlite_store, "4002"),
                    timeout=30,
                    interval=0.2,
                    what="every message sent while the provider is down to be "
                    "retried for a connection error",
                )
                assert not any(
                    final(sqlite_store)[u][0] in ("DELIVERED", "FAILED", "EXPIRED")
                    for u in waiting
                )
                await sim.start()
                sent.update(later)
                await reported(receiver, sent.values(), within=180)
        finally:
            gw.stop()
    finally:
        await sim.stop()
    assert len(final(sqlite_store)) == len(sent) == TOTAL
    counts = check_outcomes(provider, sqlite_store, receiver, sent)
    assert counts[("DELIVERED", "1000")] > TOTAL * 0.8
    assert len(counts) >= 2, counts  # the mix shows, not only deliveries
