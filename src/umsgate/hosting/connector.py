"""Connectors in processes of their own (``own_process = true`` on a connector).

`HostedConnector` is the `Connector` the gateway process sees. It starts the
connector process (`umsgate.hosting.process`) with a socket pair, hands it the
connector's settings, forwards ``submit`` and ``resume`` to it and takes its
reports, which it commits through the gateway's `ReportSink` before it answers
them. So the SMPP sessions, codec and receipts of a busy route run on another core
than the store and the ledger; the cost is one JSON list per message each way.

Failure semantics are those of a session that drops:

* the process dies (or is killed) with batches in flight → each of their messages
  is answered RETRY with CONNECTION_ERROR: the provider may or may not have it, and
  sending it again is the at-least-once choice, as for an SMPP session that ends
  before its submit_sm_resp;
* reports the process had not had answered are not acknowledged to the provider,
  which sends them again (the ledger takes a report twice without harm);
* the process is started again at once, and after a wait that doubles (up to
  `MAX_BACKOFF`) when it keeps dying; meanwhile ``health`` says down, so the
  router fails over, and ``submit`` waits up to `READY_TIMEOUT` for it before it
  raises `TransientConnectorError`.

If the gateway process dies, the connector process sees its socket close and stops
(refusing the reports in hand, so the provider sends them to the next gateway).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import socket
import sys
import time
from collections.abc import Sequence

from umsgate import logs
from umsgate.config import ConnectorSettings
from umsgate.domain.message import Message
from umsgate.domain.results import ResultCode
from umsgate.errors import TransientConnectorError
from umsgate.hosting import wire
from umsgate.types import Health, Outcome, QueueingSink, ReportSink, SubmitResult

log = logging.getLogger("umsgate.hosting")

#: Longest wait for the connector process to come up before ``start`` returns (it
#: goes on coming up after).
START_TIMEOUT = 60.0
#: Longest wait of a ``submit`` for a connector process that is being started.
READY_TIMEOUT = 10.0
#: A process that ran this long before it died is started again at once.
STEADY = 60.0
#: Longest wait before starting a process that keeps dying.
MAX_BACKOFF = 30.0


class HostedConnector:
    """The gateway process's side of a connector process; see the module
    docstring."""

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        command: Sequence[str] | None = None,
        stop_timeout: float = 35.0,
    ) -> None:
        """Args:
        settings: the connector's settings (sent to the process).
        command: the argv of the process, to which ``--fd N`` is added (default:
            this Python running ``umsgate connector-process``).
        stop_timeout: how long the process may take to stop before it is killed.
        """
        self.name = settings.name
        self.settings = settings
        # The process logs as this one does, at this one's level.
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
        options = dataclasses.replace(logs.current, level=level)
        self._command = list(
            command
            or [sys.executable, "-m", "umsgate", "connector-process", *options.args()]
        )
        self._stop_timeout = stop_timeout
        self._sink: ReportSink | None = None
        self._tags = itertools.count()
        self._submits: dict[
            int, tuple[asyncio.Future[Sequence[SubmitResult]], list[int]]
        ] = {}
        self._resumes: dict[int, asyncio.Future[None]] = {}
        self._outbox = wire.Outbox()
        self._ready = asyncio.Event()
        self._started = asyncio.Event()
        self._stopping = asyncio.Event()
        self._health = Health(up=False, detail="the connector process is starting")
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._waiting_reports: set[asyncio.Future[None]] = set()
        #: Times the process was started again after it died.
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, sink: ReportSink) -> None:
        self._sink = sink
        self._task = asyncio.create_task(self._keep(), name=f"{self.name}-process")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._started.wait(), START_TIMEOUT)

    async def stop(self) -> None:
        """Tell the process to stop, wait for it (killing it after
        ``stop_timeout``)."""
        self._stopping.set()
        proc = self._proc
        if proc is not None and proc.returncode is None:
            self._outbox.put("x", 1)
            await self._reap(proc)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._waiting_reports:
            await asyncio.wait(set(self._waiting_reports))

    def health(self) -> Health:
        return self._health

    async def _keep(self) -> None:
        backoff = 0.0
        while not self._stopping.is_set():
            began = time.monotonic()
            try:
                await self._run_once()
            except OSError as exc:
                log.error(
                    "%s: the connector process cannot be started (%s)",
                    self.name,
                    exc,
                    extra={"event": "hosting.start_error", "route": self.name},
                )
            # ``start`` returns after the first try, whether it came up or not.
            self._started.set()
            if self._stopping.is_set():
                return
            ran = time.monotonic() - began
            backoff = 0.0 if ran >= STEADY else min(MAX_BACKOFF, max(1.0, backoff * 2))
            self.restarts += 1
            log.error(
                "%s: the connector process ended after %.1f s (exit status %s); "
                "starting it again%s",
                self.name,
                ran,
                self._proc.returncode if self._proc is not None else None,
                f" in {backoff:.0f} s" if backoff else "",
                extra={"event": "hosting.process_died", "route": self.name},
            )
            self._health = Health(
                up=False, detail="the connector process is being started again"
            )
            await asyncio.sleep(backoff)

    async def _run_once(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self._command,
                "--fd",
                str(theirs.fileno()),
                pass_fds=[theirs.fileno()],
                # Its own session: a terminal's Ctrl-C reaches the gateway only,
                # which stops the connector after its last submits.
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        proc = self._proc
        try:
            reader, writer = await asyncio.open_connection(
                sock=ours, limit=wire.MAX_FRAME
            )
            self._outbox.writer = writer
            writer.write(wire.frame({"c": wire.settings_to_wire(self.settings)}))
            await self._read(reader)
        finally:
            self._lost()
            if proc.returncode is None:
                await self._reap(proc)

    async def _reap(self, proc: asyncio.subprocess.Process) -> None:
        """Wait for ``proc`` to end, killing it after ``stop_timeout``."""
        try:
            await asyncio.wait_for(proc.wait(), self._stop_timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    def _lost(self) -> None:
        """The process's socket closed: what was in flight is answered."""
        self._outbox.close()
        self._ready.clear()
        self._health = Health(up=False, detail="the connector process is not running")
        submits, self._submits = self._submits, {}
        for fut, ids in submits.values():
            if not fut.done():
                fut.set_result([_lost_result(i) for i in ids])
        resumes, self._resumes = self._resumes, {}
        for done in resumes.values():
            if not done.done():
                done.set_result(None)

    # -- the socket --------------------------------------------------------------------

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                self._handle(await wire.read_to_gateway(reader))
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        except (wire.FrameError, KeyError, IndexError, TypeError, ValueError) as exc:
            log.error(
                "%s: a bad frame from the connector process (%s); stopping it",
                self.name,
                exc,
                extra={"event": "hosting.bad_frame", "route": self.name},
            )
            if self._proc is not None and self._proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self._proc.kill()

    def _handle(self, payload: wire.ToGateway) -> None:
        for entry in payload.get("r", ()):
            waiting = self._submits.pop(entry[0], None)
            if waiting is None or waiting[0].done():
                continue
            fut = waiting[0]
            if entry[1] is None:
                fut.set_exception(TransientConnectorError(str(entry[2])))
            else:
                fut.set_result([wire.result_from_wire(r) for r in entry[1]])
        reports = payload.get("p")
        if reports:
            self._commit(reports)
        health = payload.get("h")
        if health:
            self._health = wire.health_from_wire(health[-1])
        for tag in payload.get("d", ()):
            done = self._resumes.pop(tag, None)
            if done is not None and not done.done():
                done.set_result(None)
        if payload.get("u"):
            self._ready.set()
            self._started.set()

    def _commit(self, entries: Sequence[wire.Reports]) -> None:
        """Commit the reports of one frame together; answer each tag once done.

        A `QueueingSink` (the gateway) queues them in this loop turn, and they are
        answered in the turn their commit ends, with no task between: the
        provider's window of receipts waits on this round trip. Any other sink's
        ``report_many`` runs as a task."""
        sink = self._sink
        assert sink is not None
        try:
            reports = [wire.report_from_wire(r) for entry in entries for r in entry[1]]
            committed: asyncio.Future[None] = (
                sink.report_soon(reports)
                if isinstance(sink, QueueingSink)
                else asyncio.ensure_future(sink.report_many(reports))
            )
        except Exception as exc:
            self._answer_reports(entries, exc)
            return
        self._waiting_reports.add(committed)

        def answer(fut: asyncio.Future[None]) -> None:
            self._waiting_reports.discard(fut)
            if fut.cancelled():
                self._answer_reports(entries, asyncio.CancelledError())
            else:
                self._answer_reports(entries, fut.exception())

        committed.add_done_callback(answer)

    def _answer_reports(
        self, entries: Sequence[wire.Reports], error: BaseException | None
    ) -> None:
        tags = [entry[0] for entry in entries]
        detail: str | None = None
        if error is not None:
            detail = str(error) or type(error).__name__
            log.warning(
                "%s: %d reports were not recorded (%s); the provider sends them again",
                self.name,
                len(tags),
                detail,
                extra={"event": "hosting.report_failed", "route": self.name},
            )
        for tag in tags:
            self._outbox.put("a", [tag, detail])
        # Written now, not at the end of the turn: nothing else is answered with it.
        self._outbox.flush()

    # -- the connector -----------------------------------------------------------------

    async def submit(self, messages: Sequence[Message]) -> Sequence[SubmitResult]:
        """Raises:
        TransientConnectorError: the process was not up within `READY_TIMEOUT`,
            or its connector could not try the batch.
        """
        if not self._ready.is_set():
            try:
                await asyncio.wait_for(self._ready.wait(), READY_TIMEOUT)
            except TimeoutError:
                raise TransientConnectorError(
                    f"{self.name}: the connector process is not running"
                ) from None
        tag = next(self._tags)
        fut: asyncio.Future[Sequence[SubmitResult]] = (
            asyncio.get_running_loop().create_future()
        )
        self._submits[tag] = (fut, [m.id for m in messages])
        self._outbox.put("s", [tag, [wire.message_to_wire(m) for m in messages]])
        try:
            return await fut
        finally:
            self._submits.pop(tag, None)

    async def resume(self, messages: Sequence[Message]) -> None:
        if not self._ready.is_set() or not messages:
            return
        tag = next(self._tags)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._resumes[tag] = done
        self._outbox.put("q", [tag, [wire.message_to_wire(m) for m in messages]])
        try:
            await done
        finally:
            self._resumes.pop(tag, None)


def _lost_result(message_id: int) -> SubmitResult:
    return SubmitResult(
        message_id=message_id,
        outcome=Outcome.RETRY,
        code=ResultCode.CONNECTION_ERROR,
        detail="the connector process ended before it answered",
    )
