"""The acceptor's fast lane: a message due at once is inserted SENDING, owned by
the node and with its SENDING event, and handed to its connector once committed,
without a claim; the others go the claim's way. Nothing goes out that was not
committed, and nothing is sent twice."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import text

from tests.conftest import Store, new_account, running_gateway, sms_body
from tests.integration.engine.test_ledger_batch_order import Holding
from tests.integration.engine.test_outcomes import events, row, settings_for
from tests.integration.native.support import kst_minute
from umsgate.store import messages as message_store
from umsgate.testing import wait_for


async def test_a_message_due_now_is_sent_without_a_claim(store: Store) -> None:
    provider = Holding()
    async with running_gateway(settings_for(store), {"scripted": provider}) as gw:
        acct = await new_account(gw)
        claims: list[Any] = []
        real_claim = message_store.claim_due

        async def counting_claim(*args: Any) -> list[dict[str, Any]]:
            rows = await real_claim(*args)
            claims.extend(r["id"] for r in rows)
            return rows

        message_store.claim_due = counting_claim  # type: ignore[assignment]
        try:
            r = await gw.http.post(
                "/v1/message/sms", json=sms_body("lane-1"), headers=acct.headers()
            )
            assert r.status_code == 200, r.text
            mid = int(r.json()["umsMsgId"])
            # Committed SENDING, owned by this node, before its answer came.
            stored = await row(gw, mid)
            assert stored["status"] == "SENDING"
            assert stored["owner"] == gw.gateway.nodes.node_id
            # Counted as a claim counts it: the stored count is of answers (none
            # yet), the message handed out is the first attempt (an outcome drawn
            # per attempt, as the sandbox's, must not depend on the lane).
            assert stored["attempts"] == 0
            await wait_for(lambda: len(provider.submits) == 1, what="the submit")
        finally:
            message_store.claim_due = real_claim  # type: ignore[assignment]
            provider.release.set()
        assert [(m.id, m.attempts) for m in provider.submits] == [(mid, 1)]
        assert claims == []  # never claimed
        assert (await events(gw, mid))[:3] == ["ACCEPTED", "QUEUED", "SENDING"]


async def test_reserved_and_repeated_messages_take_the_usual_way(
    store: Store,
) -> None:
    provider = Holding()
    async with running_gateway(settings_for(store), {"scripted": provider}) as gw:
        acct = await new_account(gw)
        later = kst_minute(time.time() + 3600)
        r = await gw.http.post(
            "/v1/message/sms",
            json=sms_body("lane-later", reserveTime=later),
            headers=acct.headers(),
        )
        assert r.status_code == 200, r.text
        reserved = int(r.json()["umsMsgId"])
        body = sms_body("lane-twice")
        first = await gw.http.post("/v1/message/sms", json=body, headers=acct.headers())
        again = await gw.http.post("/v1/message/sms", json=body, headers=acct.headers())
        assert first.json()["umsMsgId"] == again.json()["umsMsgId"]
        await wait_for(lambda: len(provider.submits) == 1, what="the submit")
        provider.release.set()
        assert (await row(gw, reserved))["status"] == "QUEUED"
        assert [str(m.id) for m in provider.submits] == [first.json()["umsMsgId"]]
        # Nothing left reserved: the repeat gave its place back.
        assert gw.gateway.dispatcher._reserved == 0


async def test_nothing_goes_out_when_the_commit_fails(sqlite_store: Store) -> None:
    provider = Holding()
    async with running_gateway(
        settings_for(sqlite_store), {"scripted": provider}
    ) as gw:
        acct = await new_account(gw)
        async with gw.gateway.db.sqlite_writer() as writer:
            pass
        real_commit = writer.commit
        failed = 0

        def failing_commit() -> None:
            # As a full disk would: the COMMIT fails and the transaction is undone.
            nonlocal failed
            failed += 1
            writer.conn.execute("ROLLBACK")
            raise sqlite3.OperationalError("database or disk is full (test)")

        writer.commit = failing_commit  # type: ignore[method-assign]
        try:
            r = await gw.http.post(
                "/v1/message/sms", json=sms_body("lane-lost"), headers=acct.headers()
            )
        finally:
            writer.commit = real_commit  # type: ignore[method-assign]
        assert failed >= 1
        assert r.status_code >= 500, r.text
        other = sqlite3.connect(sqlite_store.data_dir / "umsgate.db")
        try:
            (count,) = other.execute(
                "SELECT count(*) FROM messages WHERE src_msg_id = 'lane-lost'"
            ).fetchone()
        finally:
            other.close()
        assert count == 0
        assert provider.submits == []
        assert gw.gateway.dispatcher._reserved == 0
        # The lane still works after it.
        r = await gw.http.post(
            "/v1/message/sms", json=sms_body("lane-after"), headers=acct.headers()
        )
        assert r.status_code == 200, r.text
        await wait_for(lambda: len(provider.submits) == 1, what="the submit")
        provider.release.set()


async def test_attempts_count_the_same_at_accept_and_at_a_claim(store: Store) -> None:
    provider = Holding()  # answers RETRY once released
    async with running_gateway(settings_for(store), {"scripted": provider}) as gw:
        acct = await new_account(gw)
        r = await gw.http.post(
            "/v1/message/sms", json=sms_body("lane-count"), headers=acct.headers()
        )
        assert r.status_code == 200, r.text
        mid = int(r.json()["umsMsgId"])
        await wait_for(lambda: len(provider.submits) == 1, what="the first try")
        provider.release.set()  # RETRY: queued again, then claimed
        await wait_for(lambda: len(provider.submits) >= 2, what="the second try")
        first, second = provider.submits[:2]
        assert (first.id, first.attempts) == (mid, 1)  # sent at accept
        assert (second.id, second.attempts) == (mid, 2)  # sent by a claim
        details = await sending_details(gw, mid)
        assert details[0].startswith("attempt 1 on ")
        assert details[1].startswith("attempt 2 on ")
        assert (await row(gw, mid))["attempts"] >= 1  # the answers so far


async def sending_details(gw: Any, message_id: int) -> list[str]:
    async with gw.gateway.db.transaction() as conn:
        result = await conn.execute(
            text(
                "SELECT detail FROM events WHERE message_id = :id "
                "AND status = 'SENDING' ORDER BY id"
            ),
            {"id": message_id},
        )
        return [r[0] for r in result]
