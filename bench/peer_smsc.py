"""An SMSC for the benchmarks that shares no code with umsgate: SMPP 3.4 framed with
`struct` alone, so that a benchmark does not meet umsgate's own codec, session and
simulator on the other end of the wire (and any gateway, Kannel included, can be
pointed at it).

It binds any system_id (transmitter, receiver, transceiver), answers enquire_link
and unbind, answers every submit_sm with a decimal message id, and sends a
delivery receipt (``id:… stat:DELIVRD`` text, with the receipted_message_id and
message_state TLVs) for each submit that asks for one:

* ``--receipt-delay 0`` (the default): in the same write as its submit_sm_resp,
  right after it, as an SMSC does for a fast-failing number or a test account;
* ``--early F``: that share of the receipts goes *before* its submit_sm_resp;
* ``--receipt-delay S``: S seconds after the submit;
* ``--burst S``: receipts are held and sent together every S seconds;
* ``--window N``: at most N receipts unanswered per session (0: no limit, as an
  SMSC that ignores windows); the rest wait for answers;
* a receipt refused (any deliver_sm_resp status but 0) or unanswered when its
  session ends is lost, unless ``--resend S`` sends it again S seconds later.

It prints ``listening PORT`` once ready, and on SIGTERM or SIGINT one JSON line of
counts (submits, receipts sent, answered, refused, lost) and the answer times of
the receipts, then exits.

    python bench/peer_smsc.py [--port 0] [--early 0.1] [--window 0] [--resend 5]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import random
import resource
import signal
import struct
import sys
import time

_HEADER = struct.Struct(">IIII")
#: Largest PDU taken from a client (a long message_payload fits).
MAX_PDU = 70_000

BIND_RECEIVER, BIND_TRANSMITTER, SUBMIT_SM, DELIVER_SM = 0x01, 0x02, 0x04, 0x05
UNBIND, BIND_TRANSCEIVER, ENQUIRE_LINK = 0x06, 0x09, 0x15
RESP = 0x80000000
GENERIC_NACK = 0x80000000
ESME_RINVCMDID = 0x03
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427
STATE_DELIVERED = 2


def _cstr(data: bytes, pos: int) -> tuple[bytes, int]:
    end = data.index(b"\0", pos)
    return data[pos:end], end + 1


def pdu(command_id: int, sequence: int, body: bytes = b"", status: int = 0) -> bytes:
    return _HEADER.pack(16 + len(body), command_id, status, sequence) + body


class Counts:
    def __init__(self) -> None:
        self.binds = 0
        self.submits = 0
        self.receipts_sent = 0
        self.receipts_answered = 0
        self.receipts_refused = 0
        self.receipts_lost = 0
        self.receipts_resent = 0
        self.waits: list[float] = []

    def summary(self) -> dict[str, object]:
        waits = sorted(self.waits)

        def at(q: float) -> float:
            return round(1000 * waits[min(len(waits) - 1, int(q * len(waits)))], 2)

        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "binds": self.binds,
            "submits": self.submits,
            "receipts_sent": self.receipts_sent,
            "receipts_answered": self.receipts_answered,
            "receipts_refused": self.receipts_refused,
            "receipts_lost": self.receipts_lost,
            "receipts_resent": self.receipts_resent,
            "answer_ms": {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99)}
            if waits
            else None,
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        }


class Receipt:
    __slots__ = ("body", "sent_at", "system_id")

    def __init__(self, system_id: bytes, body: bytes) -> None:
        self.system_id = system_id
        self.body = body
        self.sent_at = 0.0


class Smsc:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.counts = Counts()
        self.ids = itertools.count(random.randrange(10**6) * 10**6)
        self.rng = random.Random(args.seed)
        self.receivers: dict[bytes, list[Peer]] = collections.defaultdict(list)
        self.waiting: dict[bytes, collections.deque[Receipt]] = collections.defaultdict(
            collections.deque
        )
        self.burst: list[tuple[Peer, Receipt]] = []
        self.loop = asyncio.get_running_loop()
        self.stamp = ""
        self.stamp_second = -1

    def date(self) -> str:
        second = int(time.time())
        if second != self.stamp_second:
            self.stamp_second = second
            self.stamp = time.strftime("%y%m%d%H%M", time.gmtime(second))
        return self.stamp

    def receipt(self, system_id: bytes, submit: bytes, message_id: bytes) -> Receipt:
        """The deliver_sm body of the receipt of ``submit`` (its body)."""
        pos = 0
        _, pos = _cstr(submit, pos)  # service_type
        src_ton, src_npi = submit[pos], submit[pos + 1]
        source, pos = _cstr(submit, pos + 2)
        dst_ton, dst_npi = submit[pos], submit[pos + 1]
        dest, pos = _cstr(submit, pos + 2)
        date = self.date()
        text = (
            f"id:{message_id.decode()} sub:001 dlvrd:001 submit date:{date} "
            f"done date:{date} stat:DELIVRD err:000 text:"
        ).encode()
        body = (
            b"\0"  # service_type
            + bytes((dst_ton, dst_npi))
            + dest
            + b"\0"
            + bytes((src_ton, src_npi))
            + source
            + b"\0"
            + bytes((0x04, 0, 0))  # esm_class: delivery receipt; protocol; priority
            + b"\0\0"  # schedule_delivery_time, validity_period
            + bytes((0, 0, 0, 0, len(text)))
            + text
            + struct.pack(">HH", TLV_RECEIPTED_MESSAGE_ID, len(message_id) + 1)
            + message_id
            + b"\0"
            + struct.pack(">HHB", TLV_MESSAGE_STATE, 1, STATE_DELIVERED)
        )
        return Receipt(system_id, body)

    def route(self, origin: Peer, item: Receipt) -> None:
        """Send ``item`` on the session that submitted it if it receives, else on a
        receiving session of its system_id, else keep it until one binds."""
        if origin.receives and not origin.closed:
            origin.give(item)
            return
        peers = [p for p in self.receivers.get(item.system_id, ()) if not p.closed]
        if peers:
            self.rng.choice(peers).give(item)
        else:
            self.waiting[item.system_id].append(item)

    def later(self, origin: Peer, item: Receipt, delay: float) -> None:
        self.loop.call_later(delay, self.route, origin, item)

    def flush_burst(self) -> None:
        burst, self.burst = self.burst, []
        for origin, item in burst:
            self.route(origin, item)
        self.loop.call_later(self.args.burst, self.flush_burst)

    def lost(self, item: Receipt, origin: Peer) -> None:
        if self.args.resend is None:
            self.counts.receipts_lost += 1
            return
        self.counts.receipts_resent += 1
        self.later(origin, item, self.args.resend)


class Peer(asyncio.Protocol):
    def __init__(self, smsc: Smsc) -> None:
        self.smsc = smsc
        self.buffer = b""
        self.out: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.system_id = b""
        self.receives = False
        self.closed = False
        self.sequence = 0
        self.unanswered: dict[int, Receipt] = {}
        self.queue: collections.deque[Receipt] = collections.deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        smsc = self.smsc
        if self in smsc.receivers.get(self.system_id, ()):
            smsc.receivers[self.system_id].remove(self)
        for item in [*self.unanswered.values(), *self.queue]:
            smsc.lost(item, self)
        self.unanswered.clear()
        self.queue.clear()

    def data_received(self, data: bytes) -> None:
        buf = self.buffer + data
        pos = 0
        while len(buf) - pos >= 16:
            length, command_id, _status, sequence = _HEADER.unpack_from(buf, pos)
            if length < 16 or length > MAX_PDU:
                assert self.transport is not None
                self.transport.abort()
                return
            if len(buf) - pos < length:
                break
            self.handle(command_id, sequence, _status, buf[pos + 16 : pos + length])
            pos += length
        self.buffer = buf[pos:]
        self.flush()

    def flush(self) -> None:
        if self.out and self.transport is not None and not self.closed:
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def next_sequence(self) -> int:
        self.sequence = self.sequence % 0x7FFFFFFF + 1
        return self.sequence

    def give(self, item: Receipt) -> None:
        window = self.smsc.args.window
        if window and len(self.unanswered) >= window:
            self.queue.append(item)
            return
        self.send_receipt(item)
        self.flush()

    def send_receipt(self, item: Receipt) -> None:
        seq = self.next_sequence()
        item.sent_at = time.monotonic()
        self.unanswered[seq] = item
        self.smsc.counts.receipts_sent += 1
        self.out.append(pdu(DELIVER_SM, seq, item.body))

    def handle(self, command_id: int, sequence: int, status: int, body: bytes) -> None:
        smsc = self.smsc
        counts = smsc.counts
        if command_id == SUBMIT_SM:
            counts.submits += 1
            message_id = str(next(smsc.ids)).encode()
            resp = pdu(SUBMIT_SM | RESP, sequence, message_id + b"\0")
            # registered_delivery: after the addresses, esm_class, protocol_id,
            # priority and two times.
            pos = _cstr(body, 0)[1]
            pos = _cstr(body, pos + 2)[1]
            pos = _cstr(body, pos + 2)[1] + 3
            pos = _cstr(body, pos)[1]
            pos = _cstr(body, pos)[1]
            if not body[pos] & 0x03:
                self.out.append(resp)
                return
            item = smsc.receipt(self.system_id, body, message_id)
            args = smsc.args
            if args.burst:
                self.out.append(resp)
                smsc.burst.append((self, item))
            elif args.receipt_delay > 0:
                self.out.append(resp)
                smsc.later(self, item, args.receipt_delay)
            elif self.receives and args.early and smsc.rng.random() < args.early:
                self.route_now(item)
                self.out.append(resp)
            else:
                self.out.append(resp)
                self.route_now(item)
        elif command_id == DELIVER_SM | RESP or command_id == GENERIC_NACK:
            item = self.unanswered.pop(sequence, None)
            if item is None:
                return
            counts.waits.append(time.monotonic() - item.sent_at)
            if status:
                counts.receipts_refused += 1
                smsc.lost(item, self)
            else:
                counts.receipts_answered += 1
            window = smsc.args.window
            while self.queue and (not window or len(self.unanswered) < window):
                self.send_receipt(self.queue.popleft())
        elif command_id in (BIND_TRANSCEIVER, BIND_TRANSMITTER, BIND_RECEIVER):
            self.system_id = _cstr(body, 0)[0]
            self.receives = command_id != BIND_TRANSMITTER
            counts.binds += 1
            self.out.append(pdu(command_id | RESP, sequence, b"peer-smsc\0"))
            if self.receives:
                smsc.receivers[self.system_id].append(self)
                waiting = smsc.waiting.pop(self.system_id, None)
                for item in waiting or ():
                    self.route_now(item)
        elif command_id == ENQUIRE_LINK:
            self.out.append(pdu(ENQUIRE_LINK | RESP, sequence))
        elif command_id == UNBIND:
            self.out.append(pdu(UNBIND | RESP, sequence))
            self.flush()
            assert self.transport is not None
            self.transport.close()
        elif command_id & RESP:
            pass  # an answer to nothing we track
        else:
            self.out.append(pdu(GENERIC_NACK, sequence, status=ESME_RINVCMDID))

    def route_now(self, item: Receipt) -> None:
        """`Smsc.route` within this read: receipts for this session join its
        write."""
        if self.receives and not self.closed:
            window = self.smsc.args.window
            if window and len(self.unanswered) >= window:
                self.queue.append(item)
            else:
                self.send_receipt(item)
            return
        self.smsc.route(self, item)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--receipt-delay", type=float, default=0.0)
    parser.add_argument("--early", type=float, default=0.0)
    parser.add_argument("--burst", type=float, default=0.0)
    parser.add_argument("--window", type=int, default=0)
    parser.add_argument("--resend", type=float, default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    smsc = Smsc(args)
    server = await smsc.loop.create_server(lambda: Peer(smsc), args.host, args.port)
    port = server.sockets[0].getsockname()[1]
    print(f"listening {port}", flush=True)
    if args.burst:
        smsc.loop.call_later(args.burst, smsc.flush_burst)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        smsc.loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    print(json.dumps(smsc.counts.summary()), flush=True)


if __name__ == "__main__":
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        sys.exit(runner.run(main()))
