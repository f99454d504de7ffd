"""IMS SMS codec: the seed's samples, validation codes, the state mapping."""

from __future__ import annotations

import ast
import base64
import datetime as dt
import inspect
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from umsgate.domain.results import ResultCode
from umsgate.errors import LocalProtocolError, RemoteProtocolError
from umsgate.protocols.imsms import codec, codes
from umsgate.protocols.imsms.codes import ResultCd

# The PNG header the spec's repaired sample decodes to (24×24 RGBA, then sBIT).
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAABgAAAAYCAYAAADgdz34AAAABHNCSVQ=")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"

# The seed's send sample, as written (sendDate with sendType S, broken base64).
SEED_SEND = (
    '{ "sendTo": "+821012345678", "sendType": "S", "sendDate": "202307121530", '
    '"message": "안녕하세요", "attachment": '
    '"iVBORwOKGgoAAAANSUhEUgAAABgAAAAAYCAYAAADgdz34AAAABHNCSVQ...", '
    '"attachmentExt": "png", "imsAgentId": "ims-demo-web-kr" }'
).encode()

SEED_OK = (
    b'{ "resultCd": "000", "resultMsg": "OK", "imsId": '
    b'"123e4567-e89b-12d3-a456-556642440000", '
    b'"imsReqDttm": "2024-07-09T02:46:48.215Z" }'
)
SEED_FAIL = (
    '{ "resultCd": "110", "resultMsg": "전화번호 유효성 검증에 실패했습니다.", '
    '"imsId": null, "imsReqDttm": null }'
).encode()

# Spec §7: the state sample, reconstructed (send_type kept as the seed spells it).
SEED_STATE = b"""{ "resultCd": "000", "resultMsg": "OK", "imsData": { "imsId":
"123e4567-e89b-12d3-a456-556642440000", "sendTo": "+821012345678",
"send_type": "S", "sendDate": "202307121530", "message": "string",
"attachment":
"iVBORw0KGgoAAAANSUhEUgAAABgAAAAAYCAYAAADgdz34AAAAABHNCSVQ",
"attachmentExt": "png", "imsReqDttm": "2024-07-09T03:10:40.261Z",
"sendStartDttm": "2024-07-09T03:10:40.261Z", "sendEndDttm": "2024-07-09T03:10:40.261Z",
"messageGuid": "string", "messageError": 0,
"messageDate": "2024-07-09T03:10:40.261Z", "messageDateDelivered":
"2024-07-09T03:10:40.261Z", "messageDateRead": "2024-07-09T03:10:40.261Z",
"messageSent": true, "messageFinished": true,
"messageDelivered": true, "imsAgentId": "string" } }"""

GOOD: dict[str, Any] = {
    "sendTo": "+821012345678",
    "sendType": "S",
    "message": "안녕하세요",
    "imsAgentId": "ims-demo-web-kr",
}


def body(**changes: Any) -> bytes:
    data = GOOD | changes
    return orjson.dumps({k: v for k, v in data.items() if v is not ...})


def code_of(raw: bytes) -> int | str | None:
    with pytest.raises(RemoteProtocolError) as info:
        codec.parse_send_request(raw)
    return info.value.code


def test_codec_is_sans_io() -> None:
    tree = ast.parse(inspect.getsource(codec))
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


def test_seed_send_sample_has_broken_base64() -> None:
    assert code_of(SEED_SEND) == ResultCd.INVALID_REQUEST


def test_spec_send_sample_with_a_whole_png() -> None:
    raw = body(
        sendDate="202307121530",
        attachment=base64.b64encode(PNG).decode(),
        attachmentExt="PNG",
    )
    request = codec.parse_send_request(raw)
    assert request == codec.SendRequest(
        send_to="+821012345678",
        message="안녕하세요",
        ims_agent_id="ims-demo-web-kr",
        send_date="202307121530",
        attachment=PNG,
        attachment_ext="png",
    )


