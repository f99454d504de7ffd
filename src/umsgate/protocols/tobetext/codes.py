"""ToBeText's code registries and their mapping to unified result codes.

Two tables, chosen by where a code arrives (tobetext spec §10.17): `AckCode` in the
instant XML acknowledgement of a send, `CallbackCode` in the status callback. The
same number 200 means "accepted for sending" in the first and "delivered" in the
second. Every raw code is kept beside its unified one; a code missing from a table
maps to the table's failure default and is still kept raw.
"""

from __future__ import annotations

import enum

from umsgate.domain.results import CodeRow, CodeTable, ResultCode


class Status(enum.StrEnum):
    """The ``Status`` element (spec §4, §10.13)."""

    #: "SUCCESS" — the only value in the seed's sample.
    SUCCESS = "SUCCESS"
    #: Resolution: every failure, in acknowledgements and callbacks.
    FAIL = "FAIL"


class AckCode(enum.IntEnum):
    """``ErrorCode`` of the instant acknowledgement (spec §6)."""

    #: "200 Success 전송성공" — accepted for sending, not yet delivered.
    SUCCESS = 200
    #: "410 Authentication Failed, 인증 실패, Cid 및 token 값 확인".
    AUTH_FAILED = 410
    #: "2001 Ckey 값 오류" — also a repeated Ckey with other parameters (spec §9).
    CKEY = 2001
    #: "2002 CCode 값 오류" — read as the country code of RecvNum (spec §10.6).
    COUNTRY_CODE = 2002
    #: Project (spec §10.6): RecvNum value error, the gap in the seed's numbering.
    RECV_NUM = 2003
    #: "2004 SendNum 값 오류".
    SEND_NUM = 2004
    #: "2005 Body field 값 오류" — also text over 160 bytes (spec §10.8).
    BODY = 2005
    #: "2006 Cid (고객사 ID) 값 오류" — missing or malformed (spec §6).
    CID = 2006
    #: "2007 token 값 오류" — missing or malformed (spec §6).
    TOKEN = 2007
    #: Project (the seed has no code for it): callback value error — not an http(s)
    #: URL with a host, or at an address the gateway does not call (its outbound
    #: URL policy, docs/security.md). Numbered as the seed numbers field errors.
    CALLBACK = 2008


class CallbackCode(enum.IntEnum):
    """``ErrorCode`` of the status callback (spec §7)."""

    #: "200 Success 전송성공".
    SUCCESS = 200
    #: "400 Failed 전송실패".
    FAILED = 400
    #: "411 내부 오류 (internal error) 전송실패".
    INTERNAL = 411
    #: "412 기타 (other) 전송실패".
    OTHER = 412


#: Acknowledgement codes: the ``ErrorMsg`` the simulator and the compatible face put
#: beside each, and the unified code of a refusal with it (all permanent: the
#: message is REJECTED). docs/protocols/tobetext.md renders the mapping.
ACK_TABLE: CodeTable[AckCode] = CodeTable(
    {
        AckCode.SUCCESS: CodeRow("Message successfully sent"),
        AckCode.AUTH_FAILED: CodeRow(
            "Authentication Failed", unified=ResultCode.AUTH_FAILED
        ),
        # Our Ckey is the gateway's message id, always well-formed: a 2001 is the
        # provider refusing a repeat it cannot match (see the connector's handling).
        AckCode.CKEY: CodeRow("Ckey value error", unified=ResultCode.FAILED),
        AckCode.COUNTRY_CODE: CodeRow(
            "CCode value error", unified=ResultCode.INVALID_NUMBER
        ),
        AckCode.RECV_NUM: CodeRow(
            "RecvNum value error", unified=ResultCode.INVALID_NUMBER
        ),
        # "SendNum value error": the sender number is not one this account may use.
        AckCode.SEND_NUM: CodeRow(
            "SendNum value error", unified=ResultCode.SENDER_NOT_REGISTERED
        ),
        AckCode.BODY: CodeRow(
            "Body field value error", unified=ResultCode.CONTENT_REJECTED
        ),
        AckCode.CID: CodeRow("Cid value error", unified=ResultCode.AUTH_FAILED),
        AckCode.TOKEN: CodeRow("token value error", unified=ResultCode.AUTH_FAILED),
        # Our callback is the gateway's own public URL: a provider refusing it is a
        # configuration fault (server.public_url), not the message's.
        AckCode.CALLBACK: CodeRow("callback value error", unified=ResultCode.FAILED),
    }
)
ACK_MESSAGES = ACK_TABLE.messages
ACK_RESULTS = ACK_TABLE.results

#: Callback codes: their text, and their unified code. All failures are final as
#: the seed says ("전송실패"); 411 is not made transient because a resend reuses the
#: Ckey, which the provider treats as a repeat and would never call back for.
CALLBACK_TABLE: CodeTable[CallbackCode] = CodeTable(
    {
        CallbackCode.SUCCESS: CodeRow("Success", unified=ResultCode.DELIVERED),
        CallbackCode.FAILED: CodeRow("Failed", unified=ResultCode.FAILED),
        CallbackCode.INTERNAL: CodeRow("Internal error", unified=ResultCode.FAILED),
        CallbackCode.OTHER: CodeRow("Other", unified=ResultCode.FAILED),
    }
)
CALLBACK_MESSAGES = CALLBACK_TABLE.messages
CALLBACK_RESULTS = CALLBACK_TABLE.results


def ack_result(code: int) -> ResultCode:
    """Unified code of a refusing acknowledgement (unknown codes: FAILED)."""
    try:
        return ACK_RESULTS[AckCode(code)]
    except (ValueError, KeyError):
        return ResultCode.FAILED


def callback_result(code: int) -> ResultCode:
    """Unified code of a callback ``ErrorCode`` (unknown codes: FAILED)."""
    try:
        return CALLBACK_RESULTS[CallbackCode(code)]
    except ValueError:
        return ResultCode.FAILED
