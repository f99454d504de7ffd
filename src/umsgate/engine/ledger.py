"""The ledger: every change of a message's status goes through here, in batches.

Theory of operation
-------------------
Dispatcher results, provider reports, expiries and recoveries are queued as `Op`\\ s.
One task takes whatever is queued (up to ``max_batch``) and applies it in a single
transaction: it reads the current rows (locked on PostgreSQL), replays the ops in
order against them through the rules of `umsgate.domain.transitions` (pure
functions: each op gives a step, which the ledger applies to its row), and writes
the changed rows, their events, the reports of messages that became final, the
parts of multi-part messages, and the fallback messages of failed RCS/KakaoTalk
messages. Only after the commit is each op's future resolved, so a connector
acknowledges a report to its provider only once it is on disk. An op that the rules
refuse (a second report for a final message, a late submit answer after a recovery)
changes nothing: each message gets exactly one final status and one report per
final.

Reports that overtake their submit answers
------------------------------------------
An SMSC may send a receipt right after its submit_sm_resp, in the same TCP write,
or even before it; an HTTP provider's callback may come before its API answered.
A report that names its message (``message_id``: the connector knew it) is applied
at once, whatever the message's state: a SENDING message goes to SENT (the
timeline shows it, with the provider id) and then to its final status, and the
submit answer that follows changes nothing. A report that names only a provider
id is matched against the submits of its own batch, then against the store (on
SQLite that includes the batches written before it and not yet committed). One
that matches nothing yet is parked: written to ``pending_reports`` in the same
transaction, so its provider can be answered at once, and kept in an index in
memory (`PARKED_INDEX_MAX`). The batch that records the matching submit takes the
parked reports of its provider ids from that index, applies them after the submit
and deletes their rows, in one transaction: no timed retry stands between a
receipt and its message. Reports parked by another node, or before a restart
(the index is loaded from the store at start), are looked at again once a second
(`PENDING_BATCH` at a time, after `PENDING_GRACE`), and dropped after
``unmatched_ttl`` (`PENDING_MAX_AGE` by default) with a log line naming their id
and the ``on_unmatched`` callback (the ``umsgate_reports_unmatched`` metric and
``/healthz``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
from collections.abc import Callable, Mapping, Sequence

import orjson

from umsgate.clock import Clock
from umsgate.domain import transitions
from umsgate.domain.ids import IdGenerator
from umsgate.domain.records import FallbackRow, ReportRow
from umsgate.domain.results import ResultCode
from umsgate.domain.transitions import EventRow, MessageState, PartResult, PartState
from umsgate.engine import retry
from umsgate.engine.batching import BatchWriter, fail_callers
from umsgate.reports import faces as report_faces
from umsgate.reports import format as report_format
from umsgate.store import messages as message_store
from umsgate.store import reports as report_store
from umsgate.store.database import Database
from umsgate.store.reports import ParkedReport
from umsgate.store.transactions import Pending, Transaction, transaction
from umsgate.types import Outcome, ProviderReport, SubmitResult

log = logging.getLogger("umsgate.engine.ledger")

_NOW, _AFTER = transitions.Placement.NOW, transitions.Placement.AFTER

#: Most ops applied in one transaction.
MAX_BATCH = 2000
#: Pending (unmatched) reports looked at per round, and how long they are kept by
#: default (``engine.unmatched_report_ttl``). A submit is recorded seconds after the
#: provider took it, so a receipt that has not found its message in ten minutes
#: never will (e.g. a part the SMSC took just before a dropped session, whose
#: message was then sent again under new ids).
PENDING_BATCH = 500
PENDING_MAX_AGE = 600.0
#: A parked report is looked at by the timed retry only after this long: until
#: then the batch that records its submit takes it from the index.
PENDING_GRACE = 2.0
#: Most provider ids of parked reports kept in memory; beyond it, parked reports
#: wait for the timed retry.
PARKED_INDEX_MAX = 100_000
#: PostgreSQL: batches written at once (see `Ledger._start`).
OVERLAP = 2


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Submitted:
    """A connector's answer to a submit."""

    message_id: int
    connector: str
    result: SubmitResult


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Requeue:
    """Put a claimed message back in the queue (no answer from any connector)."""

    message_id: int
    delay: float
    detail: str
    code: ResultCode | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Expire:
    """End a message EXPIRED: a claimed one whose time ran out before it was sent,
    or (``sent_before`` given) a SENT one still without a report, sent at or before
    that time."""

    message_id: int
    sent_before: float | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Reported:
    report: ProviderReport


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Adopt:
    """Take over a SENT message of a dead node (owner becomes this node)."""

    message_id: int
    owner: str


