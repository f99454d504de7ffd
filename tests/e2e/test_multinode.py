"""Two gateway processes on one PostgreSQL database under load: every message is
claimed and sent exactly once, and every report reaches the webhook."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import PG_URL, Receiver, Store
from tests.e2e.conftest import add_client, server, token
from umsgate.testing import wait_for

TOTAL = 3000
CONCURRENCY = 32

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def test_two_nodes_send_each_message_once(
    pg_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    creds = add_client(pg_store, "multi", receiver.url)
    async with (
        server(pg_store, tmp_path, "a") as a,
        server(pg_store, tmp_path, "b") as b,
    ):
        async with httpx.AsyncClient(timeout=30) as http:
            tokens = {
                a.url: await token(http, a.url, creds),
                b.url: await token(http, b.url, creds),
            }
            acked: list[str] = []
            counter = iter(range(TOTAL))

            async def sender() -> None:
                # A client per sender (one shared httpx pool costs more CPU than
                # the gateways spend on the requests).
                async with httpx.AsyncClient(timeout=30) as own:
                    await send_from(own)

            async def send_from(http: httpx.AsyncClient) -> None:
                for i in counter:
                    url = (a.url, b.url)[i % 2]
                    r = await http.post(
                        url + "/v1/message/sms",
                        json={
                            "srcMsgId": f"n{i}",
                            "callback": "0212345678",
                            "receiver": f"010{30000000 + i:08d}",
                            "content": f"node test {i}",
                        },
                        headers={
                            "Authorization": f"Bearer {tokens[url]}",
                            "originCode": "123456789",
                            "billCode": "12345",
                        },
                    )
                    assert r.status_code == 200, r.text
                    acked.append(r.json()["umsMsgId"])

            await asyncio.wait_for(
                asyncio.gather(*(sender() for _ in range(CONCURRENCY))), timeout=240
            )
            assert len(set(acked)) == TOTAL
            await wait_for(
                lambda: set(acked) <= set(receiver.by_id()),
                timeout=120,
                interval=0.2,
                what="a report for every message",
            )

    conn = await asyncpg.connect(
        PG_URL, server_settings={"search_path": pg_store.schema}
    )
    try:
        rows = await conn.fetch(
            "SELECT m.id, m.status, m.owner, "
            "  (SELECT count(*) FROM events e"
            "   WHERE e.message_id = m.id AND e.status = 'SENDING') AS claims, "
            "  (SELECT count(*) FROM events e"
            "   WHERE e.message_id = m.id AND e.status = 'SENT') AS sends, "
            "  (SELECT count(*) FROM reports r WHERE r.message_id = m.id) AS reports "
            "FROM messages m"
        )
        left = await conn.fetchval("SELECT count(*) FROM nodes")
        claimers = {
            r["node"]
            for r in await conn.fetch(
                "SELECT DISTINCT split_part(detail, ' on ', 2) AS node "
                "FROM events WHERE status = 'SENDING'"
            )
        }
    finally:
        await conn.close()
    assert len(rows) == TOTAL
    assert all(r["status"] == "DELIVERED" for r in rows)
    assert all(
        r["claims"] == 1 and r["sends"] == 1 and r["reports"] == 1 for r in rows
    ), "a message was claimed or sent more than once"
    # Both nodes claimed messages, and both left the node table on a clean stop.
    assert len(claimers) == 2, claimers
    assert left == 0


async def test_a_dead_nodes_claims_are_taken_over(
    pg_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    """Kill -9 one of two nodes while it holds claims: the other node takes them over
    (the dead node's SENDING messages are queued again, its SENT ones resumed)."""
    creds = add_client(pg_store, "takeover", receiver.url)
    # A slow sandbox keeps messages SENT (awaiting their report) on the node that dies.
    slow = {"UMSGATE_SANDBOX_DELAY": "3"}
    async with (
        server(pg_store, tmp_path, "a", env=slow) as a,
        server(pg_store, tmp_path, "b", env=slow),
    ):
        async with httpx.AsyncClient(timeout=30) as http:
            tok = await token(http, a.url, creds)
            acked = []
            for i in range(400):
                r = await http.post(
                    a.url + "/v1/message/sms",
                    json={
                        "srcMsgId": f"t{i}",
                        "callback": "0212345678",
                        "receiver": f"010{40000000 + i:08d}",
                        "content": f"takeover {i}",
                    },
                    headers={
                        "Authorization": f"Bearer {tok}",
                        "originCode": "123456789",
                        "billCode": "12345",
                    },
                )
                assert r.status_code == 200, r.text
                acked.append(r.json()["umsMsgId"])
            conn = await asyncpg.connect(
                PG_URL, server_settings={"search_path": pg_store.schema}
            )
            try:
                owner_a = await conn.fetchval(
                    "SELECT node_id FROM nodes WHERE node_id LIKE $1",
                    f"%:{a.proc.pid if a.proc else 0}:%",
                )

                async def a_holds_claims() -> bool:
                    n = await conn.fetchval(
                        "SELECT count(*) FROM messages WHERE owner = $1", owner_a
                    )
                    return bool(n)

                await wait_for(a_holds_claims, timeout=30, what="node a to hold claims")
                a.kill9()
                await wait_for(
                    lambda: set(acked) <= set(receiver.by_id()),
                    timeout=120,
                    interval=0.2,
                    what="a report for every message after the takeover",
                )
                statuses = dict(
                    await conn.fetch(
                        "SELECT status, count(*) FROM messages GROUP BY status"
                    )
                )
                orphaned = await conn.fetchval(
                    "SELECT count(*) FROM messages WHERE owner = $1", owner_a
                )
            finally:
                await conn.close()
    assert statuses == {"DELIVERED": 400}
    assert orphaned == 0
