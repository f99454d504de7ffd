"""UShot registries: versions, command numbers, ports, header response codes and the
1031 result codes with their unified mapping (seed 003 §3-C, spec §5, §9, §10).

The result table below is the one source of truth for ``RESULT`` → `ResultCode`;
docs/protocols/ushot.md renders the same table and a test keeps them equal.
"""

from __future__ import annotations

import dataclasses
import enum

from umsgate.domain.results import ResultCode


class Version(enum.StrEnum):
    """The protocol mode, chosen per session at login (spec §14 item 7)."""

    #: Results polled every 5 s, no per-result acknowledgement; 1026 send ack.
    SAM10 = "SAM10"
    #: Results pushed and acknowledged with 1030; 1021 send ack listing each MSG_ID.
    SAM11 = "SAM11"


class Command(enum.IntEnum):
    """Command numbers (spec §5; the seed's header list is incomplete, §14 item 4)."""

    #: 로그인요청 login request.
    LOGIN = 1010
    #: 로그인결과 login result.
    LOGIN_RESULT = 1011
    #: 발송요청 (SMS).
    SMS_SEND = 1020
    #: 발송요청응답, SAM11: lists every record of the request.
    SEND_ACK = 1021
    #: 발송요청 (LMS,MMS) fixed length.
    FIXED_SEND = 1024
    #: 발송요청응답, SAM10: header only.
    BATCH_ACK = 1026
    #: 발송결과응답: result acknowledgement (SAM11), or poll/keepalive with COUNT 0.
    RESULT_ACK = 1030
    #: 발송결과수신 results.
    RESULTS = 1031
    #: 발송요청 (LMS 가변길이).
    LMS_SEND = 1044
    #: 발송요청 (MMS 가변길이).
    MMS_SEND = 1045
    #: 파일전송요청 file upload.
    FILE_UPLOAD = 2030
    #: 파일전송응답 file upload result.
    FILE_RESULT = 2040


class Port(enum.StrEnum):
    """The four sessions of a customer (seed 003 §1-C; KMS ports have no commands)."""

    #: SMS SEND PORT: 33300 (1020).
    SMS = "sms"
    #: SMS REPORT PORT: 33301 (1030/1031 of SMS).
    SMS_REPORT = "sms_report"
    #: MMS SEND PORT: 33302 (1024, 1044, 1045, 2030).
    MMS = "mms"
    #: MMS REPORT PORT: 33303 (1030/1031 of LMS and MMS).
    MMS_REPORT = "mms_report"

    @property
    def is_report(self) -> bool:
        return self in (Port.SMS_REPORT, Port.MMS_REPORT)

    @property
    def offset(self) -> int:
        """Distance from the SMS send port (33300, 33301, 33302, 33303)."""
        return _PORT_OFFSETS[self]


_PORT_OFFSETS = {Port.SMS: 0, Port.SMS_REPORT: 1, Port.MMS: 2, Port.MMS_REPORT: 3}

#: The seed's SMS send port; the others follow at `Port.offset`.
DEFAULT_BASE_PORT = 33300
#: The seed's host (the customer's source IP must be registered with UnionMC).
DEFAULT_HOST = "link.unionmc.co.kr"

#: Header RESP_CODE of success (seed: ``00000``, RESP_MESG ``OK``).
RESP_OK = "00000"
#: The only failure code the seed names; used for every frame-level failure (spec §10).
RESP_FRAME_ERROR = "11001"
#: RESP_MESG of a login request (seed: the literal ``Protocol``).
LOGIN_MARK = "Protocol"


class ResultClass(enum.StrEnum):
    """How a result code ends a message (spec §9)."""

    FINAL = "F"  #: delivered
    PENDING = "P"  #: not final; the message keeps waiting
    PERMANENT = "X"  #: failed for good
    TRANSIENT = "T"  #: failed; the seed says to send again (95–99)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ResultInfo:
    code: int
    meaning: str
    klass: ResultClass
    #: The unified code; None for pending codes, which produce no report.
    unified: ResultCode | None


def _r(code: int, meaning: str, klass: str, unified: ResultCode | None) -> ResultInfo:
    return ResultInfo(
        code=code, meaning=meaning, klass=ResultClass(klass), unified=unified
    )


_X = "X"
_RC = ResultCode

