"""The ToBeText compatible face: seed 000's ``POST /sms`` served by the gateway, so an
application written for ToBeText switches to umsgate by changing its base URL.

Theory of operation
-------------------
The request is read and validated by the same codec as the simulator's (tobetext spec
§3, §6, §10.9): a URL-encoded or multipart form of at most 16 KiB, UTF-8 with a CP949
fallback, checked in the order Cid, token, Ckey, RecvNum, SendNum, Body; the first
broken field decides the ``ErrorCode``. ``Cid`` is the umsgate client id and
``token`` the client's ToBeText token (`umsgate client update --tobetext-token`):
malformed gives 2006/2007, well-formed but not matching 410.

A valid request becomes a message of the real pipeline: SMS when the text fits the
Korean 90-byte SMS in CP949, otherwise LMS without subject (ToBeText's 160-byte SMS is
larger); the receiver is ``+`` and the RecvNum digits, the sender the SendNum
normalised to E.164 (domestic forms are Korean numbers; one that is not a valid
number gives 2004). The client's TPS applies as on the native API. The ``Ckey`` is
the client's message id: it is stored in the idempotency key (`src_msg_id`), so a
repeat with the same parameters answers the first acknowledgement (same ``MsgId``)
and sends nothing, and a repeat with other parameters gets 2001. The answer comes
after the commit, as everywhere in umsgate. ``MsgId`` is the umsMsgId written as 32
lowercase hex digits, the shape of the seed's sample.

The message keeps ``extra["face"] = "tobetext"``, its Ckey, the echoed SendNum and
its ``callback`` URL. When it becomes final, `ToBeTextReports` renders the status
callback (spec §5: a form POST of CKey, Status, MsgId, SendNum, RecvNum, ErrorCode,
ErrorMsg) with the unified result mapped back to the callback codes, and the notifier
POSTs it to the callback URL: any 2xx is received; otherwise it is tried again,
4 attempts in all, 60 s apart, 10 s each (spec §9). Without a callback URL nothing is
pushed (ToBeText has no pull API).

Beyond the seed, two answers a ToBeText application treats as a failed call (spec
§10.12: any HTTP status but 200): HTTP 429 when the client is over its TPS and HTTP
500 when the store failed, both with a ``FAIL`` acknowledgement; a retry with the same
Ckey is harmless.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from umsgate.domain.results import ResultCode
from umsgate.protocols.tobetext import codec
from umsgate.protocols.tobetext import send as send_path
from umsgate.protocols.tobetext.codes import (
    CALLBACK_MESSAGES,
    CallbackCode,
    Status,
)
from umsgate.protocols.tobetext.send import NAME, PATH, XML_TYPE, msg_id
from umsgate.reports.faces import FaceReport, PushRule
from umsgate.request_body import read_body

if TYPE_CHECKING:
    from umsgate.ports import ToBeTextHost

CALLBACK_TYPE = "application/x-www-form-urlencoded; charset=UTF-8"

#: The callback rule of tobetext spec §5/§9: any 2xx is received; 4 attempts in all,
#: 60 s apart, 10 s for each.
PUSH = PushRule(
    content_type=CALLBACK_TYPE,
    attempts=4,
    interval=60.0,
    timeout=10.0,
    accepts=lambda status, _body: 200 <= status < 300,
)


#: Unified final code → callback ``ErrorCode`` (spec §7). 400 "Failed": the carrier
#: or the handset refused or could not take the message; 411 "Internal error": the
#: gateway's provider account failed it (credentials, balance, provider errors);
#: 412 "Other": no result in time (expired), and any code not listed.
CALLBACK_CODES: Mapping[ResultCode, CallbackCode] = {
    ResultCode.DELIVERED: CallbackCode.SUCCESS,
    ResultCode.FAILED: CallbackCode.FAILED,
    ResultCode.INVALID_NUMBER: CallbackCode.FAILED,
    ResultCode.NO_SERVICE: CallbackCode.FAILED,
    ResultCode.UNREACHABLE: CallbackCode.FAILED,
    ResultCode.HANDSET_FULL: CallbackCode.FAILED,
    ResultCode.BLOCKED: CallbackCode.FAILED,
    ResultCode.CONTENT_REJECTED: CallbackCode.FAILED,
    ResultCode.DUPLICATE: CallbackCode.FAILED,
    ResultCode.SENDER_NOT_REGISTERED: CallbackCode.FAILED,
    ResultCode.UNSUPPORTED: CallbackCode.FAILED,
    ResultCode.CARRIER_REJECTED: CallbackCode.FAILED,
    ResultCode.AUTH_FAILED: CallbackCode.INTERNAL,
    ResultCode.NO_BALANCE: CallbackCode.INTERNAL,
    ResultCode.PROVIDER_ERROR: CallbackCode.INTERNAL,
    ResultCode.THROTTLED: CallbackCode.INTERNAL,
    ResultCode.CONNECTION_ERROR: CallbackCode.INTERNAL,
    ResultCode.TIMEOUT: CallbackCode.INTERNAL,
    ResultCode.RETRY_LATER: CallbackCode.INTERNAL,
    ResultCode.EXPIRED: CallbackCode.OTHER,
}


def callback_code(code: ResultCode) -> CallbackCode:
    return CALLBACK_CODES.get(code, CallbackCode.OTHER)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ToBeTextReports:
    """The face's reports: the status callback of spec §5, to the message's
    ``callback`` URL (`umsgate.reports.faces.ReportFace`)."""

    push: PushRule | None = PUSH
    name: str = NAME

    def render(
        self,
        row: Mapping[str, Any],
        code: ResultCode,
        *,
        extra: Mapping[str, Any],
        from_carrier: bool,
    ) -> FaceReport:
        cb = callback_code(code)
        if cb is CallbackCode.SUCCESS:
            message = CALLBACK_MESSAGES[cb]
        else:
            message = f"{CALLBACK_MESSAGES[cb]}: {code.description} ({code.value})"
        result = codec.Result(
            ckey=str(extra.get("ckey", "")),
            status=Status.SUCCESS if cb is CallbackCode.SUCCESS else Status.FAIL,
            msg_id=msg_id(int(row["id"])),
            send_num=str(extra.get("sendNum", "")),
            recv_num=str(row["receiver"]).lstrip("+"),
            error_code=int(cb),
            error_msg=message,
        )
        return FaceReport(
            body=codec.render_callback(result).decode("ascii"),
            target_url=str(extra.get("callback") or ""),
        )


# ------------------------------------------------------------------------ the route


async def send(request: Request) -> Response:
    """``POST /sms``: the XML acknowledgement of spec §4 (business errors are HTTP
    200 with their ``ErrorCode``, spec §10.12)."""
    # The Gateway, or a front (`umsgate.front.app`), which serves this route too.
    gw: ToBeTextHost = request.app.state.gateway
    body = await read_body(request, codec.MAX_REQUEST_BYTES)
    status, xml = await send_path.handle(
        gw, body, request.headers.get("content-type", "")
    )
    return Response(xml, status_code=status, media_type=XML_TYPE)


routes = [Route(PATH, send, methods=["POST"])]
