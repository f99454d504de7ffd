"""The AI CROSS upstream connector, for the documented shape only.

Theory of operation
-------------------
Every name the seed leaves open is an option (aicross spec §4, §7): paths, form
field names, the token's transport, JSON paths into answers, status literals and
the code table. ``clientTag`` is always the gateway's message id (S7/S8), so:

* ``submit`` posts the form; an accepted answer → ACCEPTED (``provider_msg_id`` =
  clientTag). A refused connection, a timeout, 429, 5xx or an unreadable answer →
  RETRY, safe because a repeat carries the same clientTag and a "duplicate
  clientTag" answer (``duplicate_codes``) then means the first attempt was taken →
  ACCEPTED (spec §6). Any other error code → REJECTED with the raw code, unless the
  code maps to a transient unified code (RETRY).
* results come by DLR to ``dlr_path`` (registered with the gateway; the provider is
  told the URL at sign-up, S15) and, as a safety net, by polling the result API at
  10 s, 30 s, 60 s, then every 5 min while ``delivering`` (spec §6); whichever
  comes first is reported, once. 24 h without a final result ends it EXPIRED.
  A DLR answered with an error is counted in ``health()`` (``refused``).

A DLR may come before the answer to its send has been read; it names its message
by clientTag (``ProviderReport.message_id``), so the ledger applies it at once, and
the answer that follows finds the clientTag reported and polls for nothing.
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from umsgate.config import ConnectorSettings
from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.protocols._http.base import message_id_in, rejected, remember, retry
from umsgate.protocols._http.exchange import (
    Answer,
    Failure,
    exchange,
    read_answer,
)
from umsgate.protocols._http.polling import Poll, PollingConnector
from umsgate.protocols.aicross import codec, codes, options
from umsgate.protocols.aicross.options import Config
from umsgate.protocols.registry import ConnectorContext
from umsgate.types import Outcome, ProviderReport, SubmitResult

FORM_TYPE = "application/x-www-form-urlencoded; charset=UTF-8"
#: Reported clientTags remembered to answer repeated DLRs without a second report.
MAX_REMEMBERED = 100_000


class AiCrossConnector(PollingConnector[Config]):
    """Implements `umsgate.types.Connector` for AI CROSS."""

    protocol = "aicross"
    report_name = "DLR"
    expiry_detail = "no final result within {give_up:g} s (aicross spec §6)"
    unpolled = "the result is left to the DLR"

    def __init__(self, name: str, config: Config, context: ConnectorContext) -> None:
        super().__init__(name, config, context)
        self._reported: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._reporting: set[str] = set()
        self._base = config.url.rstrip("/")
        if config.dlr_path is not None:
            context.add_route(config.dlr_path, self.dlr, ["POST"])

    # ------------------------------------------------------------ lifecycle

    async def resume(self, messages: Sequence[Message]) -> None:
        """Await the results of SENT messages of a previous run again (DLR or poll);
        they expire ``poll_give_up`` after their due time."""
        for message in messages:
            deadline = self._give_up_at(message.due_at)
            self._track(message.id, str(message.id), deadline, delay=0.0)

    # ------------------------------------------------------------ sending

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"accept": "application/json"}
        if content_type:
            headers["content-type"] = content_type
        if self.config.token_header is not None:
            headers[self.config.token_header] = self.config.token
        return headers

    def _form_token(self) -> str | None:
        return None if self.config.token_header is not None else self.config.token

    async def _submit_one(self, message: Message) -> SubmitResult:
        if message.channel not in (Channel.SMS, Channel.LMS):
            return rejected(
                message, ResultCode.UNSUPPORTED, "AI CROSS sends SMS text only"
            )
        if not message.content or len(message.content) > self.config.max_text_chars:
            return rejected(
                message,
                ResultCode.CONTENT_REJECTED,
                f"text of {len(message.content)} characters; "
                f"1-{self.config.max_text_chars} allowed",
            )
        extra = dict(self.config.extra_fields)
        if self.config.sender_field is not None:
            extra[self.config.sender_field] = message.sender
        body = codec.encode_send_request(
            codec.SendRequest(
                to=message.receiver,
                text=message.content,
                client_tag=str(message.id),
                token=self._form_token(),
            ),
            self.config.shape,
            extra,
        )
        async with self._request_slot():
            result = await exchange(
                self._context.http,
                "POST",
                self._base + self.config.send_path,
                limits=self.config.limits,
                content=body,
                headers=self._headers(FORM_TYPE),
            )
        return self._judge(message, result)

    def _judge(self, message: Message, result: Answer | Failure) -> SubmitResult:
        def read(reply: Answer) -> tuple[int, codec.SendAnswer]:
            return reply.status, codec.parse_send_answer(reply.body, self.config.shape)

        answer = read_answer(result, read)
        if isinstance(answer, Failure):
            self._meter.failed(answer.detail)
            return retry(message, answer)
        self._meter.succeeded()
        return self._answered(message, *answer)

    def _answered(
        self, message: Message, status: int, answer: codec.SendAnswer
    ) -> SubmitResult:
        tag = str(message.id)
        duplicate = answer.error_code in self.config.duplicate_codes
        if answer.kind is codec.AnswerKind.ACCEPTED or duplicate:
            deadline = self._give_up_at(self._context.clock.now())
            self._track(message.id, tag, deadline, delay=self.config.poll_schedule[0])
            return SubmitResult(
                message_id=message.id,
                outcome=Outcome.ACCEPTED,
                provider_msg_id=tag,
                raw_code=answer.error_code,
                detail="duplicate clientTag: taken by an earlier attempt"
                if duplicate
                else answer.message,
            )
        raw = answer.error_code or f"HTTP {status}"
        code = codes.unified(answer.error_code, dict(self.config.results))
        return SubmitResult(
            message_id=message.id,
            outcome=Outcome.RETRY if code.transient else Outcome.REJECTED,
            code=code,
            raw_code=raw,
            detail=answer.message,
        )

    # ------------------------------------------------------------ results

    def _track(
        self, message_id: int, tag: str, deadline: dt.datetime, *, delay: float
    ) -> None:
        if tag in self._awaiting or tag in self._reported:
            return
        self._awaiting[tag] = message_id
        if self.config.poll:
            self._schedule_poll(message_id, tag, deadline, delay=delay)

    def _report_result(
        self, message_id: int, tag: str, result: codec.Result
    ) -> ProviderReport:
        if result.state is codec.State.DELIVERED:
            code = ResultCode.DELIVERED
        else:
            code = codes.unified(result.error_code, dict(self.config.results))
        done_at = self._context.clock.now()
        if result.done_at:
            try:
                parsed = dt.datetime.fromisoformat(
                    result.done_at.replace("Z", "+00:00")
                )
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                done_at = parsed
        detail = result.message or result.status
        if result.carrier:
            detail = f"{detail} (carrier {result.carrier})"
        return ProviderReport(
            connector=self.name,
            code=code,
            message_id=message_id,
            provider_msg_id=tag,
            raw_code=result.error_code,
            detail=detail,
            carrier=result.carrier,
            done_at=done_at,
        )

    async def _deliver(self, item: Poll, report: ProviderReport) -> bool:
        return await self._report_once(item.key, report)

    async def _report_once(self, tag: str, report: ProviderReport) -> bool:
        """Hand ``report`` to the sink unless ``tag`` was (or is being) reported;
        True when it is now reported. Sink errors propagate."""
        if tag in self._reported or tag in self._reporting or self._sink is None:
            return tag in self._reported
        self._reporting.add(tag)
        try:
            await self._sink.report(report)
        finally:
            self._reporting.discard(tag)
        remember(self._reported, tag, MAX_REMEMBERED)
        self._awaiting.pop(tag, None)
        return True

    async def dlr(self, request: Request) -> Response:
        """The gateway endpoint for DLRs (spec S14, §6)."""
        result = await self._read_report(
            request,
            codec.MAX_REQUEST_BYTES,
            lambda body: codec.parse_dlr(
                body, request.headers.get("content-type", ""), self.config.shape
            ),
        )
        if isinstance(result, Response):
            return result
        tag = result.client_tag or ""
        if not result.state.final:
            return PlainTextResponse("OK")
        message_id = self._awaiting.get(tag)
        if message_id is None:
            if tag in self._reported:
                return PlainTextResponse("OK")
            # Sent before a restart, or its send is still waiting for its answer
            # (the DLR overtook it): the ledger finds the message by its id.
            message_id = message_id_in(tag)
            if message_id is None:
                return self._refuse_report("unknown clientTag", 404, tag)
        report = self._report_result(message_id, tag, result)
        done = await self._record_report(
            tag, message_id, lambda: self._report_once(tag, report)
        )
        if isinstance(done, Response):
            return done
        if not done:
            # A repeat while the first copy is recorded: nothing is refused.
            return PlainTextResponse("being recorded", status_code=503)
        return PlainTextResponse("OK")

    async def _ask(self, item: Poll) -> ProviderReport | None:
        """One result request; a report when the result is final, else None."""
        result = await exchange(
            self._context.http,
            "POST",
            self._base + self.config.result_path,
            limits=self.config.limits,
            content=codec.encode_result_request(
                item.key, self._form_token(), self.config.shape
            ),
            headers=self._headers(FORM_TYPE),
        )
        answer = self._read_poll(
            item,
            "result",
            result,
            lambda reply: codec.parse_result(reply.body, self.config.shape),
        )
        if answer is None:
            return None
        self._meter.succeeded()
        if answer.state is codec.State.ERROR:
            if answer.error_code in self.config.unknown_codes:
                return self._report(
                    item,
                    ResultCode.FAILED,
                    answer.error_code,
                    "the provider does not know this clientTag",
                )
            self._meter.failed(f"result of {item.key}: error {answer.error_code}")
            return None
        if not answer.state.final:
            return None
        return self._report_result(item.message_id, item.key, answer)


def build(settings: ConnectorSettings, context: ConnectorContext) -> AiCrossConnector:
    """Build the connector from its ``[[connectors]]`` options (`options.read`).

    Raises:
        ConfigError: naming the option that cannot be used.
    """
    return AiCrossConnector(settings.name, options.read(settings), context)
