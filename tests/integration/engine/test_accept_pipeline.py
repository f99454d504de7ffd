"""On SQLite the acceptor writes its next group commit while the last one waits for
its COMMIT, and answers no request before its message is on disk."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import (
    Store,
    get_token,
    make_settings,
    new_account,
    running_gateway,
    sms_body,
)
from tests.integration.engine.test_ledger_batch_order import Holding
from tests.integration.engine.test_outcomes import settings_for
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


@pytest.mark.postgres
async def test_one_key_sent_at_once_to_two_nodes(pg_store: Store) -> None:
    """Two gateways on one PostgreSQL database take the same request at the same
    moment, many times over: each key ends with one message, every answer names
    it, and nobody gets an error (the one-statement group commit meets a key that
    another transaction inserted after its snapshot)."""
    settings = make_settings(pg_store)
    async with (
        running_gateway(settings, {"scripted": Holding()}) as one,
        running_gateway(settings, {"scripted": Holding()}) as two,
    ):
        acct = await new_account(one)
        acct_two = dataclasses.replace(acct, token=await get_token(two.http, acct))
        answers: list[httpx.Response] = []
        for round_ in range(20):
            body = sms_body(f"twice-{round_}")
            answers.extend(
                await asyncio.gather(
                    *(
                        gw.http.post("/v1/message/sms", json=body, headers=a.headers())
                        for gw, a in ((one, acct), (two, acct_two))
                        for _ in range(3)
                    )
                )
            )
        assert {r.status_code for r in answers} == {200}, [r.text for r in answers]
        by_src: dict[str, set[str]] = {}
        for r in answers:
            by_src.setdefault(r.json()["srcMsgId"], set()).add(r.json()["umsMsgId"])
        assert all(len(ids) == 1 for ids in by_src.values()), by_src
        async with one.gateway.db.read() as conn:
            count = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM messages WHERE src_msg_id LIKE 'twice-%'"
                    )
                )
            ).scalar_one()
        assert count == 20
