"""Webhooks: every report is POSTed to its client's report URL until the client
answers ``OK`` (apigw spec §11).

Theory of operation
-------------------
Reports are written with ``webhook_state = pending`` in the same transaction that makes
their message final, so none can be lost between the two. The notifier claims due
ones in batches (moving their ``next_at`` forward by a lease, so a node that dies while
sending leaves them to be claimed again after it), POSTs them concurrently on one
pooled HTTP client (a client's reports up to ``reports_per_post`` to a POST, as a
JSON array, when several are due at once), and records each result: ``done`` on
HTTP 200 with body ``OK``; otherwise the attempt count rises and the next try is
``retry_interval`` later, until ``1 + max_retries`` attempts were made
(``failed``). Because all of it lives in the store, retries go on after a restart.
Each request carries
``X-Umsgate-Signature: t=<unix time>,v1=<hex HMAC-SHA256>`` (see docs/api.md), with
a second ``v1=`` by the previous key while a rotated key's grace period lasts.

A report of a compatible face's message (its row names the face) goes to the row's
own target URL instead, unsigned, in the face's content type, and is judged and
retried by the face's `PushRule` (`umsgate.reports.faces`).

Every URL is called under the outbound URL policy (`umsgate.targets`,
``webhook.allow_private_targets``). A URL the policy refuses (its scheme, or an
address its host resolves to) fails that delivery at once, without retries:
``webhook_state = failed`` with the reason in ``last_error``. Retrying would only
repeat the refusal 100 times over hours; the report stays available to the report
check, and a URL corrected afterwards serves the reports that come after. A name
that cannot be resolved is an ordinary failed attempt, retried.

Each try also becomes an event of its message's timeline (``WEBHOOK``, with the
attempt number and the answer, see `umsgate.store.lookup`), written in the same
batch as the results: the tries cost no transaction of their own. Failed tries are
counted per client and logged once a minute per client (`FailureLog`), not once per
report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from umsgate import __version__, targets
from umsgate.clients import Directory
from umsgate.clock import Clock
from umsgate.config import WebhookSettings
from umsgate.errors import TargetRefused
from umsgate.reports.faces import PushRule
from umsgate.reports.http11 import Http11Client, RequestError
from umsgate.store import lookup
from umsgate.store import reports as report_store
from umsgate.store.database import Database
from umsgate.store.reports import WebhookDue, WebhookResult
from umsgate.store.transactions import transaction

log = logging.getLogger("umsgate.reports.notifier")

SIGNATURE_HEADER = "X-Umsgate-Signature"
REPORT_PATH = "/v1/message/report"
#: Results are written when this many are waiting, or every FLUSH_EVERY seconds.
FLUSH_AT = 200
FLUSH_EVERY = 0.1
#: Longest idle wait between claims, and the shortest (so no round spins).
IDLE_WAIT = 1.0
MIN_WAIT = 0.01
#: How long the next due time read from the store is used again. Under load the
#: loop idles after nearly every round, and the read was 3.5 % of the gateway
#: loop's time on `bench/e2e.py`; what makes it stale sooner (a retry written) drops
#: it, and new reports wake the loop whatever it says.
DUE_REUSE = 0.25
#: Failing webhooks are logged once per client in this many seconds, with the
#: number of failed tries since its last line (a receiver that is down would
#: otherwise log a line per report and retry).
FAILURE_LOG_EVERY = 60.0


class FailureLog:
    """Failed webhook tries, counted per client and logged as one line per client at
    most every ``every`` seconds (the first failure at once)."""

    def __init__(self, every: float = FAILURE_LOG_EVERY) -> None:
        self._every = every
        #: client → (failed tries, given up, last error) since its last line.
        self._counts: dict[str, tuple[int, int, str]] = {}
        self._logged: dict[str, float] = {}

    def failed(self, client_id: str, error: str, *, given_up: bool) -> None:
        tries, gave_up, _ = self._counts.get(client_id, (0, 0, ""))
        self._counts[client_id] = (tries + 1, gave_up + int(given_up), error)

    def lines(self, now: float) -> list[tuple[str, int, int, str]]:
        """(client, failed tries, given up, last error) of the clients whose line is
        due, forgetting their counts."""
        due = []
        for client_id, (tries, gave_up, error) in list(self._counts.items()):
            last = self._logged.get(client_id)
            if last is not None and now - last < self._every:
                continue
            due.append((client_id, tries, gave_up, error))
            del self._counts[client_id]
            self._logged[client_id] = now
        return due

    def emit(self, now: float) -> None:
        for client_id, tries, gave_up, error in self.lines(now):
            log.warning(
                "webhooks of client %s failing: %d failed tries, %d given up; last: %s",
                client_id,
                tries,
                gave_up,
                error,
                extra={
                    "event": "webhook_failing",
                    "client_id": client_id,
                    "failed": tries,
                    "given_up": gave_up,
                },
            )


def _no_report_url(row: WebhookDue) -> WebhookResult:
    """The result of a native report whose client has no report URL: nothing is
    pushed, and the report stays available to the report check."""
    return WebhookResult(
        id=row.id,
        state="none",
        attempts=row.attempts,
        next_at=0.0,
        error="client has no report URL",
    )


def _tried(
    row: WebhookDue,
    attempts: int,
    now: float,
    state: str,
    next_at: float,
    error: str,
    outcome: str,
) -> WebhookResult:
    """The result of a try that was sent and answered (or not) by its target."""
    return WebhookResult(
        id=row.id,
        state=state,
        attempts=attempts,
        next_at=next_at,
        error=error,
        client=row.client_id,
        attempt=lookup.webhook_event(row.message_id, now, attempts, outcome),
    )


def target_url(report_url: str) -> str:
    """The report URL itself when it has a path, else + ``/v1/message/report``
    (apigw spec §11 resolution)."""
    path = urlsplit(report_url).path
    if path and path != "/":
        return report_url
    return report_url.rstrip("/") + REPORT_PATH


class Notifier:
    def __init__(
        self,
        db: Database,
        *,
        directory: Directory,
        settings: WebhookSettings,
        clock: Clock,
        on_result: Callable[[bool], None] | None = None,
        faces: Mapping[str, PushRule] | None = None,
        resolver: targets.Resolver = targets.system_resolver,
    ) -> None:
        """Args:
        faces: how each compatible face's reports are pushed, by face name.
        resolver: how target hosts are resolved (`umsgate.targets`).
        """
        self._db = db
        self._policy = targets.Policy(
            allow_private=settings.allow_private_targets, resolver=resolver
        )
        self._directory = directory
        # Webhooks have a client of their own (`umsgate.reports.http11`), not the
        # connectors' httpx: a POST per final status made the HTTP client the
        # largest cost of a delivered message (httpx ~3,100 µs of CPU per POST at
        # 64 connections, aiohttp ~170 µs). Created in start(), on the loop.
        self._http: Http11Client | None = None
        self._settings = settings
        self._time = clock.time
        self._on_result = on_result
        self._faces = dict(faces or {})
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._limit = asyncio.Semaphore(settings.concurrency)
        self._room = asyncio.Event()
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._results: list[WebhookResult] = []
        self._flushed = asyncio.Event()
        #: When the next due time was read, and what it was.
        self._due: tuple[float, float | None] | None = None
        self.failures = FailureLog()

    def wake(self, _message_id: int = 0) -> None:
        self._wake.set()

    @property
    def policy(self) -> targets.Policy:
        """The outbound URL policy its requests follow."""
        return self._policy

    @policy.setter
    def policy(self, policy: targets.Policy) -> None:
        self._policy = policy
        if self._http is not None:
            self._http.policy = policy

    def start(self) -> None:
        self._http = Http11Client(
            user_agent=f"umsgate/{__version__}", policy=self._policy
        )
        self._task = asyncio.create_task(self._run(), name="notifier")

    async def stop(self) -> None:
        """Let the loop end by itself (a task cancelled inside a store transaction
        could leave SQLite's write lock taken), cancelling it only if it does not
        end within the webhook timeout."""
        self._stopping = True
        self._wake.set()
        self._room.set()
        try:
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=self._settings.timeout + 1)
            if self._task is not None:
                done, _ = await asyncio.wait(
                    {self._task}, timeout=self._settings.timeout + 5
                )
                if not done:
                    self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        finally:
            if self._http is not None:
                await self._http.close()

    async def _run(self) -> None:
        flusher = asyncio.create_task(self._flush_loop(), name="notifier-flush")
        try:
            while not self._stopping:
                try:
                    claimed = await self.deliver_once()
                except Exception:
                    log.exception(
                        "webhook round failed", extra={"event": "webhook_error"}
                    )
                    claimed = 0
                    await asyncio.sleep(1.0)
                if claimed:
                    continue
                self._wake.clear()
                # Read first: the wait's coroutine must not exist while this awaits
                # (a cancel here would leave it never awaited).
                timeout = await self._idle_wait()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await self._flush()

    async def _idle_wait(self) -> float:
        """Seconds until the next webhook is due, at most IDLE_WAIT (so a retry
        interval shorter than the idle wait is kept)."""
        now = self._time()
        if self._due is not None and now - self._due[0] < DUE_REUSE:
            due = self._due[1]
        else:
            try:
                due = await report_store.next_webhook_at(self._db)
            except Exception:
                log.exception(
                    "reading the next webhook time failed",
                    extra={"event": "webhook_error"},
                )
                return IDLE_WAIT
            self._due = (now, due)
        if due is None:
            return IDLE_WAIT
        return min(IDLE_WAIT, max(MIN_WAIT, due - self._time()))

    async def deliver_once(self) -> int:
        """Claim one batch of due webhooks and start sending them; the number claimed.

        Deliveries run as tasks (at most ``concurrency`` requests at once, twice that
        claimed), so one slow receiver never holds up the others; results are written
        in batches by the flusher.
        """
        room = self._settings.concurrency * 2 - self._in_flight
        if room <= 0:
            self._room.clear()
            await self._room.wait()
            return 1
        now = self._time()
        lease = now + self._settings.timeout * 3 + 5
        per_post = self._settings.reports_per_post
        async with transaction(self._db) as tx:
            rows = await report_store.claim_webhooks(
                tx, now, lease, min(room * per_post, self._settings.batch_size)
            )
        has_url: dict[str, bool] = {}
        #: Native reports by client, sent ``per_post`` to a request.
        native: dict[str, list[WebhookDue]] = {}
        for claimed in rows:
            if claimed.face:
                if claimed.face not in self._faces or not claimed.target_url:
                    self._results.append(
                        WebhookResult(
                            id=claimed.id,
                            state="none",
                            attempts=claimed.attempts,
                            next_at=0.0,
                            error=f"nothing to push for face {claimed.face!r}",
                        )
                    )
                    continue
                self._start([claimed])
                continue
            client_id = claimed.client_id
            if client_id not in has_url:
                client = await self._directory.client(client_id)
                has_url[client_id] = bool(client and client.report_url)
            if not has_url[client_id]:
                # Nothing to push: the report stays available to the report check.
                self._results.append(_no_report_url(claimed))
                continue
            native.setdefault(client_id, []).append(claimed)
        for reports in native.values():
            for start in range(0, len(reports), per_post):
                self._start(reports[start : start + per_post])
        if len(self._results) >= FLUSH_AT:
            self._flushed.set()
        return len(rows)

    def _start(self, rows: list[WebhookDue]) -> None:
        """One POST's task: a face's report, or native reports of one client."""
        self._in_flight += 1
        task = asyncio.create_task(self._deliver_and_keep(rows))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_and_keep(self, rows: list[WebhookDue]) -> None:
        try:
            if rows[0].face:
                results = [await self._deliver_face(rows[0], self._faces[rows[0].face])]
            else:
                results = await self._deliver(rows)
        except Exception as exc:  # a bug must not lose the delivery: try it again later
            log.exception("webhook delivery crashed", extra={"event": "webhook_error"})
            results = [
                WebhookResult(
                    id=row.id,
                    state="pending",
                    attempts=row.attempts,
                    next_at=self._time() + self._settings.retry_interval,
                    error=repr(exc)[:300],
                )
                for row in rows
            ]
        finally:
            self._in_flight -= 1
            self._room.set()
        self._results.extend(results)
        if len(self._results) >= FLUSH_AT:
            self._flushed.set()

    async def _flush_loop(self) -> None:
        while True:
            self._flushed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flushed.wait(), timeout=FLUSH_EVERY)
            try:
                await self._flush()
            except Exception:
                log.exception(
                    "recording webhook results failed", extra={"event": "webhook_error"}
                )
                await asyncio.sleep(1.0)

    async def _flush(self) -> None:
        if not self._results:
            return
        batch, self._results = self._results, []
        try:
            async with transaction(self._db) as tx:
                await report_store.webhook_results(tx, batch)
        except Exception:
            self._results[:0] = batch
            raise
        for r in batch:
            if (
                r.attempt is not None
                and r.client is not None
                and r.state in ("pending", "failed")
            ):
                self.failures.failed(r.client, r.error, given_up=r.state == "failed")
        self.failures.emit(self._time())
        if any(r.state == "pending" for r in batch):
            self._due = None  # a retry is due: the idle wait may now be shorter
            self._wake.set()

    @property
    def busy(self) -> bool:
        return bool(self._in_flight or self._results)

    async def _deliver(self, rows: list[WebhookDue]) -> list[WebhookResult]:
        """One POST of one client's native reports: the report's own object, or a
        JSON array of several (apigw spec §11: receivers accept both). The answer
        decides for all of them; each keeps its own count of attempts."""
        client = await self._directory.client(rows[0].client_id)
        if client is None or not client.report_url:
            return [_no_report_url(row) for row in rows]
        if len(rows) == 1:
            body = rows[0].body.encode()
        else:
            body = ("[" + ",".join(row.body for row in rows) + "]").encode()
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            SIGNATURE_HEADER: client.signature(int(time.time()), body),
        }
        async with self._limit:
            try:
                status, answer, error = await self._post(
                    target_url(client.report_url), body, headers, self._settings.timeout
                )
            except TargetRefused as exc:
                if self._on_result is not None:
                    for _ in rows:
                        self._on_result(False)
                return [self._refused(row, exc, "report URL") for row in rows]
        ok = status == 200 and answer.strip() == b"OK"
        if self._on_result is not None:
            for _ in rows:
                self._on_result(ok)
        if ok:
            now = self._time()
            return [
                WebhookResult(
                    id=row.id,
                    state="done",
                    attempts=int(row.attempts) + 1,
                    next_at=now,
                    error="",
                    attempt=lookup.webhook_event(
                        row.message_id, now, int(row.attempts) + 1, "OK (HTTP 200)"
                    ),
                )
                for row in rows
            ]
        error = error or f"HTTP {status}: {answer[:100]!r}"
        return [self._failed_attempt(row, error) for row in rows]

    def _failed_attempt(self, row: WebhookDue, error: str) -> WebhookResult:
        """The result of an attempt at a native report that was not answered OK:
        retried later, or given up after ``1 + max_retries`` attempts."""
        attempts = int(row.attempts) + 1
        now = self._time()
        if attempts >= 1 + self._settings.max_retries:
            state, next_at, outcome = "failed", now, f"{error}; given up"
        else:
            next_at = now + self._settings.retry_interval
            state, outcome = "pending", f"{error}; next try in {next_at - now:g} s"
        return _tried(row, attempts, now, state, next_at, error, outcome)

    async def _post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> tuple[int, bytes, str]:
        """POST ``body``; (status, the answer's first `MAX_ANSWER_BYTES`, error text
        when there was no answer). Never raises for a network failure.

        Raises:
            TargetRefused: the outbound URL policy refused the URL (nothing sent).
        """
        assert self._http is not None, "the notifier was not started"
        try:
            status, answer = await self._http.post(url, body, headers, timeout)
        except TimeoutError:
            return 0, b"", f"no answer within {timeout:g} s"
        except RequestError as exc:
            return 0, b"", str(exc)[:300]
        return status, answer, ""

    def _refused(self, row: WebhookDue, exc: TargetRefused, what: str) -> WebhookResult:
        """The result of a delivery the outbound URL policy refused: failed at
        once (see the module docstring)."""
        log.warning(
            "%s refused: %s",
            what,
            exc.message,
            extra={"event": "webhook_refused", "message_id": row.id},
        )
        attempts, now = int(row.attempts) + 1, self._time()
        return WebhookResult(
            id=row.id,
            state="failed",
            attempts=attempts,
            next_at=now,
            error=f"refused: {exc.message}"[:300],
            attempt=lookup.webhook_event(
                row.message_id, now, attempts, f"{what} refused: {exc.message}"
            ),
        )

    async def _deliver_face(self, row: WebhookDue, rule: PushRule) -> WebhookResult:
        """One attempt at a face's report, judged and scheduled by its rule. The
        answer is read no further than `MAX_ANSWER_BYTES`, within the rule's
        timeout (the target is the face client's own URL)."""
        attempts = int(row.attempts) + 1
        async with self._limit:
            try:
                status, answer, error = await self._post(
                    row.target_url,
                    row.body.encode(),
                    {"Content-Type": rule.content_type},
                    rule.timeout,
                )
            except TargetRefused as exc:
                if self._on_result is not None:
                    self._on_result(False)
                return self._refused(row, exc, "callback URL")
        ok = not error and rule.accepts(status, answer)
        if not ok and not error:
            error = f"HTTP {status}: {answer[:100]!r}"
        if self._on_result is not None:
            self._on_result(ok)
        now = self._time()
        if ok:
            state, next_at, outcome = "done", now, f"OK (HTTP {status})"
        elif attempts >= rule.attempts:
            state, next_at, outcome = "failed", now, f"{error}; given up"
        else:
            next_at = now + rule.interval
            state, outcome = "pending", f"{error}; next try in {next_at - now:g} s"
        return _tried(row, attempts, now, state, next_at, error, outcome)
