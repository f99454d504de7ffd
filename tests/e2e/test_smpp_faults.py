"""SMPP faults through the whole gateway, over real TCP: the SMSC drops the connection
with submits in flight, throttles, sends its receipts after the gateway restarted
(SIGTERM or kill -9), and sends a malformed PDU. In every case each message ends
with exactly one final status and one webhook, and nothing is lost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Receiver, Store
from tests.e2e.conftest import Server, db_rows, free_port, server, status_counts
from tests.e2e.test_smpp_serve import (
    KSC,
    OUTSTANDING,
    UCS,
    by_destination,
    check_final_once,
    check_parts,
    check_wire,
    client_token,
    connector_pids,
    log_events,
    sample,
    send_all,
    sim_process,
    smpp_settings,
)
from umsgate.protocols.smpp import pdu as pdus
from umsgate.protocols.smpp import simulator
from umsgate.testing import wait_for


def alive(pid: int) -> bool:
    """The process runs (a zombie, exited and not yet waited for, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def claimed_again(store: Store) -> list[Any]:
    """The messages claimed (SENDING) more than once, with their claim counts."""
    return db_rows(
        store,
        "select message_id, count(*) from events where status = 'SENDING' "
        "group by message_id having count(*) > 1",
    )


def webhooks_for(receiver: Receiver, acked: dict[str, str]) -> Callable[[], bool]:
    wanted = set(acked.values())
    return lambda: wanted <= receiver.by_id().keys()


async def test_connection_dropped_with_submits_in_flight(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    """The SMSC drops a session in the middle of the load (the 400th PDU it receives),
    while it holds every answer for half a second so that the window is never empty:
    the submits without an answer become retries and are sent again on the next
    bind (the SMSC had taken some of them: at least once); every message is
    delivered, and reported, once."""
    samples = [sample(i, "d") for i in range(500)]
    async with sim_process(
        tmp_path,
        "--receipt-delay",
        "0.2",
        "--resp-delay",
        "0.5",
        "--drop-after",
        "400",
    ) as sim:
        config = smpp_settings(tmp_path / "umsgate.toml", sim.port)
        async with server(sqlite_store, tmp_path, config=config) as srv:
            tok = await client_token(sqlite_store, srv, receiver)
            acked = await send_all(srv.url, tok, samples, 32)
            wanted = set(acked.values())
            await wait_for(
                lambda: wanted <= receiver.by_id().keys(),
                timeout=60,
                interval=0.2,
                what="a webhook for every message",
            )
        records = sim.records()
    drops = [
        line
        for line in log_events(srv.log, "smpp.session_closed")
        if "(unbound)" not in line
    ]
    assert len(drops) == 1, drops
    match = OUTSTANDING.search(drops[0])
    assert match is not None and int(match.group(1)) > 0, "no submit was in flight"
    assert len(log_events(srv.log, "smpp.bound")) == 3  # two binds, one rebind
    check_final_once(sqlite_store, receiver, acked, "DELIVERED")
    smsc_ids = check_wire(records, samples, once=False)
    check_parts(sqlite_store, acked, samples, smsc_ids)
    # The messages whose submits were in flight were claimed and sent again.
    claims = claimed_again(sqlite_store)
    assert claims, "no message was sent again after the drop"


async def test_connector_process_killed_with_submits_in_flight(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    """With ``own_process``, the process of a connector is killed (kill -9) in the
    middle of the load, while the SMSC holds every answer for half a second so that
    its window is full: the gateway answers that process's submits RETRY and starts
    it again; every message is delivered, and reported, once."""
    samples = [sample(i, "k") for i in range(500)]
    async with sim_process(
        tmp_path, "--receipt-delay", "0.2", "--resp-delay", "0.5"
    ) as sim:
        config = smpp_settings(tmp_path / "umsgate.toml", sim.port, own_process=True)
        async with server(sqlite_store, tmp_path, config=config) as srv:
            tok = await client_token(sqlite_store, srv, receiver)
            pids = await connector_pids(srv)
            victim = pids["smsc-ksc"]
            killed: list[int] = []

            async def kill_once(count: int) -> None:
                if count == 150 and not killed:
                    os.kill(victim, signal.SIGKILL)
                    killed.append(victim)

            acked = await send_all(srv.url, tok, samples, 32, after=kill_once)
            wanted = set(acked.values())
            await wait_for(
                lambda: wanted <= receiver.by_id().keys(),
                timeout=90,
                interval=0.2,
                what="a webhook for every message",
            )
            after = await connector_pids(srv)
            async with httpx.AsyncClient(timeout=10) as http:
                health = (await http.get(srv.url + "/healthz")).json()
        records = sim.records()
    assert killed == [victim]
    assert after["smsc-ksc"] != victim and after["smsc-ucs"] == pids["smsc-ucs"]
    ksc = health["connectors"]["smsc-ksc"]
    assert ksc["up"] and ksc["process"]["restarts"] == 1
    assert health["connectors"]["smsc-ucs"]["process"]["restarts"] == 0
    died = log_events(srv.log, "hosting.process_died")
    assert len(died) == 1 and "smsc-ksc" in died[0], died
    check_final_once(sqlite_store, receiver, acked, "DELIVERED")
    smsc_ids = check_wire(records, samples, once=False)
    check_parts(sqlite_store, acked, samples, smsc_ids)
    # Submits were in flight in the killed process: their messages were claimed
    # and sent again.
    claims = claimed_again(sqlite_store)
    assert claims, "no message was sent again after the kill"


async def test_throttling_smsc_costs_time_not_failures(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    """The SMSC takes 100 submits a second per account and answers the rest
    ESME_RTHROTTLED; the gateway offers far more. The route slows down (its health
    says so) and every part goes through once."""
    samples = [sample(i, "t") for i in range(300)]
    slowed: list[str] = []
    async with sim_process(tmp_path, "--receipt-delay", "0.2", "--tps", "100") as sim:
        config = smpp_settings(tmp_path / "umsgate.toml", sim.port)
        async with (
            server(sqlite_store, tmp_path, config=config) as srv,
            httpx.AsyncClient(base_url=srv.url, timeout=10) as http,
        ):
            tok = await client_token(sqlite_store, srv, receiver)

            async def watch(_n: int) -> None:
                if _n % 20 == 0:
                    health = (await http.get("/healthz")).json()["connectors"]
                    slowed.extend(
                        c["detail"] for c in health.values() if "slowed" in c["detail"]
                    )

            acked = await send_all(srv.url, tok, samples, 32, after=watch)

            async def slowed_or_done() -> bool:
                health = (await http.get("/healthz")).json()["connectors"]
                slowed.extend(
                    c["detail"] for c in health.values() if "slowed" in c["detail"]
                )
                return bool(slowed) or set(acked.values()) <= receiver.by_id().keys()

            await wait_for(slowed_or_done, timeout=60, interval=0.05, what="progress")
            wanted = set(acked.values())
            await wait_for(
                lambda: wanted <= receiver.by_id().keys(),
                timeout=60,
                interval=0.2,
                what="a webhook for every message",
            )
        records = sim.records()
    assert slowed, "the route never slowed down for the SMSC"
    check_final_once(sqlite_store, receiver, acked, "DELIVERED")
    smsc_ids = check_wire(records, samples, once=True)
    check_parts(sqlite_store, acked, samples, smsc_ids)
    # The SMSC's limit held: per account, no second took much more than 100 parts
    # (its bucket allows a tenth of a second of burst).
    for system_id in (KSC[0], UCS[0]):
        times = sorted(r["at"] for r in records if r["system_id"] == system_id)
        busiest = max(
            sum(1 for t in times[i:] if t < start + 1.0)
            for i, start in enumerate(times)
        )
        assert busiest <= 100 * 1.1 + 10, (system_id, busiest)


@pytest.mark.parametrize(
    ("stop", "own_process"),
    [("sigterm", False), ("kill9", False), ("kill9", True)],
    ids=["sigterm", "kill9", "kill9-own-process"],
)
async def test_receipts_reach_a_restarted_gateway(
    sqlite_store: Store,
    receiver: Receiver,
    tmp_path: Path,
    stop: str,
    own_process: bool,
) -> None:
    """Every submit is acknowledged, then the gateway stops (SIGTERM) or dies
    (kill -9) before any receipt; a new process on the same data directory gets the
    receipts the SMSC kept, and every message ends DELIVERED once. With the
    connectors in processes of their own, a kill -9 of the gateway ends them too."""
    samples = [sample(i, "r") for i in range(200)]
    n = len(samples)
    async with sim_process(tmp_path, "--receipt-delay", "6") as sim:
        config = smpp_settings(
            tmp_path / "umsgate.toml", sim.port, own_process=own_process
        )
        srv = Server(sqlite_store, free_port(), tmp_path / "serve.log", config=config)
        await srv.start()
        try:
            tok = await client_token(sqlite_store, srv, receiver)
            pids = await connector_pids(srv)
            assert len(pids) == (2 if own_process else 0)
            acked = await send_all(srv.url, tok, samples, 32)
            await wait_for(
                lambda: status_counts(sqlite_store).get("SENT") == n,
                timeout=30,
                what="every submit acknowledged",
            )
            if stop == "kill9":
                srv.kill9()
                # The connector processes saw their socket close and ended.
                await wait_for(
                    lambda: not any(alive(p) for p in pids.values()),
                    timeout=15,
                    what="the connector processes gone",
                )
            else:
                srv.stop()
                assert log_events(srv.log, "stop"), "no clean stop"
            # Nothing was final when the first process ended.
            assert status_counts(sqlite_store) == {"SENT": n}
            assert not receiver.requests
            await srv.start()  # same port, same data directory
            wanted = set(acked.values())
            await wait_for(
                lambda: wanted <= receiver.by_id().keys(),
                timeout=60,
                interval=0.2,
                what="a webhook for every message",
            )
        finally:
            srv.stop()
        records = sim.records()
    check_final_once(sqlite_store, receiver, acked, "DELIVERED")
    smsc_ids = check_wire(records, samples, once=True)  # nothing was sent twice
    check_parts(sqlite_store, acked, samples, smsc_ids)
    assert len(by_destination(records)) == n


async def stop_without_blocking(srv: Server) -> None:
    """SIGTERM, then wait with the event loop free: the simulator in this process
    must answer the gateway's unbind while it stops."""
    proc = srv.proc
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        await wait_for(lambda: proc.poll() is not None, timeout=30, interval=0.05)
    srv.stop()


def _pdu(command_id: int, body: bytes, length: int | None = None) -> bytes:
    size = 16 + len(body) if length is None else length
    return struct.pack(">IIII", size, command_id, 0, 7) + body


MALFORMED = {
    # command_length below the 16-octet header (§3.2): the stream cannot be framed.
    "short_length": _pdu(0x00000005, b"", length=8),
    # A deliver_sm whose body ends inside its first C-octet string.
    "truncated_deliver_sm": _pdu(0x00000005, b"CMT"),
}


@pytest.mark.parametrize("raw", list(MALFORMED.values()), ids=list(MALFORMED))
async def test_malformed_pdu_closes_the_session_not_the_gateway(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path, raw: bytes
) -> None:
    """The SMSC (here in the test's process, over TCP) writes a malformed PDU to
    both sessions: the serve process logs why and closes each session, binds again,
    and goes on delivering."""
    accounts = {KSC[0]: KSC[1], UCS[0]: UCS[1]}
    async with simulator.running(accounts=accounts, receipt_delay=0.05) as sim:
        config = smpp_settings(tmp_path / "umsgate.toml", sim.port)
        srv = Server(sqlite_store, free_port(), tmp_path / "serve.log", config=config)
        await srv.start()
        try:
            tok = await client_token(sqlite_store, srv, receiver)
            before = await send_all(
                srv.url, tok, [sample(i, "a") for i in range(40)], 8
            )
            await wait_for(webhooks_for(receiver, before), timeout=30)
            assert sim.stats.binds == 2
            assert sim.inject(raw) == 2
            await wait_for(
                lambda: len(log_events(srv.log, "smpp.malformed_pdu")) == 2,
                timeout=10,
                what="the serve process to log the malformed PDU",
            )
            await wait_for(lambda: sim.stats.binds == 4, timeout=10, what="rebinds")
            after = await send_all(
                srv.url, tok, [sample(i, "b") for i in range(40, 80)], 8
            )
            await wait_for(webhooks_for(receiver, after), timeout=30)
            assert srv.proc is not None and srv.proc.poll() is None
        finally:
            await stop_without_blocking(srv)
    lines = log_events(srv.log, "smpp.malformed_pdu")
    assert all("malformed PDU from the peer" in line for line in lines), lines
    assert {line.split("route=")[1] for line in lines} == {
        "smsc-ksc:transceiver",
        "smsc-ucs:transceiver",
    }
    assert "Traceback" not in srv.log.read_text()
    check_final_once(sqlite_store, receiver, {**before, **after}, "DELIVERED")


def _metric(text: str, name: str, connector: str) -> float:
    for line in text.splitlines():
        if line.startswith(f'{name}{{connector="{connector}"}} '):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize("own_process", [False, True], ids=["in-gateway", "own"])
async def test_refused_and_unmatched_receipts_show_in_metrics_and_healthz(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path, own_process: bool
) -> None:
    """The SMSC sends a receipt for an id the gateway never saw, and a deliver_sm
    that is not a receipt: the first is parked, then dropped as unmatched after
    ``engine.unmatched_report_ttl``; the second is refused (ESME_RX_P_APPN). Each
    shows in /healthz and /metrics, and its log line names it."""
    accounts = {KSC[0]: KSC[1], UCS[0]: UCS[1]}
    receipt_text = (
        b"id:nobody-sent-this sub:001 dlvrd:001 submit date:2612061200 "
        b"done date:2612061200 stat:DELIVRD err:000 text:"
    )
    stray = pdus.DeliverSm(
        sequence=0, destination_addr="1", esm_class=4, short_message=receipt_text
    )
    mobile = pdus.DeliverSm(
        sequence=0, destination_addr="1", esm_class=0, short_message=b"hello"
    )
    async with simulator.running(accounts=accounts, receipt_delay=0.05) as sim:
        config = smpp_settings(
            tmp_path / "umsgate.toml", sim.port, own_process=own_process
        )
        srv = Server(
            sqlite_store,
            free_port(),
            tmp_path / "serve.log",
            config=config,
            env={"UMSGATE_ENGINE_UNMATCHED_REPORT_TTL": "2"},
        )
        await srv.start()
        try:
            await wait_for(lambda: sim.stats.binds == 2, timeout=10, what="binds")
            ucs = sim.connections(UCS[0])
            assert len(ucs) == 1
            session = ucs[0].session
            ucs[0].send(dataclasses.replace(stray, sequence=session.next_sequence()))
            ucs[0].send(dataclasses.replace(mobile, sequence=session.next_sequence()))
            async with httpx.AsyncClient() as http:

                async def reports() -> dict[str, Any]:
                    doc = (await http.get(srv.url + "/healthz")).json()
                    return dict(doc["reports"])

                parked_seen = False
                for _ in range(100):
                    doc = await reports()
                    parked_seen = parked_seen or doc["parked"] == 1
                    if doc["unmatched"] and doc["refused"]:
                        break
                    await asyncio.sleep(0.1)
                assert parked_seen, doc
                assert doc["unmatched"] == {
                    "smsc-ucs": {"count": 1, "last": "nobody-sent-this"}
                }, doc
                assert doc["refused"]["smsc-ucs"]["count"] == 1, doc
                assert "not a receipt" in doc["refused"]["smsc-ucs"]["last"]
                assert doc["parked"] == 0
                health = (await http.get(srv.url + "/healthz")).json()
                assert health["connectors"]["smsc-ucs"]["refused"] == 1
                metrics = (await http.get(srv.url + "/metrics")).text
            unmatched = "umsgate_reports_unmatched_total"
            refused = "umsgate_reports_refused_total"
            assert _metric(metrics, unmatched, "smsc-ucs") == 1
            assert _metric(metrics, refused, "smsc-ucs") == 1
            assert _metric(metrics, refused, "smsc-ksc") == 0
            assert "umsgate_reports_parked 0.0" in metrics
            assert sim.stats.receipts_refused == 0  # RX_P_APPN: dropped for good
        finally:
            await stop_without_blocking(srv)
    dropped = log_events(srv.log, "report_unmatched")
    assert len(dropped) == 1 and "nobody-sent-this" in dropped[0], dropped
