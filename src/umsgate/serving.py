"""The gateway process of ``umsgate serve``: the API, the dispatcher, the ledger and
the notifier, serving HTTP itself (``server.workers = 0``) or behind HTTP front
processes it starts (`umsgate.front`).

``umsgate serve`` checks its options and settings on the command line, then
replaces itself (same process id) with ``python -m umsgate gateway …``, which runs
`run` through `umsgate.children`: the long-lived process then holds only what it
runs, not Typer, Click, Rich and the pydantic models Typer checks options with
(about 10 MiB of the process's memory).
"""

from __future__ import annotations

import errno
import math
import shutil
import socket
import sys
import tempfile
from collections.abc import Sequence

from umsgate import config


def run(settings: config.Settings, *, passed: Sequence[str]) -> int:
    """Serve until stopped; the exit status. ``passed`` are the options a front
    process is started with to load the same settings (``--config`` …)."""
    if settings.server.workers:
        return _with_fronts(settings, passed=passed)
    import uvicorn

    from umsgate import deadlines
    from umsgate.app import create_app
    from umsgate.runtime import SERVER_OPTIONS, Limits, ServerOptions, tune_process

    application = create_app(settings)
    tune_process()
    server = settings.server
    options: ServerOptions = {
        **SERVER_OPTIONS,
        # Deadlines on heads, bodies and idle connections, and a cap per
        # address, which uvicorn's own protocol lacks.
        "http": deadlines.guarded(Limits.of(server)),
    }
    uvicorn.run(
        application,
        host=server.host,
        port=server.port,
        **options,
        timeout_keep_alive=max(1, math.ceil(server.keepalive_timeout)),
        ssl_certfile=server.tls_cert or None,
        ssl_keyfile=server.tls_key or None,
    )
    return 0


def _with_fronts(settings: config.Settings, *, passed: Sequence[str]) -> int:
    """This process on a private Unix socket, and ``server.workers`` fronts on the
    public port (`umsgate.front`)."""
    import uvicorn

    from umsgate import logs
    from umsgate.app import FrontPlan, create_app
    from umsgate.front.app import listening_socket
    from umsgate.runtime import SERVER_OPTIONS, tune_process

    host, port = settings.server.host, settings.server.port
    if port:
        # The fronts share the port (SO_REUSEPORT), and so would a gateway that
        # runs there already: refuse the port if anything holds it.
        probe = socket.socket(socket.getaddrinfo(host, port)[0][0], socket.SOCK_STREAM)
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
        except OSError as exc:
            reason = "in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            print(f"error: cannot listen on {host}:{port}: {reason}", file=sys.stderr)
            return 1
        finally:
            probe.close()
    # Bound, not listening: holds the port (and resolves port 0) for the fronts.
    reserved = listening_socket(host, port)
    port = reserved.getsockname()[1]
    run_dir = tempfile.mkdtemp(prefix="umsgate-")  # mode 0700
    intake = f"{run_dir}/intake.sock"
    gateway_http = f"{run_dir}/gateway.sock"
    command = [
        sys.executable, "-m", "umsgate", "front",
        "--intake", intake,
        "--gateway-http", gateway_http,
        "--host", host,
        "--port", str(port),
        *logs.current.args(),
        *passed,
    ]  # fmt: skip
    application = create_app(
        settings,
        fronts=FrontPlan(count=settings.server.workers, command=command, intake=intake),
    )
    tune_process()
    try:
        uvicorn.run(application, uds=gateway_http, **SERVER_OPTIONS)
    finally:
        reserved.close()
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0
