"""One SMPP session, sans-I/O: bytes in, PDUs out, and back; one class for both roles.

Theory of operation
-------------------
A `Session` is built with its ``role`` (ESME or SMSC). The driver feeds it what the
socket read (`receive_data`), takes PDUs out (`next_event`, which returns
`Signal.NEED_DATA` when it needs more bytes and `Signal.CLOSED` after the peer's end
of stream), and turns the PDUs it wants to send into bytes (`send`). Time never comes
from a clock: every call that starts or ends a timer takes ``now`` (any monotonic
seconds), `next_deadline` says when the driver must call `poll` next, and `poll`
returns the timers that ran out.

States follow §2.3 (OPEN, BOUND_TX, BOUND_RX, BOUND_TRX, CLOSED), with BINDING_* while
a bind request waits for its response, UNBINDING after an unbind, and ERROR after a
fault that leaves the byte stream unreadable. `TRANSITIONS` is the whole machine:
``(state, sender, command_id) → (state after, state after an error response)``, with
the sender being the role that sends the PDU, so both roles read the same table.
A PDU off the table is refused:

* sent by us: `LocalProtocolError`, and the session moves to ERROR;
* received: `InvalidPdu` with ESME_RINVBNDSTS (ESME_RALYBND for a second bind) and
  ``close_session=False``; the state does not change and the driver answers with
  `pdu.error_reply`, as §2.3 says an SMSC does. `send` lets such an answer through
  in any state, provided it carries an error status.

Windows (§2.5.2 asks for at most 10 outstanding requests by default; SMSCs configure
their own): ``window`` caps the data requests (submit_sm, deliver_sm, query_sm) we
have sent without a response; `send` refuses one more with a LocalProtocolError that
leaves the state alone, so the driver checks `window_free` first. ``peer_window``
caps the data requests the peer sent that we have not answered; one more is refused
with ESME_RMSGQFUL, unless the session was built with ``refuse_over_window=False``:
its driver then stops taking PDUs while `peer_window_full` (back-pressure on the
socket instead of an error the peer may never resend; what an ESME does with
receipts). Control requests (bind, unbind, enquire_link) are never held back by a
window.

Timers: each request we send must be answered within ``response_timeout``; `poll`
returns `ResponseTimeout` for one that was not and forgets it (a late response is
still returned by `next_event`; the driver ignores sequence numbers it does not
know). When nothing was received for ``enquire_link_interval`` while bound, `poll`
returns `EnquireLinkDue` once per interval and the driver sends an enquire_link.
With ``bind_timeout``, a session not bound that long after it opened gets one
`BindTimeout` (SMPP 5.0's session_init_timer; 3.4 has none), and its driver closes
the connection: an SMSC's guard against connections that never bind.

Incoming bytes are held in one buffer; a command_length under 16 or over
``max_command_length`` (`MAX_COMMAND_LENGTH` by default) means the stream cannot be
framed any more: `InvalidPdu` with ESME_RINVCMDLEN and ``close_session=True``.
"""

from __future__ import annotations

import dataclasses
import enum
import struct

from umsgate.errors import LocalProtocolError, RemoteProtocolError
from umsgate.protocols.smpp import pdu as pdus
from umsgate.protocols.smpp.codes import RESPONSE_BIT, CommandId, CommandStatus
from umsgate.protocols.smpp.errors import InvalidPdu
from umsgate.protocols.smpp.pdu import HEADER_SIZE, MAX_SEQUENCE, Pdu

#: Largest PDU accepted: a message_payload TLV can hold 65,535 octets (its length is
#: 2 octets, §3.2.4), plus the mandatory fields at their maximum (under 300 octets)
#: and room for other TLVs. SMPP itself names no maximum.
MAX_COMMAND_LENGTH = 70_000
#: §2.5.2: "the ESME should not have more than 10 outstanding requests" by default.
DEFAULT_WINDOW = 10
#: Most unanswered requests a peer may have open with us (a bound on memory when
#: the peer ignores windows); the data requests among them are capped by
#: ``peer_window``.
MAX_PEER_OUTSTANDING = 100_000

_LENGTH = struct.Struct(">I")


