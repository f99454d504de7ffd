"""Helpers of the native API tests: request bodies of every channel, uploads, the
rows a gateway stored, and settings with extra connectors and routes.

Tests read the store through `umsgate.store.tables` to check what was (and was not)
committed; the gateway under test is never bypassed to make a request.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

import httpx
from sqlalchemy import func, select

from tests.conftest import Account, Running
from tests.unit.apigw.images import jpeg
from umsgate import config
from umsgate.store import tables

KST = dt.timezone(dt.timedelta(hours=9))
#: A report time: yyyyMMddHHmmss (apigw spec §2, resolution 29).
STAMP = re.compile(r"^\d{14}$")
#: transferTime / expiresIn: ISO 8601 with milliseconds and an offset (spec §2).
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
UMS_MSG_ID = re.compile(r"^\d{18}$")
#: The report of a delivered message (spec §12 sample, §13.2).
DELIVERED = ("-100", "SM_STATE_DELIVERED")


def lms_body(src: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "srcMsgId": src,
        "natCode": "82",
        "dstCharSet": "euc-kr",
        "callback": "01059120601",
        "subject": "STD-OAPI",
        "content": "LMS TEST 장문 메시지",
        "receiver": "01059120601",
        "fileIds": [],
    }
    body.update(fields)
    return body


def rcs_body(src: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "srcMsgId": src,
        "type": "INFO",
        "natCode": 82,
        "dstCharSet": "euc-kr",
        "chatbotId": "01012345678",
        "brandKey": "brandKey",
        "rcsType": "SMS",
        "receiver": "01012345678",
        "expiryOption": "1",
        "header": "0",
        "footer": "",
        "copyAllowed": True,
        "templateId": "Template001",
        "templateParam": {
            "title": "테스트 제목 입니다.",
            "description": "테스트 메세지 입니다.",
        },
        "buttons": [],
        "usedFallback": True,
        "fallback": {"type": "SMS", "content": "대체 발송 본문 내용", "fileIds": []},
    }
    body.update(fields)
    return body


def kko_body(src: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "srcMsgId": src,
        "cmpMsgId": None,
        "msgType": "AT",
        "natCode": 82,
        "dstCharSet": "EUC-KR",
        "callback": "01012345678",
        "title": "테스트 제목 입니다.",
        "content": "테스트 메세지 입니다.",
        "receiver": "01012345678",
        "profileKey": "profileKey",
        "templateCode": "Template001",
        "adFlag": False,
        "buttons": [{"name": "집으로 직접 받고 싶어요!", "type": "BK"}],
        "usedFallback": False,
    }
    body.update(fields)
    return body


async def upload(
    http: httpx.AsyncClient,
    acct: Account,
    data: bytes,
    *,
    name: str = "photo.jpg",
    field: str = "img",
    method: str = "POST",
) -> httpx.Response:
    """Upload ``data`` as the multipart field ``field``."""
    return await http.request(
        method,
        "/v1/storage/file",
        files={field: (name, data, "image/jpeg")},
        headers={"Authorization": f"Bearer {acct.token}"},
    )


async def upload_ok(running: Running, acct: Account, tag: bytes) -> str:
    """A new file id of ``acct`` (a JPEG made unique by ``tag``)."""
    r = await upload(running.http, acct, jpeg(tag=tag))
    assert r.status_code == 200, r.text
    file_id: str = r.json()["fileId"]
    return file_id


async def message_rows(running: Running, **where: Any) -> list[dict[str, Any]]:
    """Stored messages whose columns equal ``where``."""
    m = tables.messages
    stmt = select(m).where(*(m.c[k] == v for k, v in where.items())).order_by(m.c.id)
    async with running.gateway.db.transaction() as conn:
        return [dict(r._mapping) for r in (await conn.execute(stmt)).all()]


async def message(running: Running, ums_msg_id: str) -> dict[str, Any]:
    rows = await message_rows(running, id=int(ums_msg_id))
    assert len(rows) == 1
    return rows[0]


async def count_messages(running: Running, client_id: str) -> int:
    m = tables.messages
    stmt = select(func.count()).select_from(m).where(m.c.client_id == client_id)
    async with running.gateway.db.transaction() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def count_files(running: Running, client_id: str) -> int:
    f = tables.files
    stmt = select(func.count()).select_from(f).where(f.c.client_id == client_id)
    async with running.gateway.db.transaction() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def report_rows(running: Running, ums_msg_id: str) -> list[dict[str, Any]]:
    """The reports rows of a message the client knows by ``ums_msg_id``
    (a fallback's report is filed under its parent's id)."""
    r = tables.reports
    stmt = select(r).where(r.c.ums_msg_id == int(ums_msg_id)).order_by(r.c.id)
    async with running.gateway.db.transaction() as conn:
        return [dict(x._mapping) for x in (await conn.execute(stmt)).all()]


def with_connectors(
    settings: config.Settings,
    connectors: tuple[config.ConnectorSettings, ...],
    routes: tuple[config.RouteSettings, ...],
) -> config.Settings:
    """``settings`` with extra connectors and a route table (TOML's [[connectors]]
    and [[routes]])."""
    return dataclasses.replace(settings, connectors=connectors, routes=routes)


def kst_minute(epoch: float) -> str:
    """``yyyyMMddHHmm`` in Korea Standard Time."""
    return dt.datetime.fromtimestamp(epoch, KST).strftime("%Y%m%d%H%M")


def iso(epoch: float) -> str:
    """ISO 8601 with milliseconds and the UTC offset."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")


def check_report(report: dict[str, Any], *, channel: str, src: str, ums: str) -> None:
    """The fields of a report (apigw spec §11) of a message that was delivered."""
    assert set(report) == {
        "cmpMsgId",
        "srcMsgId",
        "umsMsgId",
        "channel",
        "resultCode",
        "resultMessage",
        "serviceProvider",
        "srcSndDttm",
        "pfmRcvDttm",
        "pfmSndDttm",
    }
    assert all(isinstance(v, str) for v in report.values()), report
    assert (report["umsMsgId"], report["srcMsgId"], report["channel"]) == (
        ums,
        src,
        channel,
    )
    assert (report["resultCode"], report["resultMessage"]) == DELIVERED
    assert report["serviceProvider"] in ("SKT", "KTF", "LGT")
    for name in ("srcSndDttm", "pfmRcvDttm", "pfmSndDttm"):
        assert STAMP.match(report[name]), (name, report[name])
    # Report times are KST; the message was sent and delivered moments ago.
    sent = dt.datetime.strptime(report["srcSndDttm"], "%Y%m%d%H%M%S").replace(
        tzinfo=KST
    )
    assert abs((dt.datetime.now(dt.UTC) - sent).total_seconds()) < 120
    assert report["srcSndDttm"] <= report["pfmSndDttm"] <= report["pfmRcvDttm"]
