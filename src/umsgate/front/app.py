"""A front process: the public HTTP port, shared with the other fronts.

It serves the native sends (``POST /v1/message/{channel}``) and ToBeText's
(``POST /sms``) itself (`umsgate.front.sends`): it reads the body, authenticates the
client, parses and validates the message, checks its files, and hands the row to
the gateway process (`RemoteIntake`), which applies the client's TPS and commits
it; the answer goes out only after that commit, as in one process. Every other
request (tokens, uploads, report checks, the IMS face, which stores attachments,
provider callbacks, /healthz, /metrics) is passed as it is to the gateway process's
own HTTP server on a Unix socket (`umsgate.front.passon`), so those keep one owner.
The HTTP server is the front's own (`umsgate.front.connection` says why).

Theory: the send path is most of a gateway's CPU (HTTP, JSON, validation), and it
needs nothing that only the owner has but the commit; a front's row costs the
owner a few microseconds of frame decoding instead of the whole request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable
from typing import TypedDict

from umsgate import tls
from umsgate.clients import Directory
from umsgate.config import Settings
from umsgate.files import FileStore
from umsgate.front.connection import Connection
from umsgate.front.exchange import Exchange, Request
from umsgate.front.intake import RemoteIntake
from umsgate.front.listener import Listener
from umsgate.front.passon import GatewayLink, PassOn
from umsgate.front.sends import (
    NATIVE_PREFIX,
    Buffered,
    NativeSends,
    Tasks,
    ToBeTextSends,
)
from umsgate.protocols.tobetext.send import PATH as TOBETEXT_PATH
from umsgate.runtime import Limits
from umsgate.sealing import Sealer
from umsgate.store.driver import Driver, open_driver

log = logging.getLogger("umsgate.front")

#: How often a quiet front sends its refusal counts.
COUNTS_EVERY = 1.0
#: How long a stopping front waits for the sends that wait for a read.
TASKS_GRACE = 10.0


class CountsFrame(TypedDict):
    """What `Counts.take` gives the gateway process (in a frame's ``m``)."""

    #: (channel, repeated, sends) of each kind of send accepted.
    a: list[tuple[str, bool, int]]
    #: (channel, reason, sends) of each kind of send refused.
    r: list[tuple[str, str, int]]


class Counts:
    """The accepted and refused sends of a front since its last frame."""

    def __init__(self) -> None:
        # Plain dicts: a Counter's item update costs a send most of a microsecond.
        self._accepted: dict[tuple[str, bool], int] = {}
        self._rejected: dict[tuple[str, str], int] = {}

    def accepted(self, channel: str, repeated: bool) -> None:
        key = (channel, repeated)
        self._accepted[key] = self._accepted.get(key, 0) + 1

    def rejected(self, channel: str, reason: str) -> None:
        key = (channel, str(reason))
        self._rejected[key] = self._rejected.get(key, 0) + 1

    def take(self) -> CountsFrame | None:
        if not self._accepted and not self._rejected:
            return None
        counts: CountsFrame = {
            "a": [(c, r, n) for (c, r), n in self._accepted.items()],
            "r": [(c, r, n) for (c, r), n in self._rejected.items()],
        }
        self._accepted = {}
        self._rejected = {}
        return counts


def _nothing() -> None:
    return None


class Front:
    """What a front's sends need (`umsgate.protocols.apigw.send.SendHost`), and
    the `Router` of its connections."""

    def __init__(self, settings: Settings, *, intake: str, gateway_http: str) -> None:
        self.settings = settings
        # The fronts only read (tokens, clients, files); the gateway process writes.
        # They do so on the driver alone: SQLAlchemy is no part of a front.
        self.db: Driver = open_driver(
            settings.database_url(), schema=settings.store.schema
        )
        # Token requests are the gateway process's (passed on), and so are their
        # limits; a front checks ToBeText tokens in a pool of its own.
        self.directory = Directory(
            self.db,
            token_ttl=settings.auth.token_ttl,
            cache_ttl=settings.auth.cache_ttl,
            sealer=Sealer(settings.security.secret_key),
            hash_workers=settings.auth.hash_workers,
        )
        self.files = FileStore(self.db)
        self.metrics = Counts()
        self.intake = RemoteIntake(
            intake,
            counts=self.metrics.take,
            counts_every=COUNTS_EVERY,
            on_lost=self.lost,
        )
        self.link = GatewayLink(gateway_http)
        self.tasks = Tasks()
        self._native = NativeSends(self, self.tasks)
        self._tobetext = ToBeTextSends(self, self.tasks)
        #: Called once when the gateway process is gone (the front then exits).
        self.on_lost: Callable[[], None] = _nothing
        self._counts_task: asyncio.Task[None] | None = None

    def exchange(self, conn: Connection, request: Request) -> Exchange:
        """The sends are served here; anything else is the gateway process's."""
        if request.method == b"POST":
            if request.path.startswith(NATIVE_PREFIX):
                return Buffered(conn, request, self._native)
            if request.path == TOBETEXT_PATH:
                return Buffered(conn, request, self._tobetext)
        return PassOn(conn, request, self.link)

    def lost(self) -> None:
        self.on_lost()

    async def start(self) -> None:
        await self.intake.connect()
        self._counts_task = asyncio.create_task(self._send_counts())

    async def stop(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(TASKS_GRACE):
                await self.tasks.wait()
        if self._counts_task is not None:
            self._counts_task.cancel()
        self.link.close()
        self.directory.close()
        await self.intake.close()
        await self.db.close()

    async def _send_counts(self) -> None:
        while True:
            await asyncio.sleep(COUNTS_EVERY)
            self.intake.send_counts()


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` with SO_REUSEPORT: every front binds its own
    and the kernel spreads new connections over them."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    # IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that name it.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


async def serve_front(
    settings: Settings, *, intake: str, gateway_http: str, sock: socket.socket
) -> int:
    """Serve on ``sock`` until SIGTERM or SIGINT, or until the gateway process is
    gone; the exit status (1 when the gateway could not be reached or went away).
    """
    front = Front(settings, intake=intake, gateway_http=gateway_http)
    try:
        await front.start()
    except Exception as exc:
        log.error(
            "cannot reach the gateway process: %s",
            exc,
            extra={"event": "front_start_error"},
        )
        await front.stop()
        return 1
    stop = asyncio.Event()
    lost = False

    def on_lost() -> None:
        nonlocal lost
        lost = True
        stop.set()

    front.on_lost = on_lost
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    listener = Listener(front, Limits.of(settings.server))
    try:
        await listener.start(sock, ssl=tls.server_context(settings.server))
        front.intake.send_ready()
        await stop.wait()
    finally:
        # The connections finish their answers while the gateway still commits.
        await listener.stop()
        await front.stop()
        for sig in signals:
            loop.remove_signal_handler(sig)
    return 1 if lost else 0


def run_front(settings: Settings, *, intake: str, gateway_http: str, port: int) -> int:
    """Serve one front until it is told to stop or the gateway process is gone;
    returns the exit status (1 when the gateway went away)."""
    import uvloop

    from umsgate.runtime import tune_process

    tune_process()
    sock = listening_socket(settings.server.host, port)
    with (
        contextlib.closing(sock),
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        return runner.run(
            serve_front(settings, intake=intake, gateway_http=gateway_http, sock=sock)
        )
