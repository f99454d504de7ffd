"""A fake API-Gateway (``umsgate sim apigw``): umsgate's own native face in front of
the sandbox carrier, for an upstream ``apigw`` connector to talk to.

It is a whole gateway (`umsgate.app.create_app`) on a temporary SQLite data
directory, with client accounts created with exactly the credentials given, so that
a connector configured with them can log in. The sandbox carrier ends each message
``delay`` seconds after it was taken, with the outcome the mix draws (unified codes;
the rest is DELIVERED); the report goes to the client's report URL, signed, and is
there for the report check. Everything the native API does is therefore what this
simulator does: token lifetime, TPS per client (429/42900), idempotent ``srcMsgId``,
JPEG uploads and their 41000, the report check's 30 s rule.

Fault switches (`Faults`) for tests, on the send calls (``/v1/message/…``) only:
answer 500 (``50000``) or 429 (``42900``) without taking the request; stall (take
it, answer late); answer truncated JSON (take it, garble the answer); and
`ApiGatewaySimulator.go_down` / `come_back` (while down, messages taken still end
and their reports are still pushed). Serving, going down, the stall and the
garbling are the HTTP simulators' own (`umsgate.protocols._http.simbase`).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated

import orjson
import typer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from umsgate import clients, config
from umsgate.app import Gateway, create_app
from umsgate.domain.results import ResultCode
from umsgate.protocols._http import simbase
from umsgate.protocols._http.server import run_foreground
from umsgate.protocols._http.simbase import (
    Asgi,
    SimulatorBase,
    held_answer,
    respond,
)
from umsgate.protocols.apigw.codes import MESSAGES, Code
from umsgate.protocols.simoptions import SimOptions, check_http_url

SEND_PREFIX = "/v1/message/"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """A client account with known credentials."""

    client_id: str
    secret: str
    key: str

    @classmethod
    def parse(cls, text: str) -> Account:
        """From ``ID:SECRET:KEY`` (the secret may hold colons, the id and key not).

        Raises:
            ValueError: a part is missing.
        """
        client_id, _, rest = text.partition(":")
        secret, _, key = rest.rpartition(":")
        if not (client_id and secret and key):
            raise ValueError(f"{text!r} is not ID:SECRET:KEY")
        return cls(client_id=client_id, secret=secret, key=key)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """One request and the HTTP status answered."""

    at: float
    method: str
    path: str
    status: int


@dataclasses.dataclass(slots=True)
class Faults(simbase.Faults):
    """The HTTP simulators' switches (500 is ``50000``), and one more; all off by
    default. They touch the send calls only."""

    #: Answer HTTP 429 (``42900``) without taking the request.
    throttle: bool = False


def parse_mix(text: str) -> dict[str, float]:
    """``--mix`` (``"2001=0.05,3000=0.01"``): unified codes with their shares.

    Raises:
        ValueError: a part is not CODE=SHARE of a unified code.
    """
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        code, sep, share = part.partition("=")
        try:
            ResultCode(code.strip())
        except ValueError:
            raise ValueError(
                f"mix code {code.strip()!r} is not a unified result code"
            ) from None
        if not sep:
            raise ValueError(f"mix part {part!r} is not CODE=SHARE")
        mix[code.strip()] = float(share)
    if any(s < 0 for s in mix.values()) or sum(mix.values()) > 1.0 + 1e-9:
        raise ValueError(f"shares must be ≥ 0 and add up to ≤ 1, got {mix}")
    return mix


class ApiGatewaySimulator(SimulatorBase[Received]):
    """The simulator; `start` it, read `url`, flip `faults`, `close` it.

    Args:
        accounts: clients to create.
        report_url: every client's report URL ("" for none: report check only).
        mix: unified code → share (`parse_mix`); the rest is DELIVERED.
        delay: seconds from a message's acceptance to its report.
        seed: seed of the mix.
        token_ttl: lifetime of the tokens issued (seconds).
        tps: each client's SMS and MMS TPS (RCS and KakaoTalk unlimited).
        report_check_interval: seconds a client must wait between report checks.
        webhook_retry_interval: seconds between attempts of a report webhook.
        host, port: where to listen (port 0: a free one).
        data_dir: where the store lives (default: a temporary directory, removed on
            `close`).
    """

    name = "apigw"

    faults: Faults

    def __init__(
        self,
        *,
        accounts: Sequence[Account],
        report_url: str = "",
        mix: Mapping[str, float] | None = None,
        delay: float = 0.5,
        seed: int = 0,
        token_ttl: float = 86400.0,
        tps: int = 100,
        report_check_interval: float = 30.0,
        webhook_retry_interval: float = 90.0,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: Path | None = None,
    ) -> None:
        self.accounts = list(accounts)
        self.report_url = report_url
        self.tps = tps
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="umsgate-sim-apigw-"))
        self.settings = config.load(
            None,
            env={},
            overrides={
                "store": {"data_dir": str(self.data_dir), "url": ""},
                "auth": {"token_ttl": token_ttl, "cache_ttl": 0.0},
                "sandbox": {"delay": delay, "seed": seed, "mix": dict(mix or {})},
                "report_check": {"interval": report_check_interval},
                # A simulator reports to whoever runs it, on their own machine or
                # network (a connector's callback route on 127.0.0.1): private
                # targets are the rule here, not the exception.
                "webhook": {
                    "retry_interval": webhook_retry_interval,
                    "allow_private_targets": True,
                },
            },
        )
        self._face: ASGIApp | None = None
        #: The gateway behind the face (built by `start`).
        self.gateway: Gateway | None = None
        self._started = False
        super().__init__(Asgi(self._faulty), host=host, port=port)
        self.faults = Faults()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        # The app's lifespan is not run by `Served`; the gateway is started here. It
        # has no connectors of its own, so no callback routes are added.
        app = create_app(self.settings)
        self._face, self.gateway = app, app.gateway
        await app.gateway.start()
        self._started = True
        for account in self.accounts:
            if await app.gateway.directory.client(account.client_id) is not None:
                continue  # a store kept from an earlier run
            await clients.add_client(
                app.gateway.db,
                account.client_id,
                secret=account.secret,
                key=account.key,
                tps={"SMS": self.tps, "MMS": self.tps},
                report_url=self.report_url,
            )
        await super().start()

    async def close(self) -> None:
        await super().close()
        if self._started and self.gateway is not None:
            self._started = False
            await self.gateway.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def count(self, path: str, status: int | None = None) -> int:
        """Requests received on ``path`` (answered ``status``, when given)."""
        return sum(
            1
            for r in self.received
            if r.path == path and (status is None or r.status == status)
        )

    # ------------------------------------------------------------ faults

    async def _faulty(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._face
        assert app is not None, "started before serving"
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        path: str = scope["path"]
        faults = self.faults
        refusal = None
        if path.startswith(SEND_PREFIX):
            if faults.status_500:
                refusal = Code.INTERNAL
            elif faults.throttle:
                refusal = Code.TPS_EXCEEDED
        if refusal is not None:
            await _answer(send, refusal)
            self._record(scope, refusal.http_status)
            return
        garble = path.startswith(SEND_PREFIX) and (faults.malformed or faults.stall)
        if not garble:
            status = await _forward(app, scope, receive, send)
            self._record(scope, status)
            return
        start, body = await held_answer(app, scope, receive)
        await self._answer_held(send, start, body)
        self._record(scope, start["status"])

    def _record(self, scope: Scope, status: int) -> None:
        self.received.append(
            Received(
                at=time.monotonic(),
                method=scope["method"],
                path=scope["path"],
                status=status,
            )
        )


async def _answer(send: Send, code: Code) -> None:
    body = orjson.dumps({"resultCode": code.value, "resultMessage": MESSAGES[code]})
    await respond(
        send, code.http_status, [(b"content-type", b"application/json")], body
    )


async def _forward(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> int:
    status = 500

    async def watch(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        await send(message)

    await app(scope, receive, watch)
    return status


# ---------------------------------------------------------------- the CLI command


_option = SimOptions("APIGW")


def command(
    host: Annotated[str, _option.host()] = "127.0.0.1",
    port: Annotated[int, _option.port()] = 18400,
    client: Annotated[
        list[str] | None,
        _option(
            "CLIENT",
            help="ID:SECRET:KEY of a client account; repeat for more. "
            "Default sandbox:sandbox:sandbox.",
        ),
    ] = None,
    report_url: Annotated[
        str,
        _option(
            "REPORT_URL", help="The clients' report URL (reports are pushed there)."
        ),
    ] = "",
    delay: Annotated[
        float, _option("DELAY", help="Seconds from send to report.")
    ] = 0.5,
    mix: Annotated[
        str,
        _option(
            "MIX",
            help="Unified codes CODE=SHARE,... (e.g. 2001=0.05,3000=0.01); "
            "DELIVERED gets the rest.",
        ),
    ] = "",
    seed: Annotated[int, _option.seed()] = 0,
    token_ttl: Annotated[
        float, _option("TOKEN_TTL", help="Seconds a token lives.")
    ] = 86400.0,
    tps: Annotated[int, _option("TPS", help="Each client's SMS and MMS TPS.")] = 100,
    report_check_interval: Annotated[
        float,
        _option(
            "REPORT_CHECK_INTERVAL", help="Seconds between a client's report checks."
        ),
    ] = 30.0,
    webhook_retry_interval: Annotated[
        float,
        _option(
            "WEBHOOK_RETRY_INTERVAL",
            help="Seconds between attempts of a report webhook.",
        ),
    ] = 90.0,
    data_dir: Annotated[
        Path | None,
        _option(
            "DATA_DIR",
            help="Where its store lives, kept across restarts (default: a temporary "
            "directory, removed at the end).",
        ),
    ] = None,
) -> None:
    """Run a fake API-Gateway (umsgate's native API on the sandbox) until Ctrl-C."""
    try:
        accounts = [Account.parse(c) for c in client or ["sandbox:sandbox:sandbox"]]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--client") from None
    try:
        shares = parse_mix(mix)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--mix") from None
    check_http_url(report_url or None, "--report-url")
    if delay < 0 or token_ttl <= 0 or tps < 1:
        raise typer.BadParameter("--delay ≥ 0, --token-ttl > 0 and --tps ≥ 1")
    simulator = ApiGatewaySimulator(
        accounts=accounts,
        report_url=report_url,
        mix=shares,
        delay=delay,
        seed=seed,
        token_ttl=token_ttl,
        tps=tps,
        report_check_interval=report_check_interval,
        webhook_retry_interval=webhook_retry_interval,
        host=host,
        port=port,
        data_dir=data_dir,
    )
    run_foreground(simulator)