class Role(enum.StrEnum):
    ESME = "ESME"
    SMSC = "SMSC"

    @property
    def peer(self) -> Role:
        return Role.SMSC if self is Role.ESME else Role.ESME


class State(enum.StrEnum):
    OPEN = "OPEN"
    BINDING_TX = "BINDING_TX"
    BINDING_RX = "BINDING_RX"
    BINDING_TRX = "BINDING_TRX"
    BOUND_TX = "BOUND_TX"
    BOUND_RX = "BOUND_RX"
    BOUND_TRX = "BOUND_TRX"
    UNBINDING = "UNBINDING"
    CLOSED = "CLOSED"
    ERROR = "ERROR"


class Signal(enum.Enum):
    """What `next_event` returns when it has no PDU."""

    NEED_DATA = "NEED_DATA"
    CLOSED = "CLOSED"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ResponseTimeout:
    """A request we sent got no response in time."""

    sequence: int
    command_id: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EnquireLinkDue:
    """Nothing came from the peer for ``enquire_link_interval``: time to ask."""


@dataclasses.dataclass(frozen=True, slots=True)
class BindTimeout:
    """The peer opened the connection and did not bind within ``bind_timeout``
    (SMPP 5.0 §2.7's session_init_timer): the driver closes it."""


TimerEvent = ResponseTimeout | EnquireLinkDue | BindTimeout

_C = CommandId
_ESME, _SMSC = Role.ESME, Role.SMSC
_BOUND = (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX)
_BINDING = (State.BINDING_TX, State.BINDING_RX, State.BINDING_TRX)

# What each bound state lets through in both directions, without changing state.
_TX_TRAFFIC = {
    (_ESME, _C.SUBMIT_SM),
    (_SMSC, _C.SUBMIT_SM_RESP),
    (_ESME, _C.QUERY_SM),
    (_SMSC, _C.QUERY_SM_RESP),
}
_RX_TRAFFIC = {(_SMSC, _C.DELIVER_SM), (_ESME, _C.DELIVER_SM_RESP)}
_LINK_TRAFFIC = {
    (role, command)
    for role in Role
    for command in (_C.ENQUIRE_LINK, _C.ENQUIRE_LINK_RESP, _C.GENERIC_NACK)
}
_ANSWERS = {
    (role, command)
    for role in Role
    for command in (
        _C.SUBMIT_SM_RESP,
        _C.DELIVER_SM_RESP,
        _C.QUERY_SM_RESP,
        _C.ENQUIRE_LINK_RESP,
        _C.GENERIC_NACK,
    )
}

#: (state, sender, command_id) → (next state, next state when the PDU is a response
#: with an error status). Every pair the table leaves out is refused.
TRANSITIONS: dict[tuple[State, Role, int], tuple[State, State]] = {
    # §4.1: binding. A refused bind (or a generic_nack to it) returns to OPEN.
    (State.OPEN, _ESME, _C.BIND_TRANSMITTER): (State.BINDING_TX, State.BINDING_TX),
    (State.OPEN, _ESME, _C.BIND_RECEIVER): (State.BINDING_RX, State.BINDING_RX),
    (State.OPEN, _ESME, _C.BIND_TRANSCEIVER): (State.BINDING_TRX, State.BINDING_TRX),
    (State.BINDING_TX, _SMSC, _C.BIND_TRANSMITTER_RESP): (State.BOUND_TX, State.OPEN),
    (State.BINDING_RX, _SMSC, _C.BIND_RECEIVER_RESP): (State.BOUND_RX, State.OPEN),
    (State.BINDING_TRX, _SMSC, _C.BIND_TRANSCEIVER_RESP): (State.BOUND_TRX, State.OPEN),
    **{(s, _SMSC, _C.GENERIC_NACK): (State.OPEN, State.OPEN) for s in _BINDING},
    # §4.1.7: outbind asks the ESME to bind; the state stays OPEN until it does.
    (State.OPEN, _SMSC, _C.OUTBIND): (State.OPEN, State.OPEN),
    # Link checks and generic_nack while not yet bound.
    **{(State.OPEN, r, c): (State.OPEN, State.OPEN) for r, c in _LINK_TRAFFIC},
    **{
        (s, r, c): (s, s)
        for s in _BINDING
        for r, c in _LINK_TRAFFIC
        if (r, c) != (_SMSC, _C.GENERIC_NACK)
    },
    # Bound traffic.
    **{
        (s, r, c): (s, s)
        for s, allowed in (
            (State.BOUND_TX, _TX_TRAFFIC | _LINK_TRAFFIC),
            (State.BOUND_RX, _RX_TRAFFIC | _LINK_TRAFFIC),
            (State.BOUND_TRX, _TX_TRAFFIC | _RX_TRAFFIC | _LINK_TRAFFIC),
        )
        for r, c in allowed
    },
    # §4.2: either side unbinds; outstanding requests may still be answered.
    **{
        (s, r, _C.UNBIND): (State.UNBINDING, State.UNBINDING)
        for s in _BOUND
        for r in Role
    },
    **{
        (State.UNBINDING, r, _C.UNBIND): (State.UNBINDING, State.UNBINDING)
        for r in Role
    },
    **{
        (State.UNBINDING, r, c): (State.UNBINDING, State.UNBINDING) for r, c in _ANSWERS
    },
    **{
        (State.UNBINDING, r, _C.UNBIND_RESP): (State.CLOSED, State.CLOSED) for r in Role
    },
    # A broken stream may still be told why before it is closed (§4.3).
    **{(State.ERROR, r, _C.GENERIC_NACK): (State.ERROR, State.ERROR) for r in Role},
}

