"""The dispatcher: takes due messages from the store to their connectors.

Theory of operation
-------------------
A claim loop takes up to ``batch_size`` due QUEUED messages in one transaction (they
become SENDING, owned by this node), ends the expired ones, routes the rest, and
hands them to their connectors in chunks, at most ``connector_concurrency`` chunks in
flight per connector; every answer goes to the ledger. It claims again as soon as
there is room, when the acceptor or the ledger signals new work, or every
``poll_interval`` (reserved messages become due by time alone). What it decides
(where each claimed message goes, what expires or waits, what the fast lane takes,
what a pacer holds back) is in `umsgate.engine.assignment`, without I/O.

A connector with ``tps`` or ``window`` has a `Pacer` (`umsgate.engine.pacer`): its
messages go in chunks of the pacer's size, each waiting for its slots of the rate and
for room in the window before ``submit``; of a claimed burst, only a couple of
seconds of the rate are kept waiting here, the rest is queued again with delays that
follow the rate (`umsgate.engine.pacing`).

Messages due at once skip the claim: the acceptor asks `pick_at_accept`, in its
group commit and before the insert, which of its new messages this node sends
now. Those are inserted SENDING and owned by the node (with their SENDING event,
naming the connector the router picked), and handed over by `send_at_accept` once
the commit is done; the claim's UPDATE and the reading back of whole rows were a
tenth of the gateway loop's time on `bench/e2e.py`. The others (reserved for
later, no connector to take them now, no room in flight) are inserted QUEUED and
claimed as before. A crash between the commit and the submit leaves SENDING
messages of a dead node: recovered like any claim.

A recovery loop beats the node's heartbeat and takes over the claims of dead nodes:
their SENDING messages go back to the queue (their submit was never acknowledged, so
sending again is the at-least-once promise), and their SENT messages are adopted and
handed to the connector's ``resume`` so their reports are still collected. The same
loop ends EXPIRED, with their reports, the SENT messages whose provider has sent no
report within ``report_timeout`` of the submit (a receipt lost at the provider would
otherwise leave them SENT for ever).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from umsgate.clock import Clock
from umsgate.config import EngineSettings
from umsgate.domain import transitions
from umsgate.domain.lifecycle import Status
from umsgate.domain.message import Message
from umsgate.domain.transitions import EventRow
from umsgate.engine import assignment
from umsgate.engine.assignment import CHUNK, MAX_IN_FLIGHT
from umsgate.engine.ledger import Adopt, Expire, Ledger, Op, Requeue, Submitted
from umsgate.engine.nodes import Nodes
from umsgate.engine.pacer import Pacer
from umsgate.engine.router import Router
from umsgate.store import messages as message_store
from umsgate.store.database import Database
from umsgate.store.transactions import transaction
from umsgate.types import Connector, SubmitResult

__all__ = ["CHUNK", "MAX_IN_FLIGHT", "SUBMIT_TIMEOUT", "Dispatcher"]

log = logging.getLogger("umsgate.engine.dispatcher")

#: How long a connector may take to answer one ``submit`` before the chunk is retried.
SUBMIT_TIMEOUT = 120.0
#: Most seconds between looks for SENT messages past their report timeout, and
#: what one look ends at most (in rounds of a batch).
REPORT_SWEEP_EVERY = 60.0
REPORT_SWEEP_BATCH = 1000
REPORT_SWEEP_ROUNDS = 20


class Dispatcher:
    def __init__(
        self,
        db: Database,
        *,
        ledger: Ledger,
        router: Router,
        connectors: Mapping[str, Connector],
        nodes: Nodes,
        settings: EngineSettings,
        clock: Clock,
        on_submitted: Callable[[str, int], None] | None = None,
        pacers: Mapping[str, Pacer] | None = None,
    ) -> None:
        """Args:
        pacers: the paced connectors' pacers by connector name.
        """
        self._db = db
        self._ledger = ledger
        self._router = router
        self._connectors = connectors
        self._nodes = nodes
        self._settings = settings
        self._time = clock.time
        self._monotonic = clock.monotonic
        self._on_submitted = on_submitted
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._in_flight = 0
        self._pacers = dict(pacers or {})
        self._limits = {
            name: asyncio.Semaphore(self._chunks_in_flight(name)) for name in connectors
        }
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False
        self._stopped = asyncio.Event()
        self._next_report_sweep = 0.0
        self._idle = asyncio.Event()
        #: Messages `pick_at_accept` picked whose commit is not done yet.
        self._reserved = 0

    def _chunks_in_flight(self, name: str) -> int:
        pacer = self._pacers.get(name)
        return assignment.chunks_in_flight(
            self._settings.connector_concurrency,
            pacer.chunk if pacer is not None else None,
        )

    def queued_for(self, name: str) -> int:
        """Messages this node holds waiting for connector ``name``'s rate (its
        pacer's queue; 0 for a connector without one)."""
        pacer = self._pacers.get(name)
        if pacer is None or pacer.backlog is None:
            return 0
        return pacer.backlog.waiting

    def wake(self, _n: int = 0) -> None:
        self._wake.set()

    def start(self) -> None:
        self._loops = [
            asyncio.create_task(self._claim_loop(), name="dispatcher"),
            asyncio.create_task(self._recovery_loop(), name="recovery"),
        ]

    async def stop(self) -> None:
        """Let the loops end by themselves (a task cancelled inside a store
        transaction could leave SQLite's write lock taken); cancel only loops that
        have not ended after a while."""
        self._stopping = True
        self._wake.set()
        self._room.set()
        self._stopped.set()
        if self._loops:
            _, pending = await asyncio.wait(self._loops, timeout=30)
            for task in pending:
                task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=30)

    # -- claiming ----------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self._stopping:
            try:
                claimed = await self.claim_once()
            except Exception:
                log.exception("claim failed", extra={"event": "claim_error"})
                claimed = 0
                await asyncio.sleep(1.0)
            if claimed:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.poll_interval):
                    await self._wake.wait()

    async def claim_once(self) -> int:
        """Claim and hand out one batch; the number of messages claimed."""
        room = assignment.room(self._in_flight, self._reserved)
        if room <= 0:
            self._room.clear()
            await self._room.wait()
            return 1
        now = self._time()
        plan: assignment.Plan | None = None
        try:
            async with transaction(self._db) as tx:
                rows = await message_store.claim_due(
                    tx, self._nodes.node_id, now, min(room, self._settings.batch_size)
                )
                # Routed before the SENDING events are written, so that each
                # attempt's event names the connector it is tried on.
                plan = assignment.plan_claim(
                    rows,
                    now,
                    pick=self._router.pick,
                    no_route_delay=self._settings.retry_max,
                )
                await message_store.insert_events(tx, plan.events)
        except BaseException:
            if plan is not None:  # the claim did not happen: give the probes back
                for name, messages in plan.groups.items():
                    for m in messages:
                        self._router.release(name, m.id)
            raise
        if not rows:
            return 0
        assert plan is not None
        if plan.ops:
            self._spawn(self._ledger.apply_many(plan.ops))
        held: list[Op] = []
        self._hand_out(plan.groups, held)
        if held:
            # Put back before the next claim: were it spawned, the claims of a
            # burst would outrun the ledger and hold far more than the pacer's rate
            # in SENDING at once.
            await self._ledger.apply_many(held)
        return len(rows)

    # -- the accept path's messages --------------------------------------------------

    @property
    def node_id(self) -> str:
        return self._nodes.node_id

    def pick_at_accept(
        self, rows: Sequence[dict[str, Any]], now: float
    ) -> dict[int, tuple[str, Message]]:
        """Of messages about to be inserted, those this node sends as soon as they
        are committed: id → (connector, message). The caller inserts them SENDING,
        owned by `node_id`, with `sending_event`, and then calls `send_at_accept`
        with those committed, or `release_at_accept` with those not (a failed commit,
        a repeat of an earlier message)."""
        if self._stopping:
            return {}
        picked = assignment.pick_at_accept(
            rows,
            now,
            room=assignment.room(self._in_flight, self._reserved),
            pick=self._router.pick,
        )
        self._reserved += len(picked)
        return picked

    def sending_event(
        self, row: Mapping[str, Any], connector: str, now: float
    ) -> EventRow:
        """The SENDING event of ``row`` sent at accept on ``connector``: its
        attempt counted as a claim counts it."""
        return transitions.sending_event(
            row["id"],
            transitions.claim_attempt(row),
            self._nodes.node_id,
            now,
            connector,
        )

    def release_at_accept(self, picked: Sequence[tuple[str, Message]]) -> None:
        """Picked messages that will not be sent (not committed)."""
        self._reserved -= len(picked)
        for name, message in picked:
            self._router.release(name, message.id)
        self._room.set()

    def send_at_accept(self, picked: Sequence[tuple[str, Message]]) -> None:
        """Picked messages now committed SENDING: to their connectors."""
        self._reserved -= len(picked)
        if not picked:
            return
        groups: dict[str, list[Message]] = {}
        for name, message in picked:
            groups.setdefault(name, []).append(message)
        held: list[Op] = []
        self._hand_out(groups, held)
        if held:
            self._spawn(self._ledger.apply_many(held))

    def _hand_out(self, groups: Mapping[str, list[Message]], held: list[Op]) -> None:
        """Submit claimed messages in chunks (a pacer's size and rate for a paced
        connector: the rest of a burst goes into ``held``, to be queued again)."""
        for name, messages in groups.items():
            pacer = self._pacers.get(name)
            size = CHUNK
            if pacer is not None:
                messages = self._hold_back(pacer, messages, held)
                size = pacer.chunk
            for start in range(0, len(messages), size):
                chunk = messages[start : start + size]
                self._in_flight += len(chunk)
                self._spawn(self._send(self._connectors[name], chunk))

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _hold_back(
        self, pacer: Pacer, messages: list[Message], held: list[Op]
    ) -> list[Message]:
        """The messages to send now; the rest of a burst too large for the pacer's
        rate goes into ``held``, to be queued again, due when its turn comes near."""
        keep, delays = pacer.admit(len(messages))
        for m in messages[keep:]:  # not sent now: a probe slot goes back
            self._router.release(pacer.name, m.id)
        if delays:
            rate = pacer.pace.rate if pacer.pace is not None else 0.0
            held.extend(
                assignment.held_back(
                    messages[keep:], delays, gate=pacer.name, rate=rate
                )
            )
        return messages[:keep]

    async def _paced_submit(
        self, pacer: Pacer, connector: Connector, messages: Sequence[Message]
    ) -> list[SubmitResult]:
        try:
            await pacer.turn(len(messages))
        finally:
            pacer.done(len(messages))
        await pacer.enter(len(messages))
        try:
            return await self._submit(connector, messages)
        finally:
            pacer.leave(len(messages))

    async def _send(self, connector: Connector, messages: Sequence[Message]) -> None:
        pacer = self._pacers.get(connector.name)
        try:
            async with self._limits[connector.name]:
                if pacer is None:
                    results = await self._submit(connector, messages)
                else:
                    results = await self._paced_submit(pacer, connector, messages)
            self._router.record(connector.name, results)
            ops: list[Op] = [
                Submitted(message_id=r.message_id, connector=connector.name, result=r)
                for r in results
            ]
            for attempt in range(1, 11):
                try:
                    await self._ledger.apply_many(ops)
                    break
                except Exception:
                    log.exception(
                        "recording submit results failed (try %d)",
                        attempt,
                        extra={"event": "ledger_error", "route": connector.name},
                    )
                    await asyncio.sleep(min(30.0, attempt * 1.0))
            if self._on_submitted is not None:
                self._on_submitted(connector.name, len(messages))
        finally:
            self._in_flight -= len(messages)
            self._room.set()

    async def _submit(
        self, connector: Connector, messages: Sequence[Message]
    ) -> list[SubmitResult]:
        try:
            # asyncio.timeout, not wait_for: no task of its own per chunk.
            async with asyncio.timeout(SUBMIT_TIMEOUT):
                answered = await connector.submit(messages)
        except Exception as exc:  # the whole chunk could not be tried: all of it again
            log.warning(
                "submit to %s failed: %s",
                connector.name,
                exc,
                extra={"event": "submit_error", "route": connector.name},
            )
            return assignment.chunk_failed(messages, exc)
        return assignment.answers(messages, answered)

    # -- recovery ----------------------------------------------------------------------

    async def _recovery_loop(self) -> None:
        while not self._stopping:
            try:
                if not await self._nodes.beat():
                    log.error(
                        "this node's slot was taken over; joining again",
                        extra={"event": "node_lost"},
                    )
                    await self._nodes.join()
                await self.recover()
                if self._monotonic() >= self._next_report_sweep:
                    self._next_report_sweep = self._monotonic() + min(
                        REPORT_SWEEP_EVERY, self._settings.report_timeout / 2
                    )
                    await self.expire_unreported()
            except Exception:
                log.exception(
                    "recovery round failed", extra={"event": "recovery_error"}
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stopped.wait(), timeout=self._settings.heartbeat_interval
                )

    async def expire_unreported(self) -> int:
        """End EXPIRED the SENT messages still without a report ``report_timeout``
        after their submit; how many. Any node may do it: the ledger ends each
        message once (a report that comes first wins, so does a second sweeper)."""
        cutoff = self._time() - self._settings.report_timeout
        total = 0
        for _ in range(REPORT_SWEEP_ROUNDS):  # the rest waits for the next sweep
            ids = await message_store.sent_before(self._db, cutoff, REPORT_SWEEP_BATCH)
            if not ids:
                return total
            if not total:
                log.warning(
                    "messages without a report %g s after their submit end EXPIRED",
                    self._settings.report_timeout,
                    extra={"event": "report_timeout"},
                )
            await self._ledger.apply_many(
                [Expire(message_id=i, sent_before=cutoff) for i in ids]
            )
            total += len(ids)
            if len(ids) < REPORT_SWEEP_BATCH:
                return total
        return total

    async def recover(self) -> int:
        """Take over the claims of dead nodes; the number of messages taken over."""
        owners = await message_store.owners_in(self._db, (Status.SENDING, Status.SENT))
        dead = self._nodes.dead_among(o for o in owners if o != self._nodes.node_id)
        if not dead:
            return 0
        total = 0
        stalled, orphans = await message_store.stalled_claims(self._db, dead, 10_000)
        if stalled:
            log.warning(
                "requeueing %d messages claimed by dead nodes",
                len(stalled),
                extra={"event": "recover_claims"},
            )
            await self._ledger.apply_many(
                [
                    Requeue(
                        message_id=m.id,
                        delay=0.0,
                        detail="claim of a dead node recovered",
                    )
                    for m in stalled
                ]
            )
            total += len(stalled)
            self._wake.set()
        if orphans:
            await self._ledger.apply_many(
                [Adopt(message_id=m.id, owner=self._nodes.node_id) for m in orphans]
            )
            by_connector: dict[str, list[Message]] = {}
            for m in orphans:
                by_connector.setdefault(m.connector or "", []).append(m)
            for name, msgs in by_connector.items():
                connector = self._connectors.get(name)
                if connector is not None:
                    await connector.resume(msgs)
            total += len(orphans)
        return total

    # -- for tests and benchmarks ------------------------------------------------------

    async def run_until_idle(self, timeout: float = 60.0) -> None:
        """Wait until nothing is due and nothing is in flight here."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            nxt = await message_store.next_due_at(self._db)
            if (
                (nxt is None or nxt > self._time())
                and self._in_flight == 0
                and not self._tasks
            ):
                return
            self._wake.set()
            await asyncio.sleep(0.05)
        raise TimeoutError("dispatcher did not become idle")
