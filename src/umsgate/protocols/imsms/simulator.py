"""A fake IMS SMS: send and state, with each message's state advancing over time
(``umsgate sim imsms``).

Behaviour (imsms spec §6, §8): every call needs a known ``X-API-KEY`` (401/901);
a key may use the configured agents (403/902; no list = any agent). A valid send
gets ``000`` and a new ``imsId``; its state is a pure function of the time since it
was taken: nothing started before ``delay``/2, started until ``delay``, then finished
with the outcome the mix draws for (``sendTo``, ``message``):

* ``delivered`` (default): sent and delivered, read at 2 × ``delay``;
* ``undelivered``: sent, ``messageDelivered`` false;
* ``E<n>``: not sent, ``messageError`` n;
* ``130``: the send itself is answered ``130`` and nothing is kept.

Fault switches (`Faults`) apply to both calls: answer 500 (``999``) without taking
the request; stall (take it, answer late); answer truncated JSON (take it, garble
the answer); and `ImsSimulator.go_down` / `come_back`.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Annotated

import typer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from umsgate.errors import RemoteProtocolError
from umsgate.protocols._http.server import read_body, run_foreground
from umsgate.protocols._http.simbase import SimulatorBase
from umsgate.protocols.imsms import codec
from umsgate.protocols.imsms.codes import HTTP_STATUS, MESSAGES, ResultCd
from umsgate.protocols.sandbox.mix import OutcomeMix

JSON_TYPE = "application/json; charset=UTF-8"
SEND_PATH = "/api/imsms/send"
INFO_PATH = "/api/imsms/info"
#: The seed's sample key, the default account so its sample code runs as written.
SAMPLE_KEY = "d49855bc-0da6-4214-baf1-543564b25cfc"
#: Requests kept in `ImsSimulator.received` (oldest dropped first).
MAX_RECORDED = 100_000
#: Messages kept for state queries (oldest forgotten first: then 904).
MAX_MESSAGES = 1_000_000
DELIVERED = "delivered"
UNDELIVERED = "undelivered"
SEND_FAILED = ResultCd.SEND_FAILED.value
_ERROR_OUTCOME = re.compile(r"E(-?[0-9]{1,9})")


def parse_mix(text: str, *, seed: int = 0) -> OutcomeMix:
    """``--mix`` (``"undelivered=0.05,E3001=0.05,130=0.01"``); ``delivered`` takes
    the rest.

    Raises:
        ValueError: an outcome is not ``undelivered``, ``130`` or ``E<n>``, or the
            shares are bad.
    """
    for part in filter(None, (p.strip() for p in text.split(","))):
        outcome = part.partition("=")[0].strip()
        if outcome not in (UNDELIVERED, SEND_FAILED) and not _ERROR_OUTCOME.fullmatch(
            outcome
        ):
            raise ValueError(
                f"mix outcome {outcome!r} is not 'undelivered', '130' or 'E<n>'"
            )
    return OutcomeMix.parse(text, default=DELIVERED, seed=seed)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """One request and what was answered."""

    at: float
    path: str
    api_key: str
    #: The send body or the ``imsId`` asked for, as received.
    body: bytes
    result_cd: str
    http_status: int


@dataclasses.dataclass(slots=True)
class Faults:
    """Switches a test flips; all off by default."""

    #: Answer HTTP 500 (``999``) without taking the request.
    status_500: bool = False
    #: Take the request, then hold the answer this many seconds.
    stall: float = 0.0
    #: Take the request, then answer a truncated JSON document.
    malformed: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Taken:
    """A message the simulator took."""

    api_key: str
    ims_id: str
    request: codec.SendRequest
    outcome: str
    at: float
    wall: dt.datetime


def state(taken: Taken, now: float, delay: float) -> codec.ImsData:
    """The ``imsData`` of ``taken`` at monotonic time ``now`` (pure)."""
    elapsed = now - taken.at

    def stamp(after: float) -> str | None:
        if elapsed < after:
            return None
        return codec.format_time(taken.wall + dt.timedelta(seconds=after))

    request = taken.request
    started = stamp(delay / 2)
    finished = elapsed >= delay
    sent = finished and taken.outcome in (DELIVERED, UNDELIVERED)
    delivered = finished and taken.outcome == DELIVERED
    error_match = _ERROR_OUTCOME.fullmatch(taken.outcome)
    return codec.ImsData(
        ims_id=taken.ims_id,
        send_to=request.send_to,
        send_type=request.send_type,
        send_date=request.send_date,
        message=request.message,
        attachment=None,
        attachment_ext=request.attachment_ext,
        ims_agent_id=request.ims_agent_id,
        ims_req_dttm=codec.format_time(taken.wall),
        send_start_dttm=started,
        send_end_dttm=stamp(delay),
        message_guid=f"g-{taken.ims_id}" if started else None,
        message_error=(int(error_match.group(1)) if error_match else 0)
        if finished
        else None,
        message_date=stamp(delay) if sent else None,
        message_date_delivered=stamp(delay) if delivered else None,
        message_date_read=stamp(2 * delay) if delivered else None,
        message_finished=finished,
        message_sent=sent,
        message_delivered=delivered,
    )


class ImsSimulator(SimulatorBase):
    """The simulator; `start` it, read `url`, flip `faults`, `close` it.

    Args:
        keys: API key → agent ids it may use (empty: any agent).
        mix: outcomes (`parse_mix`); default all delivered.
        delay: seconds from acceptance to the final state.
        host, port: where to listen (port 0: a free one).
    """

    def __init__(
        self,
        *,
        keys: Mapping[str, Iterable[str]],
        mix: OutcomeMix | None = None,
        delay: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.keys = {key: frozenset(agents) for key, agents in keys.items()}
        self.mix = mix or parse_mix("")
        self.delay = delay
        self.faults = Faults()
        self.received: collections.deque[Received] = collections.deque(
            maxlen=MAX_RECORDED
        )
        self.taken: collections.OrderedDict[str, Taken] = collections.OrderedDict()
        super().__init__(
            Starlette(
                routes=[
                    Route(SEND_PATH, self._send, methods=["POST"]),
                    Route(INFO_PATH, self._info, methods=["GET"]),
                ]
            ),
            host=host,
            port=port,
        )

    # ------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """Base URL (``http://host:port``)."""
        return self.served.url

    def listening(self) -> str:
        return f"imsms={self.served.address}"

    def outcome(self, send_to: str, message: str) -> str:
        """The outcome the mix gives a message (repeatable)."""
        return self.mix.draw(f"{send_to}\n{message}")

    def state_of(self, ims_id: str) -> codec.ImsData:
        return state(self.taken[ims_id], time.monotonic(), self.delay)

    # ------------------------------------------------------------ endpoints

    def _answer(self, content: bytes, status: int) -> Response:
        if self.faults.malformed:
            content = content[: len(content) // 2]
        return Response(content, status_code=status, media_type=JSON_TYPE)

    async def _hold(self) -> None:
        if self.faults.stall > 0:
            try:
                async with asyncio.timeout(self.faults.stall):
                    await self._release.wait()
            except TimeoutError:
                pass

    def _record(self, request: Request, body: bytes, code: str, status: int) -> None:
        self.received.append(
            Received(
                at=time.monotonic(),
                path=request.url.path,
                api_key=request.headers.get("x-api-key", ""),
                body=body,
                result_cd=code,
                http_status=status,
            )
        )

    def _internal(self, request: Request) -> Response:
        self._record(request, b"", ResultCd.INTERNAL, 500)
        return Response(
            codec.render_send_answer(codec.answer_for(ResultCd.INTERNAL)),
            status_code=500,
            media_type=JSON_TYPE,
        )

    async def _send(self, request: Request) -> Response:
        if self.faults.status_500:
            return self._internal(request)
        key = request.headers.get("x-api-key", "")
        body = b""
        try:
            if key not in self.keys:
                raise codec.refusal(ResultCd.UNAUTHORIZED, "unknown X-API-KEY")
            read = await read_body(request, codec.MAX_REQUEST_BYTES)
            if read is None:
                raise codec.refusal(
                    ResultCd.INVALID_REQUEST,
                    f"body over {codec.MAX_REQUEST_BYTES} bytes",
                )
            body = read
            send = codec.parse_send_request(body)
            agents = self.keys[key]
            if agents and send.ims_agent_id not in agents:
                raise codec.refusal(ResultCd.AGENT_NOT_ALLOWED, send.ims_agent_id)
            answer = self._take(key, send)
        except RemoteProtocolError as exc:
            answer = codec.answer_for(ResultCd(str(exc.code)))
        status = HTTP_STATUS[ResultCd(answer.result_cd)]
        self._record(request, body, answer.result_cd, status)
        await self._hold()
        return self._answer(codec.render_send_answer(answer), status)

    def _take(self, key: str, send: codec.SendRequest) -> codec.SendAnswer:
        outcome = self.outcome(send.send_to, send.message)
        if outcome == SEND_FAILED:
            return codec.answer_for(ResultCd.SEND_FAILED)
        taken = Taken(
            api_key=key,
            ims_id=str(uuid.uuid4()),
            request=send,
            outcome=outcome,
            at=time.monotonic(),
            wall=dt.datetime.now(dt.UTC),
        )
        self.taken[taken.ims_id] = taken
        while len(self.taken) > MAX_MESSAGES:
            self.taken.popitem(last=False)
        return codec.SendAnswer(
            result_cd=ResultCd.OK.value,
            result_msg=MESSAGES[ResultCd.OK],
            ims_id=taken.ims_id,
            ims_req_dttm=codec.format_time(taken.wall),
        )

    async def _info(self, request: Request) -> Response:
        if self.faults.status_500:
            return self._internal(request)
        key = request.headers.get("x-api-key", "")
        ims_id = request.query_params.get("imsId", "")
        if key not in self.keys:
            answer = codec.InfoAnswer(
                result_cd=ResultCd.UNAUTHORIZED,
                result_msg=MESSAGES[ResultCd.UNAUTHORIZED],
            )
        elif not codec.IMS_ID_PATTERN.fullmatch(ims_id):
            answer = codec.InfoAnswer(
                result_cd=ResultCd.INVALID_REQUEST,
                result_msg=MESSAGES[ResultCd.INVALID_REQUEST],
            )
        elif (taken := self.taken.get(ims_id)) is None or taken.api_key != key:
            answer = codec.InfoAnswer(
                result_cd=ResultCd.NOT_FOUND, result_msg=MESSAGES[ResultCd.NOT_FOUND]
            )
        else:
            answer = codec.InfoAnswer(
                result_cd=ResultCd.OK,
                result_msg=MESSAGES[ResultCd.OK],
                ims_data=state(taken, time.monotonic(), self.delay),
            )
        status = HTTP_STATUS[ResultCd(answer.result_cd)]
        self._record(request, ims_id.encode(), answer.result_cd, status)
        await self._hold()
        return self._answer(codec.render_info_answer(answer), status)


# ---------------------------------------------------------------- the CLI command


def command(
    host: Annotated[
        str, typer.Option(envvar="UMSGATE_SIM_IMSMS_HOST", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(envvar="UMSGATE_SIM_IMSMS_PORT", help="Port (0: any free).")
    ] = 18200,
    api_key: Annotated[
        list[str] | None,
        typer.Option(
            envvar="UMSGATE_SIM_IMSMS_API_KEY",
            help="An accepted X-API-KEY; repeatable. Default: the seed's sample key.",
        ),
    ] = None,
    agent: Annotated[
        list[str] | None,
        typer.Option(
            envvar="UMSGATE_SIM_IMSMS_AGENT",
            help="An allowed imsAgentId; repeat for more. Default: any.",
        ),
    ] = None,
    delay: Annotated[
        float,
        typer.Option(
            envvar="UMSGATE_SIM_IMSMS_DELAY",
            help="Seconds from send to the final state.",
        ),
    ] = 1.0,
    mix: Annotated[
        str,
        typer.Option(
            envvar="UMSGATE_SIM_IMSMS_MIX",
            help="Outcomes undelivered=SHARE,E<n>=SHARE,130=SHARE; delivered the rest.",
        ),
    ] = "",
    seed: Annotated[
        int, typer.Option(envvar="UMSGATE_SIM_IMSMS_SEED", help="Seed of the mix.")
    ] = 0,
) -> None:
    """Run a fake IMS SMS provider until Ctrl-C."""
    try:
        outcome_mix = parse_mix(mix, seed=seed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--mix") from None
    if delay < 0:
        raise typer.BadParameter("must be ≥ 0", param_hint="--delay")
    agents = frozenset(agent or ())
    simulator = ImsSimulator(
        keys={key: agents for key in (api_key or [SAMPLE_KEY])},
        mix=outcome_mix,
        delay=delay,
        host=host,
        port=port,
    )
    run_foreground(simulator)
