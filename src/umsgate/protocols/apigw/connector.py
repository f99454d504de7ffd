"""The API-Gateway upstream connector: another gateway that speaks seed 002 (another
umsgate, or Standard Networks' own) as a provider. Bodies are built and read by
`upstream`; this module does the talking.

Theory of operation
-------------------
*Token.* Every call carries a Bearer token from ``POST /v1/auth/token``. It is
cached and renewed 5 minutes before its ``expiresIn`` (half its lifetime when that is
shorter), and once on any 401, after which the call is made again (apigw spec §14).
The token answer's ``service`` TPS paces each channel key.

*Sending.* One JSON request per message; ``srcMsgId`` is the gateway's message id,
so a resend after a crash, a timeout or a garbled answer is answered with the first
``umsMsgId`` and sends nothing twice (spec resolution 32). Hence every answer that
is not a refusal is safely RETRY: connection errors, timeouts, 5xx, unreadable
answers, and 429/42900, which also slows the channel (`RateLimiter`) and asks for at
least 1 s, doubling while 429s continue (spec §14 "Connector on 429"). A refusal
(another 4xx) is REJECTED with its raw code (`upstream.SEND_REFUSALS`). 40017
("srcMsgId reused") can only mean an earlier attempt of this very message was taken:
it is ACCEPTED and waits for its report.

*Files.* An MMS's images are uploaded first (``context.files.load``) and their
upstream ``fileId``\\ s reused until an hour before their ``expireTime``; 41000
("already registered") is success. A 40016 answer drops the cached ids and the
message is tried once more with fresh uploads.

*Reports.* The upstream pushes each report to ``webhook_path`` (registered with the
gateway; the upstream account's report URL must point there). The body is checked
against ``X-Umsgate-Signature`` when ``signing_secret`` (or, after the upstream
rotated the account's key, ``signing_key``) is set, each report is handed
to the sink, and ``OK`` is answered only after the sink returned. A message whose
report has not come ``check_after`` seconds after sending is asked for with the
report-check API, at most 1000 ids per request and one request per
``check_interval`` (spec §12: 30 s), again with doubling gaps; after
``report_timeout`` it is reported EXPIRED. `resume` puts SENT messages of an earlier
run back on that list. A pushed report answered with an error is counted in
``health()`` (``refused``).

A report may be pushed before the answer to its send has been read. The message is
then among those being sent, so the report names it (``ProviderReport.message_id``)
and the ledger applies it at once; the answer that follows finds it reported and
does not wait for, or check for, its report again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import hmac
import logging
import re
from collections.abc import Mapping, Sequence

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from umsgate import clients
from umsgate.config import ConnectorSettings
from umsgate.domain.message import Message
from umsgate.domain.results import ResultCode
from umsgate.errors import ConfigError, RemoteProtocolError
from umsgate.protocols._http.base import HttpConnector
from umsgate.protocols._http.exchange import (
    Answer,
    Failure,
    Limits,
    exchange,
    retry_after,
)
from umsgate.protocols._http.options import Options
from umsgate.protocols.apigw import codec, upstream
from umsgate.protocols.apigw.codes import Code
from umsgate.protocols.ratelimit import RateLimiter
from umsgate.protocols.registry import ConnectorContext
from umsgate.request_body import read_body
from umsgate.types import Outcome, ProviderReport, ReportSink, SubmitResult

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-umsgate-signature"
#: A webhook signing key as umsgate shows it: 32 bytes in hex.
SIGNING_KEY = re.compile(r"[0-9a-fA-F]{64}")
#: Answers of the token, upload and send calls are small JSON objects.
MAX_ANSWER = 64 * 1024
#: A report-check answer: up to 1000 reports of a few hundred bytes each.
MAX_CHECK_ANSWER = 4 * 1024 * 1024
#: A pushed body: one report object, or an array of them (spec §11).
MAX_WEBHOOK_BODY = 4 * 1024 * 1024
#: Spec §14: renew the token this long before it expires.
RENEW_BEFORE = 300.0
#: A refused token request is not repeated for this long (seconds), so that a batch
#: of messages does not make one each.
TOKEN_RETRY = 1.0
#: An uploaded file is uploaded again when it has less than this left (seconds).
FILE_MARGIN = 3600.0
#: Lifetime assumed for an uploaded file whose ``expireTime`` cannot be read.
FILE_LIFETIME_UNKNOWN = 86400.0
#: Upstream file ids remembered (our file id → theirs).
MAX_FILES_CACHED = 10_000
#: Longest a send waits for its slot under the pace before it is handed back RETRY.
MAX_PACE_WAIT = 10.0
#: Longest wait asked for after repeated 429s.
MAX_THROTTLE_WAIT = 60.0
#: Longest gap between two report checks of one message.
MAX_CHECK_GAP = 3600.0
#: Reported messages remembered, to answer repeated pushes without a second report.
MAX_REMEMBERED = 100_000


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    url: str
    client_id: str
    client_secret: str
    client_key: str
    defaults: upstream.Defaults = dataclasses.field(default_factory=upstream.Defaults)
    webhook_path: str
    #: The secret whose derived key signs pushed reports; None: not checked.
    signing_secret: str | None = None
    #: The upstream account's webhook signing key itself (hex), when the upstream
    #: rotated it (the key is then no longer derived from the secret).
    signing_key: str | None = None
    signature_tolerance: float = 300.0
    limits: Limits = dataclasses.field(
        default_factory=lambda: Limits(max_body=MAX_ANSWER)
    )
    concurrency: int = 16
    #: Our own cap on every channel's TPS (None: the account's ``service`` only).
    tps: float | None = None
    renew_before: float = RENEW_BEFORE
    report_check: bool = True
    check_interval: float = 30.0
    check_after: float = 60.0
    report_timeout: float = 90000.0


@dataclasses.dataclass(frozen=True, slots=True)
class _Token:
    value: str
    renew_at: float


@dataclasses.dataclass(slots=True, kw_only=True)
class _Pending:
    message_id: int
    ums_msg_id: str | None
    kind: str
    check_at: float
    deadline: float
    checks: int = 0


class ApiGatewayConnector(HttpConnector[Config]):
    """Implements `umsgate.types.Connector` for an upstream API-Gateway."""

    def __init__(self, name: str, config: Config, context: ConnectorContext) -> None:
        super().__init__(name, config, context)
        self._base = config.url.rstrip("/")
        self._token: _Token | None = None
        self._fetching: asyncio.Task[_Token | Failure] | None = None
        #: A refusal of our credentials, and until when it is believed.
        self._refused: tuple[Failure, float] | None = None
        #: Token requests made.
        self.token_requests = 0
        self._limiters: dict[str, RateLimiter] = {}
        self._pacing: dict[str, asyncio.Lock] = {}
        self._throttled = 0
        self._files: collections.OrderedDict[str, tuple[str, float]] = (
            collections.OrderedDict()
        )
        self._sending: set[int] = set()
        self._pending: dict[int, _Pending] = {}
        self._reported: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._reporting: set[str] = set()
        self._checker: asyncio.Task[None] | None = None
        self._check_pause = 0.0
        context.add_route(config.webhook_path, self.webhook, ["POST"])

    # ------------------------------------------------------------ lifecycle

    async def start(self, sink: ReportSink) -> None:
        self._sink = sink
        if self.config.report_check and self._checker is None:
            self._checker = asyncio.create_task(
                self._check_loop(), name=f"apigw {self.name} report check"
            )

    async def stop(self) -> None:
        for task in (self._checker, self._fetching):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._checker = self._fetching = None

    @property
    def awaited(self) -> int:
        """Messages whose report is awaited."""
        return len(self._pending)

    async def resume(self, messages: Sequence[Message]) -> None:
        """Await the reports of SENT messages of an earlier run again: by push, and
        by report check from the next round on."""
        now = self._context.clock.monotonic()
        wall = self._wall()
        for message in messages:
            left = message.due_at.timestamp() + self.config.report_timeout - wall
            self._track(message, message.provider_msg_id, check_at=now, left=left)

    def _wall(self) -> float:
        return self._context.clock.now().timestamp()

    # ------------------------------------------------------------ token

    async def _token_for(self, stale: _Token | None = None) -> _Token | Failure:
        """The token to use: a new one when none is held, the one held is due for
        renewal, or ``stale`` (just refused with 401) is still the one held. Callers
        that need a new one while it is being fetched share that request."""
        now = self._context.clock.monotonic()
        held = self._token
        if held is not None and held is not stale and now < held.renew_at:
            return held
        if self._refused is not None and now < self._refused[1]:
            return self._refused[0]
        if self._fetching is None:
            self._fetching = asyncio.create_task(self._renew())
        return await asyncio.shield(self._fetching)

    async def _renew(self) -> _Token | Failure:
        try:
            fetched = await self._fetch_token()
        finally:
            self._fetching = None
        if isinstance(fetched, Failure):
            self._meter.failed(fetched.detail)
            if fetched.code is ResultCode.AUTH_FAILED:
                self._refused = (fetched, self._context.clock.monotonic() + TOKEN_RETRY)
            return fetched
        self._token, self._refused = fetched, None
        return fetched

    async def _fetch_token(self) -> _Token | Failure:
        self.token_requests += 1
        result = await exchange(
            self._context.http,
            "POST",
            self._base + upstream.TOKEN_PATH,
            limits=self.config.limits,
            content=upstream.token_request(
                self.config.client_id, self.config.client_secret, self.config.client_key
            ),
            headers={"content-type": upstream.JSON_TYPE, "accept": "application/json"},
        )
        if isinstance(result, Failure):
            return dataclasses.replace(result, detail=f"token: {result.detail}")
        if result.status == 429 or result.status >= 500:
            return Failure(
                code=ResultCode.THROTTLED
                if result.status == 429
                else ResultCode.PROVIDER_ERROR,
                detail=f"token: HTTP {result.status}",
                reached=True,
                retry_after=retry_after(result.headers),
            )
        if result.status != 200:
            doc = upstream.json_object(result.body) or {}
            logger.error(
                "the upstream refused the credentials",
                extra={"event": "apigw_token_refused", "route": self.name},
            )
            return Failure(
                code=ResultCode.AUTH_FAILED,
                detail=f"token refused: HTTP {result.status} "
                f"{doc.get('error_description', '')}".strip(),
                reached=True,
            )
        try:
            answer = upstream.parse_token(result.body)
        except RemoteProtocolError as exc:
            return Failure(
                code=ResultCode.PROVIDER_ERROR, detail=f"token: {exc}", reached=True
            )
        lifetime = max(0.0, answer.expires_at - self._wall())
        early = min(self.config.renew_before, lifetime / 2)
        self._pace_at(answer.service)
        return _Token(
            value=answer.token,
            renew_at=self._context.clock.monotonic() + max(1.0, lifetime - early),
        )

    def _pace_at(self, service: Mapping[str, float]) -> None:
        for key in ("SMS", "MMS", "RCS", "KKO"):
            caps = [v for v in (service.get(key), self.config.tps) if v is not None]
            tps = min(caps) if caps else None
            limiter = self._limiters.get(key)
            if limiter is None or limiter.configured != tps:
                self._limiters[key] = RateLimiter(tps)

    async def _call(
        self,
        path: str,
        content: bytes,
        content_type: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_body: int = MAX_ANSWER,
    ) -> Answer | Failure:
        """One authenticated POST; after a 401 the token is renewed and the call is
        made once more."""
        token = await self._token_for()
        for attempt in (1, 2):
            if isinstance(token, Failure):
                return token
            result = await exchange(
                self._context.http,
                "POST",
                self._base + path,
                limits=dataclasses.replace(self.config.limits, max_body=max_body),
                content=content,
                headers={
                    **(headers or {}),
                    "authorization": f"Bearer {token.value}",
                    "content-type": content_type,
                    "accept": "application/json",
                },
            )
            if isinstance(result, Answer) and result.status == 401 and attempt == 1:
                token = await self._token_for(stale=token)
                continue
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------ sending

    async def _submit_one(self, message: Message) -> SubmitResult:
        async with self._request_slot():
            self._sending.add(message.id)
            try:
                result = await self._send(message, fresh_files=False)
                if result.raw_code == Code.BAD_FILE and message.file_ids:
                    result = await self._send(message, fresh_files=True)
            finally:
                self._sending.discard(message.id)
        return result

    def _result(
        self,
        message: Message,
        outcome: Outcome,
        code: ResultCode | None,
        detail: str = "",
        *,
        raw_code: str | None = None,
        provider_msg_id: str | None = None,
        retry_after: float | None = None,
    ) -> SubmitResult:
        return SubmitResult(
            message_id=message.id,
            outcome=outcome,
            code=code,
            detail=detail,
            raw_code=raw_code,
            provider_msg_id=provider_msg_id,
            retry_after=retry_after,
        )

    async def _send(self, message: Message, *, fresh_files: bool) -> SubmitResult:
        try:
            upstream.send_request(message, (), self.config.defaults)
        except upstream.Unsendable as exc:
            return self._result(message, Outcome.REJECTED, exc.code, exc.detail)
        file_ids: list[str] = []
        for file_id in message.file_ids:
            uploaded = await self._upload(message, file_id, fresh=fresh_files)
            if isinstance(uploaded, SubmitResult):
                return uploaded
            file_ids.append(uploaded)
        path, headers, body = upstream.send_request(
            message, file_ids, self.config.defaults
        )
        token = await self._token_for()  # before pacing: it brings the account's TPS
        if isinstance(token, Failure):
            return self._judge(message, token)
        later = await self._pace(message.channel.tps_key)
        if later is not None:
            return self._result(
                message,
                Outcome.RETRY,
                ResultCode.THROTTLED,
                "paced below the upstream's TPS",
                retry_after=later,
            )
        answer = await self._call(path, body, upstream.JSON_TYPE, headers=headers)
        return self._judge(message, answer)

    async def _pace(self, key: str) -> float | None:
        """Wait for a send slot of the channel key ``key``; None when it came, or
        the seconds to come back after when it is more than `MAX_PACE_WAIT` away.

        Sends of one key take their slots one at a time, so a slot is never taken
        for a send that is then handed back (which would push every later slot
        further away); what waits too long in the line leaves it without one."""
        limiter = self._limiters.get(key)
        if limiter is None:
            return None
        line = self._pacing.setdefault(key, asyncio.Lock())
        entered = self._context.clock.monotonic()
        async with line:
            now = self._context.clock.monotonic()
            if now - entered > MAX_PACE_WAIT:
                return now - entered
            wait = limiter.reserve(now)
            if wait > MAX_PACE_WAIT:  # a rate below 1/10 per second
                return wait
            if wait > 0:
                await asyncio.sleep(wait)
        return None

    def _throttle(self, message: Message, answer: Answer, raw: str) -> SubmitResult:
        self._throttled += 1
        limiter = self._limiters.get(message.channel.tps_key)
        if limiter is not None:
            limiter.throttled(self._context.clock.monotonic())
        wait = min(MAX_THROTTLE_WAIT, 2.0 ** (self._throttled - 1))
        return self._result(
            message,
            Outcome.RETRY,
            ResultCode.THROTTLED,
            f"HTTP {answer.status} {raw}: the upstream asks to slow down",
            raw_code=raw,
            retry_after=max(1.0, wait, retry_after(answer.headers) or 0.0),
        )

    def _judge(self, message: Message, answer: Answer | Failure) -> SubmitResult:
        if isinstance(answer, Failure):
            if answer.code is not ResultCode.THROTTLED:
                self._meter.failed(answer.detail)
            return self._result(
                message,
                Outcome.RETRY,
                answer.code,
                answer.detail,
                retry_after=answer.retry_after,
            )
        doc = upstream.json_object(answer.body) or {}
        raw = str(doc.get("resultCode", ""))
        detail = str(doc.get("resultMessage", ""))
        if answer.status == 429 or raw == Code.TPS_EXCEEDED:
            return self._throttle(message, answer, raw or Code.TPS_EXCEEDED)
        self._throttled = 0
        ums = doc.get("umsMsgId")
        if answer.status == 200 and raw == Code.OK and isinstance(ums, str) and ums:
            self._meter.succeeded()
            self._track(message, ums)
            return self._result(
                message, Outcome.ACCEPTED, None, raw_code=raw, provider_msg_id=ums
            )
        if answer.status == 401:
            self._meter.failed("HTTP 401 to a fresh token")
            return self._result(
                message,
                Outcome.RETRY,
                ResultCode.AUTH_FAILED,
                "the upstream refused a fresh token",
                raw_code=raw or "HTTP 401",
            )
        if 400 <= answer.status < 500:
            self._meter.succeeded()
            if raw == Code.ID_REUSED:
                # srcMsgId is our message id: only an earlier attempt can have used it.
                self._track(message, None)
                return self._result(
                    message,
                    Outcome.ACCEPTED,
                    None,
                    "taken by an earlier attempt; waiting for its report",
                    raw_code=raw,
                )
            return self._result(
                message,
                Outcome.REJECTED,
                upstream.refusal_code(raw),
                detail or "refused without a resultMessage",
                raw_code=raw or f"HTTP {answer.status}",
            )
        why = f"HTTP {answer.status} {raw}".strip()
        if answer.status == 200:
            why = f"HTTP 200 without an accepted answer ({raw or 'unreadable'})"
        self._meter.failed(why)
        return self._result(
            message,
            Outcome.RETRY,
            ResultCode.PROVIDER_ERROR,
            why,
            raw_code=raw or None,
            retry_after=retry_after(answer.headers) if answer.status == 503 else None,
        )

    async def _upload(
        self, message: Message, file_id: str, *, fresh: bool
    ) -> str | SubmitResult:
        """The upstream id of one of our files, uploaded first when needed."""
        cached = self._files.get(file_id)
        if cached is not None and not fresh and cached[1] - self._wall() > FILE_MARGIN:
            return cached[0]
        try:
            name, data = await self._context.files.load(file_id)
        except KeyError:
            return self._result(
                message,
                Outcome.REJECTED,
                ResultCode.CONTENT_REJECTED,
                f"file {file_id} is no longer stored",
            )
        content, content_type = upstream.upload_request(name, data)
        answer = await self._call(upstream.UPLOAD_PATH, content, content_type)
        registered = (
            upstream.parse_upload(answer.body) if isinstance(answer, Answer) else None
        )
        if registered is not None:
            up_id, expires = registered
            self._files[file_id] = (
                up_id,
                expires or self._wall() + FILE_LIFETIME_UNKNOWN,
            )
            self._files.move_to_end(file_id)
            while len(self._files) > MAX_FILES_CACHED:
                self._files.popitem(last=False)
            return up_id
        result = self._judge(message, answer)
        if result.outcome is Outcome.ACCEPTED:  # a send's answer to an upload
            result = self._result(
                message, Outcome.RETRY, ResultCode.PROVIDER_ERROR, "no fileId"
            )
        return dataclasses.replace(result, detail=f"upload: {result.detail}")

    # ------------------------------------------------------------ reports

    def _track(
        self,
        message: Message,
        ums_msg_id: str | None,
        *,
        check_at: float | None = None,
        left: float | None = None,
    ) -> None:
        if self._key(ums_msg_id, message.id) in self._reported:
            # Its report was pushed before the answer to its send was read.
            return
        now = self._context.clock.monotonic()
        self._pending[message.id] = _Pending(
            message_id=message.id,
            ums_msg_id=ums_msg_id,
            kind=upstream.CHECK_KINDS[message.channel],
            check_at=now + self.config.check_after if check_at is None else check_at,
            deadline=now + (self.config.report_timeout if left is None else left),
        )

    @staticmethod
    def _key(ums_msg_id: str | None, message_id: int | None) -> str:
        """What repeats of one report share: the upstream's id, which every report
        carries (spec §11), else ours (a message taken by an earlier attempt)."""
        return f"u{ums_msg_id}" if ums_msg_id else f"m{message_id}"

    def _report(self, fields: upstream.ReportFields) -> tuple[str, ProviderReport]:
        """(key against repeats, report) of a report object."""
        src = fields.src_msg_id
        ours = int(src) if src.isdigit() and len(src) <= 19 else None
        # Name the message by our id only when we know it is one of ours; otherwise
        # the store matches the upstream's id to what this connector recorded.
        known = ours is not None and (ours in self._pending or ours in self._sending)
        ums = fields.ums_msg_id or None
        message_id = ours if known or ums is None else None
        report = ProviderReport(
            connector=self.name,
            code=upstream.report_code(fields.result_code),
            message_id=message_id,
            provider_msg_id=ums,
            raw_code=fields.result_code,
            detail=fields.result_message,
            carrier=fields.carrier,
            done_at=fields.done_at or self._context.clock.now(),
        )
        return self._key(ums, message_id), report

    async def _deliver(self, key: str, report: ProviderReport) -> bool:
        """Hand ``report`` to the sink unless ``key`` was (or is being) reported;
        whether it was handed now. Sink errors propagate."""
        if key in self._reported:
            self._forget(report)  # e.g. a resend after its report: nothing to await
            return False
        if key in self._reporting or self._sink is None:
            return False
        self._reporting.add(key)
        try:
            await self._sink.report(report)
        finally:
            self._reporting.discard(key)
        self._reported[key] = None
        while len(self._reported) > MAX_REMEMBERED:
            self._reported.popitem(last=False)
        self._forget(report)
        return True

    def _forget(self, report: ProviderReport) -> None:
        if report.message_id is not None:
            self._pending.pop(report.message_id, None)
            return
        for pending in list(self._pending.values()):
            if pending.ums_msg_id == report.provider_msg_id:
                del self._pending[pending.message_id]

    async def webhook(self, request: Request) -> Response:
        """The gateway endpoint the upstream pushes reports to (spec §11)."""
        body = await read_body(request, MAX_WEBHOOK_BODY)
        if body is None:
            return self._refuse("report too large", 413)
        key = self.config.signing_key
        if key is None and self.config.signing_secret is not None:
            key = clients.signing_key(self.config.signing_secret)
        if key is not None and not key_signature_ok(
            key,
            request.headers.get(SIGNATURE_HEADER, ""),
            body,
            now=self._wall(),
            tolerance=self.config.signature_tolerance,
        ):
            return self._refuse("bad or missing signature", 401)
        reports = upstream.parse_reports(body)
        if not reports:
            return self._refuse("not a report object", 400)
        if self._sink is None:
            return self._refuse("not ready", 503)
        try:
            for fields in reports:
                await self._deliver(*self._report(fields))
        except Exception:
            logger.exception(
                "report not recorded",
                extra={"event": "apigw_report_failed", "route": self.name},
            )
            return self._refuse("report not recorded", 500)
        return PlainTextResponse("OK")

    def _refuse(self, why: str, status: int) -> Response:
        """Answer a pushed report with an error (counted in ``health().refused``)."""
        self._meter.refused_report(f"pushed report: {why}")
        return PlainTextResponse(why, status_code=status)

    # ------------------------------------------------------------ report check

    async def _check_loop(self) -> None:
        while True:
            await asyncio.sleep(max(self.config.check_interval, self._check_pause))
            self._check_pause = 0.0
            try:
                await self.check_once()
            except Exception:
                logger.exception(
                    "report check failed",
                    extra={"event": "apigw_check_failed", "route": self.name},
                )

    async def check_once(self) -> int:
        """Expire what waited too long, then ask for the reports of the most overdue
        messages of one kind (one request); the number of reports recorded."""
        now = self._context.clock.monotonic()
        done = 0
        for pending in [p for p in self._pending.values() if p.deadline <= now]:
            done += await self._deliver(
                self._key(pending.ums_msg_id, pending.message_id),
                ProviderReport(
                    connector=self.name,
                    code=ResultCode.EXPIRED,
                    message_id=pending.message_id,
                    provider_msg_id=pending.ums_msg_id,
                    detail=f"no report within {self.config.report_timeout:g} s",
                    done_at=self._context.clock.now(),
                ),
            )
        due = sorted(
            (p for p in self._pending.values() if p.ums_msg_id and p.check_at <= now),
            key=lambda p: p.check_at,
        )
        if not due:
            return done
        kind = due[0].kind
        batch = [p for p in due if p.kind == kind][: upstream.MAX_CHECK_IDS]
        path, body = upstream.check_request(kind, [p.ums_msg_id or "" for p in batch])
        answer = await self._call(
            path, body, upstream.JSON_TYPE, max_body=MAX_CHECK_ANSWER
        )
        found: list[upstream.ReportFields] = []
        if isinstance(answer, Failure):
            self._meter.failed(f"report check: {answer.detail}")
            self._check_pause = answer.retry_after or 0.0
        elif answer.status != 200:
            if answer.status >= 500:
                self._meter.failed(f"report check: HTTP {answer.status}")
            self._check_pause = retry_after(answer.headers) or 0.0
        else:
            asked = {p.ums_msg_id for p in batch}
            found = [
                f
                for f in upstream.parse_reports(answer.body) or []
                if f.ums_msg_id in asked
            ]
        for fields in found:
            done += await self._deliver(*self._report(fields))
        for pending in batch:
            pending.checks += 1
            gap = self.config.check_after * 2.0**pending.checks
            pending.check_at = now + min(gap, MAX_CHECK_GAP)
        return done


def signature_ok(
    secret: str, header: str, body: bytes, *, now: float, tolerance: float
) -> bool:
    """`key_signature_ok` with the key derived from ``secret``."""
    return key_signature_ok(
        clients.signing_key(secret), header, body, now=now, tolerance=tolerance
    )


def key_signature_ok(
    key_hex: str, header: str, body: bytes, *, now: float, tolerance: float
) -> bool:
    """Whether ``X-Umsgate-Signature`` (``t=…,v1=…``) signs ``body`` with the
    signing key ``key_hex``, at most ``tolerance`` seconds from ``now``
    (docs/api.md, "Verifying the signature"). During a key rotation's grace period
    the header has a ``v1`` per key: any of them may match."""
    pairs = [p.strip().split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [value for name, value in pairs if name == "t"]
    stamp = stamps[0] if len(stamps) == 1 else ""
    if not stamp.isdigit() or abs(now - int(stamp)) > tolerance:
        return False
    expected = clients.sign(key_hex, int(stamp), body)
    return any(
        hmac.compare_digest(expected, f"t={stamp},v1={value}")
        for name, value in pairs
        if name == "v1"
    )


def build(
    settings: ConnectorSettings, context: ConnectorContext
) -> ApiGatewayConnector:
    """Build the connector from its ``[[connectors]]`` options
    (docs/protocols/apigw.md).

    Raises:
        ConfigError: naming the option that cannot be used.
    """
    where = f"connector {settings.name!r} (apigw)"
    options = Options(where, settings.options_with_limits("tps"))
    defaults = upstream.Defaults(
        origin_code=options.optional_string("origin_code"),
        bill_code=options.optional_string("bill_code"),
        agency_id=options.optional_string("agency_id"),
        agency_key=options.optional_string("agency_key"),
    )
    for key, value, limit in (
        ("origin_code", defaults.origin_code, codec.ORIGIN_CODE_MAX),
        ("bill_code", defaults.bill_code, codec.BILL_CODE_MAX),
        ("agency_id", defaults.agency_id, codec.KEY_MAX),
        ("agency_key", defaults.agency_key, codec.KEY_MAX),
    ):
        if value is not None and (
            len(value) > limit or not (value.isascii() and value.isprintable())
        ):
            raise ConfigError(
                f"{where}: option {key!r} must be 1-{limit} printable ASCII characters"
            )
    connect = options.number("connect_timeout", 10.0, minimum=0.001)
    total = options.number("timeout", 30.0, minimum=0.001)
    if connect > total:
        raise ConfigError(
            f"{where}: 'connect_timeout' {connect:g} > 'timeout' {total:g}"
        )
    tps = options.number("tps", 0.0)
    signing_secret = options.optional_string("signing_secret")
    signing_key = options.optional_string("signing_key")
    if signing_key is not None:
        if signing_secret is not None:
            raise ConfigError(
                f"{where}: give 'signing_secret' or 'signing_key', not both"
            )
        if not SIGNING_KEY.fullmatch(signing_key):
            raise ConfigError(
                f"{where}: option 'signing_key' must be 64 hex digits (the "
                "signingKey that `umsgate client rotate-webhook-key` printed)"
            )
    config = Config(
        url=options.url("url"),
        client_id=options.string("client_id"),
        client_secret=options.string("client_secret"),
        client_key=options.string("client_key"),
        defaults=defaults,
        webhook_path=options.path("webhook_path", f"/callbacks/apigw/{settings.name}"),
        signing_secret=signing_secret,
        signing_key=signing_key,
        signature_tolerance=options.number("signature_tolerance", 300.0, minimum=1.0),
        limits=Limits(connect=connect, total=total, max_body=MAX_ANSWER),
        concurrency=options.integer("concurrency", 16, minimum=1, maximum=1024),
        tps=tps or None,
        renew_before=options.number("renew_before", RENEW_BEFORE),
        report_check=options.boolean("report_check", True),
        check_interval=options.number("check_interval", 30.0, minimum=0.01),
        check_after=options.number("check_after", 60.0, minimum=0.01),
        report_timeout=options.number("report_timeout", 90000.0, minimum=0.01),
    )
    options.finish()
    return ApiGatewayConnector(settings.name, config, context)
