"""On SQLite the ledger writes its next batch while the last one waits for its
COMMIT, and still answers no caller before that caller's batch is on disk."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from tests.conftest import Store, new_account, running_gateway
from tests.integration.engine.test_ledger_batch_order import Holding
from tests.integration.engine.test_outcomes import send, settings_for
from umsgate.engine.ledger import Submitted
from umsgate.store import database
from umsgate.testing import wait_for
from umsgate.types import Outcome, SubmitResult


def accepted(provider: Holding, mid: int) -> Submitted:
    return Submitted(
        message_id=mid,
        connector=provider.name,
        result=SubmitResult(
            message_id=mid, outcome=Outcome.ACCEPTED, provider_msg_id=f"P{mid}"
        ),
    )


async def test_a_caller_is_answered_once_its_batch_is_on_disk(
    sqlite_store: Store,
) -> None:
    provider = Holding()
    async with running_gateway(
        settings_for(sqlite_store), {"scripted": provider}
    ) as gw:
        acct = await new_account(gw)
        mid = await send(gw, acct, "on-disk")
        await wait_for(lambda: len(provider.submits) == 1, what="the submit")
        await gw.gateway.ledger.apply_many([accepted(provider, mid)])
        # Read at once, before the loop turns again, from another connection: it
        # sees only what was committed.
        other = sqlite3.connect(sqlite_store.data_dir / "umsgate.db")
        try:
            (status,) = other.execute(
                "SELECT status FROM messages WHERE id = ?", (mid,)
            ).fetchone()
        finally:
            other.close()
        provider.release.set()
    assert status == "SENT"


async def test_the_next_batch_is_written_before_the_last_commits(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The COMMIT comes 50 loop turns after the first part, not 2: plenty of time
    # for the ledger to write its next batch meanwhile, and none for a ledger that
    # waited for it to write the next batch before it.
    monkeypatch.setattr(database, "COMMIT_HOPS", 50)
    provider = Holding()
    async with running_gateway(
        settings_for(sqlite_store), {"scripted": provider}
    ) as gw:
        acct = await new_account(gw)
        first = await send(gw, acct, "first")
        second = await send(gw, acct, "second")
        await wait_for(lambda: len(provider.submits) == 2, what="the submits")
        ledger = gw.gateway.ledger
        async with gw.gateway.db.sqlite_writer() as writer:
            conn = writer.conn
        trace: list[str] = []
        conn.set_trace_callback(trace.append)
        try:
            one = ledger.queue_many([accepted(provider, first)])
            # Until the ledger has written the first batch (its UPDATE names the
            # provider id), then the second goes in.
            for _ in range(1000):
                if any(f"'P{first}'" in s for s in trace):
                    break
                await asyncio.sleep(0)
            two = ledger.queue_many([accepted(provider, second)])
            await asyncio.wait_for(asyncio.gather(one, two), 10)
        finally:
            conn.set_trace_callback(None)
        provider.release.set()

    def at(needle: str) -> int:
        return next(i for i, s in enumerate(trace) if needle in s)

    written_first = at(f"'P{first}'")
    written_second = at(f"'P{second}'")
    commits = [i for i, s in enumerate(trace) if s.strip().upper() == "COMMIT"]
    first_commit = next(i for i in commits if i > written_first)
    # Without the pipeline the second batch would be written after that COMMIT.
    assert written_second < first_commit, "\n".join(s[:100] for s in trace)