Op = Submitted | Requeue | Expire | Reported | Adopt


#: A message made final, for the metrics: (status, channel, connector, created_at,
#: sent_at or None, done_at).
Final = tuple[str, str, str, float, float | None, float]


@dataclasses.dataclass(slots=True)
class _Batch:
    """What the ops of one transaction write: the messages' rows as the rules leave
    them, and what the rules' steps ask for besides."""

    now: float
    rows: dict[int, MessageState]
    changed: set[int] = dataclasses.field(default_factory=set)
    events: list[EventRow] = dataclasses.field(default_factory=list)
    reports: list[ReportRow] = dataclasses.field(default_factory=list)
    new_parts: list[PartState] = dataclasses.field(default_factory=list)
    part_updates: list[PartResult] = dataclasses.field(default_factory=list)
    #: The known parts of the messages with part reports, by provider id.
    parts: dict[int, dict[str, PartState]] = dataclasses.field(default_factory=dict)
    fallbacks: list[FallbackRow] = dataclasses.field(default_factory=list)
    finals: list[Final] = dataclasses.field(default_factory=list)
    #: Messages were queued to be sent at once.
    wake: bool = False


@dataclasses.dataclass(slots=True)
class _Journal:
    """What a batch changed in the index of parked reports, to be undone if its
    transaction fails; on PostgreSQL, the provider ids it records, and the future
    told once its rows are locked (see `Ledger._start`)."""

    taken: list[tuple[tuple[str, str], list[ProviderReport]]] = dataclasses.field(
        default_factory=list
    )
    parked: list[tuple[tuple[str, str], ProviderReport]] = dataclasses.field(
        default_factory=list
    )
    recording: dict[transitions.ProviderKey, transitions.Target] = dataclasses.field(
        default_factory=dict
    )
    #: Resolved once the batch's rows are locked; ``alone`` then says that the
    #: next batch must wait for its end (it parks reports).
    locked: asyncio.Future[None] | None = None
    alone: bool = False


