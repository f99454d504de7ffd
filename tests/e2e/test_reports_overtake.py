"""Reports that overtake the answers to their sends, end to end: ``umsgate serve`` and
``umsgate sim PROVIDER --report-first`` as real processes, a client sending through
the native API and a webhook receiver. In report-first mode every report reaches the
gateway before the answer to its send: UShot's results are taken on the report
session before the send request is answered, ToBeText's callbacks and AI CROSS's
DLRs are POSTed, and answered, before the send API answers.

Every message must end DELIVERED the moment its report is committed, with exactly
one webhook report: a report that names its message (MSG_ID, CKey, clientTag) moves
it from SENDING to SENT and DELIVERED at once; one that names only the provider's id
(ToBeText ``--no-callback-ckey``) is parked and applied in the batch that records the
submit, not by the ledger's timed retry of parked reports (``PENDING_GRACE`` = 2 s
later). At the end ``/healthz`` shows nothing parked, unmatched or refused.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Receiver, Store
from tests.e2e.conftest import FAST_ENV, Server, free_port
from tests.e2e.test_http_providers_load import (
    SimProcess,
    client_headers,
    gateway_config,
    reported,
    send_many,
)
from tests.e2e.test_ushot_serve import (
    gateway,
    send_mix,
    simulator_process,
    wait_for_reports,
)
from umsgate.testing import wait_for

pytestmark = pytest.mark.slow

#: Messages per run: a few thousand, a run of 10-20 s on a two-core machine.
USHOT_SMS, USHOT_LMS = 3000, 300
HTTP_MESSAGES = 2000
#: The ledger's event detail of a SENT that a report made (engine/ledger.py).
REPORT_FIRST = "(its report came first)"
#: Longest a report may wait after its submit was recorded: a parked report is
#: applied in the batch that records the submit, not 2 s later by the timed retry.
PROMPT = 0.5


async def submits_recorded(http: httpx.AsyncClient, count: int) -> bool:
    """Whether the gateway has recorded the answers to ``count`` submits."""
    text = (await http.get("/metrics")).text
    done = sum(
        float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith("umsgate_messages_submitted_total{")
    )
    return done >= count


def outcomes(store: Store) -> dict[str, dict[str, Any]]:
    """umsMsgId → status, sent_at, done_at, the detail of its last SENT event, its
    claims (SENDING events), final events and report rows."""
    with contextlib.closing(sqlite3.connect(store.data_dir / "umsgate.db")) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT m.id, m.status, m.sent_at, m.done_at,"
            " (SELECT e.detail FROM events e WHERE e.message_id = m.id"
            "  AND e.status = 'SENT' ORDER BY e.id DESC LIMIT 1) AS sent,"
            " (SELECT count(*) FROM events e WHERE e.message_id = m.id"
            "  AND e.status = 'SENDING') AS claims,"
            " (SELECT count(*) FROM events e WHERE e.message_id = m.id"
            "  AND e.status IN ('DELIVERED', 'FAILED', 'EXPIRED')) AS finals,"
            " (SELECT count(*) FROM reports r WHERE r.message_id = m.id) AS reports"
            " FROM messages m"
        ).fetchall()
    return {str(r["id"]): dict(r) for r in rows}


async def check(
    store: Store,
    gw: Server,
    receiver: Receiver,
    ums_ids: Iterable[str],
    *,
    named: bool,
) -> None:
    """Every message DELIVERED once, its report applied at once (``named``: straight
    from SENDING) or in the batch that recorded its submit; exactly one webhook
    report each; nothing parked, unmatched or refused."""
    wanted = set(ums_ids)
    async with httpx.AsyncClient(base_url=gw.url, timeout=10) as http:
        # The send answers that come after the reports are recorded too (changing
        # nothing) before anything is read.
        await wait_for(
            lambda: submits_recorded(http, len(wanted)),
            timeout=60,
            what="every send answer recorded",
        )
        health = (await http.get("/healthz")).json()
    rows = outcomes(store)
    assert set(rows) == wanted
    not_delivered = [r for r in rows.values() if r["status"] != "DELIVERED"]
    assert not not_delivered, f"{len(not_delivered)}, e.g. {not_delivered[0]}"
    assert all(r["claims"] == 1 for r in rows.values()), "a message was sent again"
    assert all(r["finals"] == 1 and r["reports"] == 1 for r in rows.values())
    came_first = [r for r in rows.values() if REPORT_FIRST in (r["sent"] or "")]
    assert len(came_first) == (len(rows) if named else 0), rows[next(iter(rows))]
    late = [r for r in rows.values() if r["done_at"] - r["sent_at"] >= PROMPT]
    assert not late, f"{len(late)} reports waited after their submit, e.g. {late[0]}"
    by_id = receiver.by_id()
    assert set(by_id) == wanted
    twice = {u: len(reps) for u, reps in by_id.items() if len(reps) != 1}
    assert not twice, f"webhook reports per umsMsgId: {twice}"
    assert {rep["resultCode"] for reps in by_id.values() for rep in reps} == {"-100"}
    assert health["reports"] == {"parked": 0, "unmatched": {}, "refused": {}}


# -- UShot -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["SAM10", "SAM11"])
async def test_ushot_results_before_their_send_answers(
    version: str, sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    async with (
        simulator_process(version, tmp_path / "sim.log", "--report-first") as ports,
        gateway(sqlite_store, tmp_path, ports, version, receiver) as (srv, client),
    ):
        started = time.monotonic()
        acked = await send_mix(client, USHOT_SMS, USHOT_LMS, 0)
        await wait_for_reports(receiver, acked.values())
        elapsed = time.monotonic() - started
        await check(sqlite_store, srv, receiver, acked.values(), named=True)
    print(f"\n{len(acked)} UShot {version} messages, results first: {elapsed:.1f} s")


# -- HTTP providers --------------------------------------------------------------------


HTTP_CASES = {
    # (protocol, simulator flags, whether reports name their message)
    "tobetext": ("tobetext", ["--account", "C1:T1", "--report-first"], True),
    "tobetext-msgid-only": (
        "tobetext",
        ["--account", "C1:T1", "--report-first", "--no-callback-ckey"],
        False,
    ),
    "aicross": ("aicross", ["--token", "T1", "--report-first"], True),
}


def connector_options(protocol: str, sim_url: str) -> dict[str, Any]:
    if protocol == "tobetext":
        return {"cid": "C1", "token": "T1", "url": f"{sim_url}/sms"}
    return {"url": sim_url, "token": "T1"}


@pytest.mark.parametrize("case", sorted(HTTP_CASES))
async def test_http_callbacks_before_their_send_answers(
    case: str, sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    protocol, flags, named = HTTP_CASES[case]
    gw_port = free_port()
    gw_url = f"http://127.0.0.1:{gw_port}"
    if protocol == "aicross":
        flags = [*flags, "--dlr-url", f"{gw_url}/callbacks/aicross/p"]
    sim = SimProcess(protocol, flags, tmp_path / "sim.log")
    await sim.start()
    try:
        config = gateway_config(
            tmp_path / "umsgate.toml",
            gw_url,
            protocol,
            connector_options(protocol, sim.url),
        )
        gw = Server(sqlite_store, gw_port, tmp_path / "serve.log", FAST_ENV, config)
        await gw.start()
        try:
            async with httpx.AsyncClient(base_url=gw.url, timeout=30) as http:
                headers = await client_headers(sqlite_store, gw, http, receiver)
                started = time.monotonic()
                sent = await send_many(http, headers, range(HTTP_MESSAGES))
                await reported(receiver, sent.values(), within=120)
                elapsed = time.monotonic() - started
            await check(
                sqlite_store,
                gw,
                receiver,
                (s.ums for s in sent.values()),
                named=named,
            )
        finally:
            gw.stop()
    finally:
        await sim.stop()
    print(f"\n{HTTP_MESSAGES} {case} messages, reports first: {elapsed:.1f} s")
