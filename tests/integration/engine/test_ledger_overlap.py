"""On PostgreSQL the ledger writes a batch beside the one before it, once that one
holds the locks of its rows (`umsgate.engine.ledger.Ledger._start`): a receipt of a
provider id that the earlier batch records, still uncommitted, finds its message
without being parked, and is applied after the submit answer."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.conftest import PG_URL, Running, Store, new_account, running_gateway
from tests.integration.engine.test_ledger_batch_order import Holding
from tests.integration.engine.test_outcomes import events, row, send, settings_for
from umsgate.domain.results import ResultCode
from umsgate.engine.ledger import Reported, Submitted
from umsgate.testing import wait_for
from umsgate.types import Outcome, ProviderReport, SubmitResult

pytestmark = pytest.mark.postgres

#: Longest wait for the server to show the ledger's transactions waiting.
WAIT = 10.0


@dataclasses.dataclass
class Scene:
    """A gateway on PostgreSQL whose messages wait SENDING (`Holding`), the first
    one's submit answer in a ledger batch held at its writes by another session's
    lock of ``events``, and a session to look at the server with."""

    gw: Running
    provider: Holding
    ids: list[int]
    probe: asyncpg.Connection
    holder: asyncpg.Connection
    #: The held batch's callers' future.
    answered: asyncio.Future[None]

    async def waiting(self) -> list[str]:
        """The statements of other sessions waiting for a lock."""
        rows = await self.probe.fetch(
            "SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND pid <> pg_backend_pid()"
        )
        return [str(r["query"]) for r in rows]

    async def wait_until(self, count: int, statement: str, what: str) -> None:
        """Until ``count`` sessions wait, one of them in ``statement``."""

        async def seen() -> bool:
            waiting = await self.waiting()
            return len(waiting) == count and any(statement in q for q in waiting)

        await wait_for(seen, timeout=WAIT, what=what)


@contextlib.asynccontextmanager
async def held_batch(store: Store, *sources: str) -> AsyncIterator[Scene]:
    provider = Holding()
    async with running_gateway(settings_for(store), {"scripted": provider}) as gw:
        acct = await new_account(gw)
        ids = [await send(gw, acct, src) for src in sources]
        await wait_for(lambda: len(provider.submits) == len(ids), what="the submits")
        settings = {"search_path": store.schema}
        probe = await asyncpg.connect(PG_URL, server_settings=settings)
        holder = await asyncpg.connect(PG_URL, server_settings=settings)
        try:
            # The batch locks its message, then waits to write its events.
            await holder.execute("BEGIN; LOCK TABLE events IN SHARE MODE")
            answered = gw.gateway.ledger.queue_many(
                [_answer(ids[0], provider.name, "p-1")]
            )
            scene = Scene(gw, provider, ids, probe, holder, answered)
            await scene.wait_until(1, "WITH w0", "the first batch")
            yield scene
        finally:
            await holder.close()
            await probe.close()
            provider.release.set()


def _answer(mid: int, connector: str, pid: str) -> Submitted:
    return Submitted(
        message_id=mid,
        connector=connector,
        result=SubmitResult(
            message_id=mid, outcome=Outcome.ACCEPTED, provider_msg_id=pid
        ),
    )


def _receipt(connector: str, pid: str) -> Reported:
    return Reported(
        report=ProviderReport(
            connector=connector,
            provider_msg_id=pid,
            code=ResultCode.DELIVERED,
            raw_code="DELIVRD/000",
        )
    )


async def test_a_receipt_of_an_uncommitted_submit_answer_is_matched_not_parked(
    pg_store: Store,
) -> None:
    async with held_batch(pg_store, "overlap-1", "overlap-2") as scene:
        first, second = scene.ids
        name = scene.provider.name
        reported = scene.gw.gateway.ledger.queue_many(
            [_receipt(name, "p-1"), _answer(second, name, "p-2")]
        )
        # The second batch is under way beside the first: it waits for the first's
        # lock of the message its receipt names.
        await scene.wait_until(2, "FOR UPDATE", "the second batch")
        await scene.holder.execute("ROLLBACK")
        await asyncio.wait_for(asyncio.gather(scene.answered, reported), WAIT)
        parked = await scene.probe.fetchval("SELECT count(*) FROM pending_reports")
        done = await row(scene.gw, first)
        timeline = await events(scene.gw, first)
        other = await row(scene.gw, second)
    assert parked == 0
    assert done["status"] == "DELIVERED" and done["provider_msg_id"] == "p-1"
    assert timeline[-2:] == ["SENT", "DELIVERED"]
    assert other["status"] == "SENT" and other["provider_msg_id"] == "p-2"


async def test_the_later_batch_stands_when_the_earlier_one_fails(
    pg_store: Store,
) -> None:
    async with held_batch(pg_store, "overlap-fails") as scene:
        ledger = scene.gw.gateway.ledger
        reported = ledger.queue_many([_receipt(scene.provider.name, "p-1")])
        await scene.wait_until(2, "FOR UPDATE", "the second batch")
        # The server ends the first batch's session: its transaction is undone.
        await scene.probe.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND query LIKE 'WITH w0%'"
        )
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError)):
            await asyncio.wait_for(scene.answered, WAIT)
        await scene.holder.execute("ROLLBACK")
        await asyncio.wait_for(reported, WAIT)
        parked = await scene.probe.fetchval("SELECT count(*) FROM pending_reports")
        done = await row(scene.gw, scene.ids[0])
        timeline = await events(scene.gw, scene.ids[0])
    # The receipt found its message through the failed batch's provider id: it is
    # applied to the message as that batch left it (SENDING), which goes to SENT
    # with the receipt's id and ends.
    assert parked == 0
    assert done["status"] == "DELIVERED" and done["provider_msg_id"] == "p-1"
    assert timeline[-2:] == ["SENT", "DELIVERED"]
    # Nothing is left of the failed batch's provider ids.
    assert not ledger._recording
