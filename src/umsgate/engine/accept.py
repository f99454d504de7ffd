"""Accepting messages: idempotency on the client's id, and group commit.

Theory of operation
-------------------
Each API request hands a validated `Submission` to `Acceptor.accept` and waits. One
task takes every submission waiting at that moment (up to ``max_batch``) and writes
them in one transaction: ids are assigned, rows inserted with "on conflict do
nothing" on (client, srcMsgId), and the keys read back. A row whose stored id is the
one just assigned is new; otherwise the key existed (from an earlier request, another
node, or earlier in the same batch): the same content hash makes it a harmless repeat
answered with the original id, another hash is refused (`Invalid.ID_REUSED`). When
a submission carries a duplicate window, the ``screen`` hook then sees the new rows in
the same transaction and may refuse some (`umsgate.engine.duplicates`). The
futures are resolved only after the commit, so an answer means the message is on
disk. While one batch commits the next one gathers, so a busy gateway pays one
commit (one fsync on SQLite) for hundreds of messages.

On SQLite a batch does not wait for its COMMIT before the next is written: the
writer's transactions are shared by the stages and commit a couple of loop turns
after their first part (`store.database.SqliteWriter`), so the acceptor writes its
batch, leaves the COMMIT's future (`store.transactions.Pending`) and answers the batch's
callers in the turn that COMMIT ends, while the next batch gathers and is written
as a part of the same or the next transaction (on the one connection, which sees
the rows of the first; a failed COMMIT fails both).

On PostgreSQL up to `PG_PARALLEL` batches are written at once, on connections of
their own: a batch there is several round trips to the server, each a wait of the
event loop, and one batch at a time left the gateway idle between them (accept
p50 of 50 ms at 1,200 msg/s on `bench/e2e.py`). The rows of a batch are inserted
in key order, so that two batches that share a key (the same request sent twice
at once) wait for each other rather than deadlock; the second then finds the
first's row. Without duplicate windows a batch there is one statement
(`message_store.accept_at_once`), which finds the keys that exist through the
insert's own conflict rather than by reading them back. SQLite has one writer,
whose transactions the stages already share.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from umsgate.clock import Clock
from umsgate.domain.ids import IdGenerator
from umsgate.domain.lifecycle import Status
from umsgate.domain.message import Message
from umsgate.domain.results import Invalid
from umsgate.domain.submission import Accepted as Accepted
from umsgate.domain.submission import Submission as Submission
from umsgate.engine.batching import BatchWriter, fail_callers
from umsgate.errors import ValidationError
from umsgate.store import messages as message_store
from umsgate.store.database import Database
from umsgate.store.messages import Stored
from umsgate.store.transactions import Pending, Transaction, transaction

log = logging.getLogger("umsgate.engine.accept")


class FastLane(Protocol):
    """Where new messages due at once go without waiting to be claimed
    (`umsgate.engine.dispatcher.Dispatcher`)."""

    @property
    def node_id(self) -> str: ...

    def pick_at_accept(
        self, rows: Sequence[dict[str, Any]], now: float
    ) -> Mapping[int, tuple[str, Message]]: ...

    def sending_event(
        self, row: Mapping[str, Any], connector: str, now: float
    ) -> tuple[int, float, str, str | None, str]: ...

    def send_at_accept(self, picked: Sequence[tuple[str, Message]]) -> None: ...

    def release_at_accept(self, picked: Sequence[tuple[str, Message]]) -> None: ...


#: Group commits written at once on PostgreSQL.
PG_PARALLEL = 4

#: Called in the transaction with the messages it inserted (not the repeats); the
#: ids it returns are refused with their error, their rows deleted by it
#: (`umsgate.engine.duplicates.screen`).
Screen = Callable[
    [Transaction, Sequence[tuple["Submission", Mapping[str, Any]]], float],
    Awaitable[Mapping[int, Exception]],
]


class Acceptor(BatchWriter):
    task_name = "acceptor"

    def __init__(
        self,
        db: Database,
        *,
        ids: IdGenerator,
        clock: Clock,
        max_batch: int = 1000,
        on_committed: Callable[[int], None] | None = None,
        screen: Screen | None = None,
        fast_lane: FastLane | None = None,
    ) -> None:
        """Args:
        on_committed: called with the number of new messages left QUEUED by a
            commit (the dispatcher claims them).
        fast_lane: takes the new messages due at once straight after their commit
            (see the module docstring).
        """
        super().__init__()
        self._db = db
        self._screen = screen
        self._ids = ids
        self._time = clock.time
        self._max_batch = max_batch
        self._on_committed = on_committed
        self._lane = fast_lane
        self._pending: list[tuple[Submission, asyncio.Future[Accepted]]] = []
        self._parallel = 1 if db.is_sqlite else PG_PARALLEL
        self._writing: set[asyncio.Task[None]] = set()
        #: SQLite: COMMITs written batches wait for.
        self._unsettled: set[asyncio.Future[None]] = set()
        #: Size of each committed batch (for metrics).
        self.last_batch = 0

    async def accept(self, submission: Submission) -> Accepted:
        """Store one message; returns once it is committed.

        Raises:
            ValidationError: ID_REUSED when the client's id holds other content.
            StoreError: the store failed (nothing was stored).
        """
        return await self.enqueue(submission)

    def enqueue(self, submission: Submission) -> asyncio.Future[Accepted]:
        """`accept` without the coroutine: the future of the message's commit."""
        if self._closing:
            raise RuntimeError("acceptor is stopping")
        fut: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._pending.append((submission, fut))
        self._wake.set()
        return fut

    async def _run(self) -> None:
        while True:
            if not self._pending:
                if self._closing:
                    if self._writing:
                        await asyncio.wait(set(self._writing))
                    if self._unsettled:
                        await asyncio.wait(set(self._unsettled))
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            if len(self._writing) >= self._parallel:
                # The next batch gathers while these commit.
                await asyncio.wait(
                    set(self._writing), return_when=asyncio.FIRST_COMPLETED
                )
                continue
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            if self._parallel == 1:
                await self._write(batch)
            else:
                task = asyncio.create_task(self._write(batch))
                self._writing.add(task)
                task.add_done_callback(self._writing.discard)

    async def _write(
        self, batch: list[tuple[Submission, asyncio.Future[Accepted]]]
    ) -> None:
        """Write ``batch``; its callers are answered once it is committed."""
        pending = Pending()
        try:
            results, picked = await self._commit([s for s, _ in batch], pending)
        except Exception as exc:
            self._failed(batch, exc)
            return
        commit = pending.commit
        if commit is None:
            self._answer(batch, results, picked)
            return
        self._unsettled.add(commit)

        def settle(fut: asyncio.Future[None]) -> None:
            self._unsettled.discard(fut)
            error = asyncio.CancelledError() if fut.cancelled() else fut.exception()
            if error is None:
                self._answer(batch, results, picked)
            else:
                if self._lane is not None:
                    self._lane.release_at_accept(picked)
                self._failed(batch, error)

        # A callback, not a task: the callers are answered in the turn the COMMIT
        # ends.
        commit.add_done_callback(settle)

    def _failed(
        self,
        batch: list[tuple[Submission, asyncio.Future[Accepted]]],
        exc: BaseException,
    ) -> None:
        log.error(
            "group commit failed: %s",
            exc,
            exc_info=exc,
            extra={"event": "accept_error"},
        )
        fail_callers(batch, exc)

    def _answer(
        self,
        batch: list[tuple[Submission, asyncio.Future[Accepted]]],
        results: list[Accepted | Exception],
        picked: Sequence[tuple[str, Message]],
    ) -> None:
        if picked and self._lane is not None:
            # Before the callers: a client may look its message up at once.
            self._lane.send_at_accept(picked)
        new = -len(picked)
        for (_, fut), result in zip(batch, results, strict=True):
            if fut.done():
                continue
            if isinstance(result, Exception):
                fut.set_exception(result)
            else:
                new += not result.repeated
                fut.set_result(result)
        self.last_batch = len(batch)
        if new > 0 and self._on_committed is not None:
            self._on_committed(new)

    async def _commit(
        self, subs: list[Submission], pending: Pending
    ) -> tuple[list[Accepted | Exception], list[tuple[str, Message]]]:
        """Write ``subs`` in a transaction; each one's result, and the new messages
        the fast lane takes once the commit is done."""
        now = self._time()
        rows = []
        for sub in subs:
            row = dict(sub.row)
            row["id"] = self._ids.next_id()
            row["created_at"] = now
            row["status"] = Status.QUEUED.value
            rows.append(row)
        lane = self._lane
        picked: Mapping[int, tuple[str, Message]] = {}
        if lane is not None:
            picked = lane.pick_at_accept(
                [{**r, "connector": None, "provider_msg_id": None} for r in rows], now
            )
            if picked:
                sending = Status.SENDING.value
                for row in rows:
                    if row["id"] in picked:
                        row["status"] = sending
                        row["owner"] = lane.node_id
                        row["claimed_at"] = now
        try:
            results, go = await self._write_rows(subs, rows, picked, now, pending)
        except BaseException:
            if lane is not None and picked:
                lane.release_at_accept(list(picked.values()))
            raise
        if lane is not None and len(go) < len(picked):
            # Picked and not inserted (a repeat of an earlier message) or deleted
            # (a duplicate the screen refused).
            chosen = {m.id for _, m in go}
            lane.release_at_accept(
                [p for mid, p in picked.items() if mid not in chosen]
            )
        return results, go

    async def _write_rows(
        self,
        subs: list[Submission],
        rows: list[dict[str, Any]],
        picked: Mapping[int, tuple[str, Message]],
        now: float,
        pending: Pending,
    ) -> tuple[list[Accepted | Exception], list[tuple[str, Message]]]:
        if not self._db.is_sqlite and not any(s.dup_window for s in subs):
            return await self._write_at_once(subs, rows, picked, now)
        go: list[tuple[str, Message]] = []
        async with transaction(self._db, pending=pending) as tx:
            # In key order: see the module docstring (concurrent batches).
            in_order = sorted(rows, key=lambda r: (r["client_id"], r["src_msg_id"]))
            if await message_store.insert_messages(tx, in_order):
                # Every row went in: each key holds the id just given.
                stored = {
                    s.key: Stored(
                        id=r["id"], content_hash=r["content_hash"], created_at=now
                    )
                    for s, r in zip(subs, rows, strict=True)
                }
            else:
                stored = await message_store.message_keys(tx, [s.key for s in subs])
            refused: Mapping[int, Exception] = {}
            if self._screen is not None and any(s.dup_window for s in subs):
                fresh = [
                    (sub, row)
                    for sub, row in zip(subs, rows, strict=True)
                    if stored[sub.key].id == row["id"]
                ]
                refused = await self._screen(tx, fresh, now)
            results: list[Accepted | Exception] = []
            events: list[tuple[int, float, str, str | None, str]] = []
            for sub, row in zip(subs, rows, strict=True):
                found = stored[sub.key]
                if found.id in refused and found.content_hash == row["content_hash"]:
                    results.append(refused[found.id])
                elif found.id == row["id"]:
                    results.append(
                        Accepted(id=row["id"], created_at=now, repeated=False)
                    )
                    events.extend(self._new_events(row, picked, now))
                    chosen = picked.get(row["id"])
                    if chosen is not None:
                        go.append(chosen)
                else:
                    results.append(_earlier(sub, row, found))
            await message_store.insert_events(tx, events)
        return results, go

    async def _write_at_once(
        self,
        subs: list[Submission],
        rows: list[dict[str, Any]],
        picked: Mapping[int, tuple[str, Message]],
        now: float,
    ) -> tuple[list[Accepted | Exception], list[tuple[str, Message]]]:
        """PostgreSQL without duplicate windows: the batch, its events and the
        keys that existed, in one statement (`message_store.accept_at_once`)."""
        events: list[tuple[int, float, str, str | None, str]] = []
        for row in rows:
            events.extend(self._new_events(row, picked, now))
        in_order = sorted(rows, key=lambda r: (r["client_id"], r["src_msg_id"]))
        inserted, existing = await message_store.accept_at_once(
            self._db, in_order, events
        )
        missing = [
            s.key
            for s, r in zip(subs, rows, strict=True)
            if r["id"] not in inserted and s.key not in existing
        ]
        if missing:
            # Inserted meanwhile by a transaction this one waited for: visible now.
            async with transaction(self._db) as tx:
                existing.update(await message_store.message_keys(tx, missing))
        results: list[Accepted | Exception] = []
        go: list[tuple[str, Message]] = []
        for sub, row in zip(subs, rows, strict=True):
            if row["id"] in inserted:
                results.append(Accepted(id=row["id"], created_at=now, repeated=False))
                chosen = picked.get(row["id"])
                if chosen is not None:
                    go.append(chosen)
                continue
            results.append(_earlier(sub, row, existing[sub.key]))
        return results, go

    def _new_events(
        self,
        row: Mapping[str, Any],
        picked: Mapping[int, tuple[str, Message]],
        now: float,
    ) -> list[tuple[int, float, str, str | None, str]]:
        """The events of a message inserted now: ACCEPTED, QUEUED, and SENDING when
        the fast lane picked it."""
        events: list[tuple[int, float, str, str | None, str]] = [
            (row["id"], now, Status.ACCEPTED.value, None, ""),
            (row["id"], now, Status.QUEUED.value, None, ""),
        ]
        chosen = picked.get(row["id"])
        if chosen is not None:
            assert self._lane is not None
            events.append(self._lane.sending_event(row, chosen[0], now))
        return events


def _earlier(
    sub: Submission,
    row: Mapping[str, Any],
    stored: Stored,
) -> Accepted | Exception:
    """The answer to a submission whose key was stored before: a repeat of the
    same content, or a srcMsgId reused for other content."""
    if stored.content_hash == row["content_hash"]:
        return Accepted(id=stored.id, created_at=stored.created_at, repeated=True)
    return ValidationError(
        Invalid.ID_REUSED,
        f"srcMsgId {sub.key[1]!r} was used before with different content",
        field="srcMsgId",
    )
