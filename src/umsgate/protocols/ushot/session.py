"""The UShot session: one sans-I/O state machine for both ends of a TCP session.

Theory of operation
-------------------
A session is created for one TCP connection with a `Role`. Bytes from the peer go in
with ``receive_data(data, now)`` (``b""`` = the peer closed), and ``next_event()`` hands
out what they mean: a protocol event of `events`, or `KeepaliveDue`, `TimedOut`,
`ConnectionClosed`, `VersionMismatch`, or `NEED_DATA`. ``send(event, now)`` returns the
bytes to write. No clock is read here: times come in as ``now`` (monotonic seconds),
and ``next_deadline()`` says when ``handle_timeout(now)`` must next be called.

UShot is synchronous (seed §2-B): one request is outstanding per session. Each event
is classified into a `Kind` (a 1031 is a PUSH when it carries results in SAM11 and so
needs a 1030 acknowledgement, a plain RESULTS otherwise; a 1030 without records is a
POLL), and the pair (state, direction, kind) is looked up in the role's transition
table. Anything off the table is a protocol error and moves the session to ERROR:
`RemoteProtocolError` (code ``11001``) for a frame the peer should not have sent,
`LocalProtocolError` for one we should not send. A corrupt frame does the same
(there is no resynchronisation, spec §4).

Two rules live beside the tables because they do not change the state:
* an `UnknownCommand` from the peer is handed out as is; a server then owes one
  answer with the same command number (spec §14 item 4), a client ignores it;
* after login every frame should carry the login's VERSION; a different one is
  reported with `VersionMismatch` before its event, and otherwise ignored (spec §4).

SAM11 report sessions have traffic in both directions (the server pushes 1031, the
client polls with 1030 COUNT 0 as a keepalive); the tables let the two cross: a client
takes a push as the answer to its poll, a server with a push outstanding answers a
poll with an empty 1031 (spec §7.3).

Timers (spec §8): while the peer owes an answer, ``answer_timeout``; always,
``idle_timeout`` without any byte received; for a client in READY, ``keepalive``
seconds after the last frame it sent, a `KeepaliveDue` (once, until it sends again).
A server also gives a new connection ``answer_timeout`` to log in (its login is
owed from the start; bytes that trickle in without completing it do not extend
it). All but the keepalive end the session with `TimedOut`.
"""

from __future__ import annotations

import collections
import dataclasses
import enum

from umsgate.errors import LocalProtocolError, RemoteProtocolError
from umsgate.protocols.ushot.bodies import decode_frame, encode_event
from umsgate.protocols.ushot.codes import Version
from umsgate.protocols.ushot.events import (
    BatchAck,
    Event,
    FileResult,
    FileUpload,
    FixedSend,
    LmsSend,
    Login,
    LoginResult,
    MmsSend,
    ResultAck,
    Results,
    SendAck,
    SmsSend,
    UnknownCommand,
)
from umsgate.protocols.ushot.fields import FRAME_ERROR
from umsgate.protocols.ushot.frames import MAX_BODY, FrameDecoder


class Role(enum.StrEnum):
    CLIENT = "client"  #: the customer (umsgate's connector)
    SERVER = "server"  #: UnionMC (umsgate's simulator)


class State(enum.Enum):
    CONNECTED = "CONNECTED"  #: transport up, no login yet
    LOGIN_SENT = "LOGIN_SENT"  #: client: 1010 sent, 1011 awaited
    LOGIN_RECEIVED = "LOGIN_RECEIVED"  #: server: 1010 received, 1011 owed
    READY = "READY"  #: logged in, nothing outstanding
    SEND_SENT = "SEND_SENT"  #: client: send request out, 1021/1026 awaited
    SEND_RECEIVED = "SEND_RECEIVED"  #: server: 1021/1026 owed
    UPLOAD_SENT = "UPLOAD_SENT"  #: client: 2030 out, 2040 awaited
    UPLOAD_RECEIVED = "UPLOAD_RECEIVED"  #: server: 2040 owed
    POLL_SENT = "POLL_SENT"  #: client: 1030 COUNT 0 out, 1031 awaited
    POLL_RECEIVED = "POLL_RECEIVED"  #: server: 1031 owed
    ACK_OWED = "ACK_OWED"  #: client, SAM11: results received, 1030 owed
    PUSH_SENT = "PUSH_SENT"  #: server, SAM11: results out, 1030 awaited
    PUSH_SENT_POLL_RECEIVED = "PUSH_SENT_POLL_RECEIVED"  #: both of the above
    CLOSED = "CLOSED"  #: login refused, or the connection ended
    ERROR = "ERROR"  #: a protocol error or a timeout; the connection must close


