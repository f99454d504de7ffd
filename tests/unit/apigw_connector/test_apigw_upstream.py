"""The connector's side of the API-Gateway wire format: request bodies, answers,
reports, codes and signatures (pure, no sockets)."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
from typing import Any

import orjson
import pytest
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartParser

from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.errors import RemoteProtocolError
from umsgate.protocols.apigw import codec, upstream
from umsgate.protocols.apigw.codes import Code

NOW = dt.datetime(2024, 7, 9, tzinfo=dt.UTC)


def message(**changes: Any) -> Message:
    values: dict[str, Any] = {
        "id": 589406775975211890,
        "client_id": "c1",
        "src_msg_id": "mine-1",
        "channel": Channel.SMS,
        "sender": "+82212345678",
        "receiver": "+821059120601",
        "content": "안녕하세요",
        "created_at": NOW,
        "due_at": NOW,
        "extra": {"originCode": "123456789", "billCode": "12345"},
    }
    values.update(changes)
    return Message(**values)


def built(msg: Message, files: tuple[str, ...] = (), **defaults: str) -> Any:
    path, headers, body = upstream.send_request(
        msg, files, upstream.Defaults(**defaults)
    )
    return path, headers, orjson.loads(body)


def test_sms_request_names_the_message_by_its_id() -> None:
    assert built(message()) == (
        "/v1/message/sms",
        {"originCode": "123456789", "billCode": "12345"},
        {
            "srcMsgId": "589406775975211890",
            "dstCharSet": "euc-kr",
            "natCode": 82,
            "callback": "0212345678",
            "receiver": "01059120601",
            "content": "안녕하세요",
        },
    )


def test_the_request_is_what_the_face_accepts() -> None:
    _, headers, body = built(message(cmp_msg_id="ref-1", charset="utf-8"))
    lowered = {k.lower(): v for k, v in headers.items()}  # as HTTP hands them over
    req = codec.parse_sms(body, lowered, now=NOW.timestamp())
    assert (req.src_msg_id, req.cmp_msg_id, req.codec) == (
        "589406775975211890",
        "ref-1",
        "utf-8",
    )
    assert (req.sender, req.receiver) == ("+82212345678", "+821059120601")


def test_lms_and_mms() -> None:
    _, _, lms = built(message(channel=Channel.LMS, content="x" * 500))
    assert (lms["subject"], lms["fileIds"]) == (codec.NO_SUBJECT, [])
    path, _, mms = built(
        message(channel=Channel.MMS, subject="쿠폰", file_ids=("F1",)), ("UP1",)
    )
    assert path == "/v1/message/mms"
    assert (mms["subject"], mms["fileIds"]) == ("쿠폰", ["UP1"])


def test_configured_codes_win_over_the_message() -> None:
    _, headers, _ = built(message(), origin_code="999999999", bill_code="99999")
    assert headers == {"originCode": "999999999", "billCode": "99999"}


def test_rcs_and_kko_go_without_fallback() -> None:
    agency = {"agencyId": "a", "agencyKey": "k", "billCode": "12345"}
    rcs = message(
        channel=Channel.RCS,
        extra={**agency, "brandKey": "b", "templateParam": {"description": "d"}},
        fallback={"channel": "SMS", "content": "fb"},
    )
    path, headers, body = built(rcs)
    assert path == "/v1/message/rcs" and headers == agency
    assert body["chatbotId"] == "0212345678" and body["usedFallback"] is False
    assert body["templateParam"] == {"description": "d"} and "fallback" not in body
    kko = message(channel=Channel.KKO, extra={**agency, "msgType": "AT", "wide": "N"})
    path, _, body = built(kko)
    assert path == "/v1/message/kko"
    assert (body["msgType"], body["callback"], body["usedFallback"]) == (
        "AT",
        "0212345678",
        False,
    )


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"receiver": "+819012345678"}, ResultCode.INVALID_NUMBER),
        ({"sender": "+81312345678"}, ResultCode.SENDER_NOT_REGISTERED),
        ({"extra": {"originCode": "123456789"}}, ResultCode.FAILED),
        ({"extra": {"originCode": "1234567890", "billCode": "1"}}, ResultCode.FAILED),
        ({"channel": Channel.KKO, "extra": {}}, ResultCode.FAILED),
    ],
)
def test_unsendable(changes: dict[str, Any], code: ResultCode) -> None:
    with pytest.raises(upstream.Unsendable) as caught:
        upstream.send_request(message(**changes), (), upstream.Defaults())
    assert caught.value.code is code


async def test_upload_is_one_jpeg_in_img() -> None:
    body, content_type = upstream.upload_request("coupon", b"\xff\xd8data")
    assert content_type.startswith("multipart/form-data; boundary=")

    async def stream() -> Any:
        yield body

    form = await MultiPartParser(
        Headers({"content-type": content_type}), stream()
    ).parse()
    try:
        item = form["img"]
        assert isinstance(item, UploadFile)
        assert item.filename == "coupon.jpg"
        assert await item.read() == b"\xff\xd8data"
    finally:
        await form.close()


def test_check_request() -> None:
    assert upstream.check_request("mms", ["1", "2"]) == (
        "/v1/agent/rpt/mms",
        b'["1","2"]',
    )
    with pytest.raises(ValueError):
        upstream.check_request("sms", ["1"] * 1001)
    with pytest.raises(ValueError):
        upstream.check_request("fax", ["1"])


def test_token_answer() -> None:
    answer = upstream.parse_token(
        orjson.dumps(
            {
                "accessToken": "tok",
                "tokenType": "Bearer",
                "expiresIn": "2024-06-15T00:53:56.138+00:00",
                "service": {"MMS": 100, "SMS": 50, "RCS": 0, "KKO": "x"},
            }
        )
    )
    assert answer.token == "tok"
    assert (
        answer.expires_at
        == dt.datetime(2024, 6, 15, 0, 53, 56, 138000, tzinfo=dt.UTC).timestamp()
    )
    assert answer.service == {"MMS": 100.0, "SMS": 50.0}
    for bad in (b"{}", b'{"accessToken": "t"}', b"[]", b"not json"):
        with pytest.raises(RemoteProtocolError):
            upstream.parse_token(bad)


def test_upload_answer() -> None:
    ok = {"fileId": "F", "expireTime": "2024-06-15T10:13:15", "resultCode": "10001"}
    parsed = upstream.parse_upload(orjson.dumps(ok))
    assert parsed is not None and parsed[0] == "F"
    kst = dt.timezone(dt.timedelta(hours=9))
    assert parsed[1] == dt.datetime(2024, 6, 15, 10, 13, 15, tzinfo=kst).timestamp()
    again = upstream.parse_upload(orjson.dumps(ok | {"resultCode": "41000"}))
    assert again is not None and again[0] == "F"
    assert upstream.parse_upload(orjson.dumps(ok | {"resultCode": "41001"})) is None
    assert upstream.parse_upload(orjson.dumps(ok | {"expireTime": "?"})) == ("F", None)


def test_reports_one_or_many() -> None:
    one = {
        "cmpMsgId": "",
        "srcMsgId": "1",
        "umsMsgId": "9",
        "channel": "SMS",
        "resultCode": "-100",
        "serviceProvider": "SKT",
        "pfmRcvDttm": "20240612072458",
    }
    [report] = upstream.parse_reports(orjson.dumps(one)) or []
    assert (report.src_msg_id, report.ums_msg_id, report.carrier) == ("1", "9", "SKT")
    assert report.done_at == dt.datetime(
        2024, 6, 12, 7, 24, 58, tzinfo=dt.timezone(dt.timedelta(hours=9))
    )
    many = upstream.parse_reports(orjson.dumps([one, one | {"srcMsgId": 2}]))
    assert [r.src_msg_id for r in many or []] == ["1", "2"]
    assert upstream.parse_reports(orjson.dumps(one | {"pfmRcvDttm": "bad"})) is not None
    for bad in ({"srcMsgId": "1"}, {"resultCode": "-100"}, [one, 5], "x"):
        assert upstream.parse_reports(orjson.dumps(bad)) is None
    assert upstream.parse_reports(b"{") is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("-100", ResultCode.DELIVERED),
        ("96", ResultCode.EXPIRED),
        ("1000", ResultCode.DELIVERED),
        ("2001", ResultCode.INVALID_NUMBER),
        ("2005", ResultCode.BLOCKED),
        ("3000", ResultCode.EXPIRED),
        ("4001", ResultCode.FAILED),
        ("1234", ResultCode.FAILED),
        ("SM_STATE_X", ResultCode.FAILED),
    ],
)
def test_report_codes(raw: str, code: ResultCode) -> None:
    assert upstream.report_code(raw) is code


def test_refusal_codes() -> None:
    assert upstream.refusal_code("40015") is ResultCode.INVALID_NUMBER
    assert upstream.refusal_code("40013") is ResultCode.SENDER_NOT_REGISTERED
    assert upstream.refusal_code("40100") is ResultCode.FAILED
    assert upstream.refusal_code("49999") is ResultCode.FAILED
    assert set(upstream.SEND_REFUSALS) <= set(Code)


def test_upstream_is_sans_io() -> None:
    tree = ast.parse(inspect.getsource(upstream))
    names = {
        (getattr(node, "module", None) or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    } | {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not names & {"asyncio", "socket", "logging", "httpx", "starlette", "time"}
    modules = {
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    }
    assert not {"umsgate.store", "umsgate.clients"} & modules


def test_upload_name_is_escaped() -> None:
    body, content_type = upstream.upload_request('a"b\r\n.jpg', b"x", boundary="B")
    assert content_type == "multipart/form-data; boundary=B"
    assert body == (
        b"--B\r\n"
        b'Content-Disposition: form-data; name="img"; filename="a%22b%0D%0A.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\nx\r\n--B--\r\n"
    )
