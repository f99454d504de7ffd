"""The frames between the gateway process and a connector process.

The frames are those of `umsgate.framing` (a 4-byte length and that much JSON),
over a socket pair made for each start of the connector process. Each side sends
at most one frame per event-loop turn, a dict of lists:

gateway → connector process
    * ``{"c": settings}``: the first frame, the connector's settings
      (`settings_to_wire`);
    * ``"s": [[tag, [message, ...]], ...]``: submit these batches (`message_to_wire`);
    * ``"a": [[tag, error], ...]``: the reports of ``tag`` are committed (error null)
      or were not (error a string, and the provider is to send them again);
    * ``"q": [[tag, [message, ...]], ...]``: resume these messages;
    * ``"x": 1``: stop (answer the reports in hand, close the sessions, exit).

connector process → gateway
    * ``"u": 1``: the connector's ``start`` returned;
    * ``"r": [[tag, [result, ...]], ...]``: a batch's results (`result_to_wire`), or
      ``[tag, null, detail]`` when the batch could not be tried at all
      (`TransientConnectorError`);
    * ``"p": [[tag, [report, ...]], ...]``: reports to commit (`report_to_wire`);
    * ``"h": [up, detail, in_flight]``: the connector's health, when it changed;
    * ``"d": [tag, ...]``: these resumes are done.

Values are arrays in a fixed order rather than objects: a message crosses twice
per send, and arrays are what orjson writes and reads fastest. Their types are
`MessageWire`, `ResultWire`, `ReportWire` and `HealthWire`, and the frames'
`ToConnector` and `ToGateway`: tuples on the writing side, the lists JSON reads
them back as on the other, indexed the same. The peer is our own process; a value
of the wrong shape fails where it is used (KeyError, IndexError, TypeError or
ValueError), and the reader stops.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TypedDict, cast

from umsgate.config import ConnectorSettings
from umsgate.domain.lifecycle import Status
from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.framing import MAX_FRAME, FrameError, frame, read_frame
from umsgate.types import Health, Outcome, ProviderReport, SubmitResult

__all__ = [
    "MAX_FRAME",
    "FrameError",
    "Outbox",
    "ToConnector",
    "ToGateway",
    "frame",
    "read_frame",
    "read_to_connector",
    "read_to_gateway",
]

#: `Message` in `message_to_wire`'s order; times are POSIX seconds.
MessageWire = tuple[
    int,  # id
    str,  # client_id
    str,  # src_msg_id
    str,  # channel
    str,  # sender
    str,  # receiver
    str,  # content
    str,  # status
    str,  # subject
    str,  # charset
    str,  # cmp_msg_id
    Sequence[str],  # file_ids
    Mapping[str, object],  # extra
    Mapping[str, object] | None,  # fallback
    int | None,  # parent_id
    float,  # created_at
    float,  # due_at
    float | None,  # expires_at
    int,  # attempts
    str | None,  # connector
    str | None,  # provider_msg_id
    int,  # segments
]
#: `SubmitResult` in `result_to_wire`'s order.
ResultWire = tuple[
    int,  # message_id
    str,  # outcome
    str | None,  # provider_msg_id
    str | None,  # code
    str | None,  # raw_code
    str,  # detail
    int | None,  # segments
    Sequence[str],  # segment_ids
    float | None,  # retry_after
]
#: `ProviderReport` in `report_to_wire`'s order.
ReportWire = tuple[
    str,  # connector
    str,  # code
    int | None,  # message_id
    str | None,  # provider_msg_id
    str | None,  # raw_code
    str,  # detail
    str,  # carrier
    float | None,  # done_at
]
#: `Health`: up, detail, in_flight, refused, last_refusal.
HealthWire = tuple[bool, str, int, int, str]


class SettingsWire(TypedDict):
    """`ConnectorSettings` as the first frame carries it."""

    name: str
    protocol: str
    tps: float | None
    window: int | None
    options: Mapping[str, object]
    secrets: Sequence[str]


#: A batch's tag and its messages (a submit or a resume).
Batch = tuple[int, Sequence[MessageWire]]
#: A batch's results, or (tag, None, why) when it could not be tried.
Results = tuple[int, Sequence[ResultWire]] | tuple[int, None, str]
#: Reports to commit under a tag.
Reports = tuple[int, Sequence[ReportWire]]


class ToConnector(TypedDict, total=False):
    """A frame from the gateway process (see the module docstring)."""

    c: SettingsWire
    s: Sequence[Batch]
    a: Sequence[tuple[int, str | None]]
    q: Sequence[Batch]
    x: int


class ToGateway(TypedDict, total=False):
    """A frame from the connector process (see the module docstring)."""

    u: int
    r: Sequence[Results]
    p: Sequence[Reports]
    h: Sequence[HealthWire]
    d: Sequence[int]


async def _read_object(reader: asyncio.StreamReader) -> dict[str, object]:
    """Raises: as `read_frame`, and FrameError for a frame that is no object."""
    payload = await read_frame(reader)
    if not isinstance(payload, dict):
        raise FrameError("a frame that is not an object")
    return payload


async def read_to_connector(reader: asyncio.StreamReader) -> ToConnector:
    """The next frame from the gateway process (its values unchecked: see the
    module docstring)."""
    return cast(ToConnector, await _read_object(reader))


async def read_to_gateway(reader: asyncio.StreamReader) -> ToGateway:
    """The next frame from the connector process (its values unchecked)."""
    return cast(ToGateway, await _read_object(reader))


class Outbox:
    """What one side sends, gathered by key into one frame per loop turn.

    ``writer`` None (or `close`) drops what is put; a write that fails calls
    ``on_error`` (default: nothing, the reader sees the socket close)."""

    def __init__(
        self,
        writer: asyncio.StreamWriter | None = None,
        *,
        on_error: Callable[[], None] = lambda: None,
    ) -> None:
        self.writer = writer
        self._on_error = on_error
        self._out: dict[str, list[object]] = {}
        self._scheduled = False

    def put(self, key: str, item: object) -> None:
        if self.writer is None:
            return
        self._out.setdefault(key, []).append(item)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write what was put now, rather than at the end of the turn."""
        self._scheduled = False
        if not self._out or self.writer is None:
            return
        out, self._out = self._out, {}
        try:
            self.writer.write(frame(out))
        except (ConnectionError, RuntimeError):
            self._on_error()

    def close(self) -> None:
        """Drop what is waiting and what comes, and close the writer."""
        writer, self.writer = self.writer, None
        self._out = {}
        if writer is not None:
            writer.close()


