"""The ``umsgate`` command: serve, migrate, clients, send, simulators, routes.

This is the only module that sets up logging. Every command that touches the store
takes ``--data-dir``, ``--db`` and ``--config`` like ``serve`` does; each flag has an
environment twin (``UMSGATE_STORE_DATA_DIR``, ``UMSGATE_STORE_URL``, ``UMSGATE_CONFIG``,
``UMSGATE_SERVER_HOST`` …).
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import importlib
import importlib.util
import inspect
import os
import sys
import typing
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import orjson
import typer

from umsgate import (
    __version__,
    children,
    clients,
    config,
    logs,
    routecheck,
    sealing,
    targets,
    webhookkeys,
)
from umsgate.console import operators
from umsgate.errors import ConfigError, UmsgateError
from umsgate.logs import setup_logging
from umsgate.protocols import registry
from umsgate.store import migrate as store_migrate
from umsgate.store.database import Database, open_database

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    help="umsgate: a unified messaging gateway.",
    no_args_is_help=True,
    add_completion=False,
)
client_app = typer.Typer(help="Manage client accounts.", no_args_is_help=True)
sim_app = typer.Typer(help="Run a provider simulator.", no_args_is_help=True)
messages_app = typer.Typer(
    help="Look messages up: one with its timeline, or a search.",
    no_args_is_help=True,
)
app.add_typer(client_app, name="client")
app.add_typer(messages_app, name="messages")
app.add_typer(sim_app, name="sim")
app.add_typer(routecheck.app, name="routes")
admin_app = typer.Typer(
    help="Manage operator accounts (the console at /console and /admin/api).",
    no_args_is_help=True,
)
app.add_typer(admin_app, name="admin")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """umsgate: a unified messaging gateway."""


T = TypeVar("T")

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", envvar="UMSGATE_CONFIG", help="TOML settings file."),
]
DataDirOpt = Annotated[
    str | None,
    typer.Option(
        "--data-dir",
        help="Directory of the embedded SQLite store [UMSGATE_STORE_DATA_DIR].",
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Database URL, e.g. postgresql://… [UMSGATE_STORE_URL]."),
]
_KEYWORD = inspect.Parameter.POSITIONAL_OR_KEYWORD
CreateOpt = Annotated[
    bool,
    typer.Option(
        "--create",
        help="Create the store if it does not exist (otherwise the command refuses "
        "to run, so that a mistyped directory does not make an empty store).",
    ),
]


def _settings(
    config_path: Path | None, data_dir: str | None, db: str | None, **server: object
) -> config.Settings:
    try:
        return config.load(
            config_path,
            overrides={"store": {"data_dir": data_dir, "url": db}, "server": server},
        )
    except UmsgateError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


#: The options that say where the store is, as `store_command` adds them.
_STORE_OPTIONS = (
    inspect.Parameter("data_dir", _KEYWORD, default=None, annotation=DataDirOpt),
    inspect.Parameter("db", _KEYWORD, default=None, annotation=DbOpt),
    inspect.Parameter("config_path", _KEYWORD, default=None, annotation=ConfigOpt),
)


def store_command(
    group: typer.Typer, name: str | None = None
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a command of ``group`` that works on the store: the function takes
    the loaded ``settings`` first, and the command gets ``--data-dir``, ``--db``
    and ``--config`` after its own options (before a ``--create``)."""

    def register(func: Callable[..., None]) -> Callable[..., None]:
        hints = typing.get_type_hints(func, include_extras=True)
        own = [
            p.replace(annotation=hints[p.name])
            for p in inspect.signature(func).parameters.values()
            if p.name != "settings"
        ]
        at = next((i for i, p in enumerate(own) if p.name == "create"), len(own))
        params = [*own[:at], *_STORE_OPTIONS, *own[at:]]

        @functools.wraps(func)
        def command(
            *,
            data_dir: str | None,
            db: str | None,
            config_path: Path | None,
            **options: object,
        ) -> None:
            func(_settings(config_path, data_dir, db), **options)

        command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            params, return_annotation=None
        )
        command.__annotations__ = {p.name: p.annotation for p in params}
        group.command(name)(command)
        return command

    return register


#: How ``--report-url`` hosts are resolved when they are checked (a seam for tests).
RESOLVER: targets.Resolver = targets.system_resolver