_DATA_REQUESTS = frozenset({_C.SUBMIT_SM, _C.DELIVER_SM, _C.QUERY_SM})


class _Kind(enum.Enum):
    """What a request of the peer's that waits for our answer is."""

    CONTROL = "control"  # bind, unbind, enquire_link: outside the window
    DATA = "data"  # submit_sm, deliver_sm, query_sm: counted in peer_window
    REJECTED = "rejected"  # refused; its answer carries the error


_CONTROL, _DATA, _REJECTED = _Kind.CONTROL, _Kind.DATA, _Kind.REJECTED
_BIND_REQUESTS = frozenset({_C.BIND_TRANSMITTER, _C.BIND_RECEIVER, _C.BIND_TRANSCEIVER})


class Session:
    """The SMPP state machine of one connection (see the module docstring).

    Args:
        role: which end of the connection this session is.
        now: the time the connection opened (starts the enquire_link timer).
        window: most data requests we may have outstanding.
        peer_window: most data requests the peer may have outstanding with us.
        response_timeout: seconds a request we send may wait for its response.
        enquire_link_interval: seconds of silence from the peer before
            `EnquireLinkDue`; None turns it off.
        max_command_length: largest PDU accepted from the peer.
        refuse_over_window: refuse the peer's data requests beyond
            ``peer_window`` with ESME_RMSGQFUL; False: take them (the driver holds
            back instead, see `peer_window_full`).
        bind_timeout: seconds from ``now`` within which the peer must have bound
            (an SMSC's guard against connections that never bind); `poll`
            returns `BindTimeout` once after it. None turns it off.
    """

    def __init__(
        self,
        role: Role,
        *,
        now: float,
        window: int = DEFAULT_WINDOW,
        peer_window: int = DEFAULT_WINDOW,
        response_timeout: float = 10.0,
        enquire_link_interval: float | None = 30.0,
        max_command_length: int = MAX_COMMAND_LENGTH,
        refuse_over_window: bool = True,
        bind_timeout: float | None = None,
    ) -> None:
        if window < 1 or peer_window < 1:
            raise ValueError("windows must be at least 1")
        self.role = role
        self.state = State.OPEN
        self.window = window
        self.peer_window = min(peer_window, MAX_PEER_OUTSTANDING)
        self.response_timeout = response_timeout
        self.enquire_link_interval = enquire_link_interval
        self.max_command_length = max_command_length
        self.refuse_over_window = refuse_over_window
        self._buffer = b""
        self._pos = 0
        self._eof = False
        self._last_sequence = 0
        # Our requests waiting for a response: sequence → (command_id, deadline).
        # Insertion order is deadline order: every request gets the same timeout.
        self._sent: dict[int, tuple[int, float]] = {}
        self._sent_data = 0
        # The peer's requests we have not answered: sequence → (command_id, kind).
        self._received: dict[int, tuple[int, _Kind]] = {}
        self._received_data = 0
        # Sequence numbers the peer used again while the first was unanswered.
        self._repeats: dict[int, int] = {}
        self._last_heard = now
        self._enquire_due = (
            now + enquire_link_interval if enquire_link_interval is not None else None
        )
        self._bind_due = now + bind_timeout if bind_timeout is not None else None

    # ------------------------------------------------------------ introspection

    @property
    def bound(self) -> bool:
        return self.state in _BOUND

    @property
    def can_submit(self) -> bool:
        """Whether this session may send submit_sm now (ESME, bound TX or TRX)."""
        return self.state is State.BOUND_TX or self.state is State.BOUND_TRX

    @property
    def window_free(self) -> int:
        """How many more data requests `send` accepts now."""
        return self.window - self._sent_data

    @property
    def in_flight(self) -> int:
        """Our data requests waiting for a response."""
        return self._sent_data

    @property
    def peer_in_flight(self) -> int:
        """The peer's data requests we have not answered."""
        return self._received_data

    @property
    def peer_window_full(self) -> bool:
        """The peer has ``peer_window`` data requests unanswered."""
        return self._received_data >= self.peer_window

    def pending(self) -> list[int]:
        """Sequence numbers of our requests that wait for a response."""
        return list(self._sent)

    # ------------------------------------------------------------ sending

    def next_sequence(self) -> int:
        """A sequence number for a new request: 1..0x7FFFFFFF, then wraps, skipping
        numbers still waiting for a response."""
        seq = self._last_sequence
        for _ in range(len(self._sent) + 1):
            seq = seq + 1 if seq < MAX_SEQUENCE else 1
            if seq not in self._sent:
                break
        self._last_sequence = seq
        return seq

    def send(self, pdu: Pdu, *, now: float) -> bytes:
        """The bytes of ``pdu``, after checking that we may send it now.

        Raises:
            LocalProtocolError: the PDU is off the table for the current state
                (the session moves to ERROR), the window is full, the sequence is
                in use, or a field does not fit (these three leave the state alone).
        """
        command_id = pdu.command_id
        state = self.state
        seq = pdu.sequence
        if command_id & RESPONSE_BIT:
            entry = self._received.get(seq)
            if entry is not None and entry[1] is _REJECTED:
                # The answer to a PDU we refused: any state, always an error.
                if pdu.status == CommandStatus.ROK:
                    raise LocalProtocolError(
                        f"{command_id.name.lower()} {seq} answers a refused request "
                        "and must carry an error status",
                        close_session=False,
                    )
                wire = pdus.encode(pdu)
                self._answered(seq)
                return wire
        rule = TRANSITIONS.get((state, self.role, command_id))
        if rule is None:
            self.state = State.ERROR
            raise LocalProtocolError(
                f"{self.role} may not send {command_id.name.lower()} in {state}"
            )
        is_response = command_id & RESPONSE_BIT
        if is_response:
            entry = self._received.get(seq)
            if entry is not None and (
                entry[0] | RESPONSE_BIT == command_id or command_id == _C.GENERIC_NACK
            ):
                self._answered(seq)
            elif command_id != _C.GENERIC_NACK:
                raise LocalProtocolError(
                    f"{command_id.name.lower()} {seq} answers no request of the peer",
                    close_session=False,
                )
        elif command_id is not _C.OUTBIND:
            data = command_id in _DATA_REQUESTS
            if data and self._sent_data >= self.window:
                raise LocalProtocolError(
                    f"the window of {self.window} outstanding requests is full",
                    close_session=False,
                )
            if seq in self._sent:
                raise LocalProtocolError(
                    f"sequence_number {seq} is still waiting for a response",
                    close_session=False,
                )
        wire = pdus.encode(pdu)
        if not is_response and command_id is not _C.OUTBIND:
            self._sent[seq] = (command_id, now + self.response_timeout)
            if command_id in _DATA_REQUESTS:
                self._sent_data += 1
            if command_id is _C.ENQUIRE_LINK and self.enquire_link_interval is not None:
                self._enquire_due = now + self.enquire_link_interval
        status = pdu.status
        self.state = rule[0] if status == CommandStatus.ROK else rule[1]
        if self.state in _BOUND:
            self._bind_due = None
        return wire

    # ------------------------------------------------------------ receiving

    def receive_data(self, data: bytes, *, now: float) -> None:
        """Add bytes read from the peer; ``b""`` means the peer closed its end."""
        if not data:
            self._eof = True
            return
        if self._pos >= len(self._buffer):
            self._buffer = data
        else:
            self._buffer = self._buffer[self._pos :] + data
        self._pos = 0
        self._last_heard = now
        if self.enquire_link_interval is not None:
            self._enquire_due = now + self.enquire_link_interval

    def next_event(self) -> Pdu | Signal:
        """The next PDU from the peer, or a `Signal`.

        Raises:
            InvalidPdu: the PDU breaks SMPP; with ``close_session`` the stream
                cannot go on (the session is in ERROR), otherwise answer it with
                `pdu.error_reply` and go on.
            RemoteProtocolError: the session failed earlier, or the peer closed
                the connection in the middle of a PDU.
        """
        if self.state is State.ERROR:
            raise RemoteProtocolError("the session failed earlier and cannot go on")
        buffer, pos = self._buffer, self._pos
        available = len(buffer) - pos
        if available < 4:
            return self._end_or_wait(available)
        length = _LENGTH.unpack_from(buffer, pos)[0]
        if length < HEADER_SIZE or length > self.max_command_length:
            self.state = State.ERROR
            command_id = (
                _LENGTH.unpack_from(buffer, pos + 4)[0] if available >= 8 else None
            )
            seq = _LENGTH.unpack_from(buffer, pos + 12)[0] if available >= 16 else 0
            raise InvalidPdu(
                f"command_length {length} is outside {HEADER_SIZE}.."
                f"{self.max_command_length}; the stream cannot be framed",
                code=CommandStatus.RINVCMDLEN,
                command_id=command_id,
                sequence=seq,
                close_session=True,
            )
        if available < length:
            return self._end_or_wait(available)
        self._pos = pos + length
        try:
            pdu = pdus.decode(buffer[pos : pos + length])
        except InvalidPdu as exc:
            if exc.close_session:
                self.state = State.ERROR
            elif exc.command_id is not None and not exc.command_id & RESPONSE_BIT:
                # The driver will answer it: let that answer through.
                self._expect(exc.sequence, exc.command_id, _REJECTED)
            raise
        self._accept(pdu)
        return pdu

    def _end_or_wait(self, available: int) -> Signal:
        if not self._eof:
            return Signal.NEED_DATA
        if available:
            self.state = State.ERROR
            raise RemoteProtocolError(
                f"the peer closed the connection {available} octets into a PDU"
            )
        if self.state is not State.ERROR:
            self.state = State.CLOSED
        return Signal.CLOSED

    def _accept(self, pdu: Pdu) -> None:
        command_id = pdu.command_id
        seq = pdu.sequence
        state = self.state
        rule = TRANSITIONS.get((state, self.role.peer, command_id))
        is_response = command_id & RESPONSE_BIT
        if rule is None:
            if is_response or command_id is _C.OUTBIND:
                code = CommandStatus.RINVBNDSTS
            else:
                self._expect(seq, command_id, _REJECTED)
                code = (
                    CommandStatus.RALYBND
                    if command_id in _BIND_REQUESTS and state in _BOUND
                    else CommandStatus.RINVBNDSTS
                )
            raise InvalidPdu(
                f"{self.role.peer} may not send {command_id.name.lower()} in {state}",
                code=code,
                command_id=command_id,
                sequence=seq,
                malformed=False,
            )
        if is_response:
            entry = self._sent.pop(seq, None)
            if entry is not None and entry[0] in _DATA_REQUESTS:
                self._sent_data -= 1
        elif command_id is not _C.OUTBIND:
            data = command_id in _DATA_REQUESTS
            if (
                data
                and self.refuse_over_window
                and self._received_data >= self.peer_window
            ):
                self._expect(seq, command_id, _REJECTED)
                raise InvalidPdu(
                    f"the peer has {self._received_data} requests outstanding, over "
                    f"the window of {self.peer_window}",
                    code=CommandStatus.RMSGQFUL,
                    command_id=command_id,
                    sequence=seq,
                    malformed=False,
                )
            if len(self._received) >= MAX_PEER_OUTSTANDING:
                # Not even recorded: the answer goes out as a generic_nack.
                raise InvalidPdu(
                    f"the peer has {len(self._received)} requests outstanding",
                    code=CommandStatus.RMSGQFUL,
                    command_id=command_id,
                    sequence=seq,
                    malformed=False,
                )
            self._expect(seq, command_id, _DATA if data else _CONTROL)
        self.state = rule[0] if pdu.status == CommandStatus.ROK else rule[1]
        if self.state in _BOUND:
            self._bind_due = None

    def _expect(self, seq: int, command_id: int, kind: _Kind) -> None:
        """Note a request of the peer's that we owe an answer."""
        if seq in self._received:
            # §5.1.4 wants sequence numbers unique, but a peer that repeats one
            # still gets an answer for each request.
            self._repeats[seq] = self._repeats.get(seq, 0) + 1
        else:
            self._received[seq] = (command_id, kind)
        if kind is _DATA:
            self._received_data += 1

    def _answered(self, seq: int) -> None:
        entry = self._received[seq]
        repeats = self._repeats.get(seq)
        if repeats:
            if repeats == 1:
                del self._repeats[seq]
            else:
                self._repeats[seq] = repeats - 1
        else:
            del self._received[seq]
        if entry[1] is _DATA:
            self._received_data -= 1

    # ------------------------------------------------------------ timers

    def next_deadline(self) -> float | None:
        """When `poll` must be called next; None when no timer runs."""
        deadline: float | None = None
        if self._sent:
            deadline = next(iter(self._sent.values()))[1]
        if self._enquire_due is not None and self.state in _BOUND:
            if deadline is None or self._enquire_due < deadline:
                deadline = self._enquire_due
        bind_due = self._bind_due  # None once bound
        if bind_due is not None and (deadline is None or bind_due < deadline):
            deadline = bind_due
        return deadline

    def poll(self, now: float) -> list[TimerEvent]:
        """The timers that ran out by ``now``, oldest first."""
        events: list[TimerEvent] = []
        sent = self._sent
        while sent:
            seq, (command_id, deadline) = next(iter(sent.items()))
            if deadline > now:
                break
            del sent[seq]
            if command_id in _DATA_REQUESTS:
                self._sent_data -= 1
            events.append(ResponseTimeout(sequence=seq, command_id=command_id))
        due = self._enquire_due
        if due is not None and now >= due and self.state in _BOUND:
            assert self.enquire_link_interval is not None
            self._enquire_due = now + self.enquire_link_interval
            if not any(c == _C.ENQUIRE_LINK for c, _ in sent.values()):
                events.append(EnquireLinkDue())
        if self._bind_due is not None and now >= self._bind_due:
            self._bind_due = None
            events.append(BindTimeout())
        return events


def mermaid() -> str:
    """`TRANSITIONS` as a Mermaid state diagram (the docs embed it; a test checks
    that they match). Transitions that keep the state are left out."""
    edges: dict[tuple[State, State], list[str]] = {}
    for (state, sender, command_id), (ok, error) in TRANSITIONS.items():
        name = CommandId(command_id).name.lower()
        if ok is not state:
            edges.setdefault((state, ok), []).append(f"{sender} {name}")
        if error is not ok and error is not state:
            edges.setdefault((state, error), []).append(f"{sender} {name} (error)")
    lines = ["stateDiagram-v2", "    [*] --> OPEN"]
    for (src, dst), labels in sorted(edges.items()):
        lines.append(f"    {src} --> {dst}: {', '.join(sorted(set(labels)))}")
    lines.append("    CLOSED --> [*]")
    return "\n".join(lines)
