"""A fake IMS SMS (``umsgate sim imsms``): the IMS face's own send and state routes
(`umsgate.protocols.imsms.face`) in front of a fake carrier
(`umsgate.protocols.sandbox.facesim`), each message's state advancing over time.

What a request gets is what the gateway's face answers (imsms spec §6, §8): every
call needs a known ``X-API-KEY`` (401/901); a key may use the configured agents
(403/902; no list = any agent); the body is read by the same codec (903, 100/110,
120). A valid send gets ``000`` and a new ``imsId``. Unlike the gateway, the fake
carrier takes any attachment the codec reads (PNG too) and limits no TPS.

A message's state is a pure function of the time since it was taken: queued before
``delay``/2, sending until ``delay``, then finished with the outcome the mix draws
for (``sendTo``, ``message``):

* ``delivered`` (default): sent and delivered, read at 2 × ``delay``;
* ``undelivered``: sent, ``messageDelivered`` false (delivery unconfirmed);
* ``E<n>``: not sent, ``messageError`` n (n ≥ 0);
* ``130``: the send itself is answered ``130`` and nothing is kept (the face's
  answer to a send the acceptor refuses as a duplicate).

The face renders the state from the fake carrier's row; the two receipts the
gateway never has, a read time and a delivery left unconfirmed, are added to its
``imsData`` by the simulator's state route around the face's.

Fault switches (`Faults`) apply to both calls: answer 500 (``999``) without taking
the request; stall (take it, answer late); answer truncated JSON (take it, garble
the answer); and `ImsSimulator.go_down` / `come_back`.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import math
import re
import time
import urllib.parse
import uuid
from collections.abc import Iterable, Mapping
from typing import Annotated, cast

import orjson
import typer
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from umsgate import config
from umsgate.clients import AuthError, ClientInfo
from umsgate.domain.lifecycle import Status
from umsgate.domain.records import StoredMessage
from umsgate.domain.results import Invalid
from umsgate.domain.submission import Accepted, Submission
from umsgate.domain.transitions import MessageState
from umsgate.errors import ValidationError
from umsgate.files import Stored
from umsgate.ports import ImsHost
from umsgate.protocols._http.server import run_foreground
from umsgate.protocols.imsms import codec, face
from umsgate.protocols.imsms.codes import ResultCd
from umsgate.protocols.sandbox.facesim import (
    MAX_KEPT,
    Counts,
    Exchange,
    FaceSimulator,
    FakeCarrier,
    Taken,
)
from umsgate.protocols.sandbox.mix import OutcomeMix
from umsgate.protocols.simoptions import SimOptions

SEND_PATH = face.SEND_PATH
INFO_PATH = face.INFO_PATH
#: The seed's sample key, the default account so its sample code runs as written.
SAMPLE_KEY = "d49855bc-0da6-4214-baf1-543564b25cfc"
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


def row_at(taken: Taken, outcome: str, now: float, delay: float) -> StoredMessage:
    """The stored message ``taken`` is at monotonic time ``now`` (pure): what the
    face renders ``imsData`` from."""
    elapsed = now - taken.at
    started = elapsed >= delay / 2
    finished = elapsed >= delay
    sent = finished and outcome in (DELIVERED, UNDELIVERED)
    error = _ERROR_OUTCOME.fullmatch(outcome)
    if finished:
        status = Status.DELIVERED if sent else Status.FAILED
    else:
        status = Status.SENDING if started else Status.QUEUED
    end = taken.created_at + delay
    state = {
        **taken.row,
        "status": status.value,
        "claimed_at": taken.created_at + delay / 2 if started else None,
        "sent_at": end if sent else None,
        "done_at": end if finished else None,
        "result_code": error.group(1) if finished and error else None,
    }
    return StoredMessage(
        state=cast(MessageState, state), content=str(taken.row.get("content", ""))
    )


class _Keys:
    """The configured keys, as the face's directory: each key is a client."""

    def __init__(self, keys: Mapping[str, Iterable[str]]) -> None:
        self.clients = {
            key: ClientInfo(
                id=key,
                version=1,
                report_url="",
                tps={},
                signing_key="",
                imsms_agents=dict.fromkeys(agents, ""),
            )
            for key, agents in keys.items()
        }

    async def authenticate_imsms(self, api_key: str) -> ClientInfo:
        client = self.clients.get(api_key)
        if client is None:
            raise AuthError("invalid_client", "unknown X-API-KEY")
        return client


