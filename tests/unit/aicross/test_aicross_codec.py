"""AI CROSS codec: the proposal's samples, a configured shape, validation codes."""

from __future__ import annotations

import ast
import inspect
import urllib.parse

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from umsgate.errors import LocalProtocolError, RemoteProtocolError
from umsgate.protocols.aicross import codec
from umsgate.protocols.aicross.codes import ErrorCode, Status

# Spec §4, the proposal's answers.
ACCEPTED = (
    b'{"status": "accepted", "clientTag": "589406775975211890", "errorCode": null, '
    b'"message": "OK"}'
)
DUPLICATE = (
    b'{"status": "error", "clientTag": "589406775975211890", "errorCode": "40901", '
    b'"message": "duplicate clientTag"}'
)
RESULT = (
    b'{"clientTag": "589406775975211890", "status": "failed", "errorCode": "60001",\n'
    b' "message": "unknown subscriber", "carrier": "docomo", '
    b'"doneAt": "2024-07-09T12:00:05+09:00"}'
)

GOOD = {"token": "t", "to": "+819012345678", "text": "テスト", "clientTag": "c-1"}


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


def test_spec_answers() -> None:
    ok = codec.parse_send_answer(ACCEPTED)
    assert (ok.kind, ok.client_tag, ok.error_code) == (
        codec.AnswerKind.ACCEPTED,
        "589406775975211890",
        None,
    )
    dup = codec.parse_send_answer(DUPLICATE)
    assert (dup.kind, dup.error_code) == (codec.AnswerKind.ERROR, "40901")
    result = codec.parse_result(RESULT)
    assert result == codec.Result(
        client_tag="589406775975211890",
        state=codec.State.FAILED,
        status="failed",
        error_code="60001",
        message="unknown subscriber",
        carrier="docomo",
        done_at="2024-07-09T12:00:05+09:00",
    )
    assert codec.parse_result(codec.render_result(result)) == result


def test_send_request_round_trip_the_straight_quoted_curl_line() -> None:
    # Spec §7.15: curl -X POST -d 'token=…&to=%2B81…&text=…&clientTag=…' URL
    request = codec.SendRequest(
        to="+819012345678", text="テスト", client_tag="c-1", token="t"
    )
    body = codec.encode_send_request(request)
    assert body.startswith(b"token=t&to=%2B819012345678&text=%E3%83%86")
    assert codec.parse_send_request(codec.decode_form(body)) == request
    with pytest.raises(LocalProtocolError):
        codec.encode_send_request(
            codec.SendRequest(to="+819012345678", text="x", client_tag="has space")
        )


def test_configured_shape_and_extra_fields() -> None:
    shape = codec.Shape(
        token_field="apikey",
        to_field="phoneNumber",
        text_field="smsText",
        status_path="result.state",
        error_code_path="result.code",
        client_tag_path="request.0.tag",
        delivered_values=frozenset({"DONE"}),
        failed_values=frozenset({"NG"}),
        delivering_values=frozenset({"WAIT"}),
        accepted_values=frozenset({"OK"}),
        error_values=frozenset({"ERR"}),
    )
    body = codec.encode_send_request(
        codec.SendRequest(to="+819012345678", text="x", client_tag="c", token="k"),
        shape,
        {"senderId": "ACME"},
    )
    assert urllib.parse.parse_qsl(body.decode()) == [
        ("senderId", "ACME"),
        ("apikey", "k"),
        ("phoneNumber", "+819012345678"),
        ("smsText", "x"),
        ("clientTag", "c"),
    ]
    answer = orjson.dumps(
        {"result": {"state": "NG", "code": 60002}, "request": [{"tag": "c"}]}
    )
    result = codec.parse_result(answer, shape)
    assert (result.state, result.error_code, result.client_tag) == (
        codec.State.FAILED,
        "60002",
        "c",
    )
    sent = codec.parse_send_answer(orjson.dumps({"result": {"state": "OK"}}), shape)
    assert sent.kind is codec.AnswerKind.ACCEPTED
    with pytest.raises(RemoteProtocolError, match="not configured"):
        codec.parse_result(orjson.dumps({"result": {"state": "delivered"}}), shape)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"token": ""}, ErrorCode.BAD_TOKEN),
        ({"to": "09012345678"}, ErrorCode.INVALID_PARAMETER),
        ({"to": "+81 90 1234 5678"}, ErrorCode.INVALID_PARAMETER),
        ({"text": ""}, ErrorCode.INVALID_PARAMETER),
        ({"text": "あ" * 671}, ErrorCode.INVALID_PARAMETER),
        ({"clientTag": "x" * 65}, ErrorCode.INVALID_PARAMETER),
        ({"clientTag": ""}, ErrorCode.INVALID_PARAMETER),
    ],
)
def test_validation_codes(change: dict[str, str], code: ErrorCode) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        codec.parse_send_request(GOOD | change)
    assert info.value.code == code


