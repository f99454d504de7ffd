"""Receipts that reach the ledger in the same batch as the submit answer recording
their provider ids, but ahead of it: an SMSC's receipt can overtake its
submit_sm_resp, and a busy ledger then takes both in one batch. They must count as if
they came after the answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tests.conftest import Store, new_account, running_gateway
from tests.integration.engine.test_outcomes import (
    Scripted,
    events,
    final,
    row,
    send,
    settings_for,
)
from umsgate.domain.message import Message
from umsgate.domain.results import ResultCode
from umsgate.engine.ledger import Reported, Submitted
from umsgate.testing import wait_for
from umsgate.types import Outcome, ProviderReport, SubmitResult


class Holding(Scripted):
    """Keeps its submits open (the messages stay SENDING) until released; the test
    hands the ledger the answer itself."""

    def __init__(self) -> None:
        super().__init__(
            lambda _c, m: SubmitResult(message_id=m.id, outcome=Outcome.RETRY)
        )
        self.release = asyncio.Event()

    async def submit(self, messages: Sequence[Message]) -> Sequence[SubmitResult]:
        self.submits.extend(messages)
        await self.release.wait()
        return [self.script(self, m) for m in messages]


@pytest.mark.parametrize("parts", [1, 3])
async def test_receipts_ahead_of_their_answer_in_one_batch(
    store: Store, parts: int
) -> None:
    provider = Holding()
    async with running_gateway(settings_for(store), {"scripted": provider}) as gw:
        acct = await new_account(gw)
        mid = await send(gw, acct, f"batch-{parts}")
        await wait_for(lambda: len(provider.submits) == 1, what="the submit")
        ids = tuple(f"{mid}-{i}" for i in range(parts))
        receipts = [
            Reported(
                report=ProviderReport(
                    connector=provider.name,
                    provider_msg_id=pid,
                    code=ResultCode.DELIVERED,
                    raw_code="DELIVRD/000",
                )
            )
            for pid in ids
        ]
        answer = Submitted(
            message_id=mid,
            connector=provider.name,
            result=SubmitResult(
                message_id=mid,
                outcome=Outcome.ACCEPTED,
                provider_msg_id=ids[0],
                segment_ids=ids if parts > 1 else (),
                segments=parts,
            ),
        )
        # One call: one group, so one batch, receipts first.
        await gw.gateway.ledger.apply_many([*receipts, answer])
        provider.release.set()
        done = await final(gw, mid)
        timeline = await events(gw, mid)
        assert (await row(gw, mid))["provider_msg_id"] == ids[0]
    assert done["status"] == "DELIVERED" and done["segments"] == parts
    assert timeline[-2:] == ["SENT", "DELIVERED"]
