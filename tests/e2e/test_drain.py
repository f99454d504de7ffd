"""A burst larger than a connector's ``tps`` is queued and drained at that rate:
``umsgate serve`` with an SMPP connector limited to 20 messages per second, 300 SMS
at once over the native API, and the simulator's record of when each submit_sm
arrived (``bench/drain.py`` is the long version: 5,000 at 100 TPS)."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from tests.conftest import Receiver, Store
from tests.e2e.conftest import Server, free_port
from tests.e2e.test_smpp_serve import (
    check_final_once,
    client_token,
    sample,
    send_all,
    sim_process,
    smpp_settings,
)
from umsgate.testing import wait_for

TPS = 20
TOTAL = 300

pytestmark = pytest.mark.slow


def per_second(times: list[float]) -> list[int]:
    """Submits in each whole second from the first one."""
    first = min(times)
    counts = collections.Counter(int(t - first) for t in times)
    return [counts[s] for s in range(max(counts) + 1)]


async def test_a_burst_drains_at_the_connector_tps(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    # Odd samples are one-part SMS for the UCS-2 connector; every connector of the
    # settings file gets the limit.
    samples = [sample(2 * i + 1, "d") for i in range(2 * TOTAL)]
    samples = [s for s in samples if s.parts == 1][:TOTAL]
    assert len(samples) == TOTAL
    async with sim_process(tmp_path, "--receipt-delay", "0.2") as sim:
        config = smpp_settings(tmp_path / "umsgate.toml", sim.port, tps=TPS)
        srv = Server(sqlite_store, free_port(), tmp_path / "serve.log", config=config)
        await srv.start()
        try:
            tok = await client_token(sqlite_store, srv, receiver)
            acked = await send_all(srv.url, tok, samples, concurrency=32)
            wanted = set(acked.values())
            await wait_for(
                lambda: wanted <= receiver.by_id().keys(),
                timeout=len(samples) / TPS + 30,
                interval=0.2,
                what="a webhook for every message",
            )
        finally:
            srv.stop()
        records = sim.records()
    # No loss, nothing twice: every 200 was delivered and reported once, and the
    # SMSC got each message once.
    check_final_once(sqlite_store, receiver, acked, "DELIVERED")
    assert sorted(r["destination_addr"] for r in records) == sorted(
        s.destination for s in samples
    )
    times = sorted(r["at"] for r in records)
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert TPS * 0.9 <= rate <= TPS * 1.1, (rate, per_second(times))
    # Every whole second but the last holds the rate: no second above it by more
    # than a chunk (a tenth of a second's worth goes at once).
    seconds = per_second(times)
    assert max(seconds) <= TPS * 1.1 + TPS / 10, seconds
