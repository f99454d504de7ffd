"""The fake SMSC behind ``umsgate sim smpp``: accounts, binds, a window, a TPS limit,
receipts after a delay with a drawn outcome, fault switches, and a record of what it
received. It runs the same `Session` as the connector, in the SMSC role.

Theory of operation
-------------------
Each accepted connection gets a `connection.Connection` whose handler is a
`_Peer`. A submit_sm is answered at once (or after ``faults.resp_delay``) with a
new message id, recorded in `Smsc.submitted`, and its receipt goes out:

* with ``receipt_delay`` 0 (and no ``receipt_burst``), at once: on the submitting
  session when it receives (a transceiver), so the receipt leaves in the same write
  as its submit_sm_resp, right behind it; otherwise on a receiver of its system_id,
  in the same loop turn;
* a share ``early_receipts`` of them, whatever the delay, at once and *before* the
  submit_sm_resp (in the same write on a transceiver): the ESME reads a receipt for
  a message id it has not been told yet;
* otherwise it is scheduled: after ``receipt_delay`` seconds, or with
  ``receipt_burst`` at the next multiple of that many seconds of the loop's clock
  (so every receipt due in between leaves together), it moves to the queue of its
  system_id.

Queued receipts go to any receiver or transceiver session of that system_id that
has room in its receipt window (``receipt_window``; 0: none, only TCP flow control
holds them back), round robin; so receipts outlive the session that submitted the
message and reach whichever session binds next. A receipt sent at once takes the
same path when its session has no room or older receipts of its system_id wait.

A receipt leaves the queue only when a deliver_sm_resp with ESME_ROK comes back. A
refusal (ESME_RX_T_APPN or any other error), a response timeout or a dropped
connection puts it back, to be sent again ``receipt_retry`` seconds later (a
dropped connection's go back at once, to the front); ESME_RX_P_APPN and
ESME_RX_R_APPN drop it for good, as the ESME asked. With ``resend_refused`` off, as
many real SMSCs do, no receipt is ever sent twice: one refused, timed out or
unanswered when its session ends is dropped. Every dropped receipt is counted in
`Stats.receipts_lost`.

Outcomes are drawn with `OutcomeMix` over the ``stat:`` words of Appendix B
(``DELIVRD`` unless the mix says otherwise), keyed by message id.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import functools
import heapq
import itertools
import logging
import math
import os
import random
import re
import time
from collections.abc import Callable, Mapping

from umsgate.deadlines import AddressCap
from umsgate.protocols.sandbox.mix import OutcomeMix
from umsgate.protocols.smpp import encoding, receipt
from umsgate.protocols.smpp import pdu as p
from umsgate.protocols.smpp.codes import (
    INTERFACE_VERSION_34,
    STATE_BY_STAT,
    CommandId,
    CommandStatus,
    EsmClass,
    MessageState,
)
from umsgate.protocols.smpp.connection import Connection, Handler
from umsgate.protocols.smpp.session import (
    BindTimeout,
    EnquireLinkDue,
    ResponseTimeout,
    Role,
    Session,
    TimerEvent,
)
from umsgate.protocols.smpp.tlv import NetworkErrorCode, Tlvs

log = logging.getLogger("umsgate.protocols.smpp")

#: Most submitted parts kept in the record, oldest dropped first (about 700 bytes
#: each: some 70 MB at the limit, half a minute of a 3,000 msg/s benchmark).
MAX_RECORDED = 100_000
#: Most message states kept for query_sm, oldest forgotten first (about 250 bytes
#: each).
MAX_TRACKED = 200_000
#: Most receipts queued per system_id (a sink that never answers cannot grow it
#: without end; further receipts are dropped and counted lost).
MAX_QUEUED_RECEIPTS = 1_000_000
#: The session window that stands for "no window" (``receipt_window`` 0): more
#: receipts than the simulator ever queues.
_NO_WINDOW = MAX_QUEUED_RECEIPTS

#: err: value and GSM network error (3GPP TS 29.002) of each drawn outcome.
_OUTCOME_ERRORS: dict[str, int] = {
    "DELIVRD": 0,
    "ACCEPTD": 0,
    "EXPIRED": 0,
    "DELETED": 0,
    "UNDELIV": 27,  # absentSubscriber
    "REJECTD": 13,  # callBarred
    "UNKNOWN": 0,
}
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e]")

#: ``stat:`` words a mix may name (every final state of Appendix B).
OUTCOMES = frozenset(_OUTCOME_ERRORS)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SimulatorConfig:
    """How the simulator behaves; every field has a ``umsgate sim smpp`` option."""

    host: str = "127.0.0.1"
    port: int = 2775
    #: system_id → password; empty accepts any system_id and password.
    accounts: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: The system_id the SMSC names in bind responses.
    system_id: str = "umsgate-sim"
    #: Submits per second per system_id; beyond it ESME_RTHROTTLED. None: no limit.
    tps: float | None = None
    #: Outstanding submits per session; beyond it ESME_RMSGQFUL.
    window: int = 100
    #: Seconds from submit to receipt; 0: at once, in the same write as the
    #: submit_sm_resp and right behind it (on a transceiver).
    receipt_delay: float = 1.0
    #: Share (0..1) of receipts sent at once *before* their submit_sm_resp, in the
    #: same write on a transceiver, whatever ``receipt_delay`` says.
    early_receipts: float = 0.0
    #: Seconds between bursts: scheduled receipts are held and leave together at
    #: each multiple of it. 0: no bursts.
    receipt_burst: float = 0.0
    #: Outcome shares: ``"UNDELIV=0.05,EXPIRED=0.01"``; the rest is DELIVRD.
    mix: str = ""
    #: Seeds the outcome draw and the draw of early receipts.
    seed: int = 0
    #: Seconds before a refused or unanswered receipt is sent again.
    receipt_retry: float = 5.0
    #: Send a refused or unanswered receipt again (after ``receipt_retry``); False:
    #: drop it, counted in `Stats.receipts_lost`.
    resend_refused: bool = True
    #: Unanswered deliver_sm per session; 0: no window, every receipt goes at once
    #: (the connector reads up to its own ``receipt_window`` and holds the rest).
    receipt_window: int = 50
    enquire_link_interval: float | None = 30.0
    response_timeout: float = 10.0
    #: Seconds a connection may stay without binding before the SMSC closes it
    #: (SMPP 5.0 §2.7 session_init_timer); None: it may stay for ever.
    bind_timeout: float | None = 10.0
    #: Connections one client address may hold; more are closed at once (the
    #: gateway's ``server.max_connections_per_client``).
    max_connections_per_client: int = 256


class _CappedConnection(Connection):
    """A connection counted against ``max_connections_per_client``; one over it is
    dropped as soon as it opens."""

    def __init__(
        self,
        session: Session,
        handler: Handler,
        *,
        cap: AddressCap,
        close_on_invalid: bool,
        name: str,
    ) -> None:
        super().__init__(session, handler, close_on_invalid=close_on_invalid, name=name)
        self._cap = cap
        self._cap_key: str | None = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._cap_key = self._cap.take(
            transport.get_extra_info("peername"), asyncio.get_running_loop().time()
        )
        if self._cap_key is None:
            self.abort(f"too many connections from {self.peer}")

    def connection_lost(self, exc: Exception | None) -> None:
        self._cap.release(self._cap_key)
        self._cap_key = ""
        super().connection_lost(exc)


@dataclasses.dataclass(slots=True, kw_only=True)
class Faults:
    """Switches a test or a user flips at run time."""

    #: Drop the connection that receives the N-th PDU from now (once; then None).
    drop_after: int | None = None
    #: Do not answer enquire_link.
    ignore_enquire_link: bool = False
    #: Seconds to wait before each submit_sm_resp.
    resp_delay: float = 0.0
    #: Keep receipts queued instead of sending them.
    hold_receipts: bool = False
    #: Answer submit_sm with this command_status instead of taking it (e.g.
    #: ESME_RSYSERR, transient; ESME_RINVDSTADR, permanent)...
    refuse_status: int | None = None
    #: ...for the next N submits only (None: every one)...
    refuse_count: int | None = None
    #: ...and only until this time of the simulator's loop (None: no end).
    refuse_until: float | None = None

    def refusal(self, now: float) -> int | None:
        """The status to refuse a submit with now, if any (counts it)."""
        status = self.refuse_status
        if status is None:
            return None
        if (self.refuse_until is not None and now >= self.refuse_until) or (
            self.refuse_count is not None and self.refuse_count <= 0
        ):
            self.refuse_status = self.refuse_count = self.refuse_until = None
            return None
        if self.refuse_count is not None:
            self.refuse_count -= 1
        return status


@dataclasses.dataclass(slots=True, kw_only=True)
class Stats:
    binds: int = 0
    bind_failures: int = 0
    submits: int = 0
    throttled: int = 0
    queue_full: int = 0
    #: submit_sm answered with `Faults.refuse_status`.
    refused: int = 0
    #: deliver_sm written (a receipt sent again counts again).
    receipts_sent: int = 0
    #: Receipts drawn to go before their submit_sm_resp (`early_receipts`).
    receipts_early: int = 0
    #: Their deliver_sm_resp (or generic_nack), whatever the status...
    receipts_answered: int = 0
    #: ...with ESME_ROK...
    receipts_acked: int = 0
    #: ...or with an error status.
    receipts_refused: int = 0
    #: Receipts given up for good without an ESME_ROK: refused with ESME_RX_P_APPN
    #: or ESME_RX_R_APPN, refused or unanswered with ``resend_refused`` off, or
    #: over `MAX_QUEUED_RECEIPTS`.
    receipts_lost: int = 0
    #: enquire_link received from ESMEs.
    enquire_links: int = 0
    #: enquire_link the simulator sent after a quiet interval.
    enquire_links_sent: int = 0
    drops: int = 0
    #: Seconds from each receipt's deliver_sm to its answer (the first
    #: `MAX_WAITS`): how long an ESME keeps a slot of the receipt window.
    receipt_waits: list[float] = dataclasses.field(default_factory=list)
    #: Most receipts unanswered at once on one session (read or still in the
    #: socket): how far the ESME's window was pushed.
    most_unanswered: int = 0

    def receipt_count_line(self) -> str:
        """``receipts sent N, answered N, refused N, lost N``, and ``; N early``
        when some went before their submit_sm_resp."""
        line = (
            f"receipts sent {self.receipts_sent}, answered {self.receipts_answered}, "
            f"refused {self.receipts_refused}, lost {self.receipts_lost}"
        )
        return f"{line}; {self.receipts_early} early" if self.receipts_early else line

    def receipt_wait_line(self) -> str:
        """``receipts answered N; answer after p50 … ms, p90 …, p99 …; at most N
        unanswered``, or ""."""
        waits = sorted(self.receipt_waits)
        if not waits:
            return ""

        def at(q: float) -> float:
            return 1000 * waits[min(len(waits) - 1, int(q * len(waits)))]

        return (
            f"receipts answered {len(waits)}; answer after p50 {at(0.5):.1f} ms, "
            f"p90 {at(0.9):.1f}, p99 {at(0.99):.1f}; at most {self.most_unanswered} "
            "unanswered"
        )


#: Receipt answer times kept in `Stats.receipt_waits`.
MAX_WAITS = 1_000_000


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Submitted:
    """One submit_sm the simulator accepted."""

    message_id: str
    system_id: str
    pdu: p.SubmitSm
    outcome: str

    @property
    def text(self) -> str:
        """The text of this part (after any concatenation header)."""
        sm = self.pdu.short_message or self.pdu.tlvs.message_payload or b""
        if self.pdu.esm_class & EsmClass.UDHI:
            try:
                sm = encoding.parse_udh(sm)[1]
            except ValueError:
                pass
        return encoding.decode(sm, self.pdu.data_coding)

    @property
    def concat(self) -> encoding.Concat | None:
        """The concatenation header of this part (UDH or SAR), if any."""
        tlvs = self.pdu.tlvs
        if tlvs.sar_msg_ref_num is not None:
            return encoding.Concat(
                reference=tlvs.sar_msg_ref_num,
                total=tlvs.sar_total_segments or 0,
                seqnum=tlvs.sar_segment_seqnum or 0,
            )
        if self.pdu.esm_class & EsmClass.UDHI:
            try:
                return encoding.parse_udh(self.pdu.short_message)[0]
            except ValueError:
                return None
        return None


@dataclasses.dataclass(slots=True, kw_only=True)
class _Receipt:
    message_id: str
    system_id: str
    #: Builds the deliver_sm once a session gives it a sequence number.
    make: Callable[..., p.DeliverSm]
    state: MessageState
    error: int
    attempts: int = 0
    #: `time.monotonic` of the last deliver_sm.
    sent_at: float = 0.0


class _Bucket:
    """Submits per second for one system_id (burst of a tenth of a second)."""

    def __init__(self, tps: float) -> None:
        self.tps = tps
        self.capacity = max(1.0, tps / 10)
        self.tokens = self.capacity
        self.at = 0.0

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.tps)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Smsc:
    """The simulator: start it, point ESMEs at `port`, read `submitted` and
    `stats`, flip `faults`, and close it.

    Raises (from ``__init__``):
        ValueError: the mix names a word that is not a final ``stat:``, or a
            receipt setting is out of range (``early_receipts`` outside 0..1, a
            negative ``receipt_burst`` or ``receipt_window``).
    """

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.faults = Faults()
        self.stats = Stats()
        self.submitted: collections.deque[Submitted] = collections.deque(
            maxlen=MAX_RECORDED
        )
        #: Called with every accepted part, after it is recorded (the command's
        #: ``--record`` file).
        self.on_submit: Callable[[Submitted], None] | None = None
        self.mix = OutcomeMix.parse(config.mix, default="DELIVRD", seed=config.seed)
        named = {part.partition("=")[0].strip() for part in config.mix.split(",")}
        unknown = named - OUTCOMES - {""}
        if unknown:
            raise ValueError(
                f"mix names {sorted(unknown)}; "
                f"outcomes are {', '.join(sorted(OUTCOMES))}"
            )
        if not 0.0 <= config.early_receipts <= 1.0:
            raise ValueError(
                f"early_receipts is a share of receipts (0..1), "
                f"not {config.early_receipts}"
            )
        if config.receipt_burst < 0 or config.receipt_window < 0:
            raise ValueError("receipt_burst and receipt_window must be 0 or more")
        self.tps = config.tps
        self.receipt_delay = config.receipt_delay
        self._early = config.early_receipts
        self._early_draw = random.Random(config.seed).random
        self._server: asyncio.Server | None = None
        self._peers: set[_Peer] = set()
        self._cap = AddressCap(config.max_connections_per_client, "sim-smpp")
        self._receivers: dict[str, list[_Peer]] = {}
        self._rr: dict[str, int] = {}
        self._queues: dict[str, collections.deque[_Receipt]] = {}
        self._scheduled: list[tuple[float, int, _Receipt]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._buckets: dict[str, _Bucket] = {}
        self._states: collections.OrderedDict[str, tuple[MessageState, str, int]] = (
            collections.OrderedDict()
        )
        # Ids: a per-run prefix (so a restarted simulator never repeats an id) and
        # a counter.
        self._id_prefix = os.urandom(3).hex()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Listen on ``config.host:config.port`` (0 picks a free port). A closed
        simulator may start again: the receipts it held are sent once ESMEs bind
        again, as a real SMSC's are after a restart."""
        self._loop = asyncio.get_running_loop()
        self._server = await self._loop.create_server(
            self._new_connection, self.config.host, self.config.port
        )
        if self._scheduled and self._timer is None:
            self._timer_at = self._scheduled[0][0]
            self._timer = self._loop.call_at(self._timer_at, self._release)

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def address(self) -> str:
        return f"{self.config.host}:{self.port}"

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for peer in list(self._peers):
            peer.connection.abort("simulator closed")
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._server is not None:
            await asyncio.wait_for(self._server.wait_closed(), timeout=5.0)
            self._server = None

    async def __aenter__(self) -> Smsc:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------ test controls

    def connections(self, system_id: str | None = None) -> list[Connection]:
        """The bound connections (of ``system_id``)."""
        return [
            peer.connection
            for peer in self._peers
            if peer.system_id and (system_id is None or peer.system_id == system_id)
        ]

    def drop_connections(self, system_id: str | None = None) -> int:
        """Drop the bound connections (of ``system_id``) at once; returns how many."""
        dropped = self.connections(system_id)
        for connection in dropped:
            self.stats.drops += 1
            connection.abort("dropped by the simulator")
        return len(dropped)

    def unbind(self, system_id: str | None = None) -> int:
        """Send unbind on the bound connections (of ``system_id``), as an SMSC going
        down for maintenance does; each closes when its unbind_resp comes back."""
        targets = self.connections(system_id)
        for connection in targets:
            connection.send(p.Unbind(sequence=connection.session.next_sequence()))
        return len(targets)

    def inject(self, raw: bytes, system_id: str | None = None) -> int:
        """Write ``raw`` to every bound connection (of ``system_id``), past the
        session: how a test sends a malformed PDU. Returns how many got it."""
        targets = self.connections(system_id)
        for connection in targets:
            connection.send_raw(raw)
        return len(targets)

    def hold_receipts(self, hold: bool) -> None:
        self.faults.hold_receipts = hold
        if not hold:
            for system_id in list(self._queues):
                self._pump(system_id)

    def queued_receipts(self, system_id: str | None = None) -> int:
        """Receipts waiting for their time, waiting for a receiver, or sent and not
        yet acknowledged."""
        waiting = sum(
            1
            for _, _, r in self._scheduled
            if system_id is None or r.system_id == system_id
        )
        queued = sum(
            len(q)
            for s, q in self._queues.items()
            if system_id is None or s == system_id
        )
        unacked = sum(
            len(peer.unacked)
            for peer in self._peers
            if system_id is None or peer.system_id == system_id
        )
        return waiting + queued + unacked

    def message_state(self, message_id: str) -> MessageState | None:
        entry = self._states.get(message_id)
        return entry[0] if entry else None

    # ------------------------------------------------------------ internals

    def _new_connection(self) -> Connection:
        peer = _Peer(self)
        session = Session(
            Role.SMSC,
            now=asyncio.get_running_loop().time(),
            window=self.config.receipt_window or _NO_WINDOW,
            peer_window=self.config.window,
            response_timeout=self.config.response_timeout,
            enquire_link_interval=self.config.enquire_link_interval,
            bind_timeout=self.config.bind_timeout,
        )
        peer.connection = _CappedConnection(
            session, peer, close_on_invalid=False, name="sim-smpp", cap=self._cap
        )
        self._peers.add(peer)
        return peer.connection

    def _authenticate(self, system_id: str, password: str) -> int:
        accounts = self.config.accounts
        if not accounts:
            return CommandStatus.ROK
        if system_id not in accounts:
            return CommandStatus.RINVSYSID
        if accounts[system_id] != password:
            return CommandStatus.RINVPASWD
        return CommandStatus.ROK

    def _allow(self, system_id: str, now: float) -> bool:
        tps = self.tps
        if tps is None:
            return True
        bucket = self._buckets.get(system_id)
        if bucket is None or bucket.tps != tps:
            bucket = self._buckets[system_id] = _Bucket(tps)
            bucket.at = now
        return bucket.take(now)

    def _accept(
        self, system_id: str, submit: p.SubmitSm
    ) -> tuple[str, _Receipt | None]:
        """Record ``submit``; its message id and the receipt it asked for, if any
        (the caller sends or schedules it)."""
        message_id = f"{self._id_prefix}{next(self._ids):08x}"
        outcome = self.mix.draw(message_id)
        self.stats.submits += 1
        record = Submitted(
            message_id=message_id, system_id=system_id, pdu=submit, outcome=outcome
        )
        self.submitted.append(record)
        if self.on_submit is not None:
            self.on_submit(record)
        self._track(message_id, MessageState.ENROUTE, "", 0)
        wants = submit.registered_delivery & 0x03
        if wants == 1 or (wants == 2 and outcome != "DELIVRD"):
            return message_id, self._receipt(message_id, system_id, submit, outcome)
        return message_id, None

    def _receipt(
        self, message_id: str, system_id: str, submit: p.SubmitSm, outcome: str
    ) -> _Receipt:
        stamp = _stamps()[0]
        error = _OUTCOME_ERRORS[outcome]
        state = STATE_BY_STAT[outcome]
        sm = submit.short_message
        if submit.esm_class & EsmClass.UDHI:
            try:
                sm = encoding.parse_udh(sm)[1]
            except ValueError:
                sm = b""
        # Appendix B: the first 20 characters; kept to printable ASCII here.
        preview = (
            _NOT_PRINTABLE.sub("", sm[:20].decode("latin-1"))
            if submit.data_coding in (0, 1, 3)
            else ""
        )
        text = receipt.render(
            receipt.Receipt(
                id=message_id,
                sub="001",
                dlvrd="001"
                if state in (MessageState.DELIVERED, MessageState.ACCEPTED)
                else "000",
                submit_date=stamp,
                done_date=stamp,
                stat=outcome,
                err=f"{error:03d}",
                text=preview,
            )
        )
        make = functools.partial(
            p.DeliverSm,
            source_addr_ton=submit.dest_addr_ton,
            source_addr_npi=submit.dest_addr_npi,
            source_addr=submit.destination_addr,
            dest_addr_ton=submit.source_addr_ton,
            dest_addr_npi=submit.source_addr_npi,
            destination_addr=submit.source_addr,
            esm_class=EsmClass.DELIVERY_RECEIPT,
            short_message=text.encode("ascii"),
            tlvs=Tlvs(
                receipted_message_id=message_id,
                message_state=state,
                network_error_code=NetworkErrorCode(network_type=3, error_code=error)
                if error
                else None,
            ),
        )
        return _Receipt(
            message_id=message_id,
            system_id=system_id,
            make=make,
            state=state,
            error=error,
        )

    def _track(
        self, message_id: str, state: MessageState, final_date: str, error: int
    ) -> None:
        states = self._states
        states[message_id] = (state, final_date, error)
        if len(states) > MAX_TRACKED:
            states.popitem(last=False)

    def _early_receipt(self) -> bool:
        """Whether the next receipt goes before its submit_sm_resp (drawn)."""
        return self._early > 0.0 and self._early_draw() < self._early

    def _follow(self, item: _Receipt, origin: _Peer) -> None:
        """Send or schedule ``item``, whose submit_sm_resp was just sent."""
        if self.receipt_delay <= 0 and not self.config.receipt_burst:
            self._send_now(item, origin)
        else:
            self._schedule(item)

    def _send_now(self, item: _Receipt, origin: _Peer) -> None:
        """Send ``item`` in this loop turn: on ``origin`` (the submitting session)
        when it receives, has room and no older receipt of its system_id waits;
        else through the queue."""
        # The message's fate is decided now; query_sm says so from here on.
        self._track(item.message_id, item.state, _stamps()[1], item.error)
        queue = self._queues.get(item.system_id)
        if (
            not queue
            and origin.receives
            and not self.faults.hold_receipts
            and origin.send_receipt(item)
        ):
            return
        if queue is None:
            queue = self._queues[item.system_id] = collections.deque()
        if len(queue) >= MAX_QUEUED_RECEIPTS:
            self.stats.receipts_lost += 1
            return
        queue.append(item)
        self._pump(item.system_id)

    def _schedule(self, item: _Receipt, delay: float | None = None) -> None:
        loop = self._loop
        assert loop is not None
        due = loop.time() + (self.receipt_delay if delay is None else delay)
        burst = self.config.receipt_burst
        if burst:
            # The next multiple of the burst interval: every receipt due before it
            # leaves with it, in one `_release`.
            due = math.ceil(due / burst) * burst
        heapq.heappush(self._scheduled, (due, next(self._order), item))
        if self._timer is None or due < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = due
            self._timer = loop.call_at(due, self._release)

    def _release(self) -> None:
        """Move every receipt whose time came to its system_id's queue."""
        loop = self._loop
        assert loop is not None
        self._timer = None
        now = loop.time() + 0.001
        scheduled = self._scheduled
        touched: set[str] = set()
        while scheduled and scheduled[0][0] <= now:
            _, _, item = heapq.heappop(scheduled)
            queue = self._queues.setdefault(item.system_id, collections.deque())
            if len(queue) >= MAX_QUEUED_RECEIPTS:
                self.stats.receipts_lost += 1
                continue
            queue.append(item)
            touched.add(item.system_id)
            if item.attempts == 0:
                # The message's fate is decided now; query_sm says so from here on.
                self._track(item.message_id, item.state, _stamps()[1], item.error)
        if scheduled:
            self._timer_at = scheduled[0][0]
            self._timer = loop.call_at(self._timer_at, self._release)
        for system_id in touched:
            self._pump(system_id)

    def _requeue(self, item: _Receipt) -> None:
        """``item`` was refused or went unanswered: send it again later, or (with
        ``resend_refused`` off) drop it."""
        if self.config.resend_refused:
            self._schedule(item, self.config.receipt_retry)
        else:
            self.stats.receipts_lost += 1

    def _pump(self, system_id: str) -> None:
        """Send queued receipts of ``system_id`` while a receiver has room."""
        if self.faults.hold_receipts:
            return
        queue = self._queues.get(system_id)
        receivers = self._receivers.get(system_id)
        if not queue or not receivers:
            return
        start = self._rr.get(system_id, 0)
        n = len(receivers)
        idle = 0
        i = start
        while queue and idle < n:
            peer = receivers[i % n]
            i += 1
            if peer.send_receipt(queue[0]):
                queue.popleft()
                idle = 0
            else:
                idle += 1
        self._rr[system_id] = i % n

    def _bound(self, peer: _Peer, receives: bool) -> None:
        if receives:
            self._receivers.setdefault(peer.system_id, []).append(peer)
            self._pump(peer.system_id)

    def _gone(self, peer: _Peer) -> None:
        self._peers.discard(peer)
        receivers = self._receivers.get(peer.system_id)
        if receivers and peer in receivers:
            receivers.remove(peer)
        unacked = list(peer.unacked.values())
        peer.unacked.clear()
        if not unacked:
            return
        if not self.config.resend_refused:
            self.stats.receipts_lost += len(unacked)
            return
        # Receipts sent on this connection and not acknowledged go back to the front
        # of the queue for the next receiver.
        queue = self._queues.setdefault(peer.system_id, collections.deque())
        queue.extendleft(reversed(unacked))
        self._pump(peer.system_id)