def _check_report_url(settings: config.Settings, url: str | None) -> None:
    """Refuse a report URL the outbound URL policy refuses (exit code 2): not
    http(s), no host, or a host at an address the gateway does not call
    (``webhook.allow_private_targets``). A name that cannot be resolved now is
    accepted; it is checked again whenever a report is sent."""
    if not url:
        return
    policy = targets.Policy(
        allow_private=settings.webhook.allow_private_targets, resolver=RESOLVER
    )
    try:
        asyncio.run(policy.check(url))
    except UmsgateError as exc:
        typer.echo(f"error: --report-url {url!r}: {exc}", err=True)
        raise typer.Exit(2) from None


def _with_db(
    settings: config.Settings,
    work: Callable[[Database], Awaitable[T]],
    *,
    create: bool = True,
) -> T:
    """Run ``work`` on the store, migrated first. Without ``create``, a store that
    does not exist is not made: the command ends saying where it looked."""

    async def run() -> T:
        if not create and not await store_migrate.created(settings):
            typer.echo(
                f"error: there is no store at {store_migrate.location(settings)} "
                "(from --data-dir, --db, --config or their UMSGATE_STORE_* twins; "
                "the default is ./data). Run the command where the gateway keeps "
                "its store, or make one first (`umsgate migrate`, or `umsgate "
                "client add --create`).",
                err=True,
            )
            raise typer.Exit(1)
        db = open_database(settings)
        try:
            await store_migrate.upgrade(db)
            return await work(db)
        finally:
            await db.close()

    try:
        return asyncio.run(run())
    except UmsgateError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [UMSGATE_SERVER_HOST].")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on [UMSGATE_SERVER_PORT].")
    ] = None,
    data_dir: DataDirOpt = None,
    db: DbOpt = None,
    config_path: ConfigOpt = None,
    log_level: Annotated[
        str,
        typer.Option(envvar="UMSGATE_LOG_LEVEL", help="debug, info, warning or error."),
    ] = "INFO",
    log_format: Annotated[
        str,
        typer.Option(
            envvar="UMSGATE_LOG_FORMAT",
            help="text (one line per record) or json (one object per line).",
        ),
    ] = "text",
    log_sql: Annotated[
        bool,
        typer.Option(
            "--log-sql",
            envvar="UMSGATE_LOG_SQL",
            help="Let the database drivers log at --log-level (otherwise they "
            "log warnings only).",
        ),
    ] = False,
    workers: Annotated[
        str | None,
        typer.Option(
            help="HTTP front processes that take the native sends to this one "
            "(0: none, this process serves HTTP; auto, the default: one per two "
            "cores, at most four, none on one core) [UMSGATE_SERVER_WORKERS].",
        ),
    ] = None,
    tls_cert: Annotated[
        str | None,
        typer.Option(
            help="Serve HTTPS with this PEM certificate (chain) file, for a "
            "deployment without a TLS proxy; give --tls-key too "
            "[UMSGATE_SERVER_TLS_CERT].",
        ),
    ] = None,
    tls_key: Annotated[
        str | None,
        typer.Option(
            help="The certificate's private key file (PEM) [UMSGATE_SERVER_TLS_KEY]."
        ),
    ] = None,
) -> None:
    """Run the API, the dispatcher and the notifier in one process (and, with
    --workers, HTTP front processes in front of it)."""
    from umsgate import tls

    try:
        setup_logging(log_level, fmt=log_format.lower(), sql=log_sql)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    settings = _settings(
        config_path,
        data_dir,
        db,
        host=host,
        port=port,
        workers=workers,
        tls_cert=tls_cert,
        tls_key=tls_key,
    )
    try:
        registry.check_connectors(settings)
        if settings.server.workers < 0:
            raise ConfigError(
                f"server.workers must be 0 or more, not {settings.server.workers}"
            )
        tls.server_context(settings.server)  # the files are checked before serving
    except UmsgateError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    _upgrade_before_serving(settings)
    # Checked: this process becomes the gateway process (`umsgate.serving`, through
    # `umsgate.children`), which leaves the command line's modules behind.
    argv = [
        sys.executable, "-m", "umsgate", "gateway",
        *logs.current.args(),
        *children.options(
            host=host, port=port, workers=workers, config=config_path,
            data_dir=data_dir, db=db, tls_cert=tls_cert, tls_key=tls_key,
        ),
    ]  # fmt: skip
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


