"""``umsgate routes check`` and ``umsgate routes test``: the route table of a
settings file, checked and explained offline (nothing connects to a provider).

``check`` loads the file as ``serve`` would (every connector is built, not started)
and prints a summary, or the error naming the line, with exit status 1. ``test``
routes one made-up message through the same `Router` the dispatcher uses and
prints the route that matched and why, the routes passed over, and the candidates
in order with their ranks, weights and breaker states (closed: offline, no traffic
has been seen).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from umsgate import config
from umsgate.domain import phone
from umsgate.domain.message import Channel, Message
from umsgate.engine.router import DEFAULT_ROUTE, Router, ranks
from umsgate.errors import ConfigError
from umsgate.protocols import registry
from umsgate.types import Health, ReportSink, SubmitResult

app = typer.Typer(
    help="Check a route table and see where a message would go.",
    no_args_is_help=True,
)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", envvar="UMSGATE_CONFIG", help="TOML settings file."),
]


def _load(config_path: Path | None) -> config.Settings:
    try:
        settings = config.load(config_path)
        registry.check_connectors(settings)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    return settings


def _line(item: config.RouteSettings | config.ConnectorSettings) -> str:
    origin = item.origin
    return f" (line {origin.line})" if origin is not None and origin.line else ""


def _targets(route: config.RouteSettings) -> str:
    """``a ×3 + b ×1 | sandbox``: ranks in failover order, weights within."""
    return " | ".join(
        " + ".join(f"{n} ×{w}" if w else n for n, w in rank) for rank in ranks(route)
    )


def _rules(route: config.RouteSettings) -> str:
    parts = [
        f"{label} {', '.join(values)}"
        for label, values in (
            ("channels", route.channels),
            ("countries", route.countries),
            ("receivers", route.prefixes),
            ("clients", route.clients),
            ("senders", route.senders),
            ("sender prefixes", route.sender_prefixes),
        )
        if values
    ]
    return "; ".join(parts) or "every message"


@app.command("check")
def check(config_path: ConfigOpt = None) -> None:
    """Validate a settings file: exit 0 with a summary, 1 with the error."""
    if config_path is None:
        typer.echo("error: give the settings file with --config FILE", err=True)
        raise typer.Exit(1)
    settings = _load(config_path)
    typer.echo(f"{config_path}: OK")
    typer.echo(f"connectors: {len(settings.connectors)} (and the built-in sandbox)")
    for c in settings.connectors:
        typer.echo(f"  {c.name}{_line(c)}: {c.protocol}")
    routes = settings.routes or (DEFAULT_ROUTE,)
    if not settings.routes:
        typer.echo("routes: none, so every message goes to the sandbox")
    else:
        typer.echo(f"routes: {len(routes)}, the first that matches wins")
    for i, route in enumerate(settings.routes, start=1):
        typer.echo(
            f"  {i}. {route.name}{_line(route)}: {_rules(route)} → {_targets(route)}"
        )
    for warning in _warnings(settings):
        typer.echo(f"warning: {warning}")


def _warnings(settings: config.Settings) -> list[str]:
    out: list[str] = []
    catch_all: str | None = None
    for route in settings.routes:
        if catch_all is not None:
            out.append(
                f"route {route.name!r} never matches: route {catch_all!r} before it "
                f"takes every message"
            )
            continue
        if _rules(route) == "every message":
            catch_all = route.name
    used = {n for r in settings.routes for n in r.connectors}
    for c in settings.connectors:
        if settings.routes and c.name not in used:
            out.append(f"connector {c.name!r} is in no route")
    return out


@app.command("test")
def test(
    to: Annotated[str, typer.Option("--to", help="Receiver number.")],
    channel: Annotated[str, typer.Option("--channel", help="SMS, LMS, MMS, RCS, KKO.")],
    client: Annotated[
        str, typer.Option("--client", help="Client id (none: client rules fail).")
    ] = "",
    sender: Annotated[
        str | None,
        typer.Option("--sender", help="Sender number (none: sender rules fail)."),
    ] = None,
    tried: Annotated[
        str | None,
        typer.Option(
            "--tried", help="A connector the message was last tried on (a retry)."
        ),
    ] = None,
    config_path: ConfigOpt = None,
) -> None:
    """Show which connector a message would take, and why. Exit 1 when no route
    matches."""
    settings = _load(config_path)
    try:
        receiver = phone.receiver(to)
    except phone.InvalidNumber:
        typer.echo(f"error: --to {to!r} is not a number that can receive", err=True)
        raise typer.Exit(1) from None
    try:
        kind = Channel(channel.upper())
    except ValueError:
        typer.echo(
            f"error: --channel {channel!r} is not one of {', '.join(Channel)}",
            err=True,
        )
        raise typer.Exit(1) from None
    source = ""
    if sender is not None:
        try:
            source = phone.sender(sender)
        except phone.InvalidNumber:
            typer.echo(f"error: --sender {sender!r} is not a valid number", err=True)
            raise typer.Exit(1) from None
    now = dt.datetime.now(dt.UTC)
    message = Message(
        id=0,
        client_id=client,
        src_msg_id="routes-test",
        channel=kind,
        sender=source,
        receiver=receiver,
        content="",
        created_at=now,
        due_at=now,
        connector=tried,
    )
    names = ["sandbox", *(c.name for c in settings.connectors)]
    router = Router(
        settings.routes, {n: Offline(n) for n in names}, policy=settings.breaker
    )
    for line in describe(router, message):
        typer.echo(line)
    if router.route_for(message) is None:
        raise typer.Exit(1)


def describe(router: Router, message: Message) -> list[str]:
    """The explanation `routes test` prints, line by line."""
    d = router.explain(message)
    who = f"client {message.client_id!r}" if message.client_id else "no client"
    frm = f"from {message.sender}" if message.sender else "no sender"
    out = [
        f"message: {message.channel} to {message.receiver} "
        f"(country {phone.country(message.receiver)}), {frm}, {who}"
    ]
    for position, (name, miss) in enumerate(d.passed_over, start=1):
        out.append(f"route {position} {name!r}: passed over: {miss}")
    if d.route is None:
        out.append("no route matches: the message would wait in the queue")
        return out
    out.append(f"route {d.position} {d.route.name!r}{_line(d.route)}: matches")
    out.extend(f"  {rule}" for rule in d.rules)
    out.append("candidates in order:")
    totals: dict[int, int] = {}
    for c in d.candidates:
        totals[c.rank] = totals.get(c.rank, 0) + c.weight
    width = max(len(c.name) for c in d.candidates)
    for c in d.candidates:
        if c.weight:
            share = (
                f"weight {c.weight} ({100 * c.weight / totals[c.rank]:.0f}% of rank)"
            )
        else:
            share = "failover"
        if not c.configured:
            state = "not configured"
        elif c.breaker is not None:
            state = f"breaker {c.breaker.state}"
            if c.breaker.since is None:
                state += " (offline: no traffic seen)"
        else:
            state = ""
        note = "  (tried last: skipped while another can take it)" if c.avoided else ""
        out.append(
            f"  rank {c.rank}  {c.name:<{width}}  {share:<24}  {state}"
            + ("" if c.up or not c.configured else f"  down: {c.health}")
            + note
        )
    if d.chosen is None:
        out.append(f"takes: nothing now; it would wait {d.wait:.1f} s")
        return out
    chosen = next(c for c in d.candidates if c.name == d.chosen)
    peers = [c for c in d.candidates if c.rank == chosen.rank and c.available]
    why = f"rank {chosen.rank}"
    if len(peers) > 1:
        ratio = ":".join(str(c.weight) for c in peers)
        why += f", which shares its traffic {ratio} among {len(peers)} connectors"
    elif chosen.rank > 1:
        why += ", the first rank with a connector in rotation"
    out.append(f"takes: {d.chosen} ({why})")
    return out


class Offline:
    """A connector as `routes test` sees it: configured, never connected."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def start(self, sink: ReportSink) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def submit(self, messages: Sequence[Message]) -> Sequence[SubmitResult]:
        return []

    async def resume(self, messages: Sequence[Message]) -> None:
        return None

    def health(self) -> Health:
        return Health(up=True, detail="offline")