class Ledger(BatchWriter):
    """Applies ops in batches; `apply` returns when the op is committed."""

    task_name = "ledger"

    def __init__(
        self,
        db: Database,
        *,
        ids: IdGenerator,
        node_id: str,
        clock: Clock,
        retry_base: float,
        retry_max: float,
        default_ttl: float,
        on_final: Callable[[list[Final]], None] | None = None,
        on_queued: Callable[[], None] | None = None,
        on_unmatched: Callable[[str, str], None] | None = None,
        unmatched_ttl: float = PENDING_MAX_AGE,
        max_batch: int = MAX_BATCH,
        faces: Mapping[str, report_faces.ReportFace] | None = None,
    ) -> None:
        """Args:
        on_unmatched: called with (connector, provider id) of each parked report
            dropped after ``unmatched_ttl`` seconds without finding its message.
        faces: the compatible faces by name; their messages' reports are in
            their format (`umsgate.reports.faces`).
        """
        super().__init__()
        self._db = db
        self._ids = ids
        self._node_id = node_id
        self._time = clock.time
        self._retry_base = retry_base
        self._retry_max = retry_max
        self._default_ttl = default_ttl
        self._on_final = on_final
        self._on_queued = on_queued
        self._on_unmatched = on_unmatched
        self._unmatched_ttl = unmatched_ttl
        self._max_batch = max_batch
        self._faces = dict(faces or {})
        #: Groups of ops, each with the future its caller awaits.
        self._queue: list[tuple[Sequence[Op], asyncio.Future[None]]] = []
        #: Batches written and waiting for their COMMIT, and an event set as each
        #: is settled.
        self._unsettled = 0
        self._settled = asyncio.Event()
        self._rng = random.Random()
        #: Bound once: a bound method made per op costs as much as a rule.
        self._backoff: transitions.Backoff = self._delay
        self._last_pending = 0.0
        #: Parked reports by (connector, provider id), as written (see the module
        #: docstring); None until loaded from the store.
        self._parked: dict[tuple[str, str], list[ProviderReport]] | None = None
        #: Where the timed retry of parked reports goes on (their row id).
        self._pending_cursor = 0
        #: PostgreSQL (set as the loop starts): the batches being written (at most
        #: `OVERLAP`), and the provider ids they record, by which a later batch
        #: matches its reports before they are committed (see `_start`).
        self._overlap = False
        self._writing: set[asyncio.Task[None]] = set()
        self._recording: dict[transitions.ProviderKey, transitions.Target] = {}

    @property
    def parked(self) -> int:
        """Provider ids with a parked report known to this ledger."""
        return len(self._parked or ())

    # -- public ---------------------------------------------------------------------

    async def apply(self, op: Op) -> None:
        await self.apply_many([op])

    async def apply_many(self, ops: Sequence[Op]) -> None:
        if not ops:
            return
        await self.queue_many(ops)

    def queue_many(self, ops: Sequence[Op]) -> asyncio.Future[None]:
        """Queue ``ops`` now; the future is resolved once they are committed (or
        fails with the store's error)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((ops, fut))
        self._wake.set()
        return fut

    # -- the loop -------------------------------------------------------------------

    async def _run(self) -> None:
        self._overlap = not self._db.is_sqlite
        try:
            await self._load_parked()
        except Exception as exc:  # the timed retry finds them anyway
            log.warning(
                "could not load the parked reports: %s",
                exc,
                extra={"event": "ledger_error"},
            )
            self._parked = {}
        while True:
            if not self._queue:
                if self._closing:
                    if self._writing:
                        await asyncio.wait(set(self._writing))
                        continue
                    if self._unsettled:
                        self._settled.clear()
                        await self._settled.wait()
                        continue
                    return
                self._wake.clear()
                # asyncio.timeout, not wait_for: wait_for runs the wait as a task
                # of its own, a loop turn more between an op queued and applied.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._wake.wait()
            batch = self._take()
            if batch:
                if self._overlap:
                    await self._start(batch)
                else:
                    await self._write(batch, _Journal())
            if self._time() - self._last_pending >= 1.0:
                self._last_pending = self._time()
                pending = Pending()
                try:
                    outcome = await self._retry_pending(pending)
                except Exception as exc:
                    self._failed([], exc)
                    continue
                self._after(pending, [], outcome)

    async def _load_parked(self) -> None:
        parked: dict[tuple[str, str], list[ProviderReport]] = {}
        async with transaction(self._db) as tx:
            for body in await report_store.pending_report_bodies(tx, PARKED_INDEX_MAX):
                rep = _report_from_json(body)
                key = (rep.connector, rep.provider_msg_id or "")
                parked.setdefault(key, []).append(rep)
        self._parked = parked

    async def _start(
        self, batch: list[tuple[Sequence[Op], asyncio.Future[None]]]
    ) -> None:
        """PostgreSQL: write ``batch`` in a task of its own, beside the one before
        it; return once its rows are locked (or it ended).

        A batch's round trips (BEGIN, the rows read and locked, the writes, the
        COMMIT) are most of its time, and a receipt that comes in meanwhile waited
        for all of them before its own batch began: with 0-ms receipts the
        ledger trailed the sends by seconds, each receipt holding a slot of the
        SMSC's window. Now the next batch begins once this one holds the locks of
        its rows. The order of the ops of one message holds: the next batch's
        ``FOR UPDATE`` of a row this one changes waits for this one's COMMIT, and
        then reads the row as it left it (as two nodes' ledgers do). A report of
        a provider id this one records finds its message in `_recording`, not in
        the store, which shows the id only after the COMMIT. A batch that parks
        reports is written alone: the next one must see its rows of
        ``pending_reports`` before it takes them from the index. The timed retry
        of parked reports may run beside a batch: it matches them against the
        committed store only, so one whose id that batch records waits for the
        next round (or the batch takes it from the index)."""
        while len(self._writing) >= OVERLAP:
            await asyncio.wait(set(self._writing), return_when=asyncio.FIRST_COMPLETED)
        locked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        journal = _Journal(locked=locked)
        task = asyncio.create_task(self._write(batch, journal))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)
        await asyncio.wait({locked, task}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done() and journal.alone:
            await task

    async def _write(
        self, batch: list[tuple[Sequence[Op], asyncio.Future[None]]], journal: _Journal
    ) -> None:
        pending = Pending()
        try:
            outcome = await self._commit(
                [op for ops, _ in batch for op in ops], pending, journal
            )
        except Exception as exc:  # the store failed: fail the callers, keep running
            self._undo(journal)
            self._failed(batch, exc)
            await asyncio.sleep(0.5)
            return
        finally:
            # Committed, undone or cancelled: the store shows the ids the batch
            # recorded, or never will.
            self._forget(journal)
        self._after(pending, batch, outcome, journal)

    def _forget(self, journal: _Journal) -> None:
        """Take the provider ids of ``journal``'s batch out of `_recording`."""
        recording = self._recording
        for key, target in journal.recording.items():
            if recording.get(key) == target:
                del recording[key]

    def _undo(self, journal: _Journal) -> None:
        """The transaction of ``journal``'s batch failed: its parked reports were
        not written, and the rows it took are still there."""
        parked = self._parked
        if parked is None:
            return
        for key, rep in journal.parked:
            reps = parked.get(key)
            if reps is not None and rep in reps:
                reps.remove(rep)
                if not reps:
                    del parked[key]
        for key, reps in journal.taken:
            parked.setdefault(key, []).extend(reps)

    def _after(
        self,
        pending: Pending,
        batch: list[tuple[Sequence[Op], asyncio.Future[None]]],
        outcome: tuple[list[Final], bool],
        journal: _Journal | None = None,
    ) -> None:
        """Answer ``batch`` once its COMMIT is done (at once on PostgreSQL, whose
        transaction committed before `_commit` returned).

        On SQLite the batch waits for its COMMIT while the next one is written: a
        COMMIT comes a couple of loop turns after its first part, and the ops queued
        meanwhile (receipts whose provider waits for their answer, in a window)
        need not wait for it too."""
        commit = pending.commit
        if commit is None:
            self._done(batch, outcome)
            return
        self._unsettled += 1

        def settle(fut: asyncio.Future[None]) -> None:
            self._unsettled -= 1
            self._settled.set()
            error = asyncio.CancelledError() if fut.cancelled() else fut.exception()
            if error is None:
                self._done(batch, outcome)
            else:
                if journal is not None:
                    self._undo(journal)
                self._failed(batch, error)

        # A callback, not a task awaiting it: the callers are answered in the turn
        # the COMMIT ends (a task would wake a turn later).
        commit.add_done_callback(settle)

    def _done(
        self,
        batch: list[tuple[Sequence[Op], asyncio.Future[None]]],
        outcome: tuple[list[Final], bool],
    ) -> None:
        """The batch is on disk: tell the notifier and the dispatcher, then the
        callers."""
        self._committed(*outcome)
        for _, fut in batch:
            if not fut.done():
                fut.set_result(None)

    def _failed(
        self,
        batch: list[tuple[Sequence[Op], asyncio.Future[None]]],
        exc: BaseException,
    ) -> None:
        log.error(
            "ledger batch failed: %s",
            exc,
            exc_info=exc,
            extra={"event": "ledger_error"},
        )
        fail_callers(batch, exc)

    def _take(self) -> list[tuple[Sequence[Op], asyncio.Future[None]]]:
        """Whole groups from the queue, up to ``max_batch`` ops (at least one group)."""
        taken = 0
        count = 0
        for ops, _ in self._queue:
            if count and taken + len(ops) > self._max_batch:
                break
            taken += len(ops)
            count += 1
        batch, self._queue = self._queue[:count], self._queue[count:]
        return batch

    async def _retry_pending(self, pending: Pending) -> tuple[list[Final], bool]:
        """Match again the reports parked more than `PENDING_GRACE` ago (by another
        node, before a restart, or beyond the index); the outcome, to be told once
        ``pending`` is committed."""
        now = self._time()
        async with transaction(self._db, pending=pending) as tx:
            rows = await report_store.take_pending_reports(
                tx,
                PENDING_BATCH,
                after=self._pending_cursor,
                before=now - PENDING_GRACE,
            )
            self._pending_cursor = rows[-1].id if len(rows) == PENDING_BATCH else 0
            if not rows:
                return ([], False)
            found = await message_store.ids_by_provider(
                tx, [(r.connector, r.provider_msg_id) for r in rows]
            )
            done: list[int] = []
            ops: list[Op] = []
            parked = self._parked if self._parked is not None else {}
            for row in rows:
                connector, pid = row.connector, row.provider_msg_id
                fate = transitions.pending_fate(
                    matched=(connector, pid) in found,
                    age=now - row.created_at,
                    ttl=self._unmatched_ttl,
                )
                if fate is transitions.PendingFate.APPLY:
                    ops.append(Reported(report=_report_from_json(row.body)))
                    done.append(row.id)
                    parked.pop((connector, pid), None)
                elif fate is transitions.PendingFate.DROP:
                    log.warning(
                        "report of %s from %s dropped: it matched no message in %.0f s",
                        pid,
                        connector,
                        self._unmatched_ttl,
                        extra={
                            "event": "report_unmatched",
                            "route": connector,
                            "provider_msg_id": pid,
                        },
                    )
                    done.append(row.id)
                    parked.pop((connector, pid), None)
                    if self._on_unmatched is not None:
                        self._on_unmatched(connector, pid)
            await report_store.delete_pending_reports(tx, done)
            return await self._apply_in(tx, ops, _Journal()) if ops else ([], False)

    async def _commit(
        self, ops: Sequence[Op], pending: Pending, journal: _Journal
    ) -> tuple[list[Final], bool]:
        """Apply ``ops`` in a transaction; its outcome (see `_apply_in`), to be told
        once it is committed (`pending`)."""
        async with transaction(self._db, pending=pending) as tx:
            return await self._apply_in(tx, ops, journal)

    def _committed(self, finals: list[Final], queued: bool) -> None:
        """Tell the notifier and the dispatcher, once the batch is on disk."""
        if finals and self._on_final is not None:
            self._on_final(finals)
        if queued and self._on_queued is not None:
            self._on_queued()

    async def _apply_in(
        self, tx: Transaction, ops: Sequence[Op], journal: _Journal
    ) -> tuple[list[Final], bool]:
        """Apply ``ops`` in the open transaction; (messages made final, whether new
        messages were queued). What it takes from and adds to the index of parked
        reports goes into ``journal``."""
        now = self._time()
        # Match provider ids to messages: first the ids this very batch records, then
        # the store.
        in_batch: dict[transitions.ProviderKey, transitions.Target] = {}
        for op in ops:
            if isinstance(op, Submitted) and op.result.outcome is Outcome.ACCEPTED:
                in_batch.update(
                    transitions.recorded_ids(op.result, op.connector, op.message_id)
                )
        # Parked reports of the ids this batch records: applied after it, their
        # rows deleted in the same transaction.
        index = self._parked
        if index and in_batch:
            for key in in_batch:
                reps = index.pop(key, None)
                if reps is not None:
                    journal.taken.append((key, reps))
            if journal.taken:
                ops = [
                    *ops,
                    *(Reported(report=r) for _, reps in journal.taken for r in reps),
                ]
                await report_store.delete_pending_by_key(
                    tx, [k for k, _ in journal.taken]
                )
        lookup = [
            (op.report.connector, op.report.provider_msg_id)
            for op in ops
            if isinstance(op, Reported)
            and op.report.message_id is None
            and op.report.provider_msg_id
        ]
        lookup = [k for k in lookup if k not in in_batch]
        # Recorded by the batch being written beside this one (PostgreSQL).
        recording = self._recording
        early = {k: recording[k] for k in lookup if k in recording}
        if early:
            lookup = [k for k in lookup if k not in early]
        found = await message_store.ids_by_provider(tx, lookup) if lookup else {}
        found.update(early)
        found.update(in_batch)
        if self._overlap and in_batch:
            journal.recording.update(in_batch)
            recording.update(in_batch)
        resolved: list[tuple[Op, int, int | None]] = []
        # Reports of ids that this batch records are replayed after every other op:
        # a receipt can overtake its submit answer and land in the same batch ahead
        # of it, and the message (and its parts) must be SENT before it is final.
        after: list[tuple[Op, int, int | None]] = []
        parked: list[ParkedReport] = []
        for op in ops:
            if isinstance(op, Reported):
                rep = op.report
                placement, mid, part = transitions.place_report(rep, found, in_batch)
                if placement is _NOW:
                    resolved.append((op, mid, part))
                elif placement is _AFTER:
                    after.append((op, mid, part))
                else:
                    key = (rep.connector, rep.provider_msg_id or "")
                    parked.append(
                        ParkedReport(
                            connector=rep.connector,
                            provider_msg_id=rep.provider_msg_id or "",
                            body=_report_to_json(rep),
                            created_at=now,
                        )
                    )
                    if index is not None and len(index) < PARKED_INDEX_MAX:
                        index.setdefault(key, []).append(rep)
                        journal.parked.append((key, rep))
            else:
                resolved.append((op, op.message_id, None))
        resolved.extend(after)
        # The rows are the rules' `MessageState`s as they are: no copy per message.
        rows = await message_store.lock_messages(
            tx, sorted({mid for _, mid, _ in resolved})
        )
        before = {mid: message_store.mutable_values(row) for mid, row in rows.items()}
        batch = _Batch(now=now, rows=rows)
        part_mids = [mid for op, mid, part in resolved if part is not None]
        if part_mids:
            for mid, plist in (await message_store.parts_of(tx, part_mids)).items():
                batch.parts[mid] = {p["provider_msg_id"]: p for p in plist}
        if journal.locked is not None and not journal.locked.done():
            journal.alone = bool(parked)
            journal.locked.set_result(None)
        for op, mid, part in resolved:
            row = rows.get(mid)
            if row is None:
                log.warning(
                    "op for an unknown message",
                    extra={"event": "ledger_unknown", "message_id": mid},
                )
                continue
            self._replay(batch, op, row, part)
        await report_store.insert_pending_reports(tx, parked)
        await message_store.insert_parts(tx, batch.new_parts)
        await message_store.update_parts(tx, batch.part_updates)
        await message_store.update_messages(
            tx, [batch.rows[m] for m in sorted(batch.changed)], before
        )
        if batch.fallbacks:
            await message_store.insert_fallbacks(tx, batch.fallbacks)
        await message_store.insert_events(tx, batch.events)
        await report_store.insert_reports(tx, batch.reports)
        return batch.finals, bool(batch.fallbacks) or batch.wake

    # -- the replay -------------------------------------------------------------------

    def _delay(self, attempts: int) -> float:
        """The rules' `transitions.Backoff`: the retry policy, drawn from the
        ledger's random source."""
        return retry.backoff(
            attempts, base=self._retry_base, cap=self._retry_max, rng=self._rng
        )

    def _replay(
        self, batch: _Batch, op: Op, row: MessageState, part: int | None
    ) -> None:
        """Apply ``op`` to ``row`` by the rules (`umsgate.domain.transitions`), and
        keep what the step asks to write."""
        now = batch.now
        if isinstance(op, Reported):
            parts = None
            if part is not None:
                parts = batch.parts.get(row["id"], {})
            step = transitions.reported(row, op.report, now, self._backoff, parts)
            update = step.part_update
            if update is not None:
                assert parts is not None
                known = parts[update["provider_msg_id"]]
                known["result_code"] = update["result_code"]
                known["raw_code"] = update["raw_code"]
                batch.part_updates.append(update)
        elif isinstance(op, Submitted):
            step = transitions.submitted(
                row, op.result, op.connector, now, self._backoff
            )
            if step.new_parts:
                mine = batch.parts.setdefault(row["id"], {})
                for new_part in step.new_parts:
                    batch.new_parts.append(new_part)
                    mine[new_part["provider_msg_id"]] = {**new_part}
        elif isinstance(op, Requeue):
            step = transitions.requeue(
                row, delay=op.delay, code=op.code, detail=op.detail, now=now
            )
        elif isinstance(op, Expire):
            if op.sent_before is None:
                step = transitions.expire(row, now=now)
            else:
                step = transitions.expire_unreported(
                    row, sent_before=op.sent_before, now=now
                )
        else:
            step = transitions.adopt(row, owner=op.owner)
        row.update(step.changes)
        for current, new in step.refused:
            log.debug(
                "transition refused",
                extra={
                    "event": "transition_refused",
                    "message_id": row["id"],
                    "from": current,
                    "to": new,
                },
            )
        if not step.written:
            return
        batch.changed.add(row["id"])
        batch.events.extend(step.events)
        if step.wake:
            batch.wake = True
        code = step.final
        if code is None:
            return
        batch.finals.append(
            (
                row["status"],
                row["channel"],
                row["connector"] or "",
                row["created_at"],
                row["sent_at"],
                row["done_at"] or now,
            )
        )
        batch.reports.append(
            report_format.report_row(
                row,
                code,
                now=now,
                from_carrier=step.from_carrier,
                faces=self._faces,
            )
        )
        if step.fallback:
            replacement = transitions.fallback_row(
                row, now=now, ttl=self._default_ttl, next_id=self._ids.next_id
            )
            if replacement is not None:
                batch.fallbacks.append(replacement)
                batch.events.extend(
                    transitions.fallback_events(replacement.id, row["id"], now)
                )


def _report_to_json(rep: ProviderReport) -> str:
    data = {
        "connector": rep.connector,
        "code": rep.code.value,
        "message_id": rep.message_id,
        "provider_msg_id": rep.provider_msg_id,
        "raw_code": rep.raw_code,
        "detail": rep.detail,
        "carrier": rep.carrier,
    }
    return orjson.dumps(data).decode()


def _report_from_json(body: str) -> ProviderReport:
    data = orjson.loads(body)
    return ProviderReport(
        connector=data["connector"],
        code=ResultCode(data["code"]),
        message_id=data["message_id"],
        provider_msg_id=data["provider_msg_id"],
        raw_code=data["raw_code"],
        detail=data["detail"],
        carrier=data["carrier"],
    )