class Kind(enum.Enum):
    LOGIN = "LOGIN"
    LOGIN_OK = "LOGIN_OK"
    LOGIN_REFUSED = "LOGIN_REFUSED"
    SEND = "SEND"
    SEND_ANSWER = "SEND_ANSWER"
    UPLOAD = "UPLOAD"
    UPLOAD_ANSWER = "UPLOAD_ANSWER"
    POLL = "POLL"
    RESULTS = "RESULTS"
    PUSH = "PUSH"
    ACK = "ACK"
    UNKNOWN = "UNKNOWN"


class Direction(enum.Enum):
    SENT = "sent"
    RECEIVED = "received"


_S = State
_K = Kind
_OUT = Direction.SENT
_IN = Direction.RECEIVED

Transitions = dict[tuple[State, Direction, Kind], State]

#: The client's table: what it may send and receive in each state.
CLIENT_TRANSITIONS: Transitions = {
    (_S.CONNECTED, _OUT, _K.LOGIN): _S.LOGIN_SENT,
    (_S.LOGIN_SENT, _IN, _K.LOGIN_OK): _S.READY,
    (_S.LOGIN_SENT, _IN, _K.LOGIN_REFUSED): _S.CLOSED,
    (_S.READY, _OUT, _K.SEND): _S.SEND_SENT,
    (_S.SEND_SENT, _IN, _K.SEND_ANSWER): _S.READY,
    (_S.READY, _OUT, _K.UPLOAD): _S.UPLOAD_SENT,
    (_S.UPLOAD_SENT, _IN, _K.UPLOAD_ANSWER): _S.READY,
    (_S.READY, _OUT, _K.POLL): _S.POLL_SENT,
    (_S.POLL_SENT, _IN, _K.RESULTS): _S.READY,
    (_S.POLL_SENT, _IN, _K.PUSH): _S.ACK_OWED,
    (_S.READY, _IN, _K.PUSH): _S.ACK_OWED,
    # A late answer to a keepalive that crossed a push (SAM11), or results a SAM10
    # server sends unasked: taken as they come.
    (_S.READY, _IN, _K.RESULTS): _S.READY,
    (_S.ACK_OWED, _IN, _K.RESULTS): _S.ACK_OWED,
    (_S.ACK_OWED, _OUT, _K.ACK): _S.READY,
}

#: The server's table.
SERVER_TRANSITIONS: Transitions = {
    (_S.CONNECTED, _IN, _K.LOGIN): _S.LOGIN_RECEIVED,
    (_S.LOGIN_RECEIVED, _OUT, _K.LOGIN_OK): _S.READY,
    (_S.LOGIN_RECEIVED, _OUT, _K.LOGIN_REFUSED): _S.CLOSED,
    (_S.READY, _IN, _K.SEND): _S.SEND_RECEIVED,
    (_S.SEND_RECEIVED, _OUT, _K.SEND_ANSWER): _S.READY,
    (_S.READY, _IN, _K.UPLOAD): _S.UPLOAD_RECEIVED,
    (_S.UPLOAD_RECEIVED, _OUT, _K.UPLOAD_ANSWER): _S.READY,
    (_S.READY, _IN, _K.POLL): _S.POLL_RECEIVED,
    (_S.POLL_RECEIVED, _OUT, _K.RESULTS): _S.READY,
    (_S.POLL_RECEIVED, _OUT, _K.PUSH): _S.PUSH_SENT,
    (_S.READY, _OUT, _K.PUSH): _S.PUSH_SENT,
    (_S.PUSH_SENT, _IN, _K.ACK): _S.READY,
    (_S.PUSH_SENT, _IN, _K.POLL): _S.PUSH_SENT_POLL_RECEIVED,
    (_S.PUSH_SENT_POLL_RECEIVED, _OUT, _K.RESULTS): _S.PUSH_SENT,
    (_S.PUSH_SENT_POLL_RECEIVED, _IN, _K.ACK): _S.POLL_RECEIVED,
}

