"""On PostgreSQL the ledger writes a batch beside the one before it, once that one
holds the locks of its rows (`umsgate.engine.ledger.Ledger._start`): a receipt of a
provider id that the earlier batch records, still uncommitted, finds its message
without being parked, and is applied after the submit answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import pytest

from tests.conftest import PG_URL, Store, new_account, running_gateway
from tests.integration.engine.test_ledger_batch_order import Holding
from tests.integration.engine.test_outcomes import events, row, send, settings_for
from umsgate.domain.results import ResultCode
from umsgate.engine.ledger import Op, Reported, Submitted
from umsgate.testing import wait_for
from umsgate.types import Outcome, ProviderReport, SubmitResult

pytestmark = pytest.mark.postgres

#: Longest wait for the server to show the ledger's transactions waiting.
WAIT = 10.0


def _answer(mid: int, connector: str, pid: str) -> Submitted:
    return Submitted(
        message_id=mid,
        connector=connector,
        result=SubmitResult(
            message_id=mid, outcome=Outcome.ACCEPTED, provider_msg_id=pid
        ),
    )


async def _waiting(probe: asyncpg.Connection) -> list[str]:
    """The statements of other sessions waiting for a lock."""
    rows = await probe.fetch(
        "SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND pid <> pg_backend_pid()"
    )
    return [str(r["query"]) for r in rows]


async def test_a_receipt_of_an_uncommitted_submit_answer_is_matched_not_parked(
    pg_store: Store,
) -> None:
    provider = Holding()
    async with running_gateway(settings_for(pg_store), {"scripted": provider}) as gw:
        acct = await new_account(gw)
        first = await send(gw, acct, "overlap-1")
        second = await send(gw, acct, "overlap-2")
        await wait_for(lambda: len(provider.submits) == 2, what="the submits")
        ledger = gw.gateway.ledger
        probe = await asyncpg.connect(
            PG_URL, server_settings={"search_path": pg_store.schema}
        )
        holder = await asyncpg.connect(
            PG_URL, server_settings={"search_path": pg_store.schema}
        )
        try:
            # The first batch locks its message, then waits to write its events.
            await holder.execute("BEGIN; LOCK TABLE events IN SHARE MODE")
            answered = ledger.queue_many([_answer(first, provider.name, "p-1")])

            async def first_waits() -> bool:
                return any("WITH w0" in q for q in await _waiting(probe))

            await wait_for(first_waits, timeout=WAIT, what="the first batch")
            receipt = Reported(
                report=ProviderReport(
                    connector=provider.name,
                    provider_msg_id="p-1",
                    code=ResultCode.DELIVERED,
                    raw_code="DELIVRD/000",
                )
            )
            ops: Sequence[Op] = [receipt, _answer(second, provider.name, "p-2")]
            reported = ledger.queue_many(ops)

            async def both_wait() -> bool:
                waiting = await _waiting(probe)
                return len(waiting) == 2 and any("FOR UPDATE" in q for q in waiting)

            # The second batch is under way beside the first: it waits for the
            # first's lock of the message its receipt names.
            await wait_for(both_wait, timeout=WAIT, what="the second batch")
            await holder.execute("ROLLBACK")
            await asyncio.wait_for(asyncio.gather(answered, reported), WAIT)
            parked = await probe.fetchval("SELECT count(*) FROM pending_reports")
        finally:
            await holder.close()
            await probe.close()
        done = await row(gw, first)
        timeline = await events(gw, first)
        other = await row(gw, second)
        provider.release.set()
    assert parked == 0
    assert done["status"] == "DELIVERED" and done["provider_msg_id"] == "p-1"
    assert timeline[-2:] == ["SENT", "DELIVERED"]
    assert other["status"] == "SENT" and other["provider_msg_id"] == "p-2"


async def test_the_later_batch_stands_when_the_earlier_one_fails(
    pg_store: Store,
) -> None:
    provider = Holding()
    async with running_gateway(settings_for(pg_store), {"scripted": provider}) as gw:
        acct = await new_account(gw)
        mid = await send(gw, acct, "overlap-fails")
        await wait_for(lambda: len(provider.submits) == 1, what="the submit")
        ledger = gw.gateway.ledger
        probe = await asyncpg.connect(
            PG_URL, server_settings={"search_path": pg_store.schema}
        )
        holder = await asyncpg.connect(
            PG_URL, server_settings={"search_path": pg_store.schema}
        )
        try:
            await holder.execute("BEGIN; LOCK TABLE events IN SHARE MODE")
            answered = ledger.queue_many([_answer(mid, provider.name, "p-9")])

            async def first_waits() -> bool:
                return any("WITH w0" in q for q in await _waiting(probe))

            await wait_for(first_waits, timeout=WAIT, what="the first batch")
            receipt = Reported(
                report=ProviderReport(
                    connector=provider.name,
                    provider_msg_id="p-9",
                    code=ResultCode.DELIVERED,
                    raw_code="DELIVRD/000",
                )
            )
            reported = ledger.queue_many([receipt])

            async def both_wait() -> bool:
                return len(await _waiting(probe)) == 2

            await wait_for(both_wait, timeout=WAIT, what="the second batch")
            # The server ends the first batch's session: its transaction is undone.
            await probe.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND query LIKE 'WITH w0%'"
            )
            with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError)):
                await asyncio.wait_for(answered, WAIT)
            await holder.execute("ROLLBACK")
            await asyncio.wait_for(reported, WAIT)
            parked = await probe.fetchval("SELECT count(*) FROM pending_reports")
        finally:
            await holder.close()
            await probe.close()
        done = await row(gw, mid)
        timeline = await events(gw, mid)
        provider.release.set()
    # The receipt found its message through the failed batch's provider id: it is
    # applied to the message as that batch left it (SENDING), which goes to SENT
    # with the receipt's id and ends.
    assert parked == 0
    assert done["status"] == "DELIVERED" and done["provider_msg_id"] == "p-9"
    assert timeline[-2:] == ["SENT", "DELIVERED"]
    # Nothing is left of the failed batch's provider ids.
    assert not ledger._recording