def _upgrade_before_serving(settings: config.Settings) -> None:
    """Bring the store's schema up to date in this process, which `serve` replaces
    with the gateway process: the gateway then finds it current and never loads
    Alembic and SQLAlchemy (about 30 MiB of a long-lived process)."""

    async def run() -> None:
        db = open_database(settings)
        try:
            await store_migrate.upgrade(db)
        finally:
            await db.close()

    try:
        asyncio.run(run())
    except ConfigError as exc:  # an unsupported store URL
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:  # the store's driver's own errors, as well as ours
        typer.echo(
            f"error: cannot bring the store at {store_migrate.location(settings)} "
            f"up to date: {exc}",
            err=True,
        )
        raise typer.Exit(1) from None


@store_command(app)
def migrate(settings: config.Settings) -> None:
    """Create or upgrade the store's schema."""

    async def work(_db: Database) -> None:
        return None

    _with_db(settings, work)
    typer.echo("schema is up to date")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def _tps(
    sms: int | None, mms: int | None, rcs: int | None, kko: int | None
) -> dict[str, int]:
    """The rates given, checked (`clients.check_tps`)."""
    tps = {
        k: v
        for k, v in (("SMS", sms), ("MMS", mms), ("RCS", rcs), ("KKO", kko))
        if v is not None
    }
    for channel, rate in tps.items():
        try:
            clients.check_tps({channel: rate})
        except UmsgateError as exc:
            raise typer.BadParameter(
                str(exc), param_hint=f"--tps-{channel.lower()}"
            ) from None
    return tps


def _check(check: Callable[[str], None], value: str | None, hint: str) -> None:
    """``check(value)`` (a `clients` rule), its error as the option's."""
    if value is None:
        return
    try:
        check(value)
    except UmsgateError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from None


TobetextTokenOpt = Annotated[
    str | None,
    typer.Option(
        "--tobetext-token",
        help="Open the ToBeText face (POST /sms) with this token; the Cid is the "
        'client id. "" closes it.',
    ),
]
NewTobetextTokenOpt = Annotated[
    bool,
    typer.Option(
        "--new-tobetext-token",
        help="Open the ToBeText face with a new token (printed once).",
    ),
]
ImsmsKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--imsms-key",
        help='Open the IMS face (/api/imsms/*) with this X-API-KEY. "" closes it.',
    ),
]
NewImsmsKeyOpt = Annotated[
    bool,
    typer.Option(
        "--new-imsms-key", help="Open the IMS face with a new key (printed once)."
    ),
]
ImsmsAgentOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--imsms-agent",
        help="An imsAgentId the client may use, as ID or ID=SENDER (the sender "
        "number of its messages); repeat for more. Without any, every agent id is "
        "accepted and messages have no sender.",
    ),
]


DupWindowOpt = Annotated[
    float | None,
    typer.Option(
        "--dup-window",
        help="Refuse a message whose receiver and content the client sent within "
        "this many seconds (duplicate-send blocking; 0: off).",
    ),
]


def _face_credentials(
    tobetext_token: str | None,
    new_tobetext_token: bool,
    imsms_key: str | None,
    new_imsms_key: bool,
    imsms_agents: list[str] | None,
) -> tuple[str | None, str | None, dict[str, str] | None, dict[str, str]]:
    """(ToBeText token, IMS key, IMS agents, what to print) from the options."""
    shown: dict[str, str] = {}
    if new_tobetext_token:
        if tobetext_token is not None:
            raise typer.BadParameter(
                "give --tobetext-token or --new-tobetext-token, not both"
            )
        tobetext_token = shown["tobetextToken"] = clients.new_tobetext_token()
    if new_imsms_key:
        if imsms_key is not None:
            raise typer.BadParameter("give --imsms-key or --new-imsms-key, not both")
        imsms_key = shown["imsmsKey"] = clients.new_imsms_key()
    agents = None
    if imsms_agents is not None:
        agents = {}
        for item in imsms_agents:
            agent, _, sender = item.partition("=")
            agents[agent.strip()] = sender.strip()
    return tobetext_token, imsms_key, agents, shown