class _Peer:
    """The simulator's side of one ESME connection."""

    connection: Connection

    def __init__(self, smsc: Smsc) -> None:
        self.smsc = smsc
        self.system_id = ""
        self.receives = False
        #: deliver_sm sequence → the receipt it carries.
        self.unacked: dict[int, _Receipt] = {}

    # Handler protocol -------------------------------------------------------

    def pdu_received(self, connection: Connection, pdu: p.Pdu) -> None:
        smsc = self.smsc
        faults = smsc.faults
        if faults.drop_after is not None:
            faults.drop_after -= 1
            if faults.drop_after <= 0:
                faults.drop_after = None
                smsc.stats.drops += 1
                connection.abort("dropped by fault injection")
                return
        command_id = pdu.command_id
        if command_id == CommandId.SUBMIT_SM:
            assert isinstance(pdu, p.SubmitSm)
            self._submit(connection, pdu)
        elif (
            command_id == CommandId.DELIVER_SM_RESP
            or command_id == CommandId.GENERIC_NACK
        ):
            assert isinstance(pdu, p.Response)
            self._receipt_answered(pdu)
        elif command_id == CommandId.ENQUIRE_LINK:
            smsc.stats.enquire_links += 1
            if not faults.ignore_enquire_link:
                connection.send(p.EnquireLinkResp(sequence=pdu.sequence))
        elif isinstance(pdu, p.Bind):
            self._bind(connection, pdu)
        elif command_id == CommandId.QUERY_SM:
            assert isinstance(pdu, p.QuerySm)
            self._query(connection, pdu)
        elif command_id == CommandId.UNBIND:
            connection.send(p.UnbindResp(sequence=pdu.sequence))
            connection.close("unbound by the ESME")
        elif command_id == CommandId.UNBIND_RESP:
            connection.close("unbound")

    def timer(self, connection: Connection, event: TimerEvent) -> None:
        if isinstance(event, EnquireLinkDue):
            self.smsc.stats.enquire_links_sent += 1
            connection.send(p.EnquireLink(sequence=connection.session.next_sequence()))
        elif isinstance(event, ResponseTimeout):
            if event.command_id == CommandId.DELIVER_SM:
                item = self.unacked.pop(event.sequence, None)
                if item is not None:
                    self.smsc._requeue(item)
            elif event.command_id == CommandId.ENQUIRE_LINK:
                connection.close("the ESME did not answer enquire_link")
        elif isinstance(event, BindTimeout):
            connection.close(
                f"no bind within {self.smsc.config.bind_timeout:g} s of connecting"
            )

    def writable(self, connection: Connection) -> None:
        if self.receives:
            self.smsc._pump(self.system_id)

    def closed(self, connection: Connection, reason: str) -> None:
        log.info(
            "sim-smpp: session of %r from %s ended: %s",
            self.system_id,
            connection.peer,
            reason,
            extra={"event": "smpp.sim.session_closed"},
        )
        self.smsc._gone(self)

    # ------------------------------------------------------------------------

    def _bind(self, connection: Connection, bind: p.Bind) -> None:
        smsc = self.smsc
        status = smsc._authenticate(bind.system_id, bind.password)
        resp_cls = p.RESPONSE_CLASS[bind.command_id]
        if status != CommandStatus.ROK:
            smsc.stats.bind_failures += 1
            connection.send(resp_cls(sequence=bind.sequence, status=status))
            return
        connection.send(
            p.BIND_RESPONSE_CLASS[bind.command_id](
                sequence=bind.sequence,
                system_id=smsc.config.system_id,
                tlvs=Tlvs(sc_interface_version=INTERFACE_VERSION_34),
            )
        )
        smsc.stats.binds += 1
        self.system_id = bind.system_id
        self.receives = not isinstance(bind, p.BindTransmitter)
        smsc._bound(self, self.receives)

    def _submit(self, connection: Connection, submit: p.SubmitSm) -> None:
        smsc = self.smsc
        loop = smsc._loop
        assert loop is not None
        refusal = smsc.faults.refusal(loop.time())
        item: _Receipt | None = None
        if refusal is not None:
            smsc.stats.refused += 1
            resp = p.SubmitSmResp(sequence=submit.sequence, status=refusal)
        elif not smsc._allow(self.system_id, loop.time()):
            smsc.stats.throttled += 1
            resp = p.SubmitSmResp(
                sequence=submit.sequence, status=CommandStatus.RTHROTTLED
            )
        else:
            message_id, item = smsc._accept(self.system_id, submit)
            resp = p.SubmitSmResp(sequence=submit.sequence, message_id=message_id)
            if item is not None and smsc._early_receipt():
                smsc.stats.receipts_early += 1
                smsc._send_now(item, self)
                item = None
        delay = smsc.faults.resp_delay
        if delay > 0:
            loop.call_later(delay, self._send_late, connection, resp, item)
            return
        connection.send(resp)
        if item is not None:
            smsc._follow(item, self)

    def _send_late(
        self, connection: Connection, resp: p.Response, item: _Receipt | None
    ) -> None:
        if connection.alive:
            connection.send(resp)
        if item is not None:
            self.smsc._follow(item, self)

    def _query(self, connection: Connection, query: p.QuerySm) -> None:
        entry = self.smsc._states.get(query.message_id)
        if entry is None:
            connection.send(
                p.QuerySmResp(sequence=query.sequence, status=CommandStatus.RQUERYFAIL)
            )
            return
        state, final_date, error = entry
        connection.send(
            p.QuerySmResp(
                sequence=query.sequence,
                message_id=query.message_id,
                final_date=final_date,
                message_state=state,
                error_code=error & 0xFF,
            )
        )

    def send_receipt(self, item: _Receipt) -> bool:
        """Send ``item`` if this session has room; whether it was sent."""
        connection = self.connection
        session = connection.session
        if not connection.alive or connection.write_paused or session.window_free <= 0:
            return False
        seq = session.next_sequence()
        connection.send(item.make(sequence=seq))
        item.attempts += 1
        # time.monotonic, not the loop's time: uvloop's is in whole milliseconds.
        item.sent_at = time.monotonic()
        unacked = self.unacked
        unacked[seq] = item
        stats = self.smsc.stats
        stats.receipts_sent += 1
        if len(unacked) > stats.most_unanswered:
            stats.most_unanswered = len(unacked)
        return True

    def _receipt_answered(self, resp: p.Response) -> None:
        item = self.unacked.pop(resp.sequence, None)
        if item is None:
            return
        smsc = self.smsc
        status = resp.status
        stats = smsc.stats
        stats.receipts_answered += 1
        waits = stats.receipt_waits
        if len(waits) < MAX_WAITS:
            waits.append(time.monotonic() - item.sent_at)
        if status == CommandStatus.ROK:
            stats.receipts_acked += 1
        else:
            stats.receipts_refused += 1
            if status in (CommandStatus.RX_P_APPN, CommandStatus.RX_R_APPN):
                stats.receipts_lost += 1
            else:
                smsc._requeue(item)
        smsc._pump(self.system_id)


_stamp_cache: tuple[int, tuple[str, str]] = (-1, ("", ""))


def _stamps() -> tuple[str, str]:
    """Now as a receipt date (YYMMDDhhmm) and in the absolute time format of §7.1.1,
    in UTC; formatted once a second, not once a message."""
    global _stamp_cache
    second = int(time.time())
    if _stamp_cache[0] != second:
        now = dt.datetime.fromtimestamp(second, dt.UTC)
        _stamp_cache = (
            second,
            (receipt.date(now), now.strftime("%y%m%d%H%M%S") + "000+"),
        )
    return _stamp_cache[1]
