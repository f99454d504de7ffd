"""Helpers of the SMPP integration tests: a recording sink, messages, options, and a
loop that plays the dispatcher (re-submits what came back RETRY)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any

from umsgate.domain.message import Channel, Message
from umsgate.protocols.smpp import options as smpp_options
from umsgate.protocols.smpp.connector import SmppConnector
from umsgate.protocols.smpp.smsc import Smsc
from umsgate.types import Outcome, ProviderReport, SubmitResult

NOW = dt.datetime.now(dt.UTC)


class RecordingSink:
    """Records reports; `wait_count` wakes on the report that reaches the count.

    ``fail`` makes the next that many calls raise, as a store that could not commit.
    """

    def __init__(self) -> None:
        self.reports: list[ProviderReport] = []
        self.fail = 0
        self.failures = 0
        self._changed = asyncio.Condition()

    async def report(self, report: ProviderReport) -> None:
        await self.report_many([report])

    async def report_many(self, reports: Sequence[ProviderReport]) -> None:
        if self.fail > 0:
            self.fail -= 1
            self.failures += 1
            raise RuntimeError("the store is down")
        async with self._changed:
            self.reports.extend(reports)
            self._changed.notify_all()

    async def wait_count(self, n: int, within: float = 20.0) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(self.reports) >= n)

    def by_id(self) -> dict[str, list[ProviderReport]]:
        out: dict[str, list[ProviderReport]] = {}
        for r in self.reports:
            assert r.provider_msg_id is not None
            out.setdefault(r.provider_msg_id, []).append(r)
        return out


def message(i: int, content: str, **fields: Any) -> Message:
    base: dict[str, Any] = {
        "id": i,
        "client_id": "client",
        "src_msg_id": f"m{i}",
        "channel": Channel.SMS,
        "sender": "+8215881234",
        "receiver": f"+8210{10000000 + i % 90000000}",
        "content": content,
        "created_at": NOW,
        "due_at": NOW,
    }
    return Message(**{**base, **fields})


def connector(
    sim: Smsc | int, name: str = "smsc1", *, system_id: str = "esme", **raw: Any
) -> SmppConnector:
    """A connector to ``sim`` (or to a port) with quick timers for tests."""
    options = smpp_options.parse(
        name,
        {
            "host": "127.0.0.1",
            "port": sim if isinstance(sim, int) else sim.port,
            "system_id": system_id,
            "password": "pw",
            "reconnect_initial": 0.02,
            "reconnect_max": 0.2,
            "connect_timeout": 5.0,
            "response_timeout": 5.0,
            **raw,
        },
    )
    return SmppConnector(name, options)


async def submit_all(
    conn: SmppConnector, messages: Sequence[Message], *, rounds: int = 20
) -> tuple[dict[int, SubmitResult], list[SubmitResult]]:
    """Submit ``messages`` and re-submit the RETRY ones, as the dispatcher does,
    until each is ACCEPTED or REJECTED. Returns the final results and every RETRY."""
    final: dict[int, SubmitResult] = {}
    retries: list[SubmitResult] = []
    todo = list(messages)
    for _ in range(rounds):
        if not todo:
            break
        results = await conn.submit(todo)
        by_id = {m.id: m for m in todo}
        todo = []
        for result in results:
            if result.outcome is Outcome.RETRY:
                retries.append(result)
                todo.append(by_id[result.message_id])
            else:
                final[result.message_id] = result
    assert not todo, f"{len(todo)} messages still RETRY after {rounds} rounds"
    return final, retries