def test_encode_omits_send_date_and_round_trips() -> None:
    request = codec.SendRequest(
        send_to="+821012345678",
        message="안녕하세요",
        ims_agent_id="ims-demo-web-kr",
        attachment=JPEG,
        attachment_ext="jpg",
    )
    raw = codec.encode_send_request(request)
    assert "sendDate" not in orjson.loads(raw)
    assert codec.parse_send_request(raw) == request
    with pytest.raises(LocalProtocolError):
        codec.encode_send_request(
            codec.SendRequest(
                send_to="+8210", message="x", ims_agent_id="a", attachment=PNG
            )
        )


@given(message=st.text(min_size=1, max_size=600))
def test_text_round_trips(message: str) -> None:
    request = codec.SendRequest(
        send_to="01012345678", message=message, ims_agent_id="a"
    )
    if codec.text_bytes(message) <= codec.MAX_TEXT_BYTES:
        assert codec.parse_send_request(codec.encode_send_request(request)) == request


def test_seed_send_answers() -> None:
    ok = codec.parse_send_answer(SEED_OK)
    assert ok.ok and ok.ims_id == "123e4567-e89b-12d3-a456-556642440000"
    assert ok.ims_req_dttm == "2024-07-09T02:46:48.215Z"
    fail = codec.parse_send_answer(SEED_FAIL)
    assert (fail.ok, fail.result_cd, fail.ims_id) == (False, "110", None)
    assert codec.parse_send_answer(codec.render_send_answer(fail)) == fail


def test_seed_state_sample() -> None:
    answer = codec.parse_info_answer(SEED_STATE)
    data = answer.ims_data
    assert data is not None
    assert data.send_type == "S"
    assert (data.message_sent, data.message_finished, data.message_delivered) == (
        True,
        True,
        True,
    )
    assert data.message_error == 0
    assert codec.parse_info_answer(codec.render_info_answer(answer)) == answer
    rendered = orjson.loads(codec.render_info_answer(answer))["imsData"]
    assert "sendType" in rendered and "send_type" not in rendered


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"not json", ResultCd.INVALID_REQUEST),
        (b"[1, 2]", ResultCd.INVALID_REQUEST),
        (body(sendTo=1012345678), ResultCd.INVALID_REQUEST),
        (body(message=["a"]), ResultCd.INVALID_REQUEST),
        (body(sendType="R", sendDate="202307121530"), ResultCd.INVALID_REQUEST),
        (body(sendTo=...), ResultCd.BAD_NUMBER_FORMAT),
        (body(sendTo="010-1234-5678"), ResultCd.BAD_NUMBER_FORMAT),
        (body(sendTo="0101234567a"), ResultCd.BAD_NUMBER_FORMAT),
        (body(sendTo="+82212345678"), ResultCd.INVALID_NUMBER),  # Seoul landline
        (body(sendTo="0701234567"), ResultCd.INVALID_NUMBER),
        (body(message=""), ResultCd.EMPTY_MESSAGE),
        (body(message=...), ResultCd.EMPTY_MESSAGE),
        (body(message="가" * 1001), ResultCd.INVALID_REQUEST),
        (body(attachment="!!!!", attachmentExt="png"), ResultCd.INVALID_REQUEST),
        (body(attachment=base64.b64encode(PNG).decode()), ResultCd.INVALID_REQUEST),
        (
            body(attachment=base64.b64encode(PNG).decode(), attachmentExt="gif"),
            ResultCd.INVALID_REQUEST,
        ),
        (
            body(attachment=base64.b64encode(JPEG).decode(), attachmentExt="png"),
            ResultCd.INVALID_REQUEST,
        ),
        (
            body(
                attachment=base64.b64encode(
                    PNG + bytes(codec.MAX_ATTACHMENT_BYTES)
                ).decode(),
                attachmentExt="png",
            ),
            ResultCd.INVALID_REQUEST,
        ),
        (body(imsAgentId=...), ResultCd.INVALID_REQUEST),
        (body(imsAgentId="has space"), ResultCd.INVALID_REQUEST),
        (b"{" + b" " * codec.MAX_REQUEST_BYTES + b"}", ResultCd.INVALID_REQUEST),
    ],
)
def test_validation_codes(raw: bytes, code: ResultCd) -> None:
    assert code_of(raw) == code


