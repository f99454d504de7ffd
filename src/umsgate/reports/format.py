"""The report as clients receive it: the API-Gateway report object (apigw spec §11),
or, for a message that came in by a compatible face, that face's own report.

Unified codes are rendered in the native vocabulary (apigw spec §13.2): DELIVERED is
``-100`` / ``SM_STATE_DELIVERED``, EXPIRED is ``96``, every other final code is the
unified 4-digit code with its description. Times are Korea Standard Time,
``yyyyMMddHHmmss``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping

import orjson

from umsgate.domain.records import ReportRow
from umsgate.domain.results import ResultCode
from umsgate.domain.transitions import MessageState
from umsgate.reports import faces as report_faces

KST = dt.timezone(dt.timedelta(hours=9), "KST")

DELIVERED_CODE = "-100"
DELIVERED_MESSAGE = "SM_STATE_DELIVERED"
EXPIRED_CODE = "96"
EXPIRED_MESSAGE = "Not received SUBMIT_ACK from Mno from 1day"


def kst_stamp(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return _kst_second(int(epoch))


@functools.lru_cache(maxsize=4096)
def _kst_second(second: int) -> str:
    # Reports of a busy second share their stamps: formatting is cached per second.
    return dt.datetime.fromtimestamp(second, KST).strftime("%Y%m%d%H%M%S")


def native_code(code: ResultCode) -> tuple[str, str]:
    """(resultCode, resultMessage) of a unified code in the native vocabulary."""
    if code is ResultCode.DELIVERED:
        return DELIVERED_CODE, DELIVERED_MESSAGE
    if code is ResultCode.EXPIRED:
        return EXPIRED_CODE, EXPIRED_MESSAGE
    return code.value, code.description


def report_body(
    row: MessageState, code: ResultCode, *, from_carrier: bool
) -> dict[str, str]:
    result_code, result_message = native_code(code)
    return {
        "cmpMsgId": row["cmp_msg_id"] or "",
        "srcMsgId": row["src_msg_id"],
        "umsMsgId": str(row["parent_id"] if row["kind"] else row["id"]),
        "channel": row["channel"],
        "resultCode": result_code,
        "resultMessage": result_message,
        "serviceProvider": row["carrier"] or "",
        "srcSndDttm": kst_stamp(row["created_at"]),
        "pfmRcvDttm": kst_stamp(row["done_at"]) if from_carrier else "",
        "pfmSndDttm": kst_stamp(row["sent_at"]),
    }


def report_row(
    row: MessageState,
    code: ResultCode,
    *,
    now: float,
    from_carrier: bool,
    faces: Mapping[str, report_faces.ReportFace] | None = None,
) -> ReportRow:
    """A ``reports`` row for a message that just became final.

    A message of one of ``faces`` gets that face's body and target URL (see
    `umsgate.reports.faces`); every other message the native report object.
    """
    body = report_body(row, code, from_carrier=from_carrier)
    origin = row["channel"]
    if row["kind"]:
        origin = _origin_of_fallback(row)
    encoded = orjson.dumps(body).decode()
    face_name = target = ""
    state = "pending"
    found = report_faces.face_of(row) if faces else None
    if found is not None and faces is not None and found[0] in faces:
        face = faces[found[0]]
        rendered = face.render(row, code, extra=found[1], from_carrier=from_carrier)
        face_name, encoded, target = face.name, rendered.body, rendered.target_url
        if face.push is None or not target:
            state = "none"
    return ReportRow(
        message_id=row["id"],
        client_id=row["client_id"],
        ums_msg_id=int(body["umsMsgId"]),
        channel=row["channel"],
        origin_channel=origin,
        body=encoded,
        created_at=now,
        webhook_state=state,
        attempts=0,
        next_at=now,
        last_error="",
        face=face_name,
        target_url=target,
    )


def _origin_of_fallback(row: MessageState) -> str:
    extra = orjson.loads(row["extra"]) if row.get("extra") else {}
    origin = extra.get("originChannel")
    return str(origin) if origin else row["channel"]