def test_client_tag_is_optional_and_text_limit_inclusive() -> None:
    fields = {k: v for k, v in GOOD.items() if k != "clientTag"} | {"text": "あ" * 670}
    assert codec.parse_send_request(fields).client_tag is None


@pytest.mark.parametrize(
    "body",
    [
        b"text=%FF%FE",
        b"to=\xff",
        b"&".join(b"f%d=1" % i for i in range(codec.MAX_FIELDS + 1)),
    ],
)
def test_bad_forms_refused(body: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        codec.decode_form(body)
    assert info.value.code == ErrorCode.INVALID_PARAMETER


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b"not json",
        b'"text"',
        b'{"status": "teleported"}',
        b'{"status": 5}',
        b'{"status": "failed", "errorCode": ["x"]}',
        b'{"status": "delivered", "message": '
        + b'"'
        + b"x" * codec.MAX_ANSWER_BYTES
        + b'"}',
    ],
)
def test_bad_answers_refused(body: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        codec.parse_result(body)
    with pytest.raises(RemoteProtocolError):
        codec.parse_send_answer(body)


def test_error_answer_is_an_error_state() -> None:
    body = codec.render_answer(
        status=Status.ERROR, client_tag="c", error_code="40401", message="unknown"
    )
    result = codec.parse_result(body)
    assert (result.state, result.error_code) == (codec.State.ERROR, "40401")


def test_dlr_as_json_or_form() -> None:
    as_json = codec.parse_dlr(RESULT, "application/json")
    form = urllib.parse.urlencode(
        {"clientTag": "589406775975211890", "status": "failed", "errorCode": "60001",
         "message": "unknown subscriber", "carrier": "docomo",
         "doneAt": "2024-07-09T12:00:05+09:00"}
    ).encode()  # fmt: skip
    assert codec.parse_dlr(form, "application/x-www-form-urlencoded") == as_json
    with pytest.raises(RemoteProtocolError, match="clientTag"):
        codec.parse_dlr(b'{"status": "delivered"}', "application/json")
    with pytest.raises(RemoteProtocolError):
        codec.parse_dlr(b"{" * (codec.MAX_REQUEST_BYTES + 1), "application/json")


def test_path_get() -> None:
    data = {"a": [{"b": 1}, {"b": 2}]}
    assert codec.path_get(data, "a.1.b") == 2
    assert codec.path_get(data, "a.5.b") is None
    assert codec.path_get(data, "a.x") is None
    assert codec.path_get([{"s": "x"}], "0.s") == "x"


@given(
    text=st.text(min_size=1, max_size=670),
    tag=st.from_regex(codec.CLIENT_TAG_PATTERN, fullmatch=True),
    to=st.from_regex(codec.NUMBER_PATTERN, fullmatch=True),
)
def test_send_request_round_trips(text: str, tag: str, to: str) -> None:
    request = codec.SendRequest(to=to, text=text, client_tag=tag, token="t")
    body = codec.encode_send_request(request)
    parsed = codec.parse_send_request(codec.decode_form(body))
    assert parsed == request