class _Attachments:
    """Attachments as taken (any type the codec reads), by file id."""

    def __init__(self) -> None:
        self.content: collections.OrderedDict[str, bytes] = collections.OrderedDict()

    async def put(self, client_id: str, name: str, data: bytes) -> Stored:
        file_id = f"f-{uuid.uuid4().hex}"
        self.content[file_id] = data
        while len(self.content) > MAX_KEPT:
            self.content.popitem(last=False)
        return Stored(file_id=file_id, expires_at=math.inf, duplicate=False)


class _Unlimited:
    def allow(self, client_id: str, key: str, tps: float | None) -> bool:
        return True


class _Host:
    """What the face reads of its process (`umsgate.ports.ImsHost`)."""

    def __init__(self, simulator: ImsSimulator, keys: _Keys) -> None:
        self._simulator = simulator
        self.settings = config.load(None, env={})
        self.directory = keys
        self.files = _Attachments()
        self.metrics = Counts()
        self.throttles = _Unlimited()
        self.acceptor = simulator

    async def message_by_src(
        self, client_id: str, src_msg_id: str
    ) -> StoredMessage | None:
        return self._simulator.row_of(client_id, src_msg_id)


class ImsSimulator(FaceSimulator[Received]):
    """The simulator; `start` it, read `url`, flip `faults`, `close` it.

    Args:
        keys: API key → agent ids it may use (empty: any agent).
        mix: outcomes (`parse_mix`); default all delivered.
        delay: seconds from acceptance to the final state.
        host, port: where to listen (port 0: a free one).
    """

    name = "imsms"

    def __init__(
        self,
        *,
        keys: Mapping[str, Iterable[str]],
        mix: OutcomeMix | None = None,
        delay: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.mix = mix or parse_mix("")
        self.delay = delay
        self.carrier = FakeCarrier()
        self.gateway = _Host(self, _Keys(keys))
        routes = [
            Route(SEND_PATH, face.send, methods=["POST"]),
            Route(INFO_PATH, self._info, methods=["GET"]),
        ]
        served: ImsHost = self.gateway
        super().__init__(routes, served, host=host, port=port)

    # ------------------------------------------------------------ lifecycle

    @property
    def taken(self) -> dict[str, Taken]:
        """The messages taken, by ``imsId``."""
        return {str(t.extra["imsId"]): t for t in self.carrier.taken.values()}

    def attachment(self, taken: Taken) -> bytes | None:
        """The attachment of a message taken, as received."""
        file_ids = orjson.loads(str(taken.row["file_ids"]))
        return self.gateway.files.content.get(file_ids[0]) if file_ids else None

    def outcome(self, send_to: str, message: str) -> str:
        """The outcome the mix gives a message (repeatable)."""
        return self.mix.draw(f"{send_to}\n{message}")

    def _outcome_of(self, taken: Taken) -> str:
        return self.outcome(str(taken.extra["sendTo"]), str(taken.row["content"]))

    # ------------------------------------------------------------ the fake carrier

    async def accept(self, submission: Submission) -> Accepted:
        """The face's acceptor: ``130`` outcomes refused, the rest taken.

        Raises:
            ValidationError: a ``130`` outcome (the face answers it ``130``), or
                an idempotency key used with other values.
        """
        extra = orjson.loads(submission.row["extra"])
        if self.outcome(str(extra["sendTo"]), submission.row["content"]) == (
            SEND_FAILED
        ):
            raise ValidationError(Invalid.DUPLICATE, "the send was refused (130)")
        return await self.carrier.accept(submission)

    def row_of(self, client_id: str, src_msg_id: str) -> StoredMessage | None:
        taken = self.carrier.by_src(client_id, src_msg_id)
        if taken is None:
            return None
        return row_at(taken, self._outcome_of(taken), time.monotonic(), self.delay)

    # ------------------------------------------------------------ the state route

    def state_of(self, ims_id: str) -> codec.ImsData:
        """The ``imsData`` the state route answers now for a message taken.

        Raises:
            KeyError: no message has this ``imsId``.
        """
        taken = self.taken[ims_id]
        row = row_at(taken, self._outcome_of(taken), time.monotonic(), self.delay)
        return self._receipts(face.ims_data(row), taken)

    def _receipts(self, data: codec.ImsData, taken: Taken) -> codec.ImsData:
        """``data`` with the receipts the gateway never has: the read time of a
        delivered message, and a delivery left unconfirmed."""
        if not data.message_finished:
            return data
        outcome = self._outcome_of(taken)
        if outcome == UNDELIVERED:
            return dataclasses.replace(
                data, message_delivered=False, message_date_delivered=None
            )
        if outcome == DELIVERED and time.monotonic() - taken.at >= 2 * self.delay:
            read = dt.datetime.fromtimestamp(taken.created_at + 2 * self.delay, dt.UTC)
            return dataclasses.replace(data, message_date_read=codec.format_time(read))
        return data

    async def _info(self, request: Request) -> Response:
        """The face's state route, with `_receipts`."""
        response = await face.info(request)
        if response.status_code != 200:
            return response
        answer = codec.parse_info_answer(bytes(response.body))
        key = request.headers.get("x-api-key", "").strip()
        ims_id = request.query_params.get("imsId", "")
        taken = self.carrier.by_src(key, face.SRC_PREFIX + ims_id)
        if answer.ims_data is None or taken is None:
            return response
        data = self._receipts(answer.ims_data, taken)
        if data == answer.ims_data:
            return response
        return Response(
            codec.render_info_answer(dataclasses.replace(answer, ims_data=data)),
            media_type=face.JSON_TYPE,
        )

    # ------------------------------------------------------------ records

    def internal_error(self) -> tuple[int, str, bytes]:
        answer = codec.answer_for(ResultCd.INTERNAL)
        return 500, face.JSON_TYPE, codec.render_send_answer(answer)

    def record(self, exchange: Exchange) -> Received:
        scope = exchange.scope
        headers = dict(scope["headers"])
        body = exchange.body
        if scope["path"] == INFO_PATH:
            query = urllib.parse.parse_qs(scope["query_string"].decode("latin-1"))
            body = query.get("imsId", [""])[0].encode()
        try:
            result_cd = str(orjson.loads(exchange.answer)["resultCd"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            result_cd = ""
        return Received(
            at=time.monotonic(),
            path=scope["path"],
            api_key=headers.get(b"x-api-key", b"").decode("latin-1"),
            body=body,
            result_cd=result_cd,
            http_status=exchange.status,
        )


# ---------------------------------------------------------------- the CLI command


_option = SimOptions("IMSMS")


def command(
    host: Annotated[str, _option.host()] = "127.0.0.1",
    port: Annotated[int, _option.port()] = 18200,
    api_key: Annotated[
        list[str] | None,
        _option(
            "API_KEY",
            help="An accepted X-API-KEY; repeatable. Default: the seed's sample key.",
        ),
    ] = None,
    agent: Annotated[
        list[str] | None,
        _option("AGENT", help="An allowed imsAgentId; repeat for more. Default: any."),
    ] = None,
    delay: Annotated[
        float, _option("DELAY", help="Seconds from send to the final state.")
    ] = 1.0,
    mix: Annotated[
        str,
        _option(
            "MIX",
            help="Outcomes undelivered=SHARE,E<n>=SHARE,130=SHARE; delivered the rest.",
        ),
    ] = "",
    seed: Annotated[int, _option.seed()] = 0,
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