TRANSITIONS: dict[Role, Transitions] = {
    Role.CLIENT: CLIENT_TRANSITIONS,
    Role.SERVER: SERVER_TRANSITIONS,
}

#: States in which the peer owes us an answer: the answer timeout runs.
AWAITING = frozenset(
    {
        State.LOGIN_SENT,
        State.SEND_SENT,
        State.UPLOAD_SENT,
        State.POLL_SENT,
        State.PUSH_SENT,
        State.PUSH_SENT_POLL_RECEIVED,
    }
)
_ENDED = frozenset({State.CLOSED, State.ERROR})
_BEFORE_LOGIN = frozenset({State.CONNECTED, State.LOGIN_SENT, State.LOGIN_RECEIVED})

#: Answer timeout (spec §8, Resolution: 30 s, then close and reconnect).
DEFAULT_ANSWER_TIMEOUT = 30.0
#: Silence after which the peer is taken for dead (spec §8: 90 s, three keepalives).
DEFAULT_IDLE_TIMEOUT = 90.0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class KeepaliveDue:
    """The client has been quiet for ``keepalive`` seconds: send a keepalive now."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TimedOut:
    """The peer did not answer, or went silent; the session is in ERROR."""

    reason: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionClosed:
    """The peer closed the connection."""

    reason: str = "closed by the peer"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class VersionMismatch:
    """A frame after login carried another VERSION than the login's (it is used as if
    it carried the login's: spec §4)."""

    expected: str
    received: str
    command: int


