"""Receipts at wire speed through the whole gateway: ``umsgate sim smpp`` sends every
receipt at once, in the write of its submit_sm_resp, a fifth of them *before* it,
with no receipt window, and never sends a receipt twice (``--no-resend-refused``):
a receipt the gateway refused, or did not answer, would be a report lost for good.
In the ``bursts`` mode the receipts that do not go early are held and sent
together every second, hundreds at a time, past the connectors' receipt window
(100): the rest wait in the socket until the gateway answers.

Every message must end DELIVERED with exactly one webhook, and the simulator must
count every receipt answered, none refused and none lost; ``/healthz`` must show no
report refused, unmatched or still parked.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import Receiver, Store
from tests.e2e.conftest import Server, free_port
from tests.e2e.test_smpp_serve import (
    check_final_once,
    client_token,
    connector_pids,
    log_events,
    sample,
    send_all,
    sim_process,
    smpp_settings,
)
from umsgate.testing import wait_for

EARLY = 0.2
WIRE_SPEED = (
    "--receipt-delay=0",
    f"--early-receipts={EARLY}",
    "--receipt-window=0",
    "--no-resend-refused",
)
#: Mode → the simulator's options and the connectors' receipt_window: in bursts,
#: hundreds of receipts arrive at once, over the window, and wait in the socket.
MODES: dict[str, tuple[tuple[str, ...], int]] = {
    "wire-speed": (WIRE_SPEED, 1000),
    "bursts": ((*WIRE_SPEED, "--receipt-burst=1"), 100),
}
#: The simulator's lines at the stop.
COUNTS = re.compile(
    r"receipts sent (\d+), answered (\d+), refused (\d+), lost (\d+); (\d+) early"
)
MOST_UNANSWERED = re.compile(r"receipts answered .*; at most (\d+) unanswered")


async def run_receipts(
    tmp_path: Path,
    store: Store,
    receiver: Receiver,
    *,
    total: int,
    mode: str,
    own_process: bool,
) -> None:
    samples = [sample(i, "r") for i in range(total)]
    sim_args, receipt_window = MODES[mode]
    async with sim_process(tmp_path, *sim_args) as sim:
        config = smpp_settings(
            tmp_path / "umsgate.toml",
            sim.port,
            own_process=own_process,
            receipt_window=receipt_window,
        )
        srv = Server(store, free_port(), tmp_path / "serve.log", config=config)
        await srv.start()
        try:
            tok = await client_token(store, srv, receiver)
            if own_process:
                assert len(await connector_pids(srv)) == 2
            acked = await send_all(srv.url, tok, samples, concurrency=48)
            assert len(acked) == total
            wanted = set(acked.values())
            await wait_for(
                lambda: wanted <= receiver.by_id().keys(),
                timeout=max(60, total / 50),
                interval=0.2,
                what="a webhook for every message",
            )
            async with httpx.AsyncClient(timeout=10) as http:
                health = (await http.get(srv.url + "/healthz")).json()
        finally:
            srv.stop()
        # The gateway answered every receipt it read before it unbound; the
        # simulator counts what it sent and what came back.
        await sim.stop()
        assert sim.proc is not None and sim.proc.stdout is not None
        lines = (await sim.proc.stdout.read()).decode().splitlines()
        records = sim.records()
    assert log_events(srv.log, "stop"), "umsgate serve did not stop cleanly"
    check_final_once(store, receiver, acked, "DELIVERED")
    assert health["reports"] == {"parked": 0, "unmatched": {}, "refused": {}}, health
    parts = sum(s.parts for s in samples)
    assert len(records) == parts, "a part went twice or not at all"
    counts = next((m for m in map(COUNTS.fullmatch, lines) if m), None)
    most = next((m for m in map(MOST_UNANSWERED.fullmatch, lines) if m), None)
    assert counts is not None and most is not None, lines
    sent, answered, refused, lost, early = map(int, counts.groups())
    assert (sent, answered, refused, lost) == (parts, parts, 0, 0), lines
    # What the test set out to cover did happen: receipts ahead of their resps,
    # and in bursts more receipts unanswered on a session than its window takes.
    assert parts * EARLY / 2 < early < parts * EARLY * 2, lines
    if mode == "bursts":
        assert int(most.group(1)) > receipt_window, lines


@pytest.mark.parametrize("own_process", [False, True], ids=["in-gateway", "own"])
@pytest.mark.parametrize("mode", list(MODES))
async def test_receipts_at_wire_speed_none_lost(
    sqlite_store: Store,
    receiver: Receiver,
    tmp_path: Path,
    mode: str,
    own_process: bool,
) -> None:
    """A short run, for every test run."""
    await run_receipts(
        tmp_path,
        sqlite_store,
        receiver,
        total=1_000,
        mode=mode,
        own_process=own_process,
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("own_process", [False, True], ids=["in-gateway", "own"])
@pytest.mark.parametrize("mode", list(MODES))
async def test_ten_thousand_receipts_at_wire_speed_none_lost(
    sqlite_store: Store,
    receiver: Receiver,
    tmp_path: Path,
    mode: str,
    own_process: bool,
) -> None:
    await run_receipts(
        tmp_path,
        sqlite_store,
        receiver,
        total=10_000,
        mode=mode,
        own_process=own_process,
    )


@pytest.mark.postgres
@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", list(MODES))
async def test_receipts_at_wire_speed_none_lost_on_postgresql(
    pg_store: Store,
    receiver: Receiver,
    tmp_path: Path,
    mode: str,
) -> None:
    """On PostgreSQL the ledger writes a batch beside the one before it: receipts
    of the ids that batch records, and receipts ahead of their resps, in the
    batches that overlap it."""
    await run_receipts(
        tmp_path, pg_store, receiver, total=2_000, mode=mode, own_process=True
    )
