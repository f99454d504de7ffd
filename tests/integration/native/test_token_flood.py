"""Acceptance of issue 16: sixteen connections sending wrong secrets for one known
client id are refused with 429 within the first second, and another client's sends
meanwhile keep a p99 latency under three times the one they had without the attack
(measured in the same test)."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.conftest import (
    Account,
    Running,
    Store,
    make_settings,
    new_account,
    running_gateway,
    sms_body,
)

#: Seconds of attack, as the issue states it (the lockout is reached within the
#: first second; the rest is the steady state the other client's sends must bear).
ATTACK = 10.0
CONNECTIONS = 16
ROOT = Path(__file__).resolve().parents[3]
_ids = itertools.count()


async def send_latencies(gw: Running, acct: Account, seconds: float) -> list[float]:
    """One SMS after the other for ``seconds``: the time of each."""
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        r = await gw.http.post(
            "/v1/message/sms", json=sms_body(f"s-{next(_ids)}"), headers=acct.headers()
        )
        out.append(time.perf_counter() - started)
        assert r.status_code == 200, r.text
    return out


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


@pytest.mark.slow
async def test_a_wrong_secret_flood_is_refused_and_spares_other_clients(
    sqlite_store: Store,
) -> None:
    async with running_gateway(make_settings(sqlite_store)) as gw:
        await new_account(gw, "victim")
        sender = await new_account(gw, "sender")
        await send_latencies(gw, sender, 0.5)  # warm up
        quiet = await send_latencies(gw, sender, ATTACK - 0.5)
        attacker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.integration.native.token_flood",
            gw.url,
            "victim",
            str(CONNECTIONS),
            str(ATTACK),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        assert attacker.stdout is not None
        ready = await asyncio.wait_for(attacker.stdout.readline(), timeout=30)
        assert ready == b"ready\n"
        attacked = await send_latencies(gw, sender, ATTACK - 0.5)
        out, _ = await asyncio.wait_for(attacker.communicate(), timeout=ATTACK + 30)
        checks = gw.gateway.directory.hashes.checks
    result = orjson.loads(out)
    statuses = {int(k): v for k, v in result["statuses"].items()}
    summary = (
        f"median {statistics.median(quiet) * 1000:.1f} / "
        f"{statistics.median(attacked) * 1000:.1f} ms; "
        f"attack {statuses}, first 429 at {result['first_429']} s, {checks} scrypt "
        f"checks; sends p99 {p99(quiet) * 1000:.1f} ms quiet "
        f"({len(quiet)}), {p99(attacked) * 1000:.1f} ms attacked ({len(attacked)})"
    )
    print(summary)
    assert set(statuses) <= {401, 429}, summary
    assert statuses.get(429, 0) > statuses.get(401, 0), summary
    assert result["first_429"] is not None and result["first_429"] < 1.0, summary
    assert p99(attacked) < 3 * p99(quiet), summary
