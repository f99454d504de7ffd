"""On SQLite the acceptor writes its next group commit while the last one waits for
its COMMIT, and answers no request before its message is on disk."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from tests.conftest import Store, new_account, running_gateway
from tests.integration.engine.test_ledger_batch_order import Holding
from tests.integration.engine.test_outcomes import settings_for, sms_body
from umsgate.store import database


async def test_the_next_group_commit_is_written_before_the_last_commits(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The COMMIT comes 2,000 loop turns after the first part (a fraction of a
    # second, whichever stage began the transaction): time enough for the acceptor
    # to write the next batch meanwhile, and none for an acceptor that waited for
    # the COMMIT before it took the next batch.
    monkeypatch.setattr(database, "COMMIT_HOPS", 2000)
    provider = Holding()
    async with running_gateway(
        settings_for(sqlite_store), {"scripted": provider}
    ) as gw:
        acct = await new_account(gw)
        async with gw.gateway.db.sqlite_writer() as writer:
            conn = writer.conn
        trace: list[str] = []
        answered: list[tuple[str, int]] = []

        async def post(src: str) -> None:
            r = await gw.http.post(
                "/v1/message/sms", json=sms_body(src), headers=acct.headers()
            )
            assert r.status_code == 200, r.text
            answered.append((src, len(trace)))

        conn.set_trace_callback(trace.append)
        try:
            first = asyncio.create_task(post("pipe-first"))
            for _ in range(1000):
                if any("'pipe-first'" in s for s in trace):
                    break
                await asyncio.sleep(0)
            second = asyncio.create_task(post("pipe-second"))
            await asyncio.wait_for(asyncio.gather(first, second), 10)
        finally:
            conn.set_trace_callback(None)
        # Committed by the time it was answered: another connection sees it.
        other = sqlite3.connect(sqlite_store.data_dir / "umsgate.db")
        try:
            seen = {
                r[0]
                for r in other.execute(
                    "SELECT src_msg_id FROM messages WHERE src_msg_id LIKE 'pipe-%'"
                )
            }
        finally:
            other.close()
        provider.release.set()
        assert seen == {"pipe-first", "pipe-second"}

    def at(needle: str) -> int:
        return next(i for i, s in enumerate(trace) if needle in s)

    written_first = at("'pipe-first'")
    written_second = at("'pipe-second'")
    commits = [i for i, s in enumerate(trace) if s.strip().upper() == "COMMIT"]
    first_commit = next(i for i in commits if i > written_first)
    # Without the pipeline the second batch is written after that COMMIT.
    assert written_second < first_commit, "\n".join(s[:100] for s in trace)
    # Neither request was answered before the COMMIT that holds its row.
    for src, when in answered:
        assert any(at(f"'{src}'") < c < when for c in commits), (src, when, commits)