@client_app.command("add")
def client_add(
    client_id: Annotated[str, typer.Option("--id", help="The new client's id.")],
    secret: Annotated[
        str | None, typer.Option(help="Its secret (made up when left out).")
    ] = None,
    tps_sms: Annotated[
        int | None, typer.Option(help="SMS per second (default 100).")
    ] = None,
    tps_mms: Annotated[
        int | None, typer.Option(help="LMS/MMS per second (default 100).")
    ] = None,
    tps_rcs: Annotated[
        int | None, typer.Option(help="RCS per second (unlimited if left out).")
    ] = None,
    tps_kko: Annotated[
        int | None, typer.Option(help="KakaoTalk per second (unlimited if left out).")
    ] = None,
    report_url: Annotated[str, typer.Option(help="Where reports are POSTed.")] = "",
    tobetext_token: TobetextTokenOpt = None,
    new_tobetext_token: NewTobetextTokenOpt = False,
    imsms_key: ImsmsKeyOpt = None,
    new_imsms_key: NewImsmsKeyOpt = False,
    imsms_agent: ImsmsAgentOpt = None,
    dup_window: DupWindowOpt = None,
    data_dir: DataDirOpt = None,
    db: DbOpt = None,
    config_path: ConfigOpt = None,
    create: CreateOpt = False,
) -> None:
    """Create a client and print its credentials as JSON (shown only this once)."""
    _check(clients.check_client_id, client_id, "--id")
    settings = _settings(config_path, data_dir, db)
    _check_report_url(settings, report_url)
    tps = {**clients.DEFAULT_TPS, **_tps(tps_sms, tps_mms, tps_rcs, tps_kko)}
    tbt, ims, agents, shown = _face_credentials(
        tobetext_token, new_tobetext_token, imsms_key, new_imsms_key, imsms_agent
    )
    creds = _with_db(
        settings,
        lambda d: clients.add_client(
            d,
            client_id,
            secret=secret,
            tps=tps,
            report_url=report_url,
            tobetext_token=tbt,
            imsms_key=ims,
            imsms_agents=agents,
            dup_window=dup_window or 0.0,
            sealer=_sealer(settings),
        ),
        create=create,
    )
    typer.echo(
        orjson.dumps(
            {
                "clientId": creds.client_id,
                "clientSecret": creds.client_secret,
                "clientKey": creds.client_key,
                **shown,
                "tps": tps,
            }
        ).decode()
    )
    # Beside the JSON, for whoever reads the terminal: the limits this client
    # starts with, which are the usual surprise of a first benchmark.
    rates = ", ".join(
        f"{channel} {tps[channel]}/s" if channel in tps else f"{channel} unlimited"
        for channel in ("SMS", "MMS", "RCS", "KKO")
    )
    typer.echo(
        f"client {creds.client_id}: sends per second {rates} (MMS covers LMS; change "
        "with `umsgate client update --tps-sms N`). Each SMPP connector submits "
        "at most `window` messages at a time (default 10, as SMPP 3.4 §2.5.2 asks; "
        "set window in its [[connectors]] table to what the SMSC allows).",
        err=True,
    )


@store_command(client_app, "update")
def client_update(
    settings: config.Settings,
    client_id: Annotated[str, typer.Option("--id")],
    secret: Annotated[str | None, typer.Option(help="A new secret.")] = None,
    new_key: Annotated[
        bool, typer.Option("--new-key", help="Issue a new client key.")
    ] = False,
    tps_sms: Annotated[int | None, typer.Option()] = None,
    tps_mms: Annotated[int | None, typer.Option()] = None,
    tps_rcs: Annotated[int | None, typer.Option()] = None,
    tps_kko: Annotated[int | None, typer.Option()] = None,
    report_url: Annotated[str | None, typer.Option()] = None,
    tobetext_token: TobetextTokenOpt = None,
    new_tobetext_token: NewTobetextTokenOpt = False,
    imsms_key: ImsmsKeyOpt = None,
    new_imsms_key: NewImsmsKeyOpt = False,
    imsms_agent: ImsmsAgentOpt = None,
    imsms_any_agent: Annotated[
        bool,
        typer.Option(
            "--imsms-any-agent", help="Accept every IMS agent id again (no sender)."
        ),
    ] = False,
    dup_window: DupWindowOpt = None,
) -> None:
    """Change a client. A new credential (secret, key, a face's token or key) ends
    every token issued before; a rate, report URL, agents or window keep them. New
    credentials are printed as JSON (shown only this once)."""
    _check_report_url(settings, report_url)
    tps = _tps(tps_sms, tps_mms, tps_rcs, tps_kko) or None
    tbt, ims, agents, shown = _face_credentials(
        tobetext_token, new_tobetext_token, imsms_key, new_imsms_key, imsms_agent
    )
    if imsms_any_agent:
        if agents is not None:
            raise typer.BadParameter("give --imsms-agent or --imsms-any-agent")
        agents = {}
    key = _with_db(
        settings,
        lambda d: clients.update_client(
            d,
            client_id,
            secret=secret,
            new_key=new_key,
            tps=tps,
            report_url=report_url,
            tobetext_token=tbt,
            imsms_key=ims,
            imsms_agents=agents,
            dup_window=dup_window,
            sealer=_sealer(settings),
        ),
        create=False,
    )
    out: dict[str, str] = {"clientId": client_id}
    if key:
        out["clientKey"] = key
    out.update(shown)
    typer.echo(orjson.dumps(out).decode())


