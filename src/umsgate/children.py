"""The entry of the processes of ``umsgate serve``: the gateway process itself
(``gateway``, which ``serve`` replaces itself with once it has checked its options),
the HTTP front processes of ``--workers`` (``front``) and connectors with
``own_process = true`` (``connector-process``).

They run as ``python -m umsgate gateway …``, ``… front …`` and ``…
connector-process …``, and `umsgate.__main__` sends those here before the command
line (`umsgate.cli`) is imported: the command line loads Typer, Click, Rich,
pydantic, the store's migrations and every command's modules, which such a process
never runs. Each of these processes imports only what it runs (the gateway: the
engine, the store and the faces; a connector process: its protocol; a front: the
HTTP server, the faces it serves and the store's reads).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from umsgate.config import Settings

#: The commands served here.
COMMANDS = frozenset({"gateway", "front", "connector-process"})


def main(argv: Sequence[str]) -> int:
    """Run ``argv`` (``front …`` or ``connector-process …``); the exit status."""
    parser = argparse.ArgumentParser(prog="umsgate")
    commands = parser.add_subparsers(dest="command", required=True)
    front = commands.add_parser("front")
    front.add_argument("--intake", required=True)
    front.add_argument("--gateway-http", required=True)
    front.add_argument("--host", required=True)
    front.add_argument("--port", type=int, required=True)
    hosted = commands.add_parser("connector-process")
    hosted.add_argument("--fd", type=int, required=True)
    gateway = commands.add_parser("gateway")
    gateway.add_argument("--host")
    gateway.add_argument("--port", type=int)
    gateway.add_argument("--workers")
    for command in (front, gateway):
        command.add_argument("--data-dir")
        command.add_argument("--db")
        command.add_argument("--config")
        command.add_argument("--tls-cert")
        command.add_argument("--tls-key")
    for command in (front, hosted, gateway):
        command.add_argument("--log-level", default="INFO")
        command.add_argument("--log-format", default="text")
        command.add_argument("--log-sql", action="store_true")
    args = parser.parse_args(argv)

    from umsgate.logs import setup_logging

    setup_logging(args.log_level, fmt=args.log_format, sql=args.log_sql)
    if args.command == "connector-process":
        from umsgate.hosting.process import run

        return run(args.fd)
    if args.command == "gateway":
        return _gateway(args)
    return _front(args)


def options(**values: object) -> list[str]:
    """The command-line options ``--name=value`` of the ``values`` given (not
    None), for a process run through here (``data_dir`` is ``--data-dir``)."""
    return [
        f"--{name.replace('_', '-')}={value}"
        for name, value in values.items()
        if value is not None
    ]


def _store_and_tls(args: argparse.Namespace) -> list[str]:
    """The options that name the settings file, the store and the TLS files, as
    given: a front process gets them too."""
    names = ("config", "data_dir", "db", "tls_cert", "tls_key")
    return options(**{name: getattr(args, name) for name in names})


def _settings(args: argparse.Namespace, **server: object) -> Settings | None:
    """The settings named by ``args`` (the file, the store, the TLS files) with
    ``server`` over them; None, said on stderr, when they are wrong."""
    from pathlib import Path

    from umsgate import config
    from umsgate.errors import UmsgateError

    try:
        return config.load(
            Path(args.config) if args.config else None,
            overrides={
                "store": {"data_dir": args.data_dir, "url": args.db},
                "server": {
                    **server,
                    "tls_cert": args.tls_cert,
                    "tls_key": args.tls_key,
                },
            },
        )
    except UmsgateError as exc:
        import sys

        print(f"configuration error: {exc}", file=sys.stderr)
        return None


def _gateway(args: argparse.Namespace) -> int:
    from umsgate.serving import run

    settings = _settings(args, host=args.host, port=args.port, workers=args.workers)
    if settings is None:
        return 2
    return run(settings, passed=_store_and_tls(args))


def _front(args: argparse.Namespace) -> int:
    from umsgate.front.app import run_front

    settings = _settings(args, host=args.host)
    if settings is None:
        return 2
    return run_front(
        settings, intake=args.intake, gateway_http=args.gateway_http, port=args.port
    )
