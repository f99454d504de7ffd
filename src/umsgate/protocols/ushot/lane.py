"""A lane: one of the connector's sessions (SMS send, SMS report, MMS send, MMS report),
kept logged in by its own task.

Each lane connects, logs in with 1010, obeys the 1011 (spec §7.1), serves until the
session ends, and reconnects ``reconnect_delay`` seconds after any drop (seed §2-B-5);
after a refused login the wait doubles up to ``login_retry_max`` and each refusal is
logged as an error (spec §8). Whatever was queued or in flight when a session ends is
handed back by ``_down`` (send lanes answer RETRY; nothing is lost, see msgid).

Logging: logger ``umsgate.protocols.ushot``, one line per session end naming the cause,
``extra={"event": ..., "connector": ..., "port": ...}``; never passwords or bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TypedDict, TypeVar

from umsgate.errors import (
    PermanentConnectorError,
    ProtocolError,
    RemoteProtocolError,
    TransientConnectorError,
)
from umsgate.protocols import _tcp
from umsgate.protocols.ushot.codes import Port
from umsgate.protocols.ushot.connection import SessionStream
from umsgate.protocols.ushot.events import (
    Login,
    LoginOptions,
    LoginResult,
    UnknownCommand,
)
from umsgate.protocols.ushot.options import Options
from umsgate.protocols.ushot.session import (
    ConnectionClosed,
    Role,
    Session,
    SessionEvent,
    TimedOut,
    VersionMismatch,
)
from umsgate.types import Clock

log = logging.getLogger("umsgate.protocols.ushot")

#: How long `Lane.stop` waits for the lane's task to end.
STOP_TIMEOUT = 10.0

E = TypeVar("E")


class LoginRefused(PermanentConnectorError):
    """UShot refused the login (wrong ID/password, address not registered, ...)."""


class LaneArgs(TypedDict):
    """What every lane is built with (see `Lane`); the lanes take it as keywords."""

    connector: str
    port: Port
    options: Options
    clock: Clock


class Lane:
    """Base of the send and report lanes.

    Args:
        connector: the connector's name (for logs and reports).
        port: which session this is.
        options: the connector's options.
        clock: the gateway's clock (``monotonic`` drives the session timers).
    """

    def __init__(
        self, *, connector: str, port: Port, options: Options, clock: Clock
    ) -> None:
        self.connector = connector
        self.port = port
        self.options = options
        self._clock = clock
        #: True while a session of this lane is logged in.
        self.logged_in = False
        #: What the last 1011 allowed.
        self.login: LoginOptions | None = None
        #: A word for health(): ready, connecting, reconnecting in N s, ...
        self.status = "not started"
        #: Successful logins so far (tests wait on it).
        self.logins = 0
        #: Set once the first connection attempt has succeeded or failed.
        self.first_attempt = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._refusals = 0

    # -- for subclasses ---------------------------------------------------------

    def _keepalive(self) -> float:
        """Seconds of idleness before `KeepaliveDue`."""
        raise NotImplementedError

    async def _serve(self, stream: SessionStream) -> None:
        """Use a logged-in session until it ends (by raising)."""
        raise NotImplementedError

    def _down(self, reason: str) -> None:
        """The session ended: settle what was queued or in flight."""

    # -- running ------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(
            self._run(), name=f"ushot-{self.connector}-{self.port.value}"
        )

    async def stop(self) -> None:
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task], timeout=STOP_TIMEOUT)
        self.status = "stopped"

    def _extra(self, event: str) -> dict[str, str]:
        return {"event": event, "connector": self.connector, "port": self.port.value}

    async def _run(self) -> None:
        while not self._stop.is_set():
            delay = self.options.reconnect_delay
            try:
                await self._session()
            except LoginRefused:
                delay = min(
                    self.options.reconnect_delay * 2 ** (self._refusals - 1),
                    self.options.login_retry_max,
                )
            except Exception:
                pass  # logged by _ended, before anything was settled
            self.first_attempt.set()
            self.status = f"reconnecting in {delay:g} s"
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stop.wait()

    def _ended(self, exc: Exception) -> None:
        """The one log line of a session's end, naming the cause."""
        name, port = self.connector, self.port.value
        if isinstance(exc, RemoteProtocolError):
            log.warning(
                "%s: ushot %s session closed, the server broke the protocol: %s",
                name,
                port,
                exc,
                extra=self._extra("ushot_protocol_error"),
            )
        elif isinstance(exc, LoginRefused):
            self._refusals += 1
            log.error(
                "%s: ushot %s login refused (%s); refusal %d in a row",
                name,
                port,
                exc,
                self._refusals,
                extra=self._extra("ushot_login_refused"),
            )
        elif isinstance(
            exc, OSError | TimeoutError | ProtocolError | TransientConnectorError
        ):
            log.warning(
                "%s: ushot %s session lost: %s",
                name,
                port,
                str(exc) or type(exc).__name__,
                extra=self._extra("ushot_session_lost"),
            )
        else:
            log.error(
                "%s: ushot %s session failed",
                name,
                port,
                exc_info=exc,
                extra=self._extra("ushot_lane_failed"),
            )

    async def _session(self) -> None:
        opts = self.options
        self.status = "connecting"
        stream: SessionStream | None = None
        reason = "stopped"
        try:
            stream = await _tcp.connect(
                self._new_stream,
                opts.host,
                opts.port(self.port),
                within=opts.request_timeout,
            )
            await self._login(stream)
            await self._serve(stream)
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            self._ended(exc)
            raise
        finally:
            self.logged_in = False
            self._down(reason)
            if stream is not None:
                await stream.aclose()

    def _new_stream(self) -> SessionStream:
        """A stream and its session, once the socket is up."""
        opts = self.options
        session = Session(
            Role.CLIENT,
            now=self._clock.monotonic(),
            version=opts.version,
            keepalive=self._keepalive(),
            answer_timeout=opts.request_timeout,
            idle_timeout=opts.idle_timeout,
        )
        return SessionStream(
            session,
            clock=self._clock,
            write_timeout=opts.request_timeout,
            name=f"{self.connector}:{self.port.value}",
        )

    async def _login(self, stream: SessionStream) -> None:
        opts = self.options
        await stream.send(
            Login(user_id=opts.user_id, password=opts.password, version=opts.version)
        )
        answer = await self._answer(stream, LoginResult)
        if not answer.ok:
            raise LoginRefused(
                f"{answer.resp_code} {answer.resp_mesg}".strip(),
                raw_code=answer.resp_code,
            )
        self._refusals = 0
        self.login = answer.options(default_max_count=opts.max_count)
        self.logged_in = True
        self.logins += 1
        self.status = "ready"
        self.first_attempt.set()
        log.info(
            "%s: ushot %s session logged in (%s, max %d per request)",
            self.connector,
            self.port.value,
            opts.version.value,
            self.login.max_count,
            extra=self._extra("ushot_logged_in"),
        )

    # -- events -------------------------------------------------------------------

    async def _next(
        self, stream: SessionStream, *, wake: asyncio.Event | None = None
    ) -> SessionEvent | None:
        """The next event that means something here (None: ``wake`` was set).

        Raises:
            TransientConnectorError: the session ended (closed or timed out).
        """
        while True:
            event = await stream.next_event(wake=wake)
            match event:
                case ConnectionClosed():
                    raise TransientConnectorError(
                        f"closed by the server ({event.reason})"
                    )
                case TimedOut():
                    raise TransientConnectorError(event.reason)
                case VersionMismatch():
                    log.info(
                        "%s: ushot %s frame %d carries %s in a %s session",
                        self.connector,
                        self.port.value,
                        event.command,
                        event.received,
                        event.expected,
                        extra=self._extra("ushot_version_mismatch"),
                    )
                case UnknownCommand():
                    # spec §14 item 4: log, ignore, wait on for the expected answer.
                    log.warning(
                        "%s: ushot %s ignored unknown command %d (%s %s)",
                        self.connector,
                        self.port.value,
                        event.command,
                        event.resp_code,
                        event.resp_mesg,
                        extra=self._extra("ushot_unknown_command"),
                    )
                case _:
                    return event

    async def _answer(self, stream: SessionStream, kind: type[E]) -> E:
        """The answer to the request just sent (the session's table guarantees that
        nothing else but ignorable frames can come first)."""
        while True:
            event = await self._next(stream)
            if isinstance(event, kind):
                return event
            self._ignored(event, kind.__name__)

    def _ignored(self, event: SessionEvent | None, expected: str) -> None:
        log.warning(
            "%s: ushot %s ignored %s while waiting for %s",
            self.connector,
            self.port.value,
            type(event).__name__,
            expected,
            extra=self._extra("ushot_unexpected_event"),
        )