@store_command(client_app, "rotate-webhook-key")
def client_rotate_webhook_key(
    settings: config.Settings,
    client_id: Annotated[str, typer.Option("--id", help="The client's id.")],
    grace: Annotated[
        float | None,
        typer.Option(
            help="Seconds the replaced key still signs beside the new one "
            "[security.webhook_key_grace, 86400].",
        ),
    ] = None,
) -> None:
    """Give a client a new webhook signing key and print it as JSON (shown only
    this once). Reports carry a signature by each key until the grace period ends
    (docs/api.md); the client's tokens stay valid."""
    if grace is None:
        grace = settings.security.webhook_key_grace
    if not 0 <= grace <= config.MAX_KEY_GRACE:
        raise typer.BadParameter(
            f"--grace is seconds in [0, {config.MAX_KEY_GRACE:g}], not {grace!r}"
        )
    rotated = _with_db(
        settings,
        lambda d: webhookkeys.rotate_webhook_key(
            d, client_id, grace=grace, sealer=_sealer(settings)
        ),
        create=False,
    )
    typer.echo(
        orjson.dumps(
            {
                "clientId": rotated.client_id,
                "signingKey": rotated.signing_key,
                "previousKeyUntil": datetime.datetime.fromtimestamp(
                    rotated.previous_until, datetime.UTC
                ).isoformat(timespec="seconds"),
            }
        ).decode()
    )


