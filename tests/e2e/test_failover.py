"""Failover and retries through ``umsgate serve``, over real TCP to SMPP simulators
running in the test's process (so that a test can close one for real and start it
again on the same port with the receipts it held, as a restarted SMSC would).

* Two simulators behind one route: the first is closed in the middle of a steady
  stream of messages; its breaker opens and the traffic moves to the second; the
  first is started again and the traffic comes back to it. Nothing is lost: every
  message that got a 200 ends DELIVERED once, with one webhook.
* Transient refusals (ESME_RSYSERR) are retried, on the route's other connector
  when it has one, on the same one when not, and end DELIVERED; a permanent refusal
  (ESME_RINVDSTADR) fails the message at once with INVALID_NUMBER.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Receiver, Store, make_settings
from tests.e2e.conftest import Server, db_rows, free_port, status_counts, token
from tests.e2e.test_smpp_faults import stop_without_blocking
from tests.e2e.test_smpp_serve import (
    check_final_once,
    headers,
    log_events,
)
from umsgate import clients
from umsgate.protocols.smpp import simulator
from umsgate.protocols.smpp.codes import CommandStatus
from umsgate.protocols.smpp.smsc import Smsc, Submitted
from umsgate.store.database import open_database
from umsgate.testing import wait_for

#: Two probes close a breaker here (FAST_ENV has short cool-downs already).
BREAKER_ENV = {"UMSGATE_BREAKER_PROBES": "2"}
#: Bind passwords: from the environment for one connector, a file for the other;
#: neither may appear in the log or in /healthz.
SECRETS = {"A_PASSWORD": "pw-a-123", "B_PASSWORD": "pw-b-456"}


class Wire:
    """What one simulator took, with the time it took it."""

    def __init__(self, smsc: Smsc) -> None:
        self.smsc = smsc
        self.times: list[tuple[float, str]] = []
        smsc.on_submit = self._took

    def _took(self, part: Submitted) -> None:
        self.times.append((time.monotonic(), part.pdu.destination_addr))

    def count(self, since: float = 0.0) -> int:
        return sum(1 for t, _ in self.times if t >= since)

    def first_after(self, moment: float) -> float | None:
        return next((t for t, _ in self.times if t >= moment), None)


@contextlib.asynccontextmanager
async def smscs(
    *names: str, **config: Any
) -> AsyncIterator[dict[str, tuple[Smsc, Wire]]]:
    """One simulator per name (account ``esme-NAME``), each on a port of its own
    that stays the same across a close and a start."""
    async with contextlib.AsyncExitStack() as stack:
        out: dict[str, tuple[Smsc, Wire]] = {}
        for name in names:
            sim = await stack.enter_async_context(
                simulator.running(
                    accounts={
                        f"esme-{name}": SECRETS.get(f"{name.upper()}_PASSWORD", "pw")
                    },
                    port=free_port(),
                    receipt_delay=0.1,
                    **config,
                )
            )
            out[name] = (sim, Wire(sim))
        yield out


def connector_table(name: str, sim: Smsc, credential: str) -> str:
    return "\n".join(
        [
            "[[connectors]]",
            f'name = "smsc-{name}"',
            'protocol = "smpp"',
            "own_process = false",
            'host = "127.0.0.1"',
            f"port = {sim.port}",
            f'system_id = "esme-{name}"',
            credential,
            "window = 20",
            "reconnect_initial = 0.1",
            "reconnect_max = 0.3",
            "connect_timeout = 1.0",
            "response_timeout = 2.0",
            "",
        ]
    )


def body(i: int, national: str) -> dict[str, str]:
    return {
        "srcMsgId": f"f{i}",
        "callback": "0212345678",
        "receiver": national,
        "content": f"failover test {i}",
    }


async def client_token(store: Store, url: str, receiver: Receiver) -> str:
    """A client added straight to the running gateway's store (a ``client add``
    subprocess costs seconds of start-up), and its token."""
    db = open_database(make_settings(store))
    try:
        creds = await clients.add_client(
            db, "shop", tps={"SMS": 100_000, "MMS": 100_000}, report_url=receiver.url
        )
    finally:
        await db.close()
    async with httpx.AsyncClient(timeout=30) as http:
        return await token(
            http,
            url,
            {
                "clientId": creds.client_id,
                "clientSecret": creds.client_secret,
                "clientKey": creds.client_key,
            },
        )


@contextlib.asynccontextmanager
async def serving(
    store: Store, tmp_path: Path, settings: Path, env: Mapping[str, str]
) -> AsyncIterator[Server]:
    """``umsgate serve`` on ``settings``, stopped without blocking the event loop
    (the simulators in this process must answer its unbinds while it stops)."""
    srv = Server(store, free_port(), tmp_path / "serve.log", env, settings)
    await srv.start()
    try:
        yield srv
    finally:
        await stop_without_blocking(srv)


async def post(http: httpx.AsyncClient, tok: str, payload: Mapping[str, str]) -> str:
    r = await http.post("/v1/message/sms", json=payload, headers=headers(tok))
    assert r.status_code == 200, r.text
    return str(r.json()["umsMsgId"])


async def post_many(
    http: httpx.AsyncClient, tok: str, numbers: range, prefix: str
) -> dict[str, str]:
    """Post message ``i`` to ``{prefix}{i:07d}`` for each ``i``, eight at a time."""
    limit = asyncio.Semaphore(8)

    async def one(i: int) -> tuple[str, str]:
        async with limit:
            return f"f{i}", await post(http, tok, body(i, f"{prefix}{i:07d}"))

    return dict(await asyncio.gather(*(one(i) for i in numbers)))


def events_of(store: Store, message_id: str) -> list[tuple[str, str | None, str]]:
    return [
        (status, code, detail)
        for status, code, detail in db_rows(
            store,
            "select status, code, detail from events where message_id = ? order by id",
            int(message_id),
        )
    ]


async def breaker_of(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    health = (await http.get("/healthz")).json()
    state: dict[str, Any] = health["connectors"][name]["breaker"]
    return state


async def test_traffic_moves_off_a_closed_smsc_and_comes_back(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    total, close_at, restart_at, rate = 300, 100, 200, 50.0
    async with smscs("a", "b") as sims:
        (sim_a, wire_a), (sim_b, wire_b) = sims["a"], sims["b"]
        (tmp_path / "b.secret").write_text(SECRETS["B_PASSWORD"] + "\n")
        settings = tmp_path / "umsgate.toml"
        settings.write_text(
            connector_table("a", sim_a, 'password_env = "A_PASSWORD"')
            + "\n"
            + connector_table("b", sim_b, 'password_file = "b.secret"')
            + '\n[[routes]]\nname = "all"\nconnectors = ["smsc-a", "smsc-b"]\n'
        )
        env = {**BREAKER_ENV, "A_PASSWORD": SECRETS["A_PASSWORD"]}
        async with (
            serving(sqlite_store, tmp_path, settings, env) as srv,
            httpx.AsyncClient(base_url=srv.url, timeout=10) as http,
        ):
            tok = await client_token(sqlite_store, srv.url, receiver)
            acked: dict[str, str] = {}
            moments: dict[str, float] = {}
            states: dict[str, dict[str, Any]] = {}
            started = time.monotonic()
            for i in range(total):
                # A steady stream: message i leaves at i / rate seconds.
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)  # pacing the client, not a wait
                if i == close_at:
                    moments["closed"] = time.monotonic()
                    await sim_a.close()
                if i == restart_at:
                    states["while closed"] = await breaker_of(http, "smsc-a")
                    moments["restarted"] = time.monotonic()
                    await sim_a.start()
                acked[f"f{i}"] = await post(http, tok, body(i, f"0103{i:07d}"))
            wanted = set(acked.values())
            await wait_for(
                lambda: wanted <= receiver.by_id().keys(),
                timeout=60,
                interval=0.2,
                what="a webhook for every message",
            )
            states["at the end"] = await breaker_of(http, "smsc-a")
            metrics = (await http.get("/metrics")).text
            health = (await http.get("/healthz")).text
    # Before the close everything went to the first connector of the route.
    closed, restarted = moments["closed"], moments["restarted"]
    assert wire_b.count() - wire_b.count(since=closed) == 0
    assert wire_a.count() - wire_a.count(since=closed) >= close_at - 10
    # Traffic moved to the second within seconds of the close...
    moved = wire_b.first_after(closed)
    assert moved is not None and moved - closed < 3.0, moved
    # ...and came back to the first after its restart.
    back = wire_a.first_after(restarted)
    assert back is not None and back - restarted < 6.0, back
    last = [d for _, d in sorted(wire_a.times + wire_b.times)][-20:]
    assert all(d in {dst for _, dst in wire_a.times} for d in last)
    print(
        f"failover: first submit to b {moved - closed:.2f} s after a closed; "
        f"back on a {back - restarted:.2f} s after its restart; "
        f"a took {wire_a.count()}, b took {wire_b.count()}"
    )
    assert states["while closed"]["state"] == "open"
    assert states["at the end"]["state"] == "closed"
    # Nothing lost: one final status and one webhook each, all delivered.
    check_final_once(sqlite_store, receiver, acked, "DELIVERED")
    assert status_counts(sqlite_store) == {"DELIVERED": total}
    # Each breaker transition logged once and counted once.
    opened = log_events(srv.log, "breaker.open")
    closed_again = log_events(srv.log, "breaker.closed")
    assert opened and all("route=smsc-a" in line for line in opened)
    assert closed_again
    assert (
        f'umsgate_breaker_transitions_total{{connector="smsc-a",state="open"}} '
        f"{float(len(opened))}" in metrics
    )
    assert 'umsgate_breaker_state{connector="smsc-a"} 0.0' in metrics
    # The attempt events name the connector of each try.
    vias = db_rows(
        sqlite_store,
        "select detail from events where status = 'SENDING' and detail like '% via %'",
    )
    assert {d.rsplit(" via ", 1)[1] for (d,) in vias} == {"smsc-a", "smsc-b"}
    for secret in SECRETS.values():
        assert secret not in srv.log.read_text() and secret not in health
    assert "Traceback" not in srv.log.read_text()


async def test_transient_codes_retry_and_deliver_permanent_ones_fail_at_once(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    """Three routes by receiver prefix:

    * ``pair`` (``+82103…``): smsc-a refuses its first 3 submits with ESME_RSYSERR;
      those messages are retried on smsc-b, the route's next connector, while
      smsc-a goes on taking the rest;
    * ``single`` (``+82104…``): smsc-c, alone on its route, refuses everything with
      ESME_RSYSERR for two seconds; its messages are retried on it and delivered;
    * ``perm`` (``+82105…``): smsc-d answers ESME_RINVDSTADR: FAILED at once, 2001.
    """
    async with smscs("a", "b", "c", "d") as sims:
        loop = asyncio.get_running_loop()
        sims["a"][0].faults.refuse_status = CommandStatus.RSYSERR
        # Fewer than the breaker's threshold: smsc-a stays in rotation.
        sims["a"][0].faults.refuse_count = 3
        sims["d"][0].faults.refuse_status = CommandStatus.RINVDSTADR
        passwords = {n: SECRETS.get(f"{n.upper()}_PASSWORD", "pw") for n in sims}
        tables = [
            connector_table(n, sim, f'password = "{passwords[n]}"')
            for n, (sim, _) in sims.items()
        ]
        routes = (
            '[[routes]]\nname = "pair"\nprefixes = ["+82103"]\n'
            'connectors = ["smsc-a", "smsc-b"]\n\n'
            '[[routes]]\nname = "single"\nprefixes = ["+82104"]\n'
            'connectors = ["smsc-c"]\n\n'
            '[[routes]]\nname = "perm"\nprefixes = ["+82105"]\n'
            'connectors = ["smsc-d"]\n'
        )
        settings = tmp_path / "umsgate.toml"
        settings.write_text("\n".join(tables) + "\n" + routes)
        async with (
            serving(sqlite_store, tmp_path, settings, BREAKER_ENV) as srv,
            httpx.AsyncClient(base_url=srv.url, timeout=10) as http,
        ):
            tok = await client_token(sqlite_store, srv.url, receiver)
            acked: dict[str, dict[str, str]] = {}
            acked["pair"] = await post_many(http, tok, range(60), "0103")
            # smsc-c refuses from now on, for as long as its messages take to send
            # and a little more.
            sims["c"][0].faults.refuse_status = CommandStatus.RSYSERR
            sims["c"][0].faults.refuse_until = loop.time() + 1.5
            acked["single"] = await post_many(http, tok, range(60, 80), "0104")
            acked["perm"] = await post_many(http, tok, range(80, 100), "0105")
            wanted = {u for group in acked.values() for u in group.values()}
            await wait_for(
                lambda: wanted <= receiver.by_id().keys(),
                timeout=60,
                interval=0.2,
                what="a webhook for every message",
            )
    a, b, c, d = (sims[n][0].stats for n in ("a", "b", "c", "d"))
    assert (a.refused, a.submits) == (3, 57)
    assert c.refused > 0 and d.refused == 20
    check_final_once(sqlite_store, receiver, acked["pair"], "DELIVERED")
    check_final_once(sqlite_store, receiver, acked["single"], "DELIVERED")
    check_final_once(sqlite_store, receiver, acked["perm"], "FAILED")
    # pair: the refused ones went to smsc-a once, then on to smsc-b.
    moved = 0
    for mid in acked["pair"].values():
        timeline = events_of(sqlite_store, mid)
        assert [e[0] for e in timeline[:2]] == ["ACCEPTED", "QUEUED"]
        tries = [e for e in timeline[2:] if e[0] in ("SENDING", "QUEUED")]
        if len(tries) == 1:
            assert tries[0][2].endswith("via smsc-a")
            continue
        moved += 1
        assert tries[0][2].endswith("via smsc-a")
        assert tries[1][:2] == ("QUEUED", "4000")
        assert tries[1][2].startswith("smsc-a: ")
        assert tries[2][2].endswith("via smsc-b")
    assert moved == 3
    assert b.submits == 3
    # single: no other connector, so the same one again, until it took them.
    retried = [
        mid
        for mid in acked["single"].values()
        if sum(1 for e in events_of(sqlite_store, mid) if e[0] == "SENDING") > 1
    ]
    assert retried
    waited = 0
    for mid in retried:
        timeline = events_of(sqlite_store, mid)
        vias = [e[2].rsplit(" via ", 1) for e in timeline if e[0] == "SENDING"]
        assert {v[1] for v in vias if len(v) == 2} == {"smsc-c"}
        # A claim while smsc-c was out of rotation sent nothing: the message
        # waited for the breaker's probe.
        waits = [e for e in timeline if "no connector of route 'single'" in e[2]]
        assert len(waits) == sum(1 for v in vias if len(v) == 1)
        waited += len(waits)
    assert waited, "no message waited for smsc-c's breaker"
    # perm: one attempt, FAILED with the code, webhook with it.
    by_id = receiver.by_id()
    for mid in acked["perm"].values():
        timeline = events_of(sqlite_store, mid)
        steps = [e for e in timeline if e[0] != "WEBHOOK"]
        assert [e[0] for e in steps] == ["ACCEPTED", "QUEUED", "SENDING", "FAILED"]
        assert steps[-1][1] == "2001"
        # The webhook's try follows on the timeline.
        assert [e[2] for e in timeline[len(steps) :]] == ["try 1: OK (HTTP 200)"]
        assert by_id[mid][0]["resultCode"] == "2001"
    raw = db_rows(
        sqlite_store,
        "select distinct raw_code from messages where result_code = '2001'",
    )
    assert raw == [("ESME_RINVDSTADR",)]
