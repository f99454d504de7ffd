"""The UShot simulator: a fake UnionMC server on the four ports (``umsgate sim ushot``).

It runs the same `Session` as the connector, in the server role, in front of
`simbackend.Backend`. Use it from tests with::

    async with UShotSimulator(accounts=[Account(user_id="id", password="pw")]) as sim:
        sim.ports[Port.SMS]            # bound port (127.0.0.1, port 0 by default)
        sim.faults.drop(Port.SMS, after_frames=3)
        sim.record.sends["1234"]       # how often a MSG_ID arrived

Report sessions: SAM10 answers each poll with what is ready (a result is gone once
written); SAM11 pushes whatever becomes ready while the session is idle and keeps it
until the client's 1030 lists it; results not acknowledged when a session ends go back
to the account's mailbox for the next session.

Report-first mode (``report_first=True``, ``--report-first``): the result of each new
record is ready at once, and the answer to its send request waits until the client
has taken it on its report session: acknowledged it (SAM11), or polled again after the
1031 that carried it (SAM10: the connector hands a frame's results to its sink before
its next poll). So every result reaches the client before its send is acknowledged,
as a server whose report and send sessions race can do. The wait is bounded
(`REPORT_FIRST_WAIT`): a client without a report session still gets its answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Annotated

import typer

from umsgate.clock import Monotonic, SystemClock
from umsgate.deadlines import AddressCap
from umsgate.errors import ProtocolError, UmsgateError
from umsgate.protocols.sandbox.mix import OutcomeMix
from umsgate.protocols.simoptions import SimOptions
from umsgate.protocols.ushot.bodies import command_of
from umsgate.protocols.ushot.codes import (
    DEFAULT_BASE_PORT,
    DELIVERED,
    RESP_FRAME_ERROR,
    Port,
    Version,
)
from umsgate.protocols.ushot.connection import SessionStream
from umsgate.protocols.ushot.events import (
    BatchAck,
    Event,
    FileUpload,
    FixedSend,
    LmsSend,
    Login,
    MmsSend,
    ResultAck,
    ResultRecord,
    Results,
    SendAck,
    SmsSend,
    UnknownCommand,
)
from umsgate.protocols.ushot.session import (
    DEFAULT_ANSWER_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    ConnectionClosed,
    KeepaliveDue,
    Role,
    Session,
    State,
    TimedOut,
    VersionMismatch,
)
from umsgate.protocols.ushot.simbackend import (
    Account,
    Backend,
    Faults,
    Mailbox,
    Received,
    Record,
)

log = logging.getLogger("umsgate.protocols.ushot.simulator")

#: Most results in one 1031 (COUNT has 4 digits; smaller frames keep pushes short).
RESULTS_PER_FRAME = 100
#: How long `close` waits for the sessions to end.
CLOSE_TIMEOUT = 10.0
#: Report-first mode: longest a send answer waits for its results to be taken
#: (well under the connector's default request timeout of 30 s).
REPORT_FIRST_WAIT = 5.0


class _FaultDrop(UmsgateError):
    """A fault switch says: close this session now."""


def _corrupt(data: bytes) -> bytes:
    """The frame with its ETX replaced: what the corrupt-frame fault sends."""
    return data[:-1] + b"X"


def _extra(event: str, port: Port) -> dict[str, str]:
    """The ``extra`` of a log record about a session on ``port``."""
    return {"event": event, "port": port.value}


@dataclasses.dataclass(slots=True, kw_only=True, eq=False)
class _Conn:
    port: Port
    stream: SessionStream
    wake: asyncio.Event
    account: Account | None = None
    mailbox: Mailbox | None = None
    inflight: list[ResultRecord] = dataclasses.field(default_factory=list)
    #: SAM10: the MSG_IDs the last 1031 carried, taken once the next poll comes.
    written: list[str] = dataclasses.field(default_factory=list)
    frames: int = 0


class UShotSimulator:
    """The simulator: start it, read `ports`, flip `faults`, read `record`, close it.

    Args:
        accounts: the customers it knows.
        host: the address to listen on.
        base_port: the SMS send port; the others follow (+1 SMS report, +2 MMS send,
            +3 MMS report). 0 binds each to a free port.
        result_delay: seconds from acceptance to result (spec §12).
        mix: the outcome of records that pass the checks (default: all delivered).
        telecom: TELECOM of results: ``mixed`` or SKT/KTF/LGT.
        extensions: file extensions 2030 accepts.
        answer_timeout: how long a client may take to acknowledge a push.
        idle_timeout: a session silent this long is closed (spec §8: 90 s).
        clock: its time source (the system clock by default).
        report_first: report-first mode (see the module docstring); results are
            then ready at once and ``result_delay`` is not used.
        max_connections_per_client: connections one client address may hold over
            the four ports; more are closed at once.
    """

    def __init__(
        self,
        *,
        accounts: Sequence[Account],
        host: str = "127.0.0.1",
        base_port: int = 0,
        result_delay: float = 1.0,
        mix: OutcomeMix | None = None,
        telecom: str = "mixed",
        extensions: Sequence[str] = ("jpg",),
        answer_timeout: float = DEFAULT_ANSWER_TIMEOUT,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        clock: Monotonic | None = None,
        report_first: bool = False,
        max_connections_per_client: int = 256,
    ) -> None:
        self.host = host
        self._cap = AddressCap(max_connections_per_client, "sim-ushot")
        self.base_port = base_port
        self.answer_timeout = answer_timeout
        self.idle_timeout = idle_timeout
        self.report_first = report_first
        self._clocks = clock or SystemClock()
        self._clock = self._clocks.monotonic
        self.backend = Backend(
            accounts,
            result_delay=0.0 if report_first else result_delay,
            mix=mix,
            telecom=telecom,
            extensions=extensions,
            clock=self._clock,
        )
        #: Bound port of each session kind (after `start`).
        self.ports: dict[Port, int] = {}
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._conns: set[_Conn] = set()
        #: Report-first mode: MSG_IDs whose send answer waits for their result to
        #: be taken.
        self._untaken: dict[str, asyncio.Future[None]] = {}

    @property
    def faults(self) -> Faults:
        return self.backend.faults

    @property
    def record(self) -> Record:
        return self.backend.record

    def connections(self, port: Port) -> int:
        """Sessions open on ``port`` now."""
        return sum(1 for c in self._conns if c.port is port)

    def listening_line(self) -> str:
        """``listening sms=HOST:PORT sms_report=... mms=... mms_report=...``."""
        parts = [f"{p.value}={self.host}:{self.ports[p]}" for p in Port]
        return "listening " + " ".join(parts)

    async def start(self) -> None:
        """Listen on the four ports.

        Raises:
            OSError: a port is taken.
        """
        try:
            for port in Port:
                number = self.base_port + port.offset if self.base_port else 0
                server = await asyncio.get_running_loop().create_server(
                    self._stream_factory(port), self.host, number
                )
                self._servers.append(server)
                self.ports[port] = server.sockets[0].getsockname()[1]
        except OSError:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop listening and end every session."""
        for server in self._servers:
            server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT)
        for server in self._servers:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await server.wait_closed()
        self._servers.clear()

    async def __aenter__(self) -> UShotSimulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _stream_factory(self, port: Port) -> Callable[[], SessionStream]:
        def new_stream() -> SessionStream:
            session = Session(
                Role.SERVER,
                now=self._clock(),
                answer_timeout=self.answer_timeout,
                idle_timeout=self.idle_timeout,
            )
            return SessionStream(
                session,
                clock=self._clocks,
                name=f"sim-ushot:{port.value}",
                opened=lambda stream: self._opened(port, stream),
            )

        return new_stream

    def _opened(self, port: Port, stream: SessionStream) -> None:
        assert stream.transport is not None
        key = self._cap.take(stream.transport.get_extra_info("peername"), self._clock())
        if key is None:
            stream.abort(f"too many connections from {stream.peer}")
            return
        task = asyncio.ensure_future(self._serve(port, stream))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _t: self._cap.release(key))

    # -- one session -----------------------------------------------------------------

    async def _serve(self, port: Port, stream: SessionStream) -> None:
        conn = _Conn(port=port, stream=stream, wake=asyncio.Event())
        self._conns.add(conn)
        try:
            await self._loop(conn)
        except _FaultDrop as exc:
            log.info(
                "ushot sim: dropping the %s session (fault: %s)",
                port.value,
                exc,
                extra=_extra("ushot_sim_fault_drop", port),
            )
        except ProtocolError as exc:
            log.warning(
                "ushot sim %s session from %s closed: %s",
                port.value,
                stream.peer,
                exc,
                extra=_extra("ushot_sim_protocol_error", port),
            )
        except (OSError, TimeoutError) as exc:
            log.info(
                "ushot sim %s session from %s lost: %r",
                port.value,
                stream.peer,
                exc,
                extra=_extra("ushot_sim_connection_lost", port),
            )
        except Exception:
            # A fault of the simulator itself: end this session, keep serving others.
            log.exception(
                "ushot sim %s session from %s failed",
                port.value,
                stream.peer,
                extra=_extra("ushot_sim_bug", port),
            )
        finally:
            self._conns.discard(conn)
            if conn.mailbox is not None:
                conn.mailbox.unsubscribe(conn.wake)
                if conn.inflight:
                    conn.mailbox.put_back(conn.inflight)
                    conn.inflight = []
            await stream.aclose()

    async def _loop(self, conn: _Conn) -> None:
        stream, session = conn.stream, conn.stream.session
        while True:
            until = None
            if self._may_push(conn):
                assert conn.mailbox is not None
                if await self._push(conn):
                    continue
                until = conn.mailbox.next_ready_at()
            event = await stream.next_event(wake=conn.wake, until=until)
            if event is None:
                conn.wake.clear()
                continue
            if isinstance(event, ConnectionClosed | TimedOut):
                log.info(
                    "ushot sim %s session from %s ended: %s",
                    conn.port.value,
                    stream.peer,
                    event.reason,
                    extra=_extra("ushot_sim_session_end", conn.port),
                )
                return
            if isinstance(event, VersionMismatch):
                log.info(
                    "ushot sim: %s frame in a %s session",
                    event.received,
                    event.expected,
                    extra={"event": "ushot_sim_version_mismatch"},
                )
                continue
            if isinstance(event, KeepaliveDue):
                continue
            conn.frames += 1
            self._note(conn, event)
            rule = self.faults.take_drop(conn.port, conn.frames)
            if rule is not None and not rule.handle:
                raise _FaultDrop(f"frame {rule.after_frames}, not handled")
            answer = await self._answer(conn, event)
            if rule is not None:
                raise _FaultDrop(f"frame {rule.after_frames}, handled, not answered")
            if answer is not None:
                corrupt = self.faults.take_corrupt(conn.port)
                await stream.send(answer, transform=_corrupt if corrupt else None)
            if session.state is State.CLOSED:
                return  # a refused login (spec §6.2: the server closes)

    def _note(self, conn: _Conn, event: Event) -> None:
        msg_ids: tuple[str, ...] = ()
        match event:
            case SmsSend() | FixedSend() | LmsSend() | MmsSend():
                msg_ids = tuple(r.msg_id for r in event.records)
                self.record.add_records(event.records)
            case ResultAck():
                msg_ids = tuple(k.msg_id for k in event.keys)
        self.record.add(
            Received(
                port=conn.port,
                user_id=conn.account.user_id if conn.account else "",
                command=command_of(event),
                msg_ids=msg_ids,
                at=self._clock(),
            )
        )

    def _may_push(self, conn: _Conn) -> bool:
        session = conn.stream.session
        return (
            conn.mailbox is not None
            and session.version == Version.SAM11
            and session.idle
        )

    async def _push(self, conn: _Conn) -> bool:
        """Push ready results (SAM11); True when something was sent."""
        assert conn.mailbox is not None
        records = self._take(conn, conn.mailbox)
        if not records:
            return False
        conn.inflight = records
        for r in records:
            self.record.results[r.msg_id] += 1
        corrupt = self.faults.take_corrupt(conn.port)
        await conn.stream.send(
            Results(records=tuple(records)), transform=_corrupt if corrupt else None
        )
        return True

    async def _answer(self, conn: _Conn, event: Event) -> Event | None:
        session = conn.stream.session
        match event:
            case Login():
                result, account = self.backend.login(conn.port, event)
                if account is not None:
                    conn.account = account
                    if conn.port.is_report:
                        conn.mailbox = self.backend.mailbox(account.user_id, conn.port)
                        if session.version == Version.SAM11:
                            conn.mailbox.subscribe(conn.wake)
                return result
            case SmsSend() | FixedSend() | LmsSend() | MmsSend():
                assert conn.account is not None  # the session table requires a login
                verdict = self.backend.send(conn.account, conn.port, event)
                if self.report_first and verdict.fresh:
                    await self._results_taken(verdict.fresh)
                if self.faults.ack_delay > 0 and event.records:
                    await asyncio.sleep(self.faults.ack_delay)
                if session.version == Version.SAM10:
                    return BatchAck(
                        resp_code=verdict.resp_code, resp_mesg=verdict.resp_mesg
                    )
                return SendAck(
                    resp_code=verdict.resp_code,
                    resp_mesg=verdict.resp_mesg,
                    keys=verdict.keys,
                )
            case FileUpload():
                assert conn.account is not None
                return self.backend.upload(conn.account, conn.port, event)
            case ResultAck() if event.keys:
                self._acknowledged(conn, event)
                return None
            case ResultAck() | Results():
                return self._poll(conn)
            case UnknownCommand():
                return UnknownCommand(
                    command=event.command,
                    resp_code=RESP_FRAME_ERROR,
                    resp_mesg=f"unknown command {event.command}",
                )
        raise AssertionError(f"the server table let {type(event).__name__} through")

    async def _results_taken(self, msg_ids: Sequence[str]) -> None:
        """Report-first mode: wait until the results of ``msg_ids`` are taken, at
        most `REPORT_FIRST_WAIT` seconds."""
        loop = asyncio.get_running_loop()
        waits = []
        for msg_id in msg_ids:
            waits.append(loop.create_future())
            self._untaken[msg_id] = waits[-1]
        try:
            _, late = await asyncio.wait(waits, timeout=REPORT_FIRST_WAIT)
        finally:
            for msg_id in msg_ids:
                self._untaken.pop(msg_id, None)
        self.record.reported_first += len(waits) - len(late)
        self.record.reported_late += len(late)
        if late:
            log.info(
                "ushot sim: %d results not taken within %.0f s; answering the send",
                len(late),
                REPORT_FIRST_WAIT,
                extra={"event": "ushot_sim_results_late"},
            )

    def _taken(self, msg_ids: Iterable[str]) -> None:
        for msg_id in msg_ids:
            waiting = self._untaken.pop(msg_id, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(None)

    def _acknowledged(self, conn: _Conn, ack: ResultAck) -> None:
        acked = {k.msg_id for k in ack.keys}
        self._taken(acked)
        missing = [r for r in conn.inflight if r.msg_id not in acked]
        if missing and conn.mailbox is not None:
            log.info(
                "ushot sim: 1030 left %d results unacknowledged; they will come again",
                len(missing),
                extra={"event": "ushot_sim_partial_ack"},
            )
            conn.mailbox.put_back(missing)
        conn.inflight = []

    def _take(self, conn: _Conn, mailbox: Mailbox) -> list[ResultRecord]:
        records = mailbox.take(self._clock(), RESULTS_PER_FRAME)
        if records and self.faults.take_drop_on_results(conn.port):
            mailbox.put_back(records)
            raise _FaultDrop(f"{len(records)} results pending")
        return records

    def _poll(self, conn: _Conn) -> Results:
        session = conn.stream.session
        if conn.mailbox is None:
            return Results(
                resp_code=RESP_FRAME_ERROR,
                resp_mesg="results are served on the report ports",
            )
        if session.state is State.PUSH_SENT_POLL_RECEIVED:
            return Results()  # a push is outstanding: nothing more until it is acked
        if conn.written:
            # SAM10 has no acknowledgement: a client polls again once it has
            # handled what the last 1031 carried.
            self._taken(conn.written)
            conn.written = []
        records = self._take(conn, conn.mailbox)
        for r in records:
            self.record.results[r.msg_id] += 1
        if session.version == Version.SAM11 and records:
            conn.inflight = records
        elif self.report_first:
            conn.written = [r.msg_id for r in records]
        return Results(records=tuple(records))


# -- command line ----------------------------------------------------------------------

_option = SimOptions("USHOT")


def _parse_accounts(specs: Sequence[str], template: Account) -> list[Account]:
    accounts = []
    for spec in specs:
        user_id, sep, password = spec.partition(":")
        if not sep or not user_id or not password:
            raise typer.BadParameter(
                f"{spec!r} is not ID:PASSWORD", param_hint="--account"
            )
        accounts.append(
            dataclasses.replace(template, user_id=user_id, password=password)
        )
    return accounts


def _parse_versions(text: str) -> frozenset[Version]:
    value = text.strip().upper()
    if value == "BOTH":
        return frozenset(Version)
    try:
        return frozenset({Version(value)})
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not SAM10, SAM11 or both", param_hint="--version"
        ) from None