@app.command("secret-key")
def secret_key(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the key to this new file (mode 0600) instead of printing it.",
        ),
    ] = None,
) -> None:
    """Make a key for sealing the webhook signing keys at rest, for
    UMSGATE_SECRET_KEY or [security] key_file (docs/security.md)."""
    key = sealing.new_key()
    if out is None:
        typer.echo(key)
        return
    try:
        fd = os.open(out, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as exc:
        typer.echo(f"error: {out}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    typer.echo(f"wrote a new secret key to {out} (mode 0600)", err=True)


def _sealer(settings: config.Settings) -> sealing.Sealer:
    return sealing.Sealer(settings.security.secret_key)


@store_command(client_app, "list")
def client_list(settings: config.Settings) -> None:
    """List clients as JSON lines."""
    for row in _with_db(settings, clients.list_clients, create=False):
        typer.echo(orjson.dumps(row).decode())


# -- messages ---------------------------------------------------------------------


def _console() -> Console:
    from rich.console import Console

    return Console()


@store_command(messages_app, "show")
def messages_show(
    settings: config.Settings,
    message_id: Annotated[int, typer.Argument(help="The umsMsgId.", min=1)],
) -> None:
    """A message of any client and its whole timeline."""
    from umsgate import lookupview
    from umsgate.store import lookup

    detail = _with_db(settings, lambda d: lookup.message(d, message_id), create=False)
    if detail is None:
        typer.echo(f"error: no message {message_id}", err=True)
        raise typer.Exit(1)
    lookupview.show(
        _console(),
        lookupview.message_table(detail),
        lookupview.timeline_table(detail.events),
    )


def _since(value: str | None, hint: str) -> float | None:
    from umsgate.protocols.apigw import codec

    try:
        return codec.parse_time(value, hint)
    except UmsgateError:
        raise typer.BadParameter(
            f"{value!r} is not a time (ISO 8601, no offset: KST; or "
            "yyyyMMddHHmm[ss] in KST)",
            param_hint=hint,
        ) from None


@messages_app.command("search")
def messages_search(
    src_msg_id: Annotated[
        str | None, typer.Option("--src-msg-id", help="The client's message id.")
    ] = None,
    receiver: Annotated[
        str | None, typer.Option(help="Receiver number, in any form sends take.")
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="ACCEPTED, QUEUED, … DELIVERED, FAILED.")
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="SMS, LMS, MMS, RCS or KKO.")
    ] = None,
    client: Annotated[
        str | None, typer.Option("--client", help="One client's (default: all).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Accepted at or after (ISO 8601).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Accepted before (ISO 8601).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Page size, 1 to 200.")] = 50,
    cursor: Annotated[
        str | None, typer.Option(help="The next-page cursor a search printed.")
    ] = None,
    data_dir: DataDirOpt = None,
    db: DbOpt = None,
    config_path: ConfigOpt = None,
) -> None:
    """Messages of every client (or one), newest first, a page at a time."""
    from umsgate import lookupview
    from umsgate.domain import phone
    from umsgate.domain.lifecycle import Status
    from umsgate.domain.message import Channel
    from umsgate.store import lookup

    if not 1 <= limit <= lookup.MAX_LIMIT:
        raise typer.BadParameter(
            f"{limit} is not in 1..{lookup.MAX_LIMIT}", param_hint="--limit"
        )
    if status is not None:
        status = status.upper()
        if status not in Status.__members__:
            raise typer.BadParameter(
                f"{status!r} is not one of {', '.join(Status)}", param_hint="--status"
            )
    if channel is not None:
        channel = channel.upper()
        if channel not in Channel.__members__:
            raise typer.BadParameter(
                f"{channel!r} is not one of {', '.join(Channel)}",
                param_hint="--channel",
            )
    if receiver is not None:
        try:
            receiver = phone.receiver(receiver)
        except phone.InvalidNumber:
            raise typer.BadParameter(
                f"{receiver!r} is not a valid number", param_hint="--receiver"
            ) from None
    if cursor is not None:
        try:
            lookup.decode_cursor(cursor)
        except lookup.BadCursor as exc:
            raise typer.BadParameter(str(exc), param_hint="--cursor") from None
    query = lookup.Search(
        client_id=client,
        src_msg_id=src_msg_id,
        receiver=receiver,
        status=status,
        channel=channel,
        since=_since(since, "--since"),
        until=_since(until, "--until"),
        limit=limit,
        after=cursor,
    )
    settings = _settings(config_path, data_dir, db)

    page = _with_db(settings, lambda d: lookup.search(d, query), create=False)
    lookupview.show(_console(), lookupview.page_table(page))
    if page.next_cursor is not None:
        typer.echo(f"more: --cursor {page.next_cursor}")


