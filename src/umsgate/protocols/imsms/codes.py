"""IMS SMS code registry, HTTP statuses, and the mapping to unified result codes:
the ``resultCd`` of an answer (imsms spec §6) and the final state of a message read
from ``messageSent`` / ``messageDelivered`` / ``messageError`` (spec §5).
"""

from __future__ import annotations

import dataclasses
import enum

from umsgate.domain.results import CodeRow, CodeTable, ResultCode


class ResultCd(enum.StrEnum):
    """``resultCd`` (spec §6; the seed's table ends with "…")."""

    #: "000 OK".
    OK = "000"
    #: "100 전화번호가 형식에 맞지 않습니다." — the number cannot be parsed.
    BAD_NUMBER_FORMAT = "100"
    #: "110 전화번호 유효성 검증에 실패했습니다." — parses, not a valid mobile.
    INVALID_NUMBER = "110"
    #: "120 메세지 텍스트는 비어있을 수 없습니다." — the text is empty.
    EMPTY_MESSAGE = "120"
    #: "130 메세지 전송 실패." — the send failed.
    SEND_FAILED = "130"
    #: Project: ``X-API-KEY`` missing or unknown (HTTP 401).
    UNAUTHORIZED = "901"
    #: Project: ``imsAgentId`` unknown or not allowed for this key (HTTP 403).
    AGENT_NOT_ALLOWED = "902"
    #: Project: not JSON, wrong types, ``sendType`` not ``S``, bad base64, extension
    #: not allowed or not matching, attachment or text too large (HTTP 400).
    INVALID_REQUEST = "903"
    #: Project: ``imsId`` unknown or another key's (HTTP 404).
    NOT_FOUND = "904"
    #: Project: internal error, transient (HTTP 500).
    INTERNAL = "999"


#: Per code: the ``resultMsg`` the simulator and the compatible face answer with, the
#: HTTP status (spec §6), and the unified code of a send refused with it.
TABLE: CodeTable[ResultCd] = CodeTable(
    {
        ResultCd.OK: CodeRow("OK", 200),
        ResultCd.BAD_NUMBER_FORMAT: CodeRow(
            "전화번호가 형식에 맞지 않습니다.", 200, ResultCode.INVALID_NUMBER
        ),
        ResultCd.INVALID_NUMBER: CodeRow(
            "전화번호 유효성 검증에 실패했습니다.", 200, ResultCode.INVALID_NUMBER
        ),
        ResultCd.EMPTY_MESSAGE: CodeRow(
            "메세지 텍스트는 비어있을 수 없습니다.", 200, ResultCode.CONTENT_REJECTED
        ),
        ResultCd.SEND_FAILED: CodeRow("메세지 전송 실패.", 200, ResultCode.FAILED),
        ResultCd.UNAUTHORIZED: CodeRow(
            "X-API-KEY가 없거나 올바르지 않습니다.", 401, ResultCode.AUTH_FAILED
        ),
        ResultCd.AGENT_NOT_ALLOWED: CodeRow(
            "허용되지 않은 에이전트입니다.", 403, ResultCode.AUTH_FAILED
        ),
        ResultCd.INVALID_REQUEST: CodeRow(
            "요청 형식이 올바르지 않습니다.", 400, ResultCode.CONTENT_REJECTED
        ),
        ResultCd.NOT_FOUND: CodeRow(
            "발송 요청건을 찾을 수 없습니다.", 404, ResultCode.FAILED
        ),
        ResultCd.INTERNAL: CodeRow("내부 오류.", 500, ResultCode.PROVIDER_ERROR),
    }
)
MESSAGES = TABLE.messages
HTTP_STATUS = TABLE.http_statuses
#: Send refusals → unified code (docs/protocols/imsms.md renders this table).
SEND_RESULTS = TABLE.results

#: ``raw_code`` of a send whose answer was lost (a project marker, not an IMS code):
#: the message may or may not have gone out, and IMS cannot recognise a repeat.
OUTCOME_UNKNOWN = "outcome-unknown"


def send_result(code: str) -> ResultCode:
    """Unified code of a refusing ``resultCd`` (unknown codes: FAILED, spec §6)."""
    try:
        return SEND_RESULTS[ResultCd(code)]
    except (ValueError, KeyError):
        return ResultCode.FAILED


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The final state of a message, from its ``imsData``."""

    code: ResultCode
    #: ``messageError`` as text ("0" when delivered).
    raw_code: str
    detail: str


def verdict(
    *, finished: bool, sent: bool, delivered: bool, error: int | None
) -> Verdict | None:
    """Spec §5's mapping; None while the message is not finished.

    ``messageSent`` decides success (the seed: "judge success by this field");
    ``messageDelivered`` false only marks the delivery as unconfirmed.
    """
    if not finished:
        return None
    raw = str(error if error is not None else 0)
    if sent and delivered:
        return Verdict(code=ResultCode.DELIVERED, raw_code=raw, detail="delivered")
    if sent:
        return Verdict(
            code=ResultCode.DELIVERED,
            raw_code=raw,
            detail="sent; delivery unconfirmed (messageDelivered false)",
        )
    return Verdict(
        code=ResultCode.FAILED,
        raw_code=raw,
        detail=f"not sent (messageError {raw})",
    )
