"""The entry of the processes that ``umsgate serve`` starts itself: the HTTP front
processes of ``--workers`` (``front``) and connectors with ``own_process = true``
(``connector-process``).

They are started as ``python -m umsgate front …`` and ``python -m umsgate
connector-process …``, and `umsgate.__main__` sends those here before the command
line (`umsgate.cli`) is imported: the command line loads Typer, Click, Rich, the
store's migrations and every command's modules, which such a process never runs.
Each of these processes imports only what it runs (a connector process: its
protocol; a front: the HTTP server, the faces it serves and the store's reads), so
it stays small beside the gateway process.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

#: The commands served here.
COMMANDS = frozenset({"front", "connector-process"})


def main(argv: Sequence[str]) -> int:
    """Run ``argv`` (``front …`` or ``connector-process …``); the exit status."""
    parser = argparse.ArgumentParser(prog="umsgate")
    commands = parser.add_subparsers(dest="command", required=True)
    front = commands.add_parser("front")
    front.add_argument("--intake", required=True)
    front.add_argument("--gateway-http", required=True)
    front.add_argument("--host", required=True)
    front.add_argument("--port", type=int, required=True)
    front.add_argument("--data-dir")
    front.add_argument("--db")
    front.add_argument("--config")
    front.add_argument("--tls-cert")
    front.add_argument("--tls-key")
    hosted = commands.add_parser("connector-process")
    hosted.add_argument("--fd", type=int, required=True)
    for command in (front, hosted):
        command.add_argument("--log-level", default="INFO")
        command.add_argument("--log-format", default="text")
        command.add_argument("--log-sql", action="store_true")
    args = parser.parse_args(argv)

    from umsgate.logs import setup_logging

    setup_logging(args.log_level, fmt=args.log_format, sql=args.log_sql)
    if args.command == "connector-process":
        from umsgate.hosting.process import run

        return run(args.fd)
    return _front(args)


def _front(args: argparse.Namespace) -> int:
    from pathlib import Path

    from umsgate import config
    from umsgate.errors import UmsgateError
    from umsgate.front.app import run_front

    try:
        settings = config.load(
            Path(args.config) if args.config else None,
            overrides={
                "store": {"data_dir": args.data_dir, "url": args.db},
                "server": {
                    "host": args.host,
                    "tls_cert": args.tls_cert,
                    "tls_key": args.tls_key,
                },
            },
        )
    except UmsgateError as exc:
        import sys

        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return run_front(
        settings, intake=args.intake, gateway_http=args.gateway_http, port=args.port
    )
