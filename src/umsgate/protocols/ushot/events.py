"""One frozen dataclass per UShot command (spec §5–§6), named after the seed's nouns.

Events hold decoded values: text without its padding, counts as ints, dates as the raw
wire text (a simulator must see a malformed date to answer result 3, so dates are not
parsed here; `fields.parse_date` does that). Field widths are enforced when an event is
encoded (`bodies.encode_event`), which raises `fields.FieldError` naming the field.

Requests carry a blank RESP_CODE/RESP_MESG, so only answers (and the login's
``Protocol`` mark) have those attributes.
"""

from __future__ import annotations

import dataclasses

from umsgate.protocols.ushot.codes import LOGIN_MARK, RESP_OK, Version


class _Answer:
    """An answer's RESP_CODE, and whether it says the request succeeded."""

    __slots__ = ()
    resp_code: str

    @property
    def ok(self) -> bool:
        return self.resp_code == RESP_OK


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Login:
    """1010 로그인요청. ``version`` is the frame's VERSION: the mode of the session."""

    user_id: str
    password: str
    version: str = Version.SAM11.value
    resp_mesg: str = LOGIN_MARK


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LoginOptions:
    """What a successful 1011 lets the client do (spec §6.2)."""

    #: Most records in one send request (RESP_MESG ``30|1|``: 30).
    max_count: int
    #: 1 = SMS, 2 = an ID that may only send callback-URL messages.
    service: int
    #: VARIABLE_YN = Y: LMS/MMS go as 1044/1045, MSG up to ``max_msg_size``.
    variable: bool
    #: Largest LMS/MMS MSG in bytes (2000 for fixed-length 1024).
    max_msg_size: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LoginResult(_Answer):
    """1011 로그인결과. Body fields are None when the body ended before them (a refusal
    carries none; an older 24-byte layout lacks the last ones, spec §6.9)."""

    resp_code: str = RESP_OK
    resp_mesg: str = "OK"
    fee_type: str | None = None
    sms_cost: str | None = None
    lms_cost: str | None = None
    mms_cost: str | None = None
    balance: str | None = None
    variable: bool | None = None
    max_msg_size: int | None = None

    def options(self, *, default_max_count: int = 30) -> LoginOptions:
        """The options to obey, with the spec's fallbacks (§6.2, §6.9): a RESP_MESG that
        does not parse gives ``default_max_count`` and service 1; a missing VARIABLE_YN
        reads N, a missing MAX_MSG_SIZE 2000."""
        parsed = parse_login_mesg(self.resp_mesg)
        max_count, service = parsed if parsed else (default_max_count, 1)
        variable = bool(self.variable)
        size = self.max_msg_size if self.max_msg_size else FIXED_MSG_LEN
        if not variable:
            size = FIXED_MSG_LEN
        return LoginOptions(
            max_count=max_count,
            service=service,
            variable=variable,
            max_msg_size=min(size, MAX_VARIABLE_MSG),
        )


#: MSG width of a fixed-length 1024 record (seed: 2000 bytes).
FIXED_MSG_LEN = 2000
#: Largest MSG of a 1044/1045 record (seed: "최대 3000").
MAX_VARIABLE_MSG = 3000


