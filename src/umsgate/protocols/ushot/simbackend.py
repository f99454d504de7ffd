"""The simulator's provider side, without sockets: accounts, the checks a UShot server
makes, results waiting per account, uploaded files, fault switches and the record of
what arrived (spec §12).

Results belong to the account and its report port, not to a TCP session (spec §8, §11):
a report session that drops loses nothing that was not written to it (SAM10) or not
acknowledged (SAM11); the next session of the account gets the rest.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import hashlib
import heapq
import itertools
from collections.abc import Callable, Iterable, Sequence

from umsgate.protocols.sandbox.mix import OutcomeMix
from umsgate.protocols.ushot import fields
from umsgate.protocols.ushot.codes import (
    DELIVERED,
    RESP_FRAME_ERROR,
    RESP_OK,
    Port,
    Version,
)
from umsgate.protocols.ushot.events import (
    FileResult,
    FileUpload,
    LmsRecord,
    LmsSend,
    Login,
    LoginResult,
    MmsSend,
    MsgKey,
    ResultRecord,
    SendRequest,
    SmsRecord,
    SmsSend,
)

#: Largest file 2030 accepts (spec §14 item 18: "300K" read as 300,000 bytes).
MAX_FILE_BYTES = 300_000
#: Frames kept in `Record.frames` (oldest dropped first).
RECORD_FRAMES = 100_000
#: MSG_IDs remembered per account for duplicate detection (oldest forgotten first).
REMEMBERED_IDS = 1_000_000
#: Results waiting in one mailbox before send requests are refused (nobody fetches).
MAILBOX_LIMIT = 1_000_000
#: Result codes the record checks produce (spec §12).
BAD_RECEIVER, BAD_SENDER, BAD_FORMAT, EXPIRED, TOO_LARGE, NO_FILE = (
    86,
    87,
    3,
    90,
    60,
    78,
)
#: Carriers the TELECOM field names (spec §12).
CARRIERS = ("SKT", "KTF", "LGT")

#: Magic bytes each accepted extension must start with ("checked against the content").
MAGIC: dict[str, tuple[bytes, ...]] = {
    "jpg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "gif": (b"GIF87a", b"GIF89a"),
    "bmp": (b"BM",),
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """A customer of the simulator and what its 1011 says (spec §6.2)."""

    user_id: str
    password: str
    versions: frozenset[Version] = frozenset(Version)
    max_count: int = 30
    service: int = 1
    variable: bool = True
    max_msg_size: int = 2000
    fee_type: str = "2"
    sms_cost: str = "20.0"
    lms_cost: str = "50.0"
    mms_cost: str = "250.0"
    balance: str = "100000"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DropRule:
    """Close the next session on ``port`` when its ``after_frames``-th frame arrives
    (the login is frame 1); ``handle``: process that frame first (accept a send, take
    an acknowledgement) and close before answering it."""

    port: Port
    after_frames: int
    handle: bool = False


class Faults:
    """Fault switches; tests flip them at any time, each is taken once."""

    def __init__(self) -> None:
        self._drops: list[DropRule] = []
        self._errors: dict[Port, collections.deque[tuple[str, str]]] = (
            collections.defaultdict(collections.deque)
        )
        self._corrupt: collections.Counter[Port] = collections.Counter()
        self._drop_on_results: collections.Counter[Port] = collections.Counter()
        #: Seconds to wait before answering each send request.
        self.ack_delay = 0.0
        #: Logins are refused until this monotonic time.
        self.refuse_logins_until = 0.0

    def drop(self, port: Port, *, after_frames: int, handle: bool = False) -> None:
        if after_frames < 1:
            raise ValueError("after_frames counts from 1 (the login)")
        self._drops.append(
            DropRule(port=port, after_frames=after_frames, handle=handle)
        )

    def take_drop(self, port: Port, frames: int) -> DropRule | None:
        for rule in self._drops:
            if rule.port is port and rule.after_frames == frames:
                self._drops.remove(rule)
                return rule
        return None

    def drop_on_results(self, port: Port, count: int = 1) -> None:
        """Close the next ``count`` sessions on report ``port`` when they are about to
        be given results, instead of giving them (the results stay pending)."""
        self._drop_on_results[port] += count

    def take_drop_on_results(self, port: Port) -> bool:
        return _take_one(self._drop_on_results, port)

    def error_next(
        self,
        port: Port,
        *,
        code: str = RESP_FRAME_ERROR,
        mesg: str = "refused by fault injection",
        count: int = 1,
    ) -> None:
        """Answer the next ``count`` send or upload requests on ``port`` with a code."""
        self._errors[port].extend([(code, mesg)] * count)

    def take_error(self, port: Port) -> tuple[str, str] | None:
        queue = self._errors.get(port)
        return queue.popleft() if queue else None

    def corrupt_next(self, port: Port, count: int = 1) -> None:
        """Send the next ``count`` frames on ``port`` without their ETX."""
        self._corrupt[port] += count

    def take_corrupt(self, port: Port) -> bool:
        return _take_one(self._corrupt, port)

    def refuse_logins(self, seconds: float, now: float) -> None:
        self.refuse_logins_until = now + seconds


def _take_one(armed: collections.Counter[Port], port: Port) -> bool:
    """Whether a fault is still armed on ``port``, taking it when it is."""
    if armed[port] > 0:
        armed[port] -= 1
        return True
    return False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    port: Port
    user_id: str
    command: int
    msg_ids: tuple[str, ...]
    at: float


class Record:
    """What the simulator received and wrote, for tests."""

    def __init__(self) -> None:
        self.frames: collections.deque[Received] = collections.deque(
            maxlen=RECORD_FRAMES
        )
        #: MSG_ID → how many send requests carried it (resends included, counted on
        #: arrival, also when a fault drops the session before handling it).
        self.sends: collections.Counter[str] = collections.Counter()
        #: MSG_ID → how many times it was accepted as new (at most once per account).
        self.accepted: collections.Counter[str] = collections.Counter()
        #: MSG_ID → how many times its result was written to a report session.
        self.results: collections.Counter[str] = collections.Counter()
        #: Results taken (acknowledged, or polled past) before the answer to their
        #: send request went out, in report-first mode; and those whose answer
        #: went out first because nobody took them in time.
        self.reported_first = 0
        self.reported_late = 0
        #: Port → successful logins.
        self.logins: collections.Counter[Port] = collections.Counter()
        #: Port → refused logins.
        self.refused: collections.Counter[Port] = collections.Counter()
        #: Names of the files uploaded, in order.
        self.files: list[str] = []
        #: MSG_ID → the last record that carried it, as decoded.
        self.records: collections.OrderedDict[str, SmsRecord | LmsRecord] = (
            collections.OrderedDict()
        )

    def add(self, item: Received) -> None:
        self.frames.append(item)

    def add_records(self, records: Iterable[SmsRecord | LmsRecord]) -> None:
        for record in records:
            self.records[record.msg_id] = record
            self.records.move_to_end(record.msg_id)
            self.sends[record.msg_id] += 1
        while len(self.records) > RECORD_FRAMES:
            self.records.popitem(last=False)


class Mailbox:
    """Results of one account on one report port, in the order they become ready."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, ResultRecord]] = []
        self._seq = itertools.count()
        self._waiters: set[asyncio.Event] = set()

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, ready_at: float, record: ResultRecord) -> None:
        heapq.heappush(self._heap, (ready_at, next(self._seq), record))
        self._notify()

    def put_back(self, records: Iterable[ResultRecord]) -> None:
        """Results written but not acknowledged: ready again at once, first in line."""
        for record in records:
            heapq.heappush(self._heap, (float("-inf"), next(self._seq), record))
        self._notify()

    def take(self, now: float, limit: int) -> list[ResultRecord]:
        out: list[ResultRecord] = []
        while self._heap and self._heap[0][0] <= now and len(out) < limit:
            out.append(heapq.heappop(self._heap)[2])
        return out

    def next_ready_at(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def subscribe(self, event: asyncio.Event) -> None:
        self._waiters.add(event)

    def unsubscribe(self, event: asyncio.Event) -> None:
        self._waiters.discard(event)

    def _notify(self) -> None:
        for event in self._waiters:
            event.set()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SendVerdict:
    """The answer a send request earns."""

    resp_code: str
    resp_mesg: str
    keys: tuple[MsgKey, ...] = ()
    #: MSG_IDs taken as new: each has a result on its way (a repeat has none).
    fresh: tuple[str, ...] = ()


class Backend:
    """The fake UnionMC service behind the simulator's sessions.

    Args:
        accounts: the customers.
        result_delay: seconds from acceptance to result.
        mix: outcome of records that pass the checks, drawn per MSG_ID.
        telecom: ``mixed`` (by receiver) or one of `CARRIERS`.
        extensions: file extensions 2030 accepts.
        clock: monotonic seconds; wall: aware now (for SEND_DT and TIMEOUT_DT).
    """

    def __init__(
        self,
        accounts: Sequence[Account],
        *,
        result_delay: float = 1.0,
        mix: OutcomeMix | None = None,
        telecom: str = "mixed",
        extensions: Sequence[str] = ("jpg",),
        clock: Callable[[], float],
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        if telecom != "mixed" and telecom not in CARRIERS:
            raise ValueError(f"telecom must be mixed or one of {CARRIERS}")
        self.accounts = {a.user_id: a for a in accounts}
        self.result_delay = result_delay
        self.mix = mix or OutcomeMix({}, default=str(DELIVERED))
        self.telecom = telecom
        self.extensions = frozenset(e.lower() for e in extensions)
        self.faults = Faults()
        self.record = Record()
        self._clock = clock
        self._wall = wall
        self._mailboxes: dict[tuple[str, Port], Mailbox] = {}
        self._accepted: dict[str, collections.OrderedDict[str, None]] = {}
        self._files: dict[str, set[str]] = collections.defaultdict(set)

    def mailbox(self, user_id: str, port: Port) -> Mailbox:
        key = (user_id, port)
        box = self._mailboxes.get(key)
        if box is None:
            box = self._mailboxes[key] = Mailbox()
        return box

    # -- login ---------------------------------------------------------------------

    def login(self, port: Port, login: Login) -> tuple[LoginResult, Account | None]:
        """The 1011 for a 1010 and the account it logs in (None when refused)."""
        account = self.accounts.get(login.user_id)
        why = ""
        if self._clock() < self.faults.refuse_logins_until:
            why = "login refused for now (maintenance)"
        elif account is None or account.password != login.password:
            why = "invalid ID or password"
        elif login.version not in {v.value for v in account.versions}:
            why = f"version {login.version!r} is not enabled for this ID"
        if why or account is None:
            self.record.refused[port] += 1
            return LoginResult(resp_code=RESP_FRAME_ERROR, resp_mesg=why), None
        self.record.logins[port] += 1
        return (
            LoginResult(
                resp_code=RESP_OK,
                resp_mesg=f"{account.max_count}|{account.service}|",
                fee_type=account.fee_type,
                sms_cost=account.sms_cost,
                lms_cost=account.lms_cost,
                mms_cost=account.mms_cost,
                balance=account.balance,
                variable=account.variable,
                max_msg_size=account.max_msg_size,
            ),
            account,
        )

    # -- sending -------------------------------------------------------------------

    def send(self, account: Account, port: Port, request: SendRequest) -> SendVerdict:
        """Validate a send request (spec §12), accept its records and schedule their
        results; records seen before are listed again and not sent twice (§11)."""
        refusal = self._refusal(account, port, request)
        if refusal:
            return SendVerdict(resp_code=RESP_FRAME_ERROR, resp_mesg=refusal)
        report_port = Port.SMS_REPORT if port is Port.SMS else Port.MMS_REPORT
        box = self.mailbox(account.user_id, report_port)
        if len(box) + len(request.records) > MAILBOX_LIMIT:
            return SendVerdict(
                resp_code=RESP_FRAME_ERROR,
                resp_mesg=f"over {MAILBOX_LIMIT} results wait to be fetched",
            )
        fault = self.faults.take_error(port) if request.records else None
        if fault is not None:
            return SendVerdict(resp_code=fault[0], resp_mesg=fault[1])
        seen = self._accepted.setdefault(account.user_id, collections.OrderedDict())
        names = getattr(request, "file_names", ())
        ready_at = self._clock() + self.result_delay
        send_dt = fields.format_date(
            self._wall() + dt.timedelta(seconds=self.result_delay)
        )
        keys = []
        fresh = []
        for record in request.records:
            keys.append(MsgKey(grp_id=record.grp_id, msg_id=record.msg_id))
            if record.msg_id in seen:
                continue
            fresh.append(record.msg_id)
            seen[record.msg_id] = None
            if len(seen) > REMEMBERED_IDS:
                seen.popitem(last=False)
            self.record.accepted[record.msg_id] += 1
            code = self._outcome(account, record, names)
            box.add(
                ready_at,
                ResultRecord(
                    grp_id=record.grp_id,
                    msg_id=record.msg_id,
                    receiver=record.receiver,
                    send_dt=send_dt,
                    result=code,
                    telecom=self._carrier(record.receiver),
                ),
            )
        return SendVerdict(
            resp_code=RESP_OK, resp_mesg="OK", keys=tuple(keys), fresh=tuple(fresh)
        )

    def _refusal(self, account: Account, port: Port, request: SendRequest) -> str:
        if port is Port.SMS and not isinstance(request, SmsSend):
            return "only 1020 is taken on the SMS send port"
        if port is Port.MMS and isinstance(request, SmsSend):
            return "1020 is not taken on the MMS send port"
        if port.is_report:
            return "send requests are not taken on a report port"
        if len(request.records) > account.max_count:
            return (
                f"COUNT {len(request.records)} is over the maximum {account.max_count}"
            )
        if isinstance(request, LmsSend | MmsSend) and not account.variable:
            return "1044/1045 need VARIABLE_YN = Y; use 1024"
        return ""

    def _outcome(
        self, account: Account, record: SmsRecord | LmsRecord, names: tuple[str, ...]
    ) -> str:
        receiver = record.receiver
        if not (
            receiver.isdigit() and len(receiver) in (10, 11) and receiver[:2] == "01"
        ):
            return str(BAD_RECEIVER)
        if record.sender and not record.sender.isdigit():
            return str(BAD_SENDER)
        if not record.msg:
            return str(BAD_FORMAT)
        for text in (record.reserve_dt, record.timeout_dt):
            if text:
                try:
                    fields.parse_date(text)
                except ValueError:
                    return str(BAD_FORMAT)
        if record.timeout_dt and fields.parse_date(record.timeout_dt) < self._wall():
            return str(EXPIRED)
        if isinstance(record, LmsRecord):
            size = len(record.msg.encode(fields.CHARSET))
            if size > account.max_msg_size:
                return str(TOO_LARGE)
            if any(n not in self._files[account.user_id] for n in names):
                return str(NO_FILE)
        # Service 2 may only send callback-URL messages (spec §7.2, §14 item 25);
        # LMS/MMS records have no URL field at all.
        if account.service == 2 and not (isinstance(record, SmsRecord) and record.url):
            return str(BAD_FORMAT)
        return self.mix.draw(record.msg_id)

    def _carrier(self, receiver: str) -> str:
        if self.telecom != "mixed":
            return self.telecom
        return CARRIERS[sum(map(ord, receiver)) % len(CARRIERS)]

    # -- files ---------------------------------------------------------------------

    def upload(self, account: Account, port: Port, upload: FileUpload) -> FileResult:
        """Store a file and name it ``md5hex.ext`` (spec §6.8, §14 items 16–18)."""
        ext = upload.ext.lower()
        why = ""
        if port is not Port.MMS:
            why = "files are taken on the MMS send port only"
        elif ext not in self.extensions:
            why = f"extension {upload.ext!r} is not accepted"
        elif len(upload.data) > MAX_FILE_BYTES:
            why = f"file of {len(upload.data)} bytes is over {MAX_FILE_BYTES}"
        elif ext in MAGIC and not upload.data.startswith(MAGIC[ext]):
            why = f"content is not {ext}"
        if not why:
            fault = self.faults.take_error(port)
            if fault is not None:
                return FileResult(resp_code=fault[0], resp_mesg=fault[1])
        if why:
            return FileResult(resp_code=RESP_FRAME_ERROR, resp_mesg=why)
        name = f"{hashlib.md5(upload.data, usedforsecurity=False).hexdigest()}.{ext}"
        self._files[account.user_id].add(name)
        self.record.files.append(name)
        return FileResult(resp_code=RESP_OK, resp_mesg="OK", file_name=name)
