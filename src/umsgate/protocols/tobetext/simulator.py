"""A fake ToBeText (``umsgate sim tobetext``): the ToBeText face's own ``POST /sms``
(`umsgate.protocols.tobetext.face`) in front of a fake carrier
(`umsgate.protocols.sandbox.facesim`), with status callbacks drawn from an outcome
mix.

What a request gets is what the gateway's face answers (tobetext spec §9): the form
read by the same codec, ``Cid``/``token`` checked against the configured accounts
(2006/2007 malformed, 410 unknown), the rest validated (2001–2005, 2008), and the XML
acknowledgement with a 32-hex ``MsgId``. A repeated ``Ckey`` with identical
parameters gets the first acknowledgement again and sends nothing more; with other
parameters it gets 2001. Each accepted message with a callback URL is called back
after ``delay`` seconds (or a per-message delay between ``delay`` and ``delay_max``)
with 200, 400, 411 or 412 from the mix, rendered by the face's own reports
(`ToBeTextReports`) and retried per spec §9 when the customer does not answer 2xx.

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

import dataclasses
import hashlib
import time
from collections.abc import Mapping
from typing import Annotated

import typer

from umsgate import config
from umsgate.clients import AuthError, ClientInfo
from umsgate.domain.results import ResultCode
from umsgate.engine.intake import Intake
from umsgate.ports import ToBeTextHost
from umsgate.protocols._http.pusher import Delivery, PushPolicy
from umsgate.protocols._http.server import run_foreground
from umsgate.protocols.sandbox.facesim import (
    Counts,
    Exchange,
    FaceSimulator,
    FakeCarrier,
    Taken,
)
from umsgate.protocols.sandbox.mix import OutcomeMix
from umsgate.protocols.simoptions import SimOptions
from umsgate.protocols.tobetext import codec, codes
from umsgate.protocols.tobetext.face import PUSH, ToBeTextReports, routes
from umsgate.protocols.tobetext.send import PATH, msg_id

#: Spec §9 "realistic" mode: callbacks 3 to 30 minutes after sending.
REALISTIC_DELAY = (180.0, 1800.0)
#: The callback codes of the mix as the face's reports say them (`face.CALLBACK_CODES`
#: maps each back to its code).
OUTCOMES: Mapping[codes.CallbackCode, ResultCode] = {
    codes.CallbackCode.SUCCESS: ResultCode.DELIVERED,
    codes.CallbackCode.FAILED: ResultCode.FAILED,
    codes.CallbackCode.INTERNAL: ResultCode.PROVIDER_ERROR,
    codes.CallbackCode.OTHER: ResultCode.EXPIRED,
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """One request to ``/sms`` and what was answered."""

    at: float
    #: Decoded form fields, names lower-cased.
    fields: Mapping[str, str]
    #: The acknowledgement answered (None when a fault answered 500 first).
    ack: codec.Result | None
    http_status: int


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


class _Accounts:
    """The configured accounts, as the face's directory."""

    def __init__(self, accounts: Mapping[str, str]) -> None:
        self.tokens = dict(accounts)

    async def authenticate_tobetext(self, cid: str, token: str) -> ClientInfo:
        if cid not in self.tokens or self.tokens[cid] != token:
            raise AuthError("invalid_client", "Cid and token do not authenticate")
        return ClientInfo(id=cid, version=1, report_url="", tps={}, signing_key="")


@dataclasses.dataclass(frozen=True, slots=True)
class _Host:
    """What the face reads of its process (`umsgate.ports.ToBeTextHost`)."""

    settings: config.Settings
    directory: _Accounts
    metrics: Counts
    intake: Intake


class ToBeTextSimulator(FaceSimulator[Received]):
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

    name = "tobetext"

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
        self.mix = mix or parse_mix("")
        self.delay = delay
        self.delay_max = delay_max
        self.report_first = report_first
        self.callback_ckey = callback_ckey
        self.carrier = FakeCarrier(self._taken)
        self.reports = ToBeTextReports()
        # Callbacks go to whoever runs the simulator, on their own machine or
        # network: private targets are the rule here.
        settings = config.load(
            None, env={}, overrides={"webhook": {"allow_private_targets": True}}
        )
        gateway: ToBeTextHost = _Host(
            settings, _Accounts(accounts), Counts(), self.carrier
        )
        super().__init__(
            routes, gateway, host=host, port=port, push=push or PushPolicy()
        )

    # ------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """The send URL (``http://host:port/sms``)."""
        return f"{self.served.url}{PATH}"

    @property
    def accepted(self) -> int:
        """Distinct messages accepted."""
        return len(self.carrier.taken)

    def record(self, exchange: Exchange) -> Received:
        if exchange.status == 500 and not exchange.body:
            return Received(at=time.monotonic(), fields={}, ack=None, http_status=500)
        headers = dict(exchange.scope["headers"])
        fields = (
            {}
            if exchange.status == 413
            else codec.decode_form(
                exchange.body, headers.get(b"content-type", b"").decode("latin-1")
            )
        )
        return Received(
            at=time.monotonic(),
            fields=fields,
            ack=codec.parse_ack(exchange.answer),
            http_status=exchange.status,
        )

    # ------------------------------------------------------------ the callbacks

    def outcome(self, ckey: str) -> int:
        """The callback code the mix gives ``ckey`` (repeatable)."""
        return int(self.mix.draw(ckey))

    async def _taken(self, taken: Taken) -> None:
        """Call back for a new message: now, or after its delay."""
        pusher = self.pusher
        if not taken.extra.get("callback") or pusher is None:
            return
        ckey = str(taken.extra.get("ckey", ""))
        code = OUTCOMES[codes.CallbackCode(self.outcome(ckey))]
        extra = taken.extra if self.callback_ckey else {**taken.extra, "ckey": ""}
        report = self.reports.render(taken.row, code, extra=extra, from_carrier=True)
        delivery = Delivery(
            key=msg_id(taken.id),
            url=report.target_url,
            body=report.body.encode(),
            content_type=PUSH.content_type,
        )
        if self.report_first:
            await pusher.push_now(delivery)
        else:
            pusher.push(delivery, delay=self._delay_for(ckey))

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


_option = SimOptions("TOBETEXT")


def command(
    host: Annotated[str, _option.host()] = "127.0.0.1",
    port: Annotated[int, _option.port()] = 18100,
    account: Annotated[
        list[str] | None,
        _option(
            "ACCOUNT",
            help="CID:TOKEN of an account; repeat for more. Default sandbox:sandbox.",
        ),
    ] = None,
    delay: Annotated[
        float, _option("DELAY", help="Seconds from send to callback.")
    ] = 1.0,
    realistic: Annotated[
        bool,
        _option(
            "REALISTIC",
            help="Call back 3 to 30 minutes after sending, as ToBeText does.",
        ),
    ] = False,
    mix: Annotated[
        str,
        _option(
            "MIX",
            help="Callback failures CODE=SHARE,... (400, 411, 412); 200 gets the rest.",
        ),
    ] = "",
    seed: Annotated[int, _option.seed()] = 0,
    callback_attempts: Annotated[
        int, _option("CALLBACK_ATTEMPTS", help="Callback attempts in all.")
    ] = 4,
    callback_interval: Annotated[
        float,
        _option("CALLBACK_INTERVAL", help="Seconds between callback attempts."),
    ] = 60.0,
    report_first: Annotated[
        bool,
        _option(
            "REPORT_FIRST",
            help="Call back, and wait for the answer, before acknowledging the send "
            "(--delay is not used).",
        ),
    ] = False,
    callback_ckey: Annotated[
        bool,
        _option(
            "CALLBACK_CKEY",
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
