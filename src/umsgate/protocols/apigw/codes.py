"""API-Gateway answer codes (apigw spec §13.1), with the HTTP status of each."""

from __future__ import annotations

import enum

from umsgate.domain.results import Invalid


class Code(enum.StrEnum):
    #: "transfer request successful" (seed).
    OK = "10000"
    #: "이미지 등록 성공", image registered (seed).
    FILE_OK = "10001"
    #: Body is not valid JSON or has wrong types (project).
    MALFORMED = "40000"
    #: Required field or header missing (project).
    MISSING = "40010"
    #: Value too long: text bytes, id lengths, list sizes (project).
    TOO_LONG = "40011"
    #: Value not allowed: enum, charset, natCode ≠ 82, text not encodable (project).
    NOT_ALLOWED = "40012"
    #: Invalid sender number (project).
    BAD_SENDER = "40013"
    #: "잘못된 수신번호 형식", invalid receiver number format (seed).
    BAD_RECEIVER = "40015"
    #: fileIds: more than 3, unknown, foreign or expired (project).
    BAD_FILE = "40016"
    #: srcMsgId reused with different content (project).
    ID_REUSED = "40017"
    #: Report check: more than 1000 ids or not a list of strings (project).
    BAD_ID_LIST = "40018"
    #: The same receiver and content within the duplicate window (project).
    DUPLICATE = "40019"
    #: "이미 등록된 이미지 입니다.", image already registered (seed).
    FILE_EXISTS = "41000"
    #: Upload is not a JPEG (project).
    NOT_JPEG = "41001"
    #: Upload larger than 1,048,576 bytes (project).
    FILE_TOO_LARGE = "41002"
    #: Token missing, invalid, expired or superseded (project).
    UNAUTHORIZED = "40100"
    #: No such message among the client's (message lookup; project).
    NOT_FOUND = "40400"
    #: "전송가능한 TPS가 초과되었습니다.", TPS exceeded / report check too often (seed).
    TPS_EXCEEDED = "42900"
    #: Internal error; retry (project).
    INTERNAL = "50000"

    @property
    def http_status(self) -> int:
        if self in (Code.OK, Code.FILE_OK):
            return 200
        if self is Code.UNAUTHORIZED:
            return 401
        if self is Code.NOT_FOUND:
            return 404
        if self is Code.TPS_EXCEEDED:
            return 429
        if self is Code.INTERNAL:
            return 500
        return 400


FROM_INVALID: dict[str, Code] = {
    Invalid.MALFORMED: Code.MALFORMED,
    Invalid.MISSING: Code.MISSING,
    Invalid.TOO_LONG: Code.TOO_LONG,
    Invalid.NOT_ALLOWED: Code.NOT_ALLOWED,
    Invalid.BAD_RECEIVER: Code.BAD_RECEIVER,
    Invalid.BAD_SENDER: Code.BAD_SENDER,
    Invalid.BAD_FILE: Code.BAD_FILE,
    Invalid.ID_REUSED: Code.ID_REUSED,
    Invalid.DUPLICATE: Code.DUPLICATE,
}

MESSAGES: dict[Code, str] = {
    Code.OK: "transfer request successful",
    Code.FILE_OK: "이미지 등록 성공",
    Code.FILE_EXISTS: "이미 등록된 이미지 입니다.",
    Code.TPS_EXCEEDED: "전송가능한 TPS가 초과되었습니다.",
    Code.UNAUTHORIZED: "the access token is missing, invalid, expired or superseded",
    Code.INTERNAL: "internal error, please retry",
}
