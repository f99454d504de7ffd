"""umsgate as a UShot customer: the `Connector` for protocol ``ushot``.

Four lanes (sessions), each logged in with 1010: SMS send and report (33300/33301) for
SMS, MMS send and report (33302/33303) for LMS and MMS. ``submit`` turns messages into
records, queues them on their send lane and returns when every one is settled:
ACCEPTED when UShot acknowledged its request, REJECTED when it refused it or a field
cannot hold it, RETRY when the request got no answer (docs/protocols/ushot.md,
"Delivery semantics"). Results come in on the report lanes and go to the sink with the
message's id, taken from MSG_ID: a result that comes before the answer to its send
request (the report session is another TCP connection, and ``submit`` returns only
when its whole batch is settled) needs no lookup, and the ledger applies it at once.
Results the sink failed on are counted in ``health()`` (``refused``).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import functools
from collections.abc import Sequence

import phonenumbers

from umsgate.config import ConnectorSettings
from umsgate.domain import phone
from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.protocols.registry import ConnectorContext, FileSource
from umsgate.protocols.ushot import bodies, fields, msgid
from umsgate.protocols.ushot.codes import Port
from umsgate.protocols.ushot.events import LmsRecord, SmsRecord
from umsgate.protocols.ushot.lane import Lane, LaneArgs
from umsgate.protocols.ushot.options import Options
from umsgate.protocols.ushot.reporting import ReportLane
from umsgate.protocols.ushot.sending import Outgoing, SendLane, field_code
from umsgate.types import Clock, Health, Outcome, ReportSink, SubmitResult

#: Messages whose last result asked for a resend, remembered to pick their next MSG_ID.
GENERATION_MEMORY = 100_000
#: Korean mobile prefixes (010, 011, 016-019) without the trunk 0.
_MOBILE = frozenset({"10", "11", "16", "17", "18", "19"})


def _aware(when: dt.datetime) -> dt.datetime:
    """The gateway's times are UTC; a naive one is read as such."""
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


@functools.lru_cache(maxsize=phone.CACHED_NUMBERS)
def national(e164: str) -> str:
    """The number as UShot wants it: domestic digits (``+821012345678`` →
    ``01012345678``). Korean mobiles are rewritten directly (they dominate bulk
    traffic and the library's formatter costs more than the rest of a record); any
    other number goes through `phone.national`.

    Raises:
        phonenumbers.NumberParseException: not a number.
    """
    if e164.startswith("+82"):
        nsn = e164[3:]
        if (
            len(nsn) in (9, 10)
            and nsn[:2] in _MOBILE
            and nsn.isascii()
            and nsn.isdigit()
        ):
            return "0" + nsn
    return phone.national(e164)


