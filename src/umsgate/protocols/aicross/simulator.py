"""A fake AI CROSS of the documented shape (``umsgate sim aicross``).

What the seed states is honoured (aicross spec §2): form-encoded requests, JSON
answers on URLs ending in ``.json``, ``clientTag`` optional but unique (a repeat is
an error), results delivered / failed / delivering retrievable by ``clientTag``,
a DLR pushed by HTTPS POST to the URL registered for the account, carrier
detection. Everything else is the proposal of spec §4–§6: ``POST
/api/p5/send.json`` and ``POST /api/p5/result.json`` with ``token``, ``to``,
``text``, ``clientTag``; 5-digit placeholder codes; each message stays
``delivering`` for ``delay`` seconds, then ends as the mix draws (``delivered``, or
``60001``/``60002``/``60003``), and its DLR (the result object as JSON) is pushed to
``dlr_url`` when one is set, retried 5 times 60 s apart by default.

Report-first mode (``report_first``, ``--report-first``): a message is final at
once, and its DLR is POSTed, and its answer awaited, before the send is answered (a
provider whose DLR overtakes its own API answer); a DLR that fails is retried as
usual, and the send is answered after the first attempt.

Fault switches (`Faults`) apply to both calls: answer 500 (``50001``) without taking
the request; stall (take it, answer late); answer truncated JSON (take it, garble
the answer); and `AiCrossSimulator.go_down` / `come_back`.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import itertools
import math
import time
from collections.abc import Iterable, Mapping
from typing import Annotated

import typer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from umsgate.errors import RemoteProtocolError
from umsgate.protocols._http.pusher import Delivery, PushPolicy
from umsgate.protocols._http.server import run_foreground
from umsgate.protocols._http.simbase import SimulatorBase
from umsgate.protocols.aicross import codec
from umsgate.protocols.aicross.codes import HTTP_STATUS, MESSAGES, ErrorCode, Status
from umsgate.protocols.sandbox.mix import OutcomeMix
from umsgate.protocols.simoptions import SimOptions, check_http_url
from umsgate.request_body import read_body

JSON_TYPE = "application/json; charset=UTF-8"
SEND_PATH = "/api/p5/send.json"
RESULT_PATH = "/api/p5/result.json"
DELIVERED = "delivered"
#: Outcomes the mix may draw besides ``delivered`` (spec §5: delivery failures).
FAILURE_CODES = (
    ErrorCode.UNKNOWN_SUBSCRIBER,
    ErrorCode.CARRIER_REJECTED,
    ErrorCode.EXPIRED,
)
#: Carrier detection (spec S6) by number prefix; placeholders, not AI CROSS data.
DEFAULT_CARRIERS: dict[str, str] = {
    "+8170": "docomo",
    "+8180": "au",
    "+8190": "softbank",
}
#: Messages kept for result queries (oldest forgotten first: then 40401).
MAX_MESSAGES = 1_000_000
#: Japan Standard Time, in which ``doneAt`` is written (spec §4 example).
JST = dt.timezone(dt.timedelta(hours=9))


def parse_mix(text: str, *, seed: int = 0) -> OutcomeMix:
    """``--mix`` (``"60001=0.05,60002=0.02"``); ``delivered`` takes the rest.

    Raises:
        ValueError: a code is not one of the delivery failure placeholders.
    """
    allowed = {c.value for c in FAILURE_CODES}
    for part in filter(None, (p.strip() for p in text.split(","))):
        code = part.partition("=")[0].strip()
        if code not in allowed:
            raise ValueError(f"mix code {code!r} is not one of {sorted(allowed)}")
    return OutcomeMix.parse(text, default=DELIVERED, seed=seed)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    at: float
    path: str
    fields: Mapping[str, str]
    http_status: int
    error_code: str | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Taken:
    key: str
    request: codec.SendRequest
    outcome: str
    carrier: str
    at: float
    wall: dt.datetime


def result_of(taken: Taken, now: float, delay: float) -> codec.Result:
    """The result object of ``taken`` at monotonic time ``now`` (pure)."""
    if now - taken.at < delay:
        return codec.Result(
            client_tag=taken.request.client_tag,
            state=codec.State.DELIVERING,
            status=Status.DELIVERING,
            carrier=taken.carrier,
        )
    done_at = (taken.wall + dt.timedelta(seconds=delay)).astimezone(JST)
    if taken.outcome == DELIVERED:
        return codec.Result(
            client_tag=taken.request.client_tag,
            state=codec.State.DELIVERED,
            status=Status.DELIVERED,
            carrier=taken.carrier,
            done_at=done_at.isoformat(timespec="seconds"),
        )
    code = ErrorCode(taken.outcome)
    return codec.Result(
        client_tag=taken.request.client_tag,
        state=codec.State.FAILED,
        status=Status.FAILED,
        error_code=code.value,
        message=MESSAGES[code],
        carrier=taken.carrier,
        done_at=done_at.isoformat(timespec="seconds"),
    )


class AiCrossSimulator(SimulatorBase[Received]):
    """The simulator; `start` it, read `url`, flip `faults`, `close` it.

    Args:
        tokens: accepted tokens.
        mix: outcomes (`parse_mix`); default all delivered.
        delay: seconds a message stays ``delivering``.
        dlr_url: where DLRs go (the account's registered URL), or None.
        push: DLR attempts, interval and timeout (spec §6: 5 tries, 60 s apart).
        max_text_chars: longest text taken (spec §6: 670).
        carriers: number prefix → carrier name.
        host, port: where to listen (port 0: a free one).
        report_first: report-first mode (see the module docstring); ``delay``
            is then not used.
    """

    name = "aicross"

    def __init__(
        self,
        *,
        tokens: Iterable[str],
        mix: OutcomeMix | None = None,
        delay: float = 1.0,
        dlr_url: str | None = None,
        push: PushPolicy | None = None,
        max_text_chars: int = codec.DEFAULT_MAX_TEXT_CHARS,
        carriers: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        report_first: bool = False,
    ) -> None:
        self.tokens = frozenset(tokens)
        self.mix = mix or parse_mix("")
        self.report_first = report_first
        self.delay = delay
        self.dlr_url = dlr_url
        self.max_text_chars = max_text_chars
        self.carriers = dict(DEFAULT_CARRIERS if carriers is None else carriers)
        self.taken: collections.OrderedDict[str, Taken] = collections.OrderedDict()
        self._untagged = itertools.count(1)
        super().__init__(
            Starlette(
                routes=[
                    Route(SEND_PATH, self._send, methods=["POST"]),
                    Route(RESULT_PATH, self._result, methods=["POST"]),
                ]
            ),
            host=host,
            port=port,
            push=push or PushPolicy(attempts=5, interval=60.0),
        )

    # ------------------------------------------------------------ lifecycle

    @property
    def final_after(self) -> float:
        """Seconds a message stays ``delivering`` (none in report-first mode)."""
        return 0.0 if self.report_first else self.delay

    def outcome(self, key: str) -> str:
        """The outcome the mix gives a clientTag (repeatable)."""
        return self.mix.draw(key)

    def carrier(self, number: str) -> str:
        for prefix, name in sorted(self.carriers.items(), key=lambda p: -len(p[0])):
            if number.startswith(prefix):
                return name
        return "unknown"

    # ------------------------------------------------------------ endpoints

    async def _respond(
        self,
        request: Request,
        fields: Mapping[str, str],
        content: bytes,
        status: int,
        error_code: str | None,
    ) -> Response:
        self._record(request, fields, status, error_code)
        await self._hold()
        return Response(
            self._garbled(content), status_code=status, media_type=JSON_TYPE
        )

    def _record(
        self,
        request: Request,
        fields: Mapping[str, str],
        status: int,
        error_code: str | None,
    ) -> None:
        self.received.append(
            Received(
                at=time.monotonic(),
                path=request.url.path,
                fields=fields,
                http_status=status,
                error_code=error_code,
            )
        )

    @staticmethod
    def _error(code: ErrorCode, client_tag: str | None) -> tuple[bytes, int, str]:
        content = codec.render_answer(
            status=Status.ERROR,
            client_tag=client_tag,
            error_code=code.value,
            message=MESSAGES[code],
        )
        return content, HTTP_STATUS[code], code.value

    async def _fields(self, request: Request) -> dict[str, str]:
        body = await read_body(request, codec.MAX_REQUEST_BYTES)
        if body is None:
            raise codec.refusal(ErrorCode.INVALID_PARAMETER, "body too large")
        fields = codec.decode_form(body)
        if fields.get("token", "") and fields["token"] not in self.tokens:
            raise codec.refusal(ErrorCode.BAD_TOKEN, "unknown token")
        return fields

    async def _send(self, request: Request) -> Response:
        fields: dict[str, str] = {}
        if self.faults.status_500:
            content, status, code = self._error(ErrorCode.INTERNAL, None)
            self._record(request, fields, status, code)
            return Response(content, status_code=status, media_type=JSON_TYPE)
        try:
            fields = await self._fields(request)
            send = codec.parse_send_request(fields, max_text_chars=self.max_text_chars)
            if send.client_tag is not None and send.client_tag in self.taken:
                raise codec.refusal(ErrorCode.DUPLICATE_CLIENT_TAG, send.client_tag)
        except RemoteProtocolError as exc:
            content, status, error_code = self._error(
                ErrorCode(str(exc.code)), fields.get("clientTag")
            )
            return await self._respond(request, fields, content, status, error_code)
        dlr = self._take(send)
        if dlr is not None and self.pusher is not None:
            if self.report_first:
                await self.pusher.push_now(dlr)
            else:
                self.pusher.push(dlr, delay=self.final_after)
        content = codec.render_answer(
            status=Status.ACCEPTED,
            client_tag=send.client_tag,
            error_code=None,
            message="OK",
        )
        return await self._respond(request, fields, content, 200, None)

    def _take(self, send: codec.SendRequest) -> Delivery | None:
        """Take a message; its DLR, when one goes to the customer."""
        key = send.client_tag or f"untagged-{next(self._untagged)}"
        taken = Taken(
            key=key,
            request=send,
            outcome=self.outcome(key),
            carrier=self.carrier(send.to),
            at=time.monotonic(),
            wall=dt.datetime.now(dt.UTC),
        )
        self.taken[key] = taken
        while len(self.taken) > MAX_MESSAGES:
            self.taken.popitem(last=False)
        if self.dlr_url is None:
            return None
        final = result_of(taken, math.inf, self.final_after)
        return Delivery(
            key=key,
            url=self.dlr_url,
            body=codec.render_result(final),
            content_type="application/json",
        )

    async def _result(self, request: Request) -> Response:
        fields: dict[str, str] = {}
        if self.faults.status_500:
            content, status, code = self._error(ErrorCode.INTERNAL, None)
            return await self._respond(request, fields, content, status, code)
        try:
            fields = await self._fields(request)
            if not fields.get("token"):
                raise codec.refusal(ErrorCode.BAD_TOKEN, "token is missing")
            tag = fields.get("clientTag", "")
            taken = self.taken.get(tag)
            if taken is None or taken.request.client_tag is None:
                raise codec.refusal(ErrorCode.UNKNOWN_CLIENT_TAG, tag)
        except RemoteProtocolError as exc:
            content, status, error_code = self._error(
                ErrorCode(str(exc.code)), fields.get("clientTag")
            )
            return await self._respond(request, fields, content, status, error_code)
        result = result_of(taken, time.monotonic(), self.final_after)
        return await self._respond(
            request, fields, codec.render_result(result), 200, None
        )


# ---------------------------------------------------------------- the CLI command


_option = SimOptions("AICROSS")


def command(
    host: Annotated[str, _option.host()] = "127.0.0.1",
    port: Annotated[int, _option.port()] = 18300,
    token: Annotated[
        list[str] | None,
        _option(
            "TOKEN",
            help="An accepted authentication token; repeatable. Default: sandbox.",
        ),
    ] = None,
    dlr_url: Annotated[
        str | None,
        _option("DLR_URL", help="The account's registered DLR URL (none: no DLRs)."),
    ] = None,
    delay: Annotated[
        float, _option("DELAY", help="Seconds a message stays 'delivering'.")
    ] = 1.0,
    mix: Annotated[
        str,
        _option(
            "MIX",
            help="Failures CODE=SHARE,... (60001, 60002, 60003); delivered the rest.",
        ),
    ] = "",
    seed: Annotated[int, _option.seed()] = 0,
    max_text: Annotated[
        int, _option("MAX_TEXT", help="Longest text in characters.")
    ] = codec.DEFAULT_MAX_TEXT_CHARS,
    dlr_attempts: Annotated[int, _option("DLR_ATTEMPTS", help="DLR attempts.")] = 5,
    dlr_interval: Annotated[
        float, _option("DLR_INTERVAL", help="Seconds between DLR attempts.")
    ] = 60.0,
    report_first: Annotated[
        bool,
        _option(
            "REPORT_FIRST",
            help="End each message at once and POST its DLR, waiting for the "
            "answer, before answering the send (--delay is not used).",
        ),
    ] = False,
) -> None:
    """Run a fake AI CROSS (絶対リーチ!SMS) HTTPS API until Ctrl-C."""
    try:
        outcome_mix = parse_mix(mix, seed=seed)
        policy = PushPolicy(attempts=dlr_attempts, interval=dlr_interval)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    check_http_url(dlr_url, "--dlr-url")
    simulator = AiCrossSimulator(
        tokens=token or ["sandbox"],
        mix=outcome_mix,
        delay=delay,
        dlr_url=dlr_url,
        push=policy,
        max_text_chars=max_text,
        host=host,
        port=port,
        report_first=report_first,
    )
    run_foreground(simulator)
