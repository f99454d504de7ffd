"""The send lanes: messages queued by ``submit`` go out in requests of up to the login's
maximum COUNT, one request at a time (UShot is synchronous, seed §2-B-1).

Theory of operation
-------------------
``offer`` queues `Outgoing` items, each with a future that ``submit`` awaits. The lane's
session task takes the oldest item and every queued item that can share its request
(same command and, for MMS, the same attachments: file names belong to the frame,
spec §14 item 20), up to the login's COUNT maximum; MMS files are uploaded with 2030
first (once per session and file). The answer settles the futures (spec §7.2):

* 1026 ``00000`` (SAM10): every record ACCEPTED;
* 1021 ``00000`` (SAM11): each listed MSG_ID ACCEPTED, an unlisted one RETRY;
* any other RESP_CODE: the whole request REJECTED (``11001``) or RETRY (others);
* no answer (drop, timeout, corrupt frame): RETRY, and the same MSG_IDs go out again
  on a later try, so a server that took the lost request sees duplicates (spec §11).

A record that does not fit its fields is REJECTED alone, before anything is sent.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from typing import Unpack

from umsgate.domain.message import Message
from umsgate.domain.results import ResultCode
from umsgate.errors import ConnectorError
from umsgate.protocols.registry import FileSource
from umsgate.protocols.ushot import fields
from umsgate.protocols.ushot.codes import Port, answer_code
from umsgate.protocols.ushot.connection import SessionStream
from umsgate.protocols.ushot.events import (
    FIXED_MSG_LEN,
    BatchAck,
    FileResult,
    FileUpload,
    FixedSend,
    LmsRecord,
    LmsSend,
    LoginOptions,
    MmsSend,
    SendAck,
    SendRequest,
    SmsRecord,
    SmsSend,
)
from umsgate.protocols.ushot.lane import Lane, LaneArgs, log
from umsgate.protocols.ushot.session import KeepaliveDue
from umsgate.types import Outcome, SubmitResult

#: Largest file sent with 2030 (spec §14 item 18: 300,000 bytes).
MAX_FILE_BYTES = 300_000
#: Queued items looked at when filling one request (bounds the scan of a long queue).
BATCH_SCAN = 2_000
#: Uploaded names remembered per session (file id → server name).
NAME_CACHE = 256
#: The login's service type of IDs that may only send callback-URL messages.
SERVICE_URL_ONLY = 2


@dataclasses.dataclass(slots=True, eq=False, kw_only=True)
class Outgoing:
    """One message waiting for its request and its answer."""

    message: Message
    record: SmsRecord | LmsRecord
    #: Stored file ids of an MMS (empty for SMS and LMS).
    file_ids: tuple[str, ...] = ()
    future: asyncio.Future[SubmitResult]

    @property
    def msg_id(self) -> str:
        return self.record.msg_id

    def settle(
        self,
        outcome: Outcome,
        *,
        code: ResultCode | None = None,
        raw_code: str | None = None,
        detail: str = "",
    ) -> None:
        if self.future.done():
            return
        accepted = outcome is Outcome.ACCEPTED
        self.future.set_result(
            SubmitResult(
                message_id=self.message.id,
                outcome=outcome,
                provider_msg_id=self.msg_id if accepted else None,
                code=None if accepted else code,
                raw_code=raw_code,
                detail=detail,
                segments=1 if accepted else None,
            )
        )


class _Refused(ConnectorError):
    """A request of the batch (an upload) was refused: settle the batch with this."""

    def __init__(self, code: ResultCode, detail: str, raw_code: str | None) -> None:
        super().__init__(detail, raw_code=raw_code)
        self.code = code


def field_code(exc: fields.FieldError) -> ResultCode:
    """The unified code of a record whose ``exc.field`` does not fit."""
    if exc.field in ("RECEIVER", "SENDER"):
        return ResultCode.INVALID_NUMBER
    return ResultCode.CONTENT_REJECTED


class SendLane(Lane):
    """The SMS or the MMS send session with its queue."""

    def __init__(self, *, files: FileSource, **lane: Unpack[LaneArgs]) -> None:
        super().__init__(**lane)
        self._files = files
        self._queue: collections.deque[Outgoing] = collections.deque()
        self._inflight: list[Outgoing] = []
        self._wake = asyncio.Event()
        self._names: collections.OrderedDict[str, str] = collections.OrderedDict()

    @property
    def pending(self) -> int:
        """Messages queued or in flight."""
        return len(self._queue) + len(self._inflight)

    def _keepalive(self) -> float:
        return self.options.send_keepalive

    def offer(self, items: list[Outgoing]) -> None:
        """Queue items; settle them RETRY at once when the lane cannot take them."""
        if not self.logged_in:
            for item in items:
                item.settle(
                    Outcome.RETRY,
                    code=ResultCode.CONNECTION_ERROR,
                    detail=f"ushot {self.port.value} session is {self.status}",
                )
            return
        room = self.options.max_queue - len(self._queue)
        for item in items[max(room, 0) :]:
            item.settle(
                Outcome.RETRY,
                code=ResultCode.THROTTLED,
                detail=f"more than {self.options.max_queue} messages queued",
            )
        if room > 0:
            self._queue.extend(items[:room])
            self._wake.set()

    def _down(self, reason: str) -> None:
        detail = f"ushot {self.port.value} session ended: {reason}"
        for item in self._inflight:
            # The request may have been taken: at-least-once, same MSG_ID next time.
            item.settle(Outcome.RETRY, code=ResultCode.CONNECTION_ERROR, detail=detail)
        self._inflight = []
        while self._queue:
            self._queue.popleft().settle(
                Outcome.RETRY, code=ResultCode.CONNECTION_ERROR, detail=detail
            )
        self._names.clear()

    async def _serve(self, stream: SessionStream) -> None:
        self._names.clear()
        while True:
            event = await self._next(stream, wake=self._wake)
            if event is None:
                self._wake.clear()
                while self._queue:
                    await self._send_batch(stream)
            elif isinstance(event, KeepaliveDue):
                await self._send_keepalive(stream)
            else:
                log.warning(
                    "%s: ushot %s ignored unexpected %s",
                    self.connector,
                    self.port.value,
                    type(event).__name__,
                    extra=self._extra("ushot_unexpected_event"),
                )

    async def _send_keepalive(self, stream: SessionStream) -> None:
        # seed §2-B-6: a send request with COUNT 0; on the MMS port the command used
        # there for traffic (spec §7.4).
        request: SendRequest
        if self.port is Port.SMS:
            request = SmsSend()
        elif self.login is not None and self.login.variable:
            request = LmsSend()
        else:
            request = FixedSend()
        await stream.send(request)
        answer = await self._send_answer(stream)
        if not answer.ok:
            log.warning(
                "%s: ushot %s keepalive answered %s %s",
                self.connector,
                self.port.value,
                answer.resp_code,
                answer.resp_mesg,
                extra=self._extra("ushot_keepalive_refused"),
            )

    async def _send_answer(self, stream: SessionStream) -> SendAck | BatchAck:
        while True:
            event = await self._next(stream)
            if isinstance(event, SendAck | BatchAck):
                return event
            self._ignored(event, "a 1021/1026")

    # -- one request ----------------------------------------------------------------

    def _take_batch(self, login: LoginOptions) -> list[Outgoing]:
        first = self._queue.popleft()
        batch = [first]
        key = self._batch_key(first)
        kept: list[Outgoing] = []
        scanned = 0
        while self._queue and len(batch) < login.max_count and scanned < BATCH_SCAN:
            item = self._queue.popleft()
            scanned += 1
            (batch if self._batch_key(item) == key else kept).append(item)
        self._queue.extendleft(reversed(kept))
        return batch

    @staticmethod
    def _batch_key(item: Outgoing) -> tuple[str, ...]:
        return (type(item.record).__name__, *item.file_ids)

    async def _send_batch(self, stream: SessionStream) -> None:
        login = self.login
        assert login is not None  # set before _serve runs
        batch = self._take_batch(login)
        self._inflight = batch
        try:
            names = await self._upload(stream, batch[0].file_ids)
        except _Refused as exc:
            outcome = Outcome.RETRY if exc.code.transient else Outcome.REJECTED
            for item in batch:
                item.settle(
                    outcome, code=exc.code, raw_code=exc.raw_code, detail=exc.message
                )
            self._inflight = []
            return
        legacy = self.options.legacy_record_layout
        ready: list[Outgoing] = []
        for item in batch:
            try:
                self._check(item, login)
            except fields.FieldError as exc:
                item.settle(
                    Outcome.REJECTED,
                    code=field_code(exc),
                    raw_code=str(exc.code),
                    detail=exc.message,
                )
            else:
                ready.append(item)
        self._inflight = ready
        if not ready:
            return
        request = self._request(ready, names, login, legacy)
        await stream.send(request)
        answer = await self._send_answer(stream)
        self._settle(ready, answer)
        self._inflight = []

    @staticmethod
    def _check(item: Outgoing, login: LoginOptions) -> None:
        """What ``submit`` could not check: the limits this login sets, MSG size and
        service type. (Every field was encoded once at submit, in the layout with the
        widest fields.)"""
        record = item.record
        if login.service == SERVICE_URL_ONLY and not (
            isinstance(record, SmsRecord) and record.url
        ):
            # seed §3-B 1011: service 2 "may only send callback URL" messages.
            raise fields.FieldError(
                "this UShot ID may only send callback-URL SMS (service type 2); "
                "the message has no URL",
                field="URL",
            )
        if isinstance(record, SmsRecord):
            return
        size = len(fields.encode_exact(record.msg, "MSG"))
        limit = login.max_msg_size if login.variable else FIXED_MSG_LEN
        if size > limit:
            raise fields.FieldError(
                f"MSG is {size} bytes; the login allows {limit}",
                field="MSG",
                code=fields.SIZE_ERROR,
            )

    @staticmethod
    def _request(
        items: list[Outgoing], names: tuple[str, ...], login: LoginOptions, legacy: bool
    ) -> SendRequest:
        first = items[0].record
        if isinstance(first, SmsRecord):
            sms = tuple(i.record for i in items if isinstance(i.record, SmsRecord))
            return SmsSend(records=sms, legacy=legacy)
        lms = tuple(i.record for i in items if isinstance(i.record, LmsRecord))
        if not login.variable:
            return FixedSend(records=lms, file_names=names, legacy=legacy)
        if names:
            return MmsSend(records=lms, file_names=names, legacy=legacy)
        return LmsSend(records=lms, legacy=legacy)

    def _settle(self, items: list[Outgoing], answer: SendAck | BatchAck) -> None:
        if answer.ok:
            listed = (
                {k.msg_id for k in answer.keys} if isinstance(answer, SendAck) else None
            )
            for item in items:
                if listed is None or item.msg_id in listed:
                    item.settle(Outcome.ACCEPTED)
                else:
                    item.settle(
                        Outcome.RETRY,
                        code=ResultCode.PROVIDER_ERROR,
                        detail="not listed in the 1021 acknowledgement",
                    )
            return
        code = answer_code(answer.resp_code) or ResultCode.PROVIDER_ERROR
        outcome = Outcome.RETRY if code.transient else Outcome.REJECTED
        for item in items:
            item.settle(
                outcome,
                code=code,
                raw_code=answer.resp_code,
                detail=f"request refused: {answer.resp_mesg}".strip(),
            )

    # -- files ----------------------------------------------------------------------

    async def _upload(
        self, stream: SessionStream, file_ids: tuple[str, ...]
    ) -> tuple[str, ...]:
        """The server's names of the files, uploading those this session has not.

        Raises:
            _Refused: a file cannot be read or sent, or the server refused it.
        """
        names: list[str] = []
        for file_id in file_ids:
            known = self._names.get(file_id)
            if known is not None:
                names.append(known)
                continue
            try:
                name, data = await self._files.load(file_id)
            except Exception as exc:  # the store's errors: whatever its backend raises
                raise _Refused(
                    ResultCode.CONTENT_REJECTED, f"file {file_id}: {exc}", None
                ) from exc
            ext = upload_ext(name)
            if ext is None:
                raise _Refused(
                    ResultCode.CONTENT_REJECTED,
                    f"file {name!r} has no extension of 1-3 ASCII characters",
                    None,
                )
            if len(data) > MAX_FILE_BYTES:
                raise _Refused(
                    ResultCode.CONTENT_REJECTED,
                    f"file {name!r} is {len(data)} bytes; at most {MAX_FILE_BYTES}",
                    fields.SIZE_ERROR,
                )
            await stream.send(FileUpload(ext=ext, data=data))
            answer = await self._answer(stream, FileResult)
            if not answer.ok or not answer.file_name:
                code = answer_code(answer.resp_code) or ResultCode.PROVIDER_ERROR
                if code is ResultCode.CARRIER_REJECTED:
                    code = ResultCode.CONTENT_REJECTED  # 11001 on a file: the file
                raise _Refused(
                    code,
                    f"file {name!r} refused: {answer.resp_mesg}".strip(),
                    answer.resp_code,
                )
            self._names[file_id] = answer.file_name
            if len(self._names) > NAME_CACHE:
                self._names.popitem(last=False)
            names.append(answer.file_name)
        return tuple(names)


def upload_ext(name: str) -> str | None:
    """FILE_EXT for a file name: lower case, ``jpeg`` as ``jpg`` (spec §14 item 17);
    None when the name has no extension that fits 3 ASCII bytes."""
    _, dot, ext = name.rpartition(".")
    ext = ext.lower()
    if ext == "jpeg":
        ext = "jpg"
    if not dot or not ext or len(ext) > 3 or not ext.isascii() or not ext.isalnum():
        return None
    return ext
