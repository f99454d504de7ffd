"""A fake ToBeText: the send endpoint with the spec's validation and error codes, and
status callbacks drawn from an outcome mix (``umsgate sim tobetext``).

Behaviour (tobetext spec §9): ``POST /sms`` takes URL-encoded or multipart forms,
checks ``Cid``/``token`` against the configured accounts (2006/2007 malformed, 410
unknown), validates the rest (2001–2005), and answers the XML acknowledgement with a
new 32-hex ``MsgId``. A repeated ``Ckey`` with identical parameters gets the first
acknowledgement again and sends nothing more; with other parameters it gets 2001.
Each accepted message with a callback URL is called back after ``delay`` seconds
(or a per-message delay between ``delay`` and ``delay_max``) with 200, 400, 411 or
412 from the mix, retried per spec §9 when the customer does not answer 2xx.

Report-first mode (``report_first``, ``--report-first``): the callback of a new
message is POSTed, and its answer awaited, before the send is acknowledged (a
provider whose callback overtakes its own API answer); a callback that fails is
retried as usual, and the acknowledgement goes out after the first attempt.
``callback_ckey=False`` (``--no-callback-ckey``) leaves ``CKey`` empty in callbacks,
so they name the message by ``MsgId`` alone.

Fault switches (`Faults`) for tests: answer 500 without taking the request; stall
(take it, answer late); answer a truncated XML (take it, garble the answer); and
`ToBeTextSimulator.go_down` / `come_back`.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import time
import uuid
from collections.abc import Mapping
from typing import Annotated

import typer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from umsgate.errors import RemoteProtocolError
from umsgate.protocols._http.pusher import Delivery, PushPolicy
from umsgate.protocols._http.server import read_body, run_foreground
from umsgate.protocols._http.simbase import SimulatorBase
from umsgate.protocols.sandbox.mix import OutcomeMix
from umsgate.protocols.tobetext import codec, codes

XML_TYPE = "application/xml; charset=UTF-8"
#: Requests kept in `ToBeTextSimulator.received` (oldest dropped first).
MAX_RECORDED = 100_000
#: Accepted Ckeys remembered for repeats (oldest forgotten first).
MAX_REMEMBERED = 1_000_000
#: Spec §9 "realistic" mode: callbacks 3 to 30 minutes after sending.
REALISTIC_DELAY = (180.0, 1800.0)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """One request to ``/sms`` and what was answered."""

    at: float
    #: Decoded form fields, names lower-cased.
    fields: Mapping[str, str]
    #: The acknowledgement decided (None when a fault answered 500 first).
    ack: codec.Result | None
    http_status: int


@dataclasses.dataclass(slots=True)
class Faults:
    """Switches a test flips; all off by default."""

    #: Answer HTTP 500 without taking the request.
    status_500: bool = False
    #: Take the request, then hold the answer this many seconds.
    stall: float = 0.0
    #: Take the request, then answer a truncated XML document.
    malformed: bool = False


def parse_mix(text: str, *, seed: int = 0) -> OutcomeMix:
    """``--mix`` (``"400=0.1,411=0.01"``): callback codes other than 200 with their
    shares; 200 takes the rest.

    Raises:
        ValueError: a code is not a callback failure code, or the shares are bad.
    """
    allowed = {str(int(c)) for c in codes.CallbackCode}
    for part in filter(None, (p.strip() for p in text.split(","))):
        code = part.partition("=")[0].strip()
        if code not in allowed:
            raise ValueError(f"mix code {code!r} is not one of {sorted(allowed)}")
    return OutcomeMix.parse(
        text, default=str(int(codes.CallbackCode.SUCCESS)), seed=seed
    )


class ToBeTextSimulator(SimulatorBase):
    """The simulator; `start` it, read `url`, flip `faults`, `close` it.

    Args:
        accounts: Cid → token.
        mix: callback outcomes (`parse_mix`); default all 200.
        delay: seconds from acceptance to callback.
        delay_max: when above ``delay``, each message's delay is drawn between the
            two (repeatably, from its Ckey).
        push: callback attempts, interval and timeout (spec §9).
        host, port: where to listen (port 0: a free one).
        report_first: call back before acknowledging (``delay`` is not used).
        callback_ckey: name the message by ``CKey`` in callbacks, not only by
            ``MsgId``.
    """

    def __init__(
        self,
        *,
        accounts: Mapping[str, str],
        mix: OutcomeMix | None = None,
        delay: float = 1.0,
        delay_max: float | None = None,
        push: PushPolicy | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        report_first: bool = False,
        callback_ckey: bool = True,
    ) -> None:
        self.accounts = dict(accounts)
        self.mix = mix or parse_mix("")
        self.delay = delay
        self.delay_max = delay_max
        self.report_first = report_first
        self.callback_ckey = callback_ckey
        self.faults = Faults()
        self.received: collections.deque[Received] = collections.deque(
            maxlen=MAX_RECORDED
        )
        self._sent: collections.OrderedDict[
            tuple[str, str], tuple[codec.SendRequest, codec.Result]
        ] = collections.OrderedDict()
        super().__init__(
            Starlette(routes=[Route("/sms", self._send, methods=["POST"])]),
            host=host,
            port=port,
            push=push or PushPolicy(),
        )

    # ------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """The send URL (``http://host:port/sms``)."""
        return f"{self.served.url}/sms"

    def listening(self) -> str:
        return f"tobetext={self.served.address}"

    @property
    def accepted(self) -> int:
        """Distinct messages accepted."""
        return len(self._sent)

    # ------------------------------------------------------------ the endpoint

    async def _send(self, request: Request) -> Response:
        if self.faults.status_500:
            self.received.append(
                Received(at=time.monotonic(), fields={}, ack=None, http_status=500)
            )
            return Response("Internal Server Error", status_code=500)
        body = await read_body(request, codec.MAX_REQUEST_BYTES)
        if body is None:
            ack = codec.Result(
                status=codes.Status.FAIL,
                error_code=int(codes.AckCode.BODY),
                error_msg=f"request larger than {codec.MAX_REQUEST_BYTES} bytes",
            )
            self.received.append(
                Received(at=time.monotonic(), fields={}, ack=ack, http_status=413)
            )
            return Response(codec.render_ack(ack), status_code=413, media_type=XML_TYPE)
        fields = codec.decode_form(body, request.headers.get("content-type", ""))
        taken: codec.SendRequest | None = None
        try:
            ack, taken = self._accept(fields)
        except RemoteProtocolError as exc:
            ack = codec.error_result(fields, exc)
        self.received.append(
            Received(at=time.monotonic(), fields=fields, ack=ack, http_status=200)
        )
        pusher = self.pusher
        if taken is not None and taken.callback is not None and pusher is not None:
            callback = self._callback(taken, ack)
            if self.report_first:
                await pusher.push_now(callback)
            else:
                pusher.push(callback, delay=self._delay_for(taken.ckey))
        if self.faults.stall > 0:
            try:
                async with asyncio.timeout(self.faults.stall):
                    await self._release.wait()
            except TimeoutError:
                pass
        content = codec.render_ack(ack)
        if self.faults.malformed:
            content = content[: len(content) // 2]
        return Response(content, media_type=XML_TYPE)

    def _accept(
        self, fields: Mapping[str, str]
    ) -> tuple[codec.Result, codec.SendRequest | None]:
        """The acknowledgement, and the request when it is taken as new.

        Raises:
            RemoteProtocolError: refused, with its acknowledgement code.
        """
        cid, token = codec.credentials(fields)
        if self.accounts.get(cid) != token:
            raise codec.refusal(codes.AckCode.AUTH_FAILED, "Cid and token do not match")
        request = codec.parse_send_request(fields)
        key = (request.cid, request.ckey)
        prior = self._sent.get(key)
        if prior is not None:
            if prior[0] == request:
                return prior[1], None
            raise codec.refusal(
                codes.AckCode.CKEY, "Ckey already used with other values"
            )
        ack = codec.Result(
            ckey=request.ckey,
            status=codes.Status.SUCCESS,
            msg_id=uuid.uuid4().hex,
            send_num=request.send_num.lstrip("+"),
            recv_num=request.recv_num.lstrip("+"),
            error_code=int(codes.AckCode.SUCCESS),
            error_msg=codes.ACK_MESSAGES[codes.AckCode.SUCCESS],
        )
        self._sent[key] = (request, ack)
        while len(self._sent) > MAX_REMEMBERED:
            self._sent.popitem(last=False)
        return ack, request

    def outcome(self, ckey: str) -> int:
        """The callback code the mix gives ``ckey`` (repeatable)."""
        return int(self.mix.draw(ckey))

    def _callback(self, request: codec.SendRequest, ack: codec.Result) -> Delivery:
        assert request.callback is not None
        code = codes.CallbackCode(self.outcome(request.ckey))
        report = dataclasses.replace(
            ack,
            ckey=ack.ckey if self.callback_ckey else "",
            status=codes.Status.SUCCESS
            if code is codes.CallbackCode.SUCCESS
            else codes.Status.FAIL,
            error_code=int(code),
            error_msg=codes.CALLBACK_MESSAGES[code],
        )
        return Delivery(
            key=ack.msg_id,
            url=request.callback,
            body=codec.render_callback(report),
            content_type="application/x-www-form-urlencoded; charset=UTF-8",
        )

    def _delay_for(self, ckey: str) -> float:
        if self.delay_max is None or self.delay_max <= self.delay:
            return self.delay
        digest = hashlib.blake2b(ckey.encode(), digest_size=8).digest()
        share = int.from_bytes(digest, "big") / 2**64
        return self.delay + share * (self.delay_max - self.delay)


# ---------------------------------------------------------------- the CLI command


def _accounts(values: list[str]) -> dict[str, str]:
    accounts: dict[str, str] = {}
    for value in values:
        cid, sep, token = value.partition(":")
        if (
            not sep
            or not codec.CREDENTIAL_PATTERN.fullmatch(cid)
            or not (codec.CREDENTIAL_PATTERN.fullmatch(token))
        ):
            raise typer.BadParameter(
                f"{value!r} is not CID:TOKEN (1-64 visible ASCII characters each)",
                param_hint="--account",
            )
        accounts[cid] = token
    return accounts


def command(
    host: Annotated[
        str,
        typer.Option(envvar="UMSGATE_SIM_TOBETEXT_HOST", help="Address to listen on."),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(envvar="UMSGATE_SIM_TOBETEXT_PORT", help="Port (0: any free)."),
    ] = 18100,
    account: Annotated[
        list[str] | None,
        typer.Option(
            envvar="UMSGATE_SIM_TOBETEXT_ACCOUNT",
            help="CID:TOKEN of an account; repeat for more. Default sandbox:sandbox.",
        ),
    ] = None,
    delay: Annotated[
        float,
        typer.Option(
            envvar="UMSGATE_SIM_TOBETEXT_DELAY", help="Seconds from send to callback."
        ),
    ] = 1.0,
    realistic: Annotated[
        bool,
        typer.Option(
            envvar="UMSGATE_SIM_TOBETEXT_REALISTIC",
            help="Call back 3 to 30 minutes after sending, as ToBeText does.",
        ),
    ] = False,
    mix: Annotated[
        str,
        typer.Option(
            envvar="UMSGATE_SIM_TOBETEXT_MIX",
            help="Callback failures CODE=SHARE,... (400, 411, 412); 200 gets the rest.",
        ),
    ] = "",
    seed: Annotated[
        int, typer.Option(envvar="UMSGATE_SIM_TOBETEXT_SEED", help="Seed of the mix.")
    ] = 0,
    callback_attempts: Annotated[
        int,
        typer.Option(
            envvar="UMSGATE_SIM_TOBETEXT_CALLBACK_ATTEMPTS",
            help="Callback attempts in all.",
        ),
    ] = 4,
    callback_interval: Annotated[
        float,
        typer.Option(
            envvar="UMSGATE_SIM_TOBETEXT_CALLBACK_INTERVAL",
            help="Seconds between callback attempts.",
        ),
    ] = 60.0,
    report_first: Annotated[
        bool,
        typer.Option(
            envvar="UMSGATE_SIM_TOBETEXT_REPORT_FIRST",
            help="Call back, and wait for the answer, before acknowledging the send "
            "(--delay is not used).",
        ),
    ] = False,
    callback_ckey: Annotated[
        bool,
        typer.Option(
            envvar="UMSGATE_SIM_TOBETEXT_CALLBACK_CKEY",
            help="Name the message by CKey in callbacks (--no-callback-ckey: by "
            "MsgId only).",
        ),
    ] = True,
) -> None:
    """Run a fake ToBeText Outbound SMS provider until Ctrl-C."""
    try:
        outcome_mix = parse_mix(mix, seed=seed)
        policy = PushPolicy(attempts=callback_attempts, interval=callback_interval)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    low, high = REALISTIC_DELAY if realistic else (delay, None)
    simulator = ToBeTextSimulator(
        accounts=_accounts(account or ["sandbox:sandbox"]),
        mix=outcome_mix,
        delay=low,
        delay_max=high,
        push=policy,
        host=host,
        port=port,
        report_first=report_first,
        callback_ckey=callback_ckey,
    )
    run_foreground(simulator)