def test_domestic_and_e164_numbers_accepted() -> None:
    assert codec.parse_send_request(body(sendTo="01012345678")).send_to == "01012345678"
    assert codec.parse_send_request(body(message="가" * 1000)).message == "가" * 1000


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{}",
        b'{"resultCd": true}',
        b'{"resultCd": "OK"}',
        b'{"resultCd": "000", "imsId": null}',
        b'{"resultCd": "000", "imsId": 5}',
        b'{"resultCd": "000", "imsId": "has space"}',
        b'{"resultCd": "110", "resultMsg": 3}',
        b'{"resultCd": "000", "imsId": "' + b"x" * codec.MAX_SEND_ANSWER_BYTES + b'"}',
    ],
)
def test_send_answer_refused(raw: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        codec.parse_send_answer(raw)


def test_send_answer_numeric_code_accepted() -> None:
    assert codec.parse_send_answer(b'{"resultCd": 110}').result_cd == "110"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"resultCd": "000", "imsData": null}',
        b'{"resultCd": "000", "imsData": []}',
        b'{"resultCd": "000", "imsData": {"messageSent": true}}',
        b'{"resultCd": "000", "imsData": {"imsId": "a", "messageSent": "yes"}}',
        b'{"resultCd": "000", "imsData": {"imsId": "a", "messageError": "3"}}',
        b'{"resultCd": "000", "imsData": {"imsId": "a", "messageError": true}}',
        b'{"resultCd": "000", "imsData": {"imsId": "a", "sendTo": 5}}',
        b'{"resultCd": "000", "imsData": {"imsId": "a"',
    ],
)
def test_info_answer_refused(raw: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        codec.parse_info_answer(raw)


def test_info_answer_failure_without_data() -> None:
    answer = codec.parse_info_answer(
        b'{"resultCd": "904", "resultMsg": "x", "imsData": null}'
    )
    assert (answer.result_cd, answer.ims_data) == ("904", None)


def test_nulls_mean_not_yet() -> None:
    answer = codec.parse_info_answer(
        b'{"resultCd": "000", "imsData": {"imsId": "a", "messageSent": null, '
        b'"messageFinished": null, "messageError": null, "sendEndDttm": null}}'
    )
    assert answer.ims_data == codec.ImsData(ims_id="a")


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ((False, True, True, 0), None),
        ((True, True, True, 0), (ResultCode.DELIVERED, "0", "delivered")),
        ((True, True, False, 0), (ResultCode.DELIVERED, "0", "unconfirmed")),
        ((True, False, False, 3001), (ResultCode.FAILED, "3001", "not sent")),
        ((True, False, False, None), (ResultCode.FAILED, "0", "not sent")),
    ],
)
def test_verdict(
    state: tuple[bool, bool, bool, int | None], expected: tuple[Any, ...] | None
) -> None:
    finished, sent, delivered, error = state
    verdict = codes.verdict(
        finished=finished, sent=sent, delivered=delivered, error=error
    )
    if expected is None:
        assert verdict is None
    else:
        assert verdict is not None
        assert (verdict.code, verdict.raw_code) == expected[:2]
        assert expected[2] in verdict.detail


def test_times() -> None:
    when = dt.datetime(2024, 7, 9, 2, 46, 48, 215999, tzinfo=dt.UTC)
    assert codec.format_time(when) == "2024-07-09T02:46:48.215Z"
    assert codec.parse_time("2024-07-09T02:46:48.215Z") == when.replace(
        microsecond=215000
    )
    with pytest.raises(RemoteProtocolError):
        codec.parse_time("yesterday")