#: Every code of the seed's 발송결과코드 table (spec §9), in the seed's order.
RESULTS: dict[int, ResultInfo] = {
    r.code: r
    for r in (
        _r(0, "initial state (default)", "P", None),
        _r(1, "send request completed, waiting for the result", "P", None),
        _r(3, "message format error", _X, _RC.CONTENT_REJECTED),
        _r(5, "no subscriber for the number (unregistered)", _X, _RC.INVALID_NUMBER),
        _r(6, "delivered (send success)", "F", _RC.DELIVERED),
        _r(7, "number not in service (or service suspended)", _X, _RC.NO_SERVICE),
        _r(8, "handset switched off", _X, _RC.UNREACHABLE),
        _r(9, "handset out of coverage", _X, _RC.UNREACHABLE),
        _r(10, "handset inbox full (formerly handset busy)", _X, _RC.HANDSET_FULL),
        _r(11, "other send failure", _X, _RC.FAILED),
        _r(13, "spam block: sender number", _X, _RC.BLOCKED),
        _r(14, "spam block: recipient number", _X, _RC.BLOCKED),
        _r(15, "spam block: message content", _X, _RC.BLOCKED),
        _r(16, "spam block: other", _X, _RC.BLOCKED),
        _r(20, "handset cannot use the service", _X, _RC.NO_SERVICE),
        _r(21, "handset service temporarily suspended", _X, _RC.NO_SERVICE),
        _r(22, "recipient refuses incoming messages", _X, _RC.BLOCKED),
        _r(23, "handset not answering or busy", _X, _RC.UNREACHABLE),
        _r(28, "handset does not support MMS", _X, _RC.UNSUPPORTED),
        _r(29, "other handset problem", _X, _RC.FAILED),
        _r(36, "invalid recipient number (network)", _X, _RC.INVALID_NUMBER),
        _r(37, "invalid sender number (network)", _X, _RC.SENDER_NOT_REGISTERED),
        _r(50, "carrier: content error", _X, _RC.CONTENT_REJECTED),
        _r(
            51,
            "carrier: sender number breaks the numbering rules",
            _X,
            _RC.SENDER_NOT_REGISTERED,
        ),
        _r(
            52,
            "carrier: sender number registered as spoofed",
            _X,
            _RC.SENDER_NOT_REGISTERED,
        ),
        _r(
            53,
            "carrier: sender number enrolled in number-theft blocking",
            _X,
            _RC.SENDER_NOT_REGISTERED,
        ),
        _r(54, "carrier: other sender-number problem", _X, _RC.SENDER_NOT_REGISTERED),
        _r(59, "carrier: other", _X, _RC.CARRIER_REJECTED),
        _r(60, "content size error (too large, etc.)", _X, _RC.CONTENT_REJECTED),
        _r(61, "wrong message type", _X, _RC.CONTENT_REJECTED),
        _r(62, "Kakao error", _X, _RC.CARRIER_REJECTED),
        _r(63, "Kakao template error", _X, _RC.CONTENT_REJECTED),
        _r(64, "Kakao profile error", _X, _RC.CARRIER_REJECTED),
        _r(69, "content: other", _X, _RC.CONTENT_REJECTED),
        _r(73, "[Agent] MMS attachment path check", _X, _RC.CONTENT_REJECTED),
        _r(74, "[Agent] duplicate send blocked", _X, _RC.DUPLICATE),
        _r(75, "[Agent] send timeout", _X, _RC.EXPIRED),
        _r(76, "[Agent] invalid sender number", _X, _RC.SENDER_NOT_REGISTERED),
        _r(77, "[Agent] invalid recipient number", _X, _RC.INVALID_NUMBER),
        _r(
            78,
            "[Agent] content error (MMS file missing, etc.)",
            _X,
            _RC.CONTENT_REJECTED,
        ),
        _r(79, "[Agent] other", _X, _RC.FAILED),
        _r(80, "UShot customer filter block", _X, _RC.BLOCKED),
        _r(81, "UShot 080 opt-out", _X, _RC.BLOCKED),
        _r(84, "UShot duplicate send blocked", _X, _RC.DUPLICATE),
        _r(86, "UShot invalid recipient number", _X, _RC.INVALID_NUMBER),
        _r(87, "UShot invalid sender number", _X, _RC.SENDER_NOT_REGISTERED),
        _r(
            88,
            "UShot sender number not registered, blocked",
            _X,
            _RC.SENDER_NOT_REGISTERED,
        ),
        _r(89, "UShot system filter: other", _X, _RC.BLOCKED),
        _r(90, "send time limit (TIMEOUT_DT) passed", _X, _RC.EXPIRED),
        _r(91, "identification number error", _X, _RC.FAILED),
        _r(92, "insufficient balance", _X, _RC.NO_BALANCE),
        _r(93, "monthly volume exceeded", _X, _RC.CARRIER_REJECTED),
        _r(94, "daily volume exceeded", _X, _RC.CARRIER_REJECTED),
        _r(95, "per-second volume exceeded (resend required)", "T", _RC.THROTTLED),
        _r(
            96,
            "temporary load on the sending system (resend required)",
            "T",
            _RC.RETRY_LATER,
        ),
        _r(
            97,
            "transmission network error (resend required)",
            "T",
            _RC.CONNECTION_ERROR,
        ),
        _r(
            98,
            "external sending system failure (resend required)",
            "T",
            _RC.PROVIDER_ERROR,
        ),
        _r(99, "sending system failure (resend required)", "T", _RC.PROVIDER_ERROR),
    )
}

#: The delivered code (the simulator's default outcome).
DELIVERED = 6


def result_info(raw: str) -> ResultInfo:
    """The table row of a raw RESULT; an unknown or non-numeric code is a permanent
    failure (spec §9), reported as FAILED with the raw text kept by the caller."""
    text = raw.strip()
    if text.isdigit():
        known = RESULTS.get(int(text))
        if known is not None:
            return known
    return ResultInfo(
        code=-1,
        meaning=f"unknown result {text!r}",
        klass=ResultClass.PERMANENT,
        unified=ResultCode.FAILED,
    )


def answer_code(resp_code: str) -> ResultCode | None:
    """What a send or upload answer's RESP_CODE means for its records: None for
    success; ``11001`` (a refusal, spec §10) is permanent (CARRIER_REJECTED); any code
    the seed does not name is treated as a provider fault worth a later try."""
    if resp_code == RESP_OK:
        return None
    if resp_code == RESP_FRAME_ERROR:
        return ResultCode.CARRIER_REJECTED
    return ResultCode.PROVIDER_ERROR
