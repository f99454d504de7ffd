"""The IMS SMS compatible face: seed 001's ``POST /api/imsms/send`` and
``GET /api/imsms/info`` served by the gateway, so an application written for IMS
switches to umsgate by changing its base URL.

Theory of operation
-------------------
Every call needs ``X-API-KEY``: the client's IMS key (`umsgate client update
--imsms-key`), which names the client by itself (401/``901`` otherwise). A send body
(≤ 2 MiB, UTF-8 JSON) is validated by the same codec as the simulator's (imsms spec
§3, §6): ``903`` for a body that is not the JSON object of the spec, ``100``/``110``
for the number, ``120`` for empty text. ``imsAgentId`` must be one of the client's
agents when it has a list (403/``902``); the agent's sender number becomes the
message's sender (IMS has no sender field). The client's TPS applies as on the native
API (HTTP 429, project code ``905``).

A valid send becomes a message of the real pipeline: SMS when the text fits the Korean
90-byte SMS in CP949, else LMS without subject; with an attachment, an MMS carrying it
as a stored file (carriers take JPEG only, so a PNG is refused with ``903``). The
``imsId`` is a new UUID; the message's idempotency key is ``ims:`` + imsId (IMS has no
client message id, so two sends are two messages, as at IMS). The answer (``000``,
``imsId``, ``imsReqDttm``) comes after the commit.

``GET /api/imsms/info?imsId=`` reads the message from the store and answers its real
state in ``imsData`` (`state`): ``messageFinished`` once it is final, ``messageSent``
and ``messageDelivered`` true only when it was delivered (the seed has applications
judge success by ``messageSent``, so a failed or expired message has it false) and
``messageError`` ``0`` when delivered, else the unified result code (``2003``,
``3000`` …); times are the message's own (taken, first claimed, sent, final). Another
client's or an unknown imsId is 404/``904``. IMS has no callbacks: the report written
when the message becomes final (`ImsReports`, the final ``imsData`` fields) is kept,
not pushed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import logging
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from umsgate.clients import AuthError, ClientInfo
from umsgate.domain import phone, text
from umsgate.domain.lifecycle import Status
from umsgate.domain.message import Channel
from umsgate.domain.results import Invalid, ResultCode
from umsgate.engine.accept import Submission
from umsgate.errors import RemoteProtocolError, ValidationError
from umsgate.files import NotJpeg
from umsgate.ports import ImsHost
from umsgate.protocols.apigw import codec as native_codec
from umsgate.protocols.imsms import codec
from umsgate.protocols.imsms.codes import HTTP_STATUS, MESSAGES, ResultCd
from umsgate.reports.faces import FACE_KEY, FaceReport, PushRule
from umsgate.request_body import read_body

if TYPE_CHECKING:
    from umsgate.domain.records import StoredMessage

log = logging.getLogger("umsgate.protocols.imsms.face")

#: ``extra["face"]`` of the messages this face takes.
NAME = "imsms"
SEND_PATH = "/api/imsms/send"
INFO_PATH = "/api/imsms/info"
JSON_TYPE = "application/json; charset=UTF-8"
#: Idempotency key of a message: ``ims:`` + its imsId (a 36-character UUID), which
#: fills the 40-character column and is longer than any native srcMsgId (20).
SRC_PREFIX = "ims:"


class FaceCd(enum.StrEnum):
    """``resultCd`` beyond the seed's and the spec's."""

    #: Project: the client is over its TPS (HTTP 429); nothing was taken.
    TOO_MANY_REQUESTS = "905"


FACE_MESSAGES = {
    FaceCd.TOO_MANY_REQUESTS: "요청이 너무 많습니다. 잠시 후 다시 시도하세요.",
}


def _time(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return codec.format_time(dt.datetime.fromtimestamp(float(epoch), dt.UTC))


def state(row: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """The state fields of ``imsData`` (spec §5) of a stored message, by wire name."""
    status = Status(row["status"])
    final = status.final
    delivered = status is Status.DELIVERED
    started = row.get("claimed_at") or row.get("sent_at")
    error: int | None = None
    if final:
        code = row.get("result_code")
        error = 0 if delivered else int(code) if code and code.isdigit() else 2000
    return {
        "imsId": str(extra.get("imsId", "")),
        "imsReqDttm": _time(row["created_at"]),
        "sendStartDttm": _time(started),
        "sendEndDttm": _time(row.get("done_at")) if final else None,
        "messageGuid": str(row["id"]) if started or final else None,
        "messageError": error,
        "messageDate": _time(row.get("sent_at")),
        "messageDateDelivered": _time(row.get("done_at")) if delivered else None,
        "messageDateRead": None,
        "messageFinished": final,
        "messageSent": delivered,
        "messageDelivered": delivered,
    }


def ims_data(found: StoredMessage) -> codec.ImsData:
    """``imsData`` of a stored message."""
    extra = orjson.loads(found.state["extra"])
    fields = state(found.state, extra)
    return codec.ImsData(
        ims_id=fields["imsId"],
        send_to=str(extra.get("sendTo", "")),
        send_type="S",
        send_date=extra.get("sendDate"),
        message=found.content,
        # Not echoed: the file is the stored MMS image (up to 1 MiB of base64).
        attachment=None,
        attachment_ext=extra.get("attachmentExt"),
        ims_agent_id=str(extra.get("agent", "")),
        ims_req_dttm=fields["imsReqDttm"],
        send_start_dttm=fields["sendStartDttm"],
        send_end_dttm=fields["sendEndDttm"],
        message_guid=fields["messageGuid"],
        message_error=fields["messageError"],
        message_date=fields["messageDate"],
        message_date_delivered=fields["messageDateDelivered"],
        message_date_read=fields["messageDateRead"],
        message_finished=fields["messageFinished"],
        message_sent=fields["messageSent"],
        message_delivered=fields["messageDelivered"],
    )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ImsReports:
    """The face's reports: the final state fields of ``imsData``, kept and not pushed
    (IMS has no callbacks; `umsgate.reports.faces.ReportFace`)."""

    push: PushRule | None = None
    name: str = NAME

    def render(
        self,
        row: Mapping[str, Any],
        code: ResultCode,
        *,
        extra: Mapping[str, Any],
        from_carrier: bool,
    ) -> FaceReport:
        return FaceReport(body=orjson.dumps(state(row, extra)).decode())


# ------------------------------------------------------------------------ the routes


def _answer(content: bytes, status: int) -> Response:
    return Response(content, status_code=status, media_type=JSON_TYPE)


def _send_answer(code: ResultCd) -> Response:
    return _answer(codec.render_send_answer(codec.answer_for(code)), HTTP_STATUS[code])


def _info_answer(code: ResultCd) -> Response:
    answer = codec.InfoAnswer(result_cd=code.value, result_msg=MESSAGES[code])
    return _answer(codec.render_info_answer(answer), HTTP_STATUS[code])


async def _client(gw: ImsHost, request: Request) -> ClientInfo | None:
    key = request.headers.get("x-api-key", "").strip()
    if not key or len(key) > 200:
        return None
    try:
        return await gw.directory.authenticate_imsms(key)
    except AuthError:
        return None


async def send(request: Request) -> Response:
    """``POST /api/imsms/send`` (spec §3, §4, §6)."""
    gw: ImsHost = request.app.state.gateway
    client = await _client(gw, request)
    if client is None:
        gw.metrics.rejected(NAME, ResultCd.UNAUTHORIZED)
        return _send_answer(ResultCd.UNAUTHORIZED)
    body = await read_body(request, codec.MAX_REQUEST_BYTES)
    try:
        if body is None:
            raise codec.refusal(
                ResultCd.INVALID_REQUEST, f"body over {codec.MAX_REQUEST_BYTES} bytes"
            )
        req = codec.parse_send_request(body)
        agents = client.imsms_agents
        if agents and req.ims_agent_id not in agents:
            raise codec.refusal(ResultCd.AGENT_NOT_ALLOWED, req.ims_agent_id)
        try:
            receiver = phone.receiver(req.send_to)
        except phone.InvalidNumber:
            raise codec.refusal(ResultCd.INVALID_NUMBER, req.send_to) from None
        return await _take(gw, client, req, receiver, agents.get(req.ims_agent_id, ""))
    except RemoteProtocolError as exc:
        code = ResultCd(str(exc.code))
        gw.metrics.rejected(NAME, code)
        return _send_answer(code)


async def _take(
    gw: ImsHost,
    client: ClientInfo,
    req: codec.SendRequest,
    receiver: str,
    sender: str,
) -> Response:
    """Store a validated send and answer it.

    Raises:
        RemoteProtocolError: 903 for an attachment that cannot be an MMS image.
    """
    channel, charset = text.sms_or_lms(req.message)
    if req.attachment is not None:
        channel = Channel.MMS
    if not gw.throttles.allow(
        client.id, channel.tps_key, client.tps_for(channel.tps_key)
    ):
        gw.metrics.rejected(NAME, "tps")
        code = FaceCd.TOO_MANY_REQUESTS
        answer = codec.SendAnswer(result_cd=code.value, result_msg=FACE_MESSAGES[code])
        return _answer(codec.render_send_answer(answer), 429)
    file_ids: tuple[str, ...] = ()
    ims_id = str(uuid.uuid4())
    extra: dict[str, Any] = {
        FACE_KEY: NAME,
        "imsId": ims_id,
        "agent": req.ims_agent_id,
        "sendTo": req.send_to,
    }
    if req.send_date is not None:
        extra["sendDate"] = req.send_date
    try:
        if req.attachment is not None and req.attachment_ext is not None:
            stored = await gw.files.put(
                client.id, f"attachment.{req.attachment_ext}", req.attachment
            )
            file_ids = (stored.file_id,)
            extra["attachmentExt"] = req.attachment_ext
        native = native_codec.SendRequest(
            channel=channel,
            src_msg_id=SRC_PREFIX + ims_id,
            cmp_msg_id="",
            codec=charset,
            sender=sender,
            receiver=receiver,
            subject="",
            content=req.message,
            file_ids=file_ids,
            extra=extra,
            fallback=None,
            reserve_at=None,
            expires_at=None,
        )
        now = time.time()
        accepted = await gw.acceptor.accept(
            Submission(
                row=native.row(client.id, now, gw.settings.engine.default_ttl),
                dup_window=client.dup_window,
            )
        )
    except NotJpeg:
        raise codec.refusal(
            ResultCd.INVALID_REQUEST, "an MMS image must be a JPEG"
        ) from None
    except ValidationError as exc:
        # A blocked duplicate is a refused send (130), not a malformed request.
        refused = (
            ResultCd.SEND_FAILED
            if exc.code == Invalid.DUPLICATE
            else ResultCd.INVALID_REQUEST
        )
        raise codec.refusal(refused, exc.message) from None
    except Exception:
        log.exception("accepting a message failed", extra={"event": "accept_error"})
        gw.metrics.rejected(NAME, ResultCd.INTERNAL)
        return _send_answer(ResultCd.INTERNAL)
    gw.metrics.accepted(channel.value, accepted.repeated)
    answer = codec.SendAnswer(
        result_cd=ResultCd.OK.value,
        result_msg=MESSAGES[ResultCd.OK],
        ims_id=ims_id,
        ims_req_dttm=_time(accepted.created_at),
    )
    return _answer(codec.render_send_answer(answer), 200)


def _known_form(ims_id: str) -> bool:
    try:
        return str(uuid.UUID(ims_id)) == ims_id
    except ValueError:
        return False


async def info(request: Request) -> Response:
    """``GET /api/imsms/info?imsId=`` (spec §5, §6)."""
    gw: ImsHost = request.app.state.gateway
    client = await _client(gw, request)
    if client is None:
        return _info_answer(ResultCd.UNAUTHORIZED)
    ims_id = request.query_params.get("imsId", "")
    if not codec.IMS_ID_PATTERN.fullmatch(ims_id):
        return _info_answer(ResultCd.INVALID_REQUEST)
    found = None
    if _known_form(ims_id):
        try:
            found = await gw.message_by_src(client.id, SRC_PREFIX + ims_id)
        except Exception:
            log.exception("reading a message failed", extra={"event": "store_error"})
            return _info_answer(ResultCd.INTERNAL)
    if found is None:
        return _info_answer(ResultCd.NOT_FOUND)
    answer = codec.InfoAnswer(
        result_cd=ResultCd.OK.value,
        result_msg=MESSAGES[ResultCd.OK],
        ims_data=ims_data(found),
    )
    return _answer(codec.render_info_answer(answer), 200)


routes = [
    Route(SEND_PATH, send, methods=["POST"]),
    Route(INFO_PATH, info, methods=["GET"]),
]