def command(
    host: Annotated[str, _option.host()] = "127.0.0.1",
    base_port: Annotated[
        int,
        _option(
            "BASE_PORT",
            help="SMS send port; SMS report, MMS send and MMS report follow (+1..+3). "
            "0 picks free ports.",
        ),
    ] = DEFAULT_BASE_PORT,
    account: Annotated[
        list[str] | None,
        _option("ACCOUNT", help="ID:PASSWORD of an account (repeatable)."),
    ] = None,
    version: Annotated[str, _option("VERSION", help="SAM10, SAM11 or both.")] = "both",
    delay: Annotated[
        float, _option("DELAY", help="Seconds from acceptance to result.")
    ] = 1.0,
    mix: Annotated[
        str,
        _option(
            "MIX", help='Result codes and shares, "CODE=SHARE,..."; the rest is 6.'
        ),
    ] = "",
    seed: Annotated[int, _option("SEED", help="Seed of the outcome draw.")] = 0,
    max_count: Annotated[
        int, _option("MAX_COUNT", help="Most records per send request.")
    ] = 30,
    variable: Annotated[
        bool, _option("VARIABLE", help="VARIABLE_YN: 1044/1045 (Y) or 1024 (N).")
    ] = True,
    max_msg_size: Annotated[
        int, _option("MAX_MSG_SIZE", help="MAX_MSG_SIZE, at most 3000.")
    ] = 2000,
    service: Annotated[
        int, _option("SERVICE", help="1 = SMS, 2 = callback URL only.")
    ] = 1,
    telecom: Annotated[
        str, _option("TELECOM", help="TELECOM: mixed, SKT, KTF or LGT.")
    ] = "mixed",
    ack_delay: Annotated[
        float, _option("ACK_DELAY", help="Fault: seconds before each send answer.")
    ] = 0.0,
    refuse_logins: Annotated[
        float,
        _option(
            "REFUSE_LOGINS",
            help="Fault: refuse every login for this many seconds after start.",
        ),
    ] = 0.0,
    report_first: Annotated[
        bool,
        _option(
            "REPORT_FIRST",
            help="Answer each send request only once its results were taken on the "
            "report session (results are ready at once; --delay is not used).",
        ),
    ] = False,
) -> None:
    """Run a UShot (UnionMC) server on the SMS/MMS send and report ports."""
    versions = _parse_versions(version)
    if not 1 <= max_msg_size <= 3000:
        raise typer.BadParameter("must be 1..3000", param_hint="--max-msg-size")
    if telecom != "mixed" and telecom not in ("SKT", "KTF", "LGT"):
        raise typer.BadParameter("mixed, SKT, KTF or LGT", param_hint="--telecom")
    try:
        outcome = OutcomeMix.parse(mix, default=str(DELIVERED), seed=seed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--mix") from None
    template = Account(
        user_id="",
        password="",
        versions=versions,
        max_count=max_count,
        variable=variable,
        max_msg_size=max_msg_size,
        service=service,
    )
    accounts = _parse_accounts(account or ["ushot:ushot"], template)
    sim = UShotSimulator(
        accounts=accounts,
        host=host,
        base_port=base_port,
        result_delay=delay,
        mix=outcome,
        telecom=telecom,
        report_first=report_first,
    )
    asyncio.run(_run(sim, ack_delay=ack_delay, refuse_logins=refuse_logins))


async def _run(sim: UShotSimulator, *, ack_delay: float, refuse_logins: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await sim.start()
    sim.faults.ack_delay = ack_delay
    if refuse_logins > 0:
        sim.faults.refuse_logins(refuse_logins, time.monotonic())
    try:
        print(sim.listening_line(), flush=True)
        await stop.wait()
    finally:
        await sim.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


if __name__ == "__main__":
    typer.run(command)
