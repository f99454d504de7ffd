"""The IMS SMS upstream connector: JSON sends with ``X-API-KEY``, and a poller that
reads each message's state until it is finished.

Theory of operation
-------------------
``submit`` posts one JSON body per message (MMS: the one attachment in base64 with
its extension) and reads the answer:

* ``000`` with an ``imsId`` → ACCEPTED, ``provider_msg_id`` = imsId; polling starts.
* another ``resultCd`` → REJECTED with the code kept raw (`codes.SEND_RESULTS`).
* the request surely never arrived (connection refused, connect timeout) or was
  refused by a 429 → RETRY.
* the request may have arrived but no usable answer came (read timeout, dropped
  connection, 5xx, a body that is not the JSON): the message may or may not be on
  its way, and IMS has no client message id to recognise a repeat (imsms spec §8,
  §9.20), so it is never sent blindly again: REJECTED, FAILED with raw code
  ``outcome-unknown``. Setting ``allow_duplicates`` makes these RETRY instead.

The poller asks ``GET /api/imsms/info`` at 5, 10, 20, 40 s and then every 60 s
(spec §8, configurable) until ``messageFinished``; any failure of a poll (the
provider down, 5xx, garbage) just waits for the next one. The final state maps per
spec §5 (`codes.verdict`); an unknown ``imsId`` (904) fails the message; 24 h
without a final state ends it EXPIRED. ``resume`` polls again for SENT messages
after a restart, by their ``provider_msg_id``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from umsgate.config import ConnectorSettings
from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.errors import ConfigError, RemoteProtocolError
from umsgate.protocols._http.base import rejected, retry
from umsgate.protocols._http.exchange import (
    Answer,
    Failure,
    Limits,
    exchange,
    read_answer,
)
from umsgate.protocols._http.options import Options
from umsgate.protocols._http.polling import Poll, PollingConnector
from umsgate.protocols.imsms import codec, codes
from umsgate.protocols.registry import ConnectorContext
from umsgate.types import Outcome, ProviderReport, SubmitResult

#: Spec §2 (plain HTTP on a raw EC2 host; configuration, spec §9.19).
DEFAULT_URL = "http://ec2-3-34-72-7.ap-northeast-2.compute.amazonaws.com:9999"
SEND_PATH = "/api/imsms/send"
INFO_PATH = "/api/imsms/info"
#: Spec §8: poll at 5, 10, 20, 40 s after sending, then every 60 s.
DEFAULT_POLL_SCHEDULE = (5.0, 10.0, 20.0, 40.0, 60.0)
#: Spec §8: give up 24 h after the request.
DEFAULT_POLL_GIVE_UP = 86400.0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    api_key: str
    agent_id: str
    #: Base URL; the paths of spec §2 are appended.
    url: str = DEFAULT_URL
    limits: Limits = dataclasses.field(
        default_factory=lambda: Limits(max_body=codec.MAX_SEND_ANSWER_BYTES)
    )
    info_limits: Limits = dataclasses.field(
        default_factory=lambda: Limits(max_body=codec.MAX_INFO_ANSWER_BYTES)
    )
    #: Longest text sent (spec §9.12: 2,000 bytes CP949); never split.
    max_text_bytes: int = codec.MAX_TEXT_BYTES
    #: Resend when the outcome of a send is unknown (may deliver twice).
    allow_duplicates: bool = False
    #: Seconds before each poll; the last repeats.
    poll_schedule: tuple[float, ...] = DEFAULT_POLL_SCHEDULE
    #: Seconds after sending without a final state before the message EXPIRES.
    poll_give_up: float = DEFAULT_POLL_GIVE_UP
    #: Sends in flight at once.
    concurrency: int = 16
    #: Polls in flight at once.
    poll_concurrency: int = 16


class ImsConnector(PollingConnector[Config]):
    """Implements `umsgate.types.Connector` for IMS SMS."""

    protocol = "imsms"
    expiry_detail = "no final state within {give_up:g} s (imsms spec §8)"

    def __init__(self, name: str, config: Config, context: ConnectorContext) -> None:
        super().__init__(name, config, context)
        self._base = config.url.rstrip("/")

    # ------------------------------------------------------------ lifecycle

    async def resume(self, messages: Sequence[Message]) -> None:
        """Poll again for SENT messages of a previous run (by ``provider_msg_id``);
        they expire ``poll_give_up`` after their due time."""
        for message in messages:
            if message.provider_msg_id:
                deadline = self._give_up_at(message.due_at)
                self._watch(message.id, message.provider_msg_id, deadline, delay=0.0)

    # ------------------------------------------------------------ sending

    async def _submit_one(self, message: Message) -> SubmitResult:
        prepared = await self._prepare(message)
        if isinstance(prepared, SubmitResult):
            return prepared
        async with self._request_slot():
            result = await exchange(
                self._context.http,
                "POST",
                self._base + SEND_PATH,
                limits=self.config.limits,
                content=codec.encode_send_request(prepared),
                headers={
                    "x-api-key": self.config.api_key,
                    "content-type": "application/json",
                    "accept": "application/json",
                },
            )
        return self._judge(message, result)

    async def _prepare(self, message: Message) -> codec.SendRequest | SubmitResult:
        if message.channel not in (Channel.SMS, Channel.LMS, Channel.MMS):
            return rejected(
                message, ResultCode.UNSUPPORTED, "IMS SMS sends SMS, LMS and MMS only"
            )
        if not message.content:
            return rejected(
                message, ResultCode.CONTENT_REJECTED, "empty text (IMS code 120)"
            )
        size = codec.text_bytes(message.content)
        if size > self.config.max_text_bytes:
            return rejected(
                message,
                ResultCode.CONTENT_REJECTED,
                f"text of {size} bytes; at most {self.config.max_text_bytes}",
            )
        attachment: bytes | None = None
        ext: str | None = None
        if message.channel is Channel.MMS and message.file_ids:
            if len(message.file_ids) > 1:
                return rejected(
                    message,
                    ResultCode.CONTENT_REJECTED,
                    "IMS SMS takes one attachment only",
                )
            try:
                name, attachment = await self._context.files.load(message.file_ids[0])
            except LookupError:
                return rejected(
                    message, ResultCode.CONTENT_REJECTED, "attachment not found"
                )
            except Exception as exc:
                return SubmitResult(
                    message_id=message.id,
                    outcome=Outcome.RETRY,
                    code=ResultCode.RETRY_LATER,
                    detail=f"attachment could not be read: {exc}",
                )
            ext = name.rpartition(".")[2].lower() if "." in name else ""
            try:
                codec.check_attachment(attachment, ext)
            except RemoteProtocolError as exc:
                return rejected(message, ResultCode.CONTENT_REJECTED, str(exc))
        return codec.SendRequest(
            send_to=message.receiver,
            message=message.content,
            ims_agent_id=self.config.agent_id,
            attachment=attachment,
            attachment_ext=ext,
        )

    def _judge(self, message: Message, result: Answer | Failure) -> SubmitResult:
        answer = read_answer(result, lambda reply: codec.parse_send_answer(reply.body))
        if not isinstance(answer, Failure):
            if answer.result_cd != codes.ResultCd.INTERNAL:
                self._meter.succeeded()
                return self._answered(message, answer)
            answer = Failure(
                code=ResultCode.PROVIDER_ERROR,
                detail=f"resultCd 999 {answer.result_msg}",
                reached=True,
            )
        self._meter.failed(answer.detail)
        if not answer.reached or answer.code is ResultCode.THROTTLED:
            # Surely not taken: a refused connection, or a 429 refusal.
            return retry(message, answer)
        if self.config.allow_duplicates:
            return SubmitResult(
                message_id=message.id,
                outcome=Outcome.RETRY,
                code=answer.code,
                detail=f"{answer.detail}; resent because duplicates are allowed",
            )
        return SubmitResult(
            message_id=message.id,
            outcome=Outcome.REJECTED,
            code=ResultCode.FAILED,
            raw_code=codes.OUTCOME_UNKNOWN,
            detail=(
                f"provider outcome unknown ({answer.detail}); not resent: IMS cannot "
                "recognise a repeat and would deliver twice (imsms spec §8)"
            ),
        )

    def _answered(self, message: Message, answer: codec.SendAnswer) -> SubmitResult:
        if not answer.ok:
            return SubmitResult(
                message_id=message.id,
                outcome=Outcome.REJECTED,
                code=codes.send_result(answer.result_cd),
                raw_code=answer.result_cd,
                detail=answer.result_msg,
            )
        assert answer.ims_id is not None  # parse_send_answer guarantees it
        deadline = self._give_up_at(self._context.clock.now())
        self._watch(
            message.id, answer.ims_id, deadline, delay=self.config.poll_schedule[0]
        )
        return SubmitResult(
            message_id=message.id,
            outcome=Outcome.ACCEPTED,
            provider_msg_id=answer.ims_id,
            raw_code=answer.result_cd,
        )

    # ------------------------------------------------------------ polling

    def _watch(
        self, message_id: int, ims_id: str, deadline: dt.datetime, *, delay: float
    ) -> None:
        if ims_id in self._awaiting:
            return
        if self._schedule_poll(message_id, ims_id, deadline, delay=delay):
            self._awaiting[ims_id] = message_id

    async def _deliver(self, item: Poll, report: ProviderReport) -> bool:
        assert self._sink is not None
        await self._sink.report(report)
        del self._awaiting[item.key]
        return True

    async def _ask(self, item: Poll) -> ProviderReport | None:
        """One state request; a report when the message is final, else None."""
        result = await exchange(
            self._context.http,
            "GET",
            self._base + INFO_PATH,
            limits=self.config.info_limits,
            params={"imsId": item.key},
            headers={"x-api-key": self.config.api_key, "accept": "application/json"},
        )
        answer = self._read_poll(
            item, "state", result, lambda reply: codec.parse_info_answer(reply.body)
        )
        if answer is None:
            return None
        if answer.result_cd == codes.ResultCd.NOT_FOUND:
            self._meter.succeeded()
            return self._report(
                item,
                ResultCode.FAILED,
                answer.result_cd,
                "the provider does not know this imsId (904)",
            )
        if answer.result_cd != codes.ResultCd.OK or answer.ims_data is None:
            self._meter.failed(f"state of {item.key}: resultCd {answer.result_cd}")
            return None
        self._meter.succeeded()
        data = answer.ims_data
        verdict = codes.verdict(
            finished=data.message_finished,
            sent=data.message_sent,
            delivered=data.message_delivered,
            error=data.message_error,
        )
        if verdict is None:
            return None
        done_at = data.message_date_delivered or data.send_end_dttm
        return self._report(
            item,
            verdict.code,
            verdict.raw_code,
            verdict.detail,
            done_at=codec.parse_time(done_at) if done_at else None,
        )


def build(settings: ConnectorSettings, context: ConnectorContext) -> ImsConnector:
    """Build the connector from its ``[[connectors]]`` options.

    Options: ``api_key``, ``agent_id`` (required); ``url`` (base URL);
    ``max_text_bytes`` (2000); ``allow_duplicates`` (false); ``poll_schedule``
    (seconds, default 5, 10, 20, 40, 60); ``poll_give_up`` (86400 s);
    ``connect_timeout`` (10 s); ``timeout`` (30 s); ``concurrency`` (16);
    ``poll_concurrency`` (16).

    Raises:
        ConfigError: naming the option that cannot be used.
    """
    where = f"connector {settings.name!r} (imsms)"
    options = Options(where, settings.options)
    api_key = options.string("api_key")
    agent_id = options.string("agent_id")
    if not codec.AGENT_PATTERN.fullmatch(agent_id):
        raise ConfigError(
            f"{where}: option 'agent_id' must be 1-64 visible ASCII characters"
        )
    if any(ch in api_key for ch in "\r\n"):
        raise ConfigError(f"{where}: option 'api_key' has a line break")
    limits = options.limits(codec.MAX_SEND_ANSWER_BYTES)
    config = Config(
        api_key=api_key,
        agent_id=agent_id,
        url=options.url("url", DEFAULT_URL),
        limits=limits,
        info_limits=dataclasses.replace(limits, max_body=codec.MAX_INFO_ANSWER_BYTES),
        max_text_bytes=options.integer(
            "max_text_bytes",
            codec.MAX_TEXT_BYTES,
            minimum=1,
            maximum=codec.MAX_TEXT_BYTES,
        ),
        allow_duplicates=options.boolean("allow_duplicates", False),
        poll_schedule=options.numbers(
            "poll_schedule", DEFAULT_POLL_SCHEDULE, minimum=0.001
        ),
        poll_give_up=options.number(
            "poll_give_up", DEFAULT_POLL_GIVE_UP, minimum=0.001
        ),
        concurrency=options.concurrency(),
        poll_concurrency=options.concurrency("poll_concurrency"),
    )
    options.finish()
    return ImsConnector(settings.name, config, context)