class NeedData:
    """No event until more bytes arrive (or a deadline passes)."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = NeedData()

SessionEvent = Event | KeepaliveDue | TimedOut | ConnectionClosed | VersionMismatch


def _kind(event: Event, role: Role, direction: Direction, version: str) -> Kind:
    match event:
        case Login():
            return Kind.LOGIN
        case LoginResult():
            return Kind.LOGIN_OK if event.ok else Kind.LOGIN_REFUSED
        case SmsSend() | FixedSend() | LmsSend() | MmsSend():
            return Kind.SEND
        case SendAck() | BatchAck():
            return Kind.SEND_ANSWER
        case FileUpload():
            return Kind.UPLOAD
        case FileResult():
            return Kind.UPLOAD_ANSWER
        case ResultAck():
            return Kind.ACK if event.keys else Kind.POLL
        case Results():
            if not event.records:
                # spec §14 item 5: a server also takes a client's empty 1031 as a poll.
                if role is Role.SERVER and direction is Direction.RECEIVED:
                    return Kind.POLL
                return Kind.RESULTS
            return Kind.PUSH if version == Version.SAM11 else Kind.RESULTS
        case UnknownCommand():
            return Kind.UNKNOWN


class Session:
    """One UShot TCP session, either end.

    Args:
        role: which end we are.
        now: the time the connection was made (monotonic seconds).
        version: the mode a client logs in with; a server learns it from the 1010.
        keepalive: a client's keepalive interval in READY (send session 30 s, SAM10
            report 5 s, SAM11 report 30 s); None for none.
        answer_timeout: how long the peer may take to answer.
        idle_timeout: how long the peer may stay silent.
        max_body: the largest LENGTH accepted.
    """

    def __init__(
        self,
        role: Role,
        *,
        now: float,
        version: str | None = None,
        keepalive: float | None = None,
        answer_timeout: float = DEFAULT_ANSWER_TIMEOUT,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_body: int = MAX_BODY,
    ) -> None:
        if role is Role.CLIENT and version not in (Version.SAM10, Version.SAM11):
            raise ValueError(
                f"a client session needs version SAM10 or SAM11, got {version!r}"
            )
        self.role = role
        #: The session's mode (a server's is set by the 1010, valid or not).
        self.version = version or ""
        self.state = State.CONNECTED
        self.keepalive = keepalive
        self.answer_timeout = answer_timeout
        self.idle_timeout = idle_timeout
        self._table = TRANSITIONS[role]
        self._decoder = FrameDecoder(max_body=max_body)
        self._queue: collections.deque[SessionEvent] = collections.deque()
        self._eof = False
        self._eof_reason = "closed by the peer"
        self._eof_reported = False
        self._error: RemoteProtocolError | None = None
        self._last_sent = now
        self._last_received = now
        self._awaiting_since: float | None = None
        #: A server's peer owes it a login from the start: within answer_timeout
        #: (else a connection that trickles bytes and never logs in stays).
        self._login_due = now + answer_timeout if role is Role.SERVER else None
        self._keepalive_signalled = False
        self._unknown_owed = 0
        self._peer_version = ""
        #: Frames received and sent (for logs and the simulator's fault switches).
        self.frames_received = 0
        self.frames_sent = 0

    # -- state ------------------------------------------------------------------

    @property
    def logged_in(self) -> bool:
        return self.state not in _BEFORE_LOGIN and self.state not in _ENDED

    @property
    def ended(self) -> bool:
        """CLOSED or ERROR: nothing more will happen on this session."""
        return self.state in _ENDED

    @property
    def idle(self) -> bool:
        """Logged in with nothing outstanding in either direction."""
        return self.state is State.READY and self._unknown_owed == 0

    def close(self) -> None:
        """We end the session (nothing more may be sent or received)."""
        if self.state is not State.ERROR:
            self.state = State.CLOSED
        self._awaiting_since = None

    def _move(self, new: State, now: float | None) -> None:
        if new in AWAITING:
            if self._awaiting_since is None and now is not None:
                self._awaiting_since = now
        else:
            self._awaiting_since = None
        self.state = new

    def _fail(self, exc: RemoteProtocolError) -> RemoteProtocolError:
        self.state = State.ERROR
        self._awaiting_since = None
        self._error = exc
        return exc

    # -- receiving --------------------------------------------------------------

    def receive_data(self, data: bytes, now: float, *, reason: str = "") -> None:
        """Bytes from the peer; ``b""`` when it closed (``reason``: how, for logs)."""
        if not data:
            self._eof = True
            if reason:
                self._eof_reason = reason
            return
        self._last_received = now
        self._decoder.feed(data)

    def next_event(self) -> SessionEvent | NeedData:
        """The next event, or `NEED_DATA`.

        Raises:
            RemoteProtocolError: a corrupt frame, or one off the table (the session is
                then in ERROR and raises the same error on every later call).
        """
        if self._error is not None:
            raise self._error
        if self._queue:
            return self._queue.popleft()
        if self.state is State.ERROR:
            return NEED_DATA
        try:
            frame = self._decoder.next_frame()
        except RemoteProtocolError as exc:
            raise self._fail(exc) from None
        if frame is None:
            if not self._eof or self._eof_reported:
                return NEED_DATA
            if self._decoder.buffered:
                raise self._fail(
                    RemoteProtocolError(
                        f"connection closed inside a frame ({self._decoder.buffered} "
                        "bytes of it received)",
                        code=FRAME_ERROR,
                    )
                )
            self.close()
            self._eof_reported = True
            return ConnectionClosed(reason=self._eof_reason)
        self.frames_received += 1
        self._peer_version = frame.version
        try:
            event = decode_frame(frame)
        except RemoteProtocolError as exc:
            raise self._fail(exc) from None
        kind = _kind(event, self.role, Direction.RECEIVED, self.version)
        mismatch: VersionMismatch | None = None
        if kind is Kind.LOGIN and self.role is Role.SERVER:
            self.version = frame.version
        elif self.logged_in and frame.version != self.version:
            mismatch = VersionMismatch(
                expected=self.version, received=frame.version, command=frame.command
            )
        if kind is Kind.UNKNOWN:
            if self.role is Role.SERVER:
                self._unknown_owed += 1
        else:
            new = self._table.get((self.state, Direction.RECEIVED, kind))
            if new is None:
                raise self._fail(
                    RemoteProtocolError(
                        f"{frame.command} ({kind.value}) received in state "
                        f"{self.state.value}",
                        code=FRAME_ERROR,
                    )
                )
            self._move(new, None)
        if mismatch is not None:
            self._queue.append(event)
            return mismatch
        return event

    # -- sending ----------------------------------------------------------------

    def send(self, event: Event, now: float) -> bytes:
        """The bytes of ``event``; the state moves as the table says.

        Raises:
            LocalProtocolError: the event is off the table in this state (the session
                is then in ERROR), or `fields.FieldError` when a value does not fit
                (the state does not change).
        """
        if self.state is State.ERROR:
            raise LocalProtocolError("the session has failed; nothing more can be sent")
        kind = _kind(event, self.role, Direction.SENT, self.version)
        new: State | None
        if kind is Kind.UNKNOWN:
            if self._unknown_owed == 0:
                raise self._local(f"{kind.value} may only answer an unknown command")
            new = self.state
        else:
            if (
                kind is Kind.LOGIN
                and isinstance(event, Login)
                and event.version != self.version
            ):
                raise self._local(
                    f"login as {event.version!r} in a {self.version!r} session"
                )
            new = self._table.get((self.state, Direction.SENT, kind))
            if new is None:
                raise self._local(
                    f"{kind.value} may not be sent in state {self.state.value}"
                )
        data = encode_event(event, self.version or self._peer_version)
        if kind is Kind.UNKNOWN:
            self._unknown_owed -= 1
        self._move(new, now)
        self._last_sent = now
        self._keepalive_signalled = False
        self.frames_sent += 1
        return data

    def _local(self, why: str) -> LocalProtocolError:
        self.state = State.ERROR
        self._awaiting_since = None
        return LocalProtocolError(f"{self.role.value}: {why}", code=FRAME_ERROR)

    # -- timers -----------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When `handle_timeout` must next run; None once the session has ended."""
        if self.state in _ENDED:
            return None
        deadline = self._last_received + self.idle_timeout
        if self._login_due is not None and self.state is State.CONNECTED:
            deadline = min(deadline, self._login_due)
        if self._awaiting_since is not None:
            deadline = min(deadline, self._awaiting_since + self.answer_timeout)
        if self._keepalive_at() is not None:
            deadline = min(deadline, self._last_sent + (self.keepalive or 0.0))
        return deadline

    def _keepalive_at(self) -> float | None:
        if (
            self.role is Role.CLIENT
            and self.keepalive is not None
            and self.state is State.READY
            and not self._keepalive_signalled
        ):
            return self._last_sent + self.keepalive
        return None

    def handle_timeout(self, now: float) -> None:
        """Fire the timers that are due; their events come out of `next_event`."""
        if self.state in _ENDED:
            return
        if (
            self._login_due is not None
            and self.state is State.CONNECTED
            and now >= self._login_due
        ):
            self.state = State.ERROR
            self._queue.append(
                TimedOut(reason=f"no login within {self.answer_timeout:g} s")
            )
            return
        if (
            self._awaiting_since is not None
            and now >= self._awaiting_since + self.answer_timeout
        ):
            waited = self.state.value
            self.state = State.ERROR
            self._awaiting_since = None
            self._queue.append(
                TimedOut(
                    reason=f"no answer within {self.answer_timeout:g} s ({waited})"
                )
            )
            return
        if now >= self._last_received + self.idle_timeout:
            self.state = State.ERROR
            self._awaiting_since = None
            self._queue.append(
                TimedOut(reason=f"nothing received for {self.idle_timeout:g} s")
            )
            return
        keepalive_at = self._keepalive_at()
        if keepalive_at is not None and now >= keepalive_at:
            self._keepalive_signalled = True
            self._queue.append(KeepaliveDue())


def mermaid(role: Role) -> str:
    """A role's table as a Mermaid state diagram (for docs/protocols/ushot.md)."""
    lines = ["stateDiagram-v2", "    [*] --> CONNECTED"]
    for (src, direction, kind), dst in TRANSITIONS[role].items():
        arrow = "send" if direction is Direction.SENT else "recv"
        lines.append(f"    {src.value} --> {dst.value}: {arrow} {kind.value}")
    return "\n".join(lines)
