"""The ToBeText upstream connector: one form POST per SMS, the XML acknowledgement,
and the status callback on a gateway endpoint.

Theory of operation
-------------------
``submit`` posts each message with ``Ckey`` = the gateway's message id (so a callback
after a restart still names its message) and reads the acknowledgement:

* ErrorCode 200 → ACCEPTED with ``MsgId``; the message waits for its callback.
* another ErrorCode → REJECTED with the code kept raw (`codes.ACK_RESULTS`).
* no usable answer (refused or timed-out connection, 429/5xx or any status but 200,
  a body that is not the XML) → RETRY (spec §10.12). Repeating is safe: a repeated
  ``Ckey`` with the same parameters returns the first acknowledgement (spec §9). If
  the provider instead answers 2001 to a repeat of an attempt that may have been
  taken, the message is ACCEPTED without ``MsgId`` and waits for its callback.

The backup URL is used only when configured active, and then only for a request the
primary surely did not receive (connection refused or connect timeout): the two
hosts need not share their record of Ckeys, so anything else could send twice.

Callbacks arrive on ``callback_path`` (registered with the gateway at build time),
are matched by ``CKey`` and ``MsgId``, handed to the sink, and answered ``OK`` only
after the sink returned; repeats are answered ``OK`` without a second report. A
message whose callback does not come within ``report_timeout`` (spec §9: 2 h) is
reported EXPIRED, once. Every callback answered otherwise is counted in
``health()`` (``refused``).

A callback may come before the acknowledgement of its send has been read (the
provider calls back at once, or the answer is slow). It names its message by
``CKey`` (``ProviderReport.message_id``), or only by ``MsgId``, which the ledger
matches once the submit is recorded. Either way the acknowledgement that follows
finds the message reported and does not wait for its callback again.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from umsgate.config import ConnectorSettings
from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.errors import ConfigError
from umsgate.protocols._http.base import (
    HttpConnector,
    message_id_in,
    rejected,
    remember,
    retry,
)
from umsgate.protocols._http.exchange import (
    Answer,
    Failure,
    Limits,
    exchange,
    read_answer,
)
from umsgate.protocols._http.options import Options
from umsgate.protocols._http.schedule import Agenda, AgendaFull
from umsgate.protocols.registry import ConnectorContext
from umsgate.protocols.tobetext import codec, codes
from umsgate.types import Outcome, ProviderReport, SubmitResult

logger = logging.getLogger(__name__)

#: Spec §2: the TLS URL (the seed writes ``http://…:18443 (SSL)``, spec §10.1).
DEFAULT_URL = "https://api-dev.tbnws.com:18443/sms"
FORM_TYPE = "application/x-www-form-urlencoded; charset=UTF-8"
#: Callbacks remembered after they were reported, to answer repeats without a
#: second report (the provider retries up to 4 times, spec §9).
MAX_REMEMBERED = 100_000
#: Ckeys remembered whose attempt may have reached the provider unanswered.
MAX_UNCERTAIN = 100_000


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    cid: str
    token: str
    url: str = DEFAULT_URL
    backup_url: str | None = None
    #: Spec §10.3: the backup takes traffic only when the provider activated it.
    backup_active: bool = False
    #: Full URL given as ``callback``.
    callback_url: str
    #: Path of the gateway endpoint that receives callbacks.
    callback_path: str
    limits: Limits = dataclasses.field(default_factory=Limits)
    #: Sends in flight at once.
    concurrency: int = 16
    #: Seconds after a send without callback before the message is EXPIRED.
    report_timeout: float = 7200.0


@dataclasses.dataclass(slots=True, kw_only=True)
class _Pending:
    message_id: int
    msg_id: str | None


class ToBeTextConnector(HttpConnector[Config]):
    """Implements `umsgate.types.Connector` for ToBeText."""

    protocol = "tobetext"
    report_name = "callback"

    def __init__(self, name: str, config: Config, context: ConnectorContext) -> None:
        super().__init__(name, config, context)
        self._pending: dict[str, _Pending] = {}
        self._by_msg_id: dict[str, str] = {}
        self._reported: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._reporting: dict[str, asyncio.Future[None]] = {}
        self._uncertain: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._expiry: Agenda[str] = self._agenda(
            self._expire, concurrency=4, what="expiry"
        )
        context.add_route(config.callback_path, self.callback, ["POST", "GET"])

    # ------------------------------------------------------------ lifecycle

    @property
    def awaited(self) -> int:
        """Messages whose callback is awaited."""
        return len(self._pending)

    async def resume(self, messages: Sequence[Message]) -> None:
        """ToBeText has no query API: wait for the callbacks of these messages again,
        and expire them ``report_timeout`` from now."""
        for message in messages:
            self._track(str(message.id), message.id, message.provider_msg_id)

    # ------------------------------------------------------------ sending

    async def _submit_one(self, message: Message) -> SubmitResult:
        refusal = self._precheck(message)
        if refusal is not None:
            return refusal
        ckey = str(message.id)
        request = codec.SendRequest(
            ckey=ckey,
            recv_num=message.receiver,
            send_num=message.sender,
            body=message.content,
            cid=self.config.cid,
            token=self.config.token,
            callback=self.config.callback_url,
        )
        content = codec.encode_send_request(request)
        async with self._request_slot():
            result = await self._post(self.config.url, content)
            if (
                isinstance(result, Failure)
                and not result.reached
                and self.config.backup_active
                and self.config.backup_url is not None
            ):
                result = await self._post(self.config.backup_url, content)
        return self._judge(message, result)

    def _precheck(self, message: Message) -> SubmitResult | None:
        if message.channel is not Channel.SMS:
            return rejected(message, ResultCode.UNSUPPORTED, "ToBeText sends SMS only")
        if not codec.body_fits(message.content):
            return rejected(
                message,
                ResultCode.CONTENT_REJECTED,
                "text over 160 ASCII or 80 other characters (tobetext spec §10.8)",
            )
        if not codec.NUMBER_PATTERN.fullmatch(message.receiver):
            return rejected(
                message, ResultCode.INVALID_NUMBER, "receiver is not 8-15 digits"
            )
        if not codec.NUMBER_PATTERN.fullmatch(message.sender):
            return rejected(
                message,
                ResultCode.SENDER_NOT_REGISTERED,
                "sender is not 8-15 digits",
            )
        return None

    async def _post(self, url: str, content: bytes) -> Answer | Failure:
        return await exchange(
            self._context.http,
            "POST",
            url,
            limits=self.config.limits,
            content=content,
            headers={"content-type": FORM_TYPE, "accept": "application/xml"},
        )

    def _judge(self, message: Message, result: Answer | Failure) -> SubmitResult:
        ack = read_answer(
            result,
            lambda reply: codec.parse_ack(reply.body),
            expect=200,
            unexpected="HTTP {status} instead of 200 (spec §10.12)",
            unreadable="acknowledgement unreadable: {error}",
        )
        if isinstance(ack, Failure):
            self._meter.failed(ack.detail)
            if ack.reached:
                remember(self._uncertain, str(message.id), MAX_UNCERTAIN)
            return retry(message, ack)
        self._meter.succeeded()
        return self._acknowledged(message, ack)

    def _acknowledged(self, message: Message, ack: codec.Result) -> SubmitResult:
        ckey = str(message.id)
        uncertain = ckey in self._uncertain
        self._uncertain.pop(ckey, None)
        detail = ack.error_msg
        if ack.send_num and ack.send_num.lstrip("+") != message.sender.lstrip("+"):
            # Spec §10.11: overseas destinations get another sender; keep what was used.
            detail = f"{detail}; SendNum used {ack.send_num}".lstrip("; ")
        if ack.success or (ack.error_code == codes.AckCode.CKEY and uncertain):
            if not ack.success:
                detail = (
                    "2001 to a repeat of an attempt that may have been taken; "
                    "waiting for its callback"
                )
            msg_id = ack.msg_id or None
            if not self._was_reported(ckey, msg_id):
                self._track(ckey, message.id, msg_id)
            return SubmitResult(
                message_id=message.id,
                outcome=Outcome.ACCEPTED,
                provider_msg_id=msg_id,
                raw_code=str(ack.error_code),
                detail=detail,
            )
        return SubmitResult(
            message_id=message.id,
            outcome=Outcome.REJECTED,
            code=codes.ack_result(ack.error_code),
            raw_code=str(ack.error_code),
            detail=detail,
        )

    def _track(self, ckey: str, message_id: int, msg_id: str | None) -> None:
        self._pending[ckey] = _Pending(message_id=message_id, msg_id=msg_id)
        if msg_id:
            self._by_msg_id[msg_id] = ckey
        try:
            self._expiry.add(ckey, delay=self.config.report_timeout)
        except AgendaFull:
            # The gateway's own message expiry still ends the message.
            logger.warning(
                "expiry agenda full", extra={"event": "tobetext_expiry_full"}
            )

    def _was_reported(self, ckey: str, msg_id: str | None) -> bool:
        """Whether the callback of this message came (and was reported) before its
        acknowledgement was read."""
        return ckey in self._reported or (
            msg_id is not None and f"msgid:{msg_id}" in self._reported
        )

    def _untrack(self, ckey: str) -> _Pending | None:
        pending = self._pending.pop(ckey, None)
        if pending is not None and pending.msg_id:
            self._by_msg_id.pop(pending.msg_id, None)
        return pending

    async def _expire(self, ckey: str) -> None:
        pending = self._pending.get(ckey)
        if pending is None or ckey in self._reporting or self._sink is None:
            return
        await self._deliver(
            ckey,
            ProviderReport(
                connector=self.name,
                code=ResultCode.EXPIRED,
                message_id=pending.message_id,
                provider_msg_id=pending.msg_id,
                detail=(
                    f"no status callback within {self.config.report_timeout:g} s "
                    "(tobetext spec §9)"
                ),
                done_at=self._context.clock.now(),
            ),
        )

    # ------------------------------------------------------------ callbacks

    async def callback(self, request: Request) -> Response:
        """The gateway endpoint for status callbacks (spec §5)."""
        result = await self._read_report(
            request,
            codec.MAX_REQUEST_BYTES,
            lambda body: codec.parse_callback(
                body, request.headers.get("content-type", ""), request.url.query
            ),
        )
        if isinstance(result, Response):
            return result
        ckey = result.ckey or self._by_msg_id.get(result.msg_id, "")
        pending = self._pending.get(ckey) if ckey else None
        if pending is not None and pending.msg_id and result.msg_id:
            if pending.msg_id != result.msg_id:
                return self._refuse_report(
                    "MsgId does not match the message's CKey", 400, ckey
                )
        # Not sent by this process (a restart): the store knows the id or not.
        message_id = pending.message_id if pending is not None else message_id_in(ckey)
        key = ckey or f"msgid:{result.msg_id}"
        if message_id is None and not result.msg_id:
            return self._refuse_report("unknown CKey", 404, ckey)
        if key in self._reported:
            return PlainTextResponse("OK")
        report = ProviderReport(
            connector=self.name,
            code=codes.callback_result(result.error_code),
            message_id=message_id,
            provider_msg_id=result.msg_id or (pending.msg_id if pending else None),
            raw_code=str(result.error_code),
            detail=result.error_msg,
            done_at=self._context.clock.now(),
        )
        refused = await self._record_report(
            key, message_id, lambda: self._deliver(key, report)
        )
        if refused is not None:
            return refused
        return PlainTextResponse("OK")

    async def _deliver(self, key: str, report: ProviderReport) -> None:
        """Hand ``report`` to the sink once per key; a concurrent repeat waits for
        the first and returns without reporting."""
        running = self._reporting.get(key)
        if running is not None:
            await asyncio.shield(running)
            return
        if key in self._reported:
            return
        assert self._sink is not None
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reporting[key] = done
        try:
            await self._sink.report(report)
        except BaseException as exc:
            done.set_exception(exc)
            done.exception()  # retrieved: the waiters see it, nobody else must
            raise
        else:
            done.set_result(None)
            remember(self._reported, key, MAX_REMEMBERED)
            self._untrack(key)
            if report.provider_msg_id:
                # Reported by MsgId alone while its acknowledgement was read: the
                # message was tracked under its CKey meanwhile.
                self._untrack(self._by_msg_id.get(report.provider_msg_id, ""))
        finally:
            del self._reporting[key]


def build(settings: ConnectorSettings, context: ConnectorContext) -> ToBeTextConnector:
    """Build the connector from its ``[[connectors]]`` options.

    Options: ``cid``, ``token`` (required); ``url``; ``backup_url``;
    ``backup_active``; ``callback_path`` (default ``/callbacks/tobetext/<name>``);
    ``callback_url`` (default ``server.public_url`` + path); ``connect_timeout``
    (10 s); ``timeout`` (30 s); ``concurrency`` (16); ``report_timeout`` (7200 s).

    Raises:
        ConfigError: naming the option that cannot be used.
    """
    where = f"connector {settings.name!r} (tobetext)"
    options = Options(where, settings.options)
    cid = options.string("cid")
    token = options.string("token")
    for key, value in (("cid", cid), ("token", token)):
        if not codec.CREDENTIAL_PATTERN.fullmatch(value):
            raise ConfigError(
                f"{where}: option {key!r} must be 1-64 visible ASCII characters"
            )
    url = options.url("url", DEFAULT_URL)
    backup_url = options.optional_url("backup_url")
    backup_active = options.boolean("backup_active", False)
    if backup_active and backup_url is None:
        raise ConfigError(f"{where}: option 'backup_active' needs 'backup_url'")
    path = options.path("callback_path", f"/callbacks/tobetext/{settings.name}")
    callback_url = options.optional_url("callback_url")
    if callback_url is None:
        if not context.public_url:
            raise ConfigError(
                f"{where}: needs server.public_url or option 'callback_url' "
                "(ToBeText reports only by callback)"
            )
        callback_url = context.public_url.rstrip("/") + path
    if not codec.usable_callback(callback_url):
        raise ConfigError(f"{where}: callback URL {callback_url!r} is not usable")
    limits = options.limits(codec.MAX_ACK_BYTES)
    config = Config(
        cid=cid,
        token=token,
        url=url,
        backup_url=backup_url,
        backup_active=backup_active,
        callback_url=callback_url,
        callback_path=path,
        limits=limits,
        concurrency=options.concurrency(),
        report_timeout=options.number("report_timeout", 7200.0, minimum=0.001),
    )
    options.finish()
    return ToBeTextConnector(settings.name, config, context)
