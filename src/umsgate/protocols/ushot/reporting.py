"""The report lanes: results (1031) of the SMS or the MMS report port into the sink.

SAM10 (spec §7.3): poll with a 1030 COUNT 0 at login and every ``poll_interval``
seconds, and at once again after a 1031 that carried results; there is no
acknowledgement, so each result is handed to the sink before the next poll.

SAM11: the server pushes; each 1031 with results is answered by a 1030 listing them,
sent only after ``sink.report`` returned for every one of them, so a result is never
acknowledged before it is stored. The server sends again what was not acknowledged
(at-least-once), so results are deduplicated here by MSG_ID. A 1030 COUNT 0 keeps the
idle session alive every ``report_keepalive`` seconds.

Both versions hand the results of one 1031 to the sink together (one ``report`` call
each, all in flight at once), so the gateway's ledger stores them in one commit; one
after another, each would wait for the commit of the one before it.

A result with a pending code (0, 1) is logged and produces no report. If the sink fails,
the session is closed without acknowledging (SAM11: the server sends them again).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Unpack

from umsgate.errors import TransientConnectorError
from umsgate.protocols.ushot import fields, msgid
from umsgate.protocols.ushot.codes import (
    RESP_OK,
    ResultClass,
    Version,
    result_info,
)
from umsgate.protocols.ushot.connection import SessionStream
from umsgate.protocols.ushot.events import ResultAck, ResultRecord, Results
from umsgate.protocols.ushot.lane import Lane, LaneArgs, log
from umsgate.protocols.ushot.session import KeepaliveDue
from umsgate.types import ProviderReport, ReportSink

#: MSG_IDs remembered for deduplication of re-sent results.
SEEN_LIMIT = 200_000

#: TELECOM values → the carrier names of `ProviderReport.carrier`.
CARRIERS = {"SKT": "SKT", "KTF": "KTF", "KT": "KTF", "LGT": "LGT", "LGU": "LGT"}


def carrier(telecom: str) -> str:
    """SKT, KTF, LGT or "" (TELECOM is opaque in the seed: spec §14 item 22)."""
    return CARRIERS.get(telecom.strip().upper().rstrip("+"), "")


def done_at(send_dt: str) -> dt.datetime | None:
    """SEND_DT (KST) in UTC; None when it does not parse."""
    try:
        return fields.parse_date(send_dt).astimezone(dt.UTC)
    except ValueError:
        return None


def report_of(connector: str, record: ResultRecord) -> ProviderReport | None:
    """The report a result record makes; None for a pending code or a MSG_ID that
    is not one of ours."""
    info = result_info(record.result)
    parsed = msgid.parse(record.msg_id)
    if info.unified is None or info.klass is ResultClass.PENDING or parsed is None:
        return None
    detail = info.meaning
    if record.telecom:
        detail = f"{detail} (TELECOM {record.telecom})"
    return ProviderReport(
        connector=connector,
        code=info.unified,
        message_id=parsed[0],
        provider_msg_id=record.msg_id,
        raw_code=record.result,
        detail=detail,
        carrier=carrier(record.telecom),
        done_at=done_at(record.send_dt),
    )


class ReportLane(Lane):
    """The SMS or the MMS report session.

    Args:
        sink: where reports go (set by the connector's ``start``).
        on_transient: told (message id, generation) of every transient result, so the
            next send of that message gets a new MSG_ID.
        on_refused: told (how many, why) when the sink failed on results of a 1031
            (not acknowledged: SAM11 sends them again, SAM10 ones are lost).
    """

    def __init__(
        self,
        *,
        sink: ReportSink,
        on_transient: Callable[[int, int], None],
        on_refused: Callable[[int, str], None],
        **lane: Unpack[LaneArgs],
    ) -> None:
        super().__init__(**lane)
        self._sink = sink
        self._on_transient = on_transient
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._on_refused = on_refused
        #: Reports handed to the sink (tests and health).
        self.reported = 0

    @property
    def _sam10(self) -> bool:
        return self.options.version is Version.SAM10

    def _keepalive(self) -> float:
        opts = self.options
        return opts.poll_interval if self._sam10 else opts.report_keepalive

    async def _serve(self, stream: SessionStream) -> None:
        if self._sam10:
            await stream.send(ResultAck.poll())
        while True:
            event = await self._next(stream)
            if isinstance(event, KeepaliveDue):
                await stream.send(ResultAck.poll())
            elif isinstance(event, Results):
                await self._results(stream, event)
            else:
                self._ignored(event, "a 1031")

    async def _results(self, stream: SessionStream, results: Results) -> None:
        if results.resp_code != RESP_OK:
            log.warning(
                "%s: ushot %s results answered %s %s",
                self.connector,
                self.port.value,
                results.resp_code,
                results.resp_mesg,
                extra=self._extra("ushot_results_refused"),
            )
        await self._deliver_all(results.records)
        if not results.records:
            return
        if self._sam10:
            await stream.send(ResultAck.poll())  # more may be waiting: ask at once
        else:
            await stream.send(
                ResultAck.acknowledge(tuple(r.key for r in results.records))
            )

    async def _deliver_all(self, records: Sequence[ResultRecord]) -> None:
        """Hand the new results of one 1031 to the sink, all in flight at once.

        Raises:
            TransientConnectorError: the sink failed on one of them; the others that
                it stored count as reported, the frame is not acknowledged.
        """
        fresh: dict[str, ProviderReport] = {}
        for record in records:
            if record.msg_id in self._seen or record.msg_id in fresh:
                continue  # sent again after a lost acknowledgement: reported already
            report = report_of(self.connector, record)
            if report is None:
                log.info(
                    "%s: ushot result %s for MSG_ID %s is not final or not ours; "
                    "no report",
                    self.connector,
                    record.result,
                    record.msg_id,
                    extra=self._extra("ushot_result_skipped"),
                )
                continue
            fresh[record.msg_id] = report
            if report.code.transient and report.message_id is not None:
                # Noted before the sink sees it: once the report is stored the
                # message may be sent again at once, and must go with a new MSG_ID.
                # Noting it twice (the sink failed, the result comes again) is
                # harmless.
                self._note_transient(record.msg_id)
        if not fresh:
            return
        outcomes = await asyncio.gather(
            *(self._sink.report(r) for r in fresh.values()), return_exceptions=True
        )
        failed: tuple[str, BaseException] | None = None
        refused = 0
        for msg_id, outcome in zip(fresh, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                failed = failed or (msg_id, outcome)
                refused += isinstance(outcome, Exception)
                continue
            self._reported(msg_id)
        if failed is not None:
            msg_id, exc = failed
            if not isinstance(exc, Exception):
                raise exc  # cancellation and the like are not the sink's failure
            self._on_refused(refused, f"result of MSG_ID {msg_id}: {exc!r}")
            # Not acknowledged: the session closes and (SAM11) the server sends again.
            raise TransientConnectorError(
                f"the report sink failed on MSG_ID {msg_id}: {exc!r}"
            ) from exc

    def _reported(self, msg_id: str) -> None:
        self.reported += 1
        self._seen[msg_id] = None
        if len(self._seen) > SEEN_LIMIT:
            self._seen.popitem(last=False)

    def _note_transient(self, msg_id: str) -> None:
        parsed = msgid.parse(msg_id)
        if parsed is not None:
            self._on_transient(parsed[0], parsed[1])