@app.command()
def send(
    to: Annotated[str, typer.Option("--to", help="Receiver number.")],
    text: Annotated[str, typer.Option("--text", help="Message text.")],
    client_id: Annotated[str, typer.Option("--client-id", envvar="UMSGATE_CLIENT_ID")],
    client_secret: Annotated[
        str, typer.Option("--client-secret", envvar="UMSGATE_CLIENT_SECRET")
    ],
    client_key: Annotated[
        str, typer.Option("--client-key", envvar="UMSGATE_CLIENT_KEY")
    ],
    sender: Annotated[
        str, typer.Option("--from", help="Sender (callback) number.")
    ] = "0212345678",
    subject: Annotated[
        str | None, typer.Option(help="Send as LMS with this subject.")
    ] = None,
    url: Annotated[
        str, typer.Option(envvar="UMSGATE_URL", help="The gateway's base URL.")
    ] = "http://127.0.0.1:8080",
    src_msg_id: Annotated[
        str | None, typer.Option(help="Your message id (made up if left out).")
    ] = None,
) -> None:
    """Send one message through a running gateway and print its answer."""
    import secrets as _secrets

    import httpx  # here: no other command needs it

    body: dict[str, object] = {
        "srcMsgId": src_msg_id or _secrets.token_hex(8),
        "callback": sender,
        "receiver": to,
        "content": text,
    }
    path = "/v1/message/sms"
    if subject is not None:
        body["subject"] = subject
        path = "/v1/message/mms"
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            tok = http.post(
                "/v1/auth/token",
                json={
                    "clientId": client_id,
                    "clientSecret": client_secret,
                    "clientKey": client_key,
                },
            )
            if tok.status_code != 200:
                typer.echo(tok.text, err=True)
                raise typer.Exit(1)
            answer = http.post(
                path,
                json=body,
                headers={
                    "Authorization": f"Bearer {tok.json()['accessToken']}",
                    "originCode": "000000000",
                    "billCode": "00000",
                },
            )
    except httpx.HTTPError as exc:
        typer.echo(f"cannot reach the gateway at {url}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(answer.text)
    if answer.status_code != 200:
        raise typer.Exit(1)


#: Simulators: protocol → module exposing ``command``.
SIMULATORS = {
    "ushot": "umsgate.protocols.ushot.simulator",
    "smpp": "umsgate.protocols.smpp.simulator",
    "tobetext": "umsgate.protocols.tobetext.simulator",
    "imsms": "umsgate.protocols.imsms.simulator",
    "aicross": "umsgate.protocols.aicross.simulator",
    "apigw": "umsgate.sim.apigw",
}


UsernameOpt = Annotated[str, typer.Option("--username", help="The operator's name.")]
PasswordStdinOpt = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of standard input instead of "
        "asking for it.",
    ),
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@store_command(admin_app, "add")
def admin_add(
    settings: config.Settings,
    username: UsernameOpt,
    password_stdin: PasswordStdinOpt = False,
) -> None:
    """Create an operator (asks for the password twice)."""
    password = _password(password_stdin)
    _with_db(settings, lambda d: operators.add_operator(d, username, password))
    typer.echo(f"operator {username} added", err=True)


@store_command(admin_app, "list")
def admin_list(settings: config.Settings) -> None:
    """List operators as JSON lines."""
    for row in _with_db(settings, operators.list_operators):
        typer.echo(orjson.dumps(row).decode())


@store_command(admin_app, "remove")
def admin_remove(settings: config.Settings, username: UsernameOpt) -> None:
    """Remove an operator; its sessions and tokens end."""
    _with_db(settings, lambda d: operators.remove_operator(d, username))
    typer.echo(f"operator {username} removed", err=True)


@store_command(admin_app, "passwd")
def admin_passwd(
    settings: config.Settings,
    username: UsernameOpt,
    password_stdin: PasswordStdinOpt = False,
) -> None:
    """Change an operator's password; its sessions and tokens end."""
    password = _password(password_stdin)
    _with_db(settings, lambda d: operators.set_password(d, username, password))
    typer.echo(f"password of {username} changed", err=True)


@store_command(admin_app, "token")
def admin_token(
    settings: config.Settings,
    username: UsernameOpt,
    ttl: Annotated[
        str, typer.Option("--ttl", help="Lifetime: 90s, 15m, 1h, 7d (at most 90d).")
    ] = "1h",
) -> None:
    """Print a bearer token for the admin API (Authorization: Bearer …)."""
    try:
        seconds = operators.parse_ttl(ttl)
    except UmsgateError as exc:
        raise typer.BadParameter(str(exc), param_hint="--ttl") from None
    token, _expires = _with_db(
        settings, lambda d: operators.issue_token(d, username, seconds)
    )
    typer.echo(token)


def _wants_simulators(args: Sequence[str]) -> bool:
    """Whether the command line ``args`` (after the program's name) may run or
    list a simulator: ``sim …``, or no command at all (help). Each simulator's
    module loads its protocol's server side (and httpx for the HTTP ones), about
    10 MiB that ``serve`` and the other commands never use."""
    command = next((arg for arg in args if not arg.startswith("-")), None)
    return command is None or command == "sim"


def _register_simulators() -> None:
    for name, module_name in SIMULATORS.items():
        try:
            if importlib.util.find_spec(module_name) is None:
                continue
        except ModuleNotFoundError:  # the protocol's package is not installed
            continue
        module = importlib.import_module(module_name)
        sim_app.command(name=name)(module.command)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in children.COMMANDS:
        # The processes serve starts, run as `umsgate front …` rather than
        # `python -m umsgate front …`.
        raise SystemExit(children.main(sys.argv[1:]))
    if _wants_simulators(sys.argv[1:]):
        _register_simulators()
    app()