_UTC = dt.UTC
_CHANNELS = {c.value: c for c in Channel}
_STATUSES = {s.value: s for s in Status}
_CODES = {c.value: c for c in ResultCode}
_OUTCOMES = {o.value: o for o in Outcome}


def settings_to_wire(settings: ConnectorSettings) -> SettingsWire:
    return {
        "name": settings.name,
        "protocol": settings.protocol,
        "tps": settings.tps,
        "window": settings.window,
        "options": dict(settings.options),
        "secrets": sorted(settings.secrets),
    }


def settings_from_wire(data: SettingsWire) -> ConnectorSettings:
    """The settings the connector process builds its connector from (never
    ``own_process``: that connector is the one that runs there)."""
    return ConnectorSettings(
        name=data["name"],
        protocol=data["protocol"],
        tps=data["tps"],
        window=data["window"],
        options=data["options"],
        secrets=frozenset(data["secrets"]),
    )


def _ts(value: dt.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _dt(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, _UTC)


def message_to_wire(m: Message) -> MessageWire:
    extra = m.extra if type(m.extra) is dict else dict(m.extra)
    fallback = m.fallback
    if fallback is not None and type(fallback) is not dict:
        fallback = dict(fallback)
    return (
        m.id,
        m.client_id,
        m.src_msg_id,
        m.channel.value,
        m.sender,
        m.receiver,
        m.content,
        m.status.value,
        m.subject,
        m.charset,
        m.cmp_msg_id,
        m.file_ids,
        extra,
        fallback,
        m.parent_id,
        m.created_at.timestamp(),
        m.due_at.timestamp(),
        _ts(m.expires_at),
        m.attempts,
        m.connector,
        m.provider_msg_id,
        m.segments,
    )


def message_from_wire(w: MessageWire) -> Message:
    """Raises: KeyError, IndexError, TypeError or ValueError on a bad value."""
    return Message(
        id=w[0],
        client_id=w[1],
        src_msg_id=w[2],
        channel=_CHANNELS[w[3]],
        sender=w[4],
        receiver=w[5],
        content=w[6],
        status=_STATUSES[w[7]],
        subject=w[8],
        charset=w[9],
        cmp_msg_id=w[10],
        file_ids=tuple(w[11]),
        extra=w[12],
        fallback=w[13],
        parent_id=w[14],
        created_at=dt.datetime.fromtimestamp(w[15], _UTC),
        due_at=dt.datetime.fromtimestamp(w[16], _UTC),
        expires_at=_dt(w[17]),
        attempts=w[18],
        connector=w[19],
        provider_msg_id=w[20],
        segments=w[21],
    )


def result_to_wire(r: SubmitResult) -> ResultWire:
    return (
        r.message_id,
        r.outcome.value,
        r.provider_msg_id,
        None if r.code is None else r.code.value,
        r.raw_code,
        r.detail,
        r.segments,
        r.segment_ids,
        r.retry_after,
    )


def result_from_wire(w: ResultWire) -> SubmitResult:
    return SubmitResult(
        message_id=w[0],
        outcome=_OUTCOMES[w[1]],
        provider_msg_id=w[2],
        code=None if w[3] is None else _CODES[w[3]],
        raw_code=w[4],
        detail=w[5],
        segments=w[6],
        segment_ids=tuple(w[7]),
        retry_after=w[8],
    )


def report_to_wire(r: ProviderReport) -> ReportWire:
    return (
        r.connector,
        r.code.value,
        r.message_id,
        r.provider_msg_id,
        r.raw_code,
        r.detail,
        r.carrier,
        _ts(r.done_at),
    )


def report_from_wire(w: ReportWire) -> ProviderReport:
    return ProviderReport(
        connector=w[0],
        code=_CODES[w[1]],
        message_id=w[2],
        provider_msg_id=w[3],
        raw_code=w[4],
        detail=w[5],
        carrier=w[6],
        done_at=_dt(w[7]),
    )


def health_to_wire(h: Health) -> HealthWire:
    return (h.up, h.detail, h.in_flight, h.refused, h.last_refusal)


def health_from_wire(w: HealthWire) -> Health:
    return Health(
        up=bool(w[0]),
        detail=str(w[1]),
        in_flight=int(w[2]),
        refused=int(w[3]),
        last_refusal=str(w[4]),
    )