def parse_login_mesg(text: str) -> tuple[int, int] | None:
    """``MAX|SERVICE|`` (``30|1|``) → (30, 1); None when it does not parse."""
    parts = text.strip().split("|")
    if (
        len(parts) < 2
        or not parts[0].strip().isdigit()
        or not parts[1].strip().isdigit()
    ):
        return None
    max_count, service = int(parts[0]), int(parts[1])
    if max_count < 1:
        return None
    return max_count, service


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _Record:
    """The fields every send record has (spec §6.3–§6.5)."""

    grp_id: str
    msg_id: str
    receiver: str
    msg: str
    sender: str = ""
    reserve_dt: str = ""
    timeout_dt: str = ""
    usercode: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SmsRecord(_Record):
    """One record of a 1020 SMS send (spec §6.3)."""

    url: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LmsRecord(_Record):
    """One record of a 1024/1044/1045 LMS or MMS send (spec §6.4, §6.5)."""

    subject: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SmsSend:
    """1020 발송요청 (SMS). No records = the send-session keepalive.

    ``legacy`` is the seed's stated-total layout without USERCODE (284-byte records,
    spec §6.9, §14 item 1)."""

    records: tuple[SmsRecord, ...] = ()
    legacy: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _FileSend:
    """The fields of a send whose LMS or MMS records share the attached file names."""

    records: tuple[LmsRecord, ...] = ()
    file_names: tuple[str, ...] = ()
    legacy: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FixedSend(_FileSend):
    """1024 발송요청 (LMS,MMS), fixed-length records; no file names = LMS (§6.4)."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LmsSend:
    """1044 발송요청 (LMS 가변길이), variable-length records."""

    records: tuple[LmsRecord, ...] = ()
    legacy: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MmsSend(_FileSend):
    """1045 발송요청 (MMS 가변길이), variable-length records sharing the file names."""


#: Any send request.
SendRequest = SmsSend | FixedSend | LmsSend | MmsSend


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MsgKey:
    """GRP_ID and MSG_ID of one record, as 1021 and 1030 list them (spec §6.6)."""

    grp_id: str
    msg_id: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SendAck(_Answer):
    """1021 발송요청응답 (SAM11): the keys of every record of the request, in order; a
    refusal carries none (spec §7.2)."""

    resp_code: str = RESP_OK
    resp_mesg: str = "OK"
    keys: tuple[MsgKey, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BatchAck(_Answer):
    """1026 발송요청응답 (SAM10): header only; RESP_CODE answers the whole request."""

    resp_code: str = RESP_OK
    resp_mesg: str = "OK"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ResultAck:
    """1030 발송결과응답. With keys: SAM11's acknowledgement of a 1031 (header
    ``00000``/``OK``, spec §4). Without: the result poll (SAM10) or report keepalive
    (SAM11), header blank (spec §7.3)."""

    keys: tuple[MsgKey, ...] = ()
    resp_code: str = ""
    resp_mesg: str = ""

    @classmethod
    def poll(cls) -> ResultAck:
        return cls()

    @classmethod
    def acknowledge(cls, keys: tuple[MsgKey, ...]) -> ResultAck:
        return cls(keys=keys, resp_code=RESP_OK, resp_mesg="OK")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ResultRecord:
    """One record of a 1031 (spec §6.7). ``result`` is the raw RESULT text."""

    grp_id: str
    msg_id: str
    receiver: str
    send_dt: str
    result: str
    telecom: str = ""

    @property
    def key(self) -> MsgKey:
        return MsgKey(grp_id=self.grp_id, msg_id=self.msg_id)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Results:
    """1031 발송결과수신: results (none = nothing pending)."""

    records: tuple[ResultRecord, ...] = ()
    resp_code: str = RESP_OK
    resp_mesg: str = "OK"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FileUpload:
    """2030 파일전송요청: a file, as is, and its extension (≤ 3 bytes, spec §6.8)."""

    ext: str
    data: bytes = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FileResult(_Answer):
    """2040 파일전송응답: the server's name for the uploaded file (blank on failure)."""

    resp_code: str = RESP_OK
    resp_mesg: str = "OK"
    file_name: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UnknownCommand:
    """A frame whose command the spec does not define (1025, for one: spec §14 item 4).

    A client logs and ignores it; a server answers it with the same command number and
    RESP_CODE ``11001``."""

    command: int
    resp_code: str = ""
    resp_mesg: str = ""
    body: bytes = b""


#: Every protocol event.
Event = (
    Login
    | LoginResult
    | SmsSend
    | FixedSend
    | LmsSend
    | MmsSend
    | SendAck
    | BatchAck
    | ResultAck
    | Results
    | FileUpload
    | FileResult
    | UnknownCommand
)