class UShotConnector:
    """A UShot account seen as a `Connector`.

    Args:
        name: the connector's name in the configuration.
        options: validated options.
        files: where MMS attachments are read from.
        clock: the gateway's clock.
    """

    def __init__(
        self, *, name: str, options: Options, files: FileSource, clock: Clock
    ) -> None:
        self.name = name
        self.options = options
        self._files = files
        self._clock = clock
        self._send: dict[Port, SendLane] = {}
        self._report: dict[Port, ReportLane] = {}
        self._generations: collections.OrderedDict[int, int] = collections.OrderedDict()
        #: Results the sink failed on since the start, and why the last one did.
        self._refused = 0
        self._last_refusal = ""

    @property
    def lanes(self) -> list[Lane]:
        return [*self._send.values(), *self._report.values()]

    def lane(self, port: Port) -> Lane:
        """The lane of ``port`` (for tests and diagnostics)."""
        return self._send.get(port) or self._report[port]

    async def start(self, sink: ReportSink) -> None:
        """Open the sessions; returns once each has logged in or failed its first try
        (it then reconnects by itself), at most ``request_timeout`` seconds."""
        if self.lanes:
            return
        opts = self.options
        for port in opts.ports:
            args = LaneArgs(
                connector=self.name, port=port, options=opts, clock=self._clock
            )
            if port.is_report:
                self._report[port] = ReportLane(
                    **args,
                    sink=sink,
                    on_transient=self._transient,
                    on_refused=self._refused_results,
                )
            else:
                self._send[port] = SendLane(**args, files=self._files)
        for lane in self.lanes:
            lane.start()
        waits = [
            asyncio.ensure_future(lane.first_attempt.wait()) for lane in self.lanes
        ]
        _, pending = await asyncio.wait(waits, timeout=opts.request_timeout)
        for task in pending:
            task.cancel()

    async def stop(self) -> None:
        """Close every session; queued and in-flight messages are settled RETRY."""
        await asyncio.gather(*(lane.stop() for lane in self.lanes))
        self._send.clear()
        self._report.clear()

    async def resume(self, messages: Sequence[Message]) -> None:
        """Nothing to do: UShot keeps results per account and delivers them on the
        report session whenever it is up; they carry the message id in MSG_ID."""

    def health(self) -> Health:
        lanes = self.lanes
        up = bool(lanes) and all(lane.logged_in for lane in lanes)
        detail = " ".join(f"{lane.port.value}={lane.status}" for lane in lanes)
        in_flight = sum(lane.pending for lane in self._send.values())
        return Health(
            up=up,
            detail=detail or "not started",
            in_flight=in_flight,
            refused=self._refused,
            last_refusal=self._last_refusal,
        )

    async def submit(self, messages: Sequence[Message]) -> Sequence[SubmitResult]:
        loop = asyncio.get_running_loop()
        done: list[SubmitResult] = []
        waiting: list[asyncio.Future[SubmitResult]] = []
        by_lane: dict[Port, list[Outgoing]] = collections.defaultdict(list)
        for message in messages:
            port, prepared = self._prepare(message)
            if isinstance(prepared, SubmitResult):
                done.append(prepared)
                continue
            item = Outgoing(
                message=message,
                record=prepared[0],
                file_ids=prepared[1],
                future=loop.create_future(),
            )
            by_lane[port].append(item)
            waiting.append(item.future)
        for port, items in by_lane.items():
            lane = self._send.get(port)
            if lane is None:
                for item in items:
                    item.settle(
                        Outcome.RETRY,
                        code=ResultCode.CONNECTION_ERROR,
                        detail=f"ushot connector {self.name!r} is not started",
                    )
            else:
                lane.offer(items)
        if waiting:
            done.extend(await asyncio.gather(*waiting))
        return done

    # -- messages to records ------------------------------------------------------

    def _refused_results(self, count: int, why: str) -> None:
        self._refused += count
        self._last_refusal = why[:200]

    def _transient(self, message_id: int, generation: int) -> None:
        self._generations[message_id] = max(
            generation + 1, self._generations.get(message_id, 0)
        )
        self._generations.move_to_end(message_id)
        if len(self._generations) > GENERATION_MEMORY:
            self._generations.popitem(last=False)

    def _generation(self, message: Message) -> int:
        """0 for a first send (or a resend of an unanswered request); one more than
        the last accepted MSG_ID's after a result asked for a resend (msgid)."""
        generation = self._generations.get(message.id, 0)
        if message.provider_msg_id:
            parsed = msgid.parse(message.provider_msg_id)
            if parsed is not None and parsed[0] == message.id:
                generation = max(generation, parsed[1] + 1)
        return generation

    def _rejected(
        self,
        message: Message,
        code: ResultCode,
        detail: str,
        raw_code: str | None = None,
    ) -> tuple[Port, SubmitResult]:
        return Port.SMS, SubmitResult(
            message_id=message.id,
            outcome=Outcome.REJECTED,
            code=code,
            raw_code=raw_code,
            detail=detail,
        )

    def _prepare(
        self, message: Message
    ) -> tuple[Port, SubmitResult | tuple[SmsRecord | LmsRecord, tuple[str, ...]]]:
        opts = self.options
        channel = message.channel
        if channel not in opts.channels:
            return self._rejected(
                message,
                ResultCode.UNSUPPORTED,
                f"channel {channel} is not carried by ushot connector {self.name!r}",
            )
        port = Port.SMS if channel is Channel.SMS else Port.MMS
        try:
            msg_id = msgid.make(message.id, self._generation(message))
        except ValueError as exc:
            return self._rejected(message, ResultCode.FAILED, str(exc))
        try:
            receiver = national(message.receiver)
        except phonenumbers.NumberParseException:
            return self._rejected(
                message, ResultCode.INVALID_NUMBER, f"receiver {message.receiver!r}"
            )
        try:
            sender = national(message.sender) if message.sender else ""
        except phonenumbers.NumberParseException:
            return self._rejected(
                message, ResultCode.INVALID_NUMBER, f"sender {message.sender!r}"
            )
        now = self._clock.now()
        due = _aware(message.due_at)
        reserve = fields.format_date(due) if due > now else ""
        expires = message.expires_at
        timeout = fields.format_date(_aware(expires)) if expires else ""
        grp_id = message.cmp_msg_id
        if not grp_id or not grp_id.isascii() or len(grp_id) > bodies.ID_LEN:
            grp_id = msg_id
        # The fields SMS and LMS records share. Trailing spaces would not survive
        # the fixed-width field (spec §3).
        common = {
            "grp_id": grp_id,
            "msg_id": msg_id,
            "receiver": receiver,
            "msg": message.content.rstrip(" "),
            "sender": sender,
            "reserve_dt": reserve,
            "timeout_dt": timeout,
            "usercode": opts.usercode,
        }
        record: SmsRecord | LmsRecord
        file_ids: tuple[str, ...] = ()
        try:
            if port is Port.SMS:
                url = message.extra.get("url")
                record = SmsRecord(
                    **common, url=url if isinstance(url, str) else opts.callback_url
                )
                bodies.encode_sms_record(record)
            else:
                record = LmsRecord(**common, subject=message.subject.rstrip(" "))
                bodies.encode_lms_record(record, variable=True)
                if channel is Channel.MMS:
                    file_ids = message.file_ids
        except fields.FieldError as exc:
            return self._rejected(message, field_code(exc), exc.message, str(exc.code))
        if len(file_ids) > bodies.MAX_FILES:
            return self._rejected(
                message,
                ResultCode.CONTENT_REJECTED,
                f"{len(file_ids)} files; UShot takes at most {bodies.MAX_FILES}",
            )
        return port, (record, file_ids)


def build(settings: ConnectorSettings, context: ConnectorContext) -> UShotConnector:
    """The connector a ``[[connectors]]`` table with ``protocol = "ushot"`` describes.

    Raises:
        ConfigError: an option is unknown, missing or of the wrong type (naming it).
    """
    options = Options.from_mapping(
        settings.options, where=f"connector {settings.name!r}"
    )
    return UShotConnector(
        name=settings.name, options=options, files=context.files, clock=context.clock
    )
