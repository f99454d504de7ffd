"""ToBeText codec: the seed's and spec's samples, validation codes, hostile input."""

from __future__ import annotations

import ast
import inspect
import urllib.parse

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from umsgate.errors import LocalProtocolError, RemoteProtocolError
from umsgate.protocols.tobetext import codec
from umsgate.protocols.tobetext.codes import AckCode

# The seed's "Response Sample", byte for byte (no CKey, spaces between elements).
SEED_ACK = (
    b"<ToBeTextResult> <Status>SUCCESS</Status> "
    b"<MsgId>41aa33709703dea382c10a057823ffdc</MsgId> "
    b"<SendNum>821012341234</SendNum> <RecvNum>821012341234</RecvNum> "
    b"<ErrorCode>200</ErrorCode> <ErrorMsg>Message successfully sent</ErrorMsg> "
    b"</ToBeTextResult>"
)

# Spec §8, the request example.
SPEC_REQUEST = (
    b"Ckey=ord-20240709-0001&RecvNum=%2B821012341234&SendNum=%2B821012341234"
    b"&Body=Your%20code%20is%20123456&Cid=C000123&token=9f2c1e7a"
    b"&callback=https%3A%2F%2Fyourdomain.com%2Frecv%2F"
)

# Spec §8, the callback example.
SPEC_CALLBACK = (
    b"CKey=ord-20240709-0001&Status=SUCCESS&MsgId=41aa33709703dea382c10a057823ffdc"
    b"&SendNum=821012341234&RecvNum=821012341234&ErrorCode=200&ErrorMsg=Success"
)

GOOD = {
    "ckey": "ord-1",
    "recvnum": "+821012341234",
    "sendnum": "+821012341234",
    "body": "hello",
    "cid": "C000123",
    "token": "9f2c1e7a",
}


def test_codec_is_sans_io() -> None:
    tree = ast.parse(inspect.getsource(codec))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert not imported & {"asyncio", "socket", "logging", "httpx", "starlette", "time"}


def test_seed_ack_sample_parses() -> None:
    ack = codec.parse_ack(SEED_ACK)
    assert ack == codec.Result(
        ckey="",
        status="SUCCESS",
        msg_id="41aa33709703dea382c10a057823ffdc",
        send_num="821012341234",
        recv_num="821012341234",
        error_code=200,
        error_msg="Message successfully sent",
    )
    assert ack.success


def test_ack_with_declaration_and_odd_case_parses() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<ToBeTextResult><CKEY>k</CKEY>'
        b"<Status>FAIL</Status><errorcode>410</errorcode></ToBeTextResult>"
    )
    ack = codec.parse_ack(body)
    assert (ack.ckey, ack.error_code, ack.success) == ("k", 410, False)


def test_spec_request_example_is_what_the_connector_sends() -> None:
    request = codec.SendRequest(
        ckey="ord-20240709-0001",
        recv_num="+821012341234",
        send_num="+821012341234",
        body="Your code is 123456",
        cid="C000123",
        token="9f2c1e7a",
        callback="https://yourdomain.com/recv/",
    )
    assert codec.encode_send_request(request) == SPEC_REQUEST
    fields = codec.decode_form(SPEC_REQUEST, "application/x-www-form-urlencoded")
    assert codec.parse_send_request(fields) == request


def test_spec_callback_example_parses_and_renders() -> None:
    result = codec.parse_callback(SPEC_CALLBACK, "application/x-www-form-urlencoded")
    assert result.ckey == "ord-20240709-0001"
    assert result.msg_id == "41aa33709703dea382c10a057823ffdc"
    assert result.error_code == 200
    assert codec.render_callback(result) == SPEC_CALLBACK


def test_callback_as_query_string_and_as_xml() -> None:
    from_query = codec.parse_callback(b"", "", SPEC_CALLBACK.decode())
    from_xml = codec.parse_callback(
        codec.render_ack(from_query), "application/xml; charset=UTF-8"
    )
    assert from_query == from_xml
    assert from_query.error_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"CKey=&MsgId=&ErrorCode=200",  # names nothing
        b"CKey=k&ErrorCode=two",  # ErrorCode not a number
        b"CKey=k",  # no ErrorCode
        b"<ToBeTextResult><CKey>k</CKey>",  # truncated XML
    ],
)
def test_callback_refused(body: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        codec.parse_callback(body, "application/x-www-form-urlencoded")


def test_render_ack_escapes_markup() -> None:
    result = codec.Result(ckey="a", error_code=2005, error_msg="<Body> & </x>")
    assert codec.parse_ack(codec.render_ack(result)) == result


_xml_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"
    ),
    max_size=40,
).map(str.strip)


@given(
    ckey=st.from_regex(codec.CKEY_PATTERN, fullmatch=True),
    msg_id=st.text(alphabet="0123456789abcdef", max_size=34),
    error_msg=_xml_text,
    code=st.integers(min_value=0, max_value=99999),
)
def test_result_round_trips(ckey: str, msg_id: str, error_msg: str, code: int) -> None:
    result = codec.Result(
        ckey=ckey,
        status="FAIL",
        msg_id=msg_id,
        send_num="821012341234",
        recv_num="821012341234",
        error_code=code,
        error_msg=error_msg,
    )
    assert codec.parse_ack(codec.render_ack(result)) == result
    assert codec.parse_callback(codec.render_callback(result), "") == result


# ---------------------------------------------------------------- form decoding


def test_form_utf8_and_cp949_bytes() -> None:
    utf8 = b"Body=" + urllib.parse.quote("안녕하세요").encode()
    assert codec.decode_form(utf8, "")["body"] == "안녕하세요"
    # curl -d with a CP949 terminal sends raw bytes, not percent-escapes.
    raw = b"Body=" + "안녕하세요".encode("cp949") + b"&Cid=x"
    assert codec.decode_form(raw, "application/x-www-form-urlencoded") == {
        "body": "안녕하세요",
        "cid": "x",
    }


def test_form_names_case_insensitive_first_wins() -> None:
    fields = codec.decode_form(b"CKEY=a&ckey=b&Body=x+y", "")
    assert fields == {"ckey": "a", "body": "x y"}


def test_multipart_form_like_the_php_sample() -> None:
    boundary = "----bnd"
    parts = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in [("Ckey", "m1"), ("Body", "메시지본문"), ("Cid", "C1")]
    )
    body = (parts + f"--{boundary}--\r\n").encode()
    fields = codec.decode_form(body, f"multipart/form-data; boundary={boundary}")
    assert fields == {"ckey": "m1", "body": "메시지본문", "cid": "C1"}


def test_broken_multipart_gives_no_fields() -> None:
    assert codec.decode_form(b"garbage", "multipart/form-data; boundary=x") == {}


# ---------------------------------------------------------------- validation


def _code(fields: dict[str, str]) -> int | str | None:
    with pytest.raises(RemoteProtocolError) as info:
        codec.parse_send_request(fields)
    return info.value.code


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"cid": ""}, AckCode.CID),
        ({"cid": "has space"}, AckCode.CID),
        ({"token": ""}, AckCode.TOKEN),
        ({"token": "x" * 65}, AckCode.TOKEN),
        ({"ckey": ""}, AckCode.CKEY),
        ({"ckey": "a/b"}, AckCode.CKEY),
        ({"ckey": "k" * 65}, AckCode.CKEY),
        ({"recvnum": "010-1234-1234"}, AckCode.RECV_NUM),
        ({"recvnum": "+1234567"}, AckCode.RECV_NUM),
        ({"recvnum": "01012341234"}, AckCode.COUNTRY_CODE),
        ({"recvnum": "+99912345678"}, AckCode.COUNTRY_CODE),
        ({"recvnum": "+821000000"}, AckCode.RECV_NUM),
        ({"sendnum": "abc"}, AckCode.SEND_NUM),
        ({"body": ""}, AckCode.BODY),
        ({"body": "x" * 161}, AckCode.BODY),
        ({"body": "가" * 81}, AckCode.BODY),
        ({"body": "a" * 79 + "é" + "b"}, AckCode.BODY),
        ({"body": "bad \ufffd byte"}, AckCode.BODY),
    ],
)
def test_validation_codes(change: dict[str, str], code: AckCode) -> None:
    assert _code(GOOD | change) == code


def test_first_broken_field_decides() -> None:
    assert _code(GOOD | {"token": "", "body": ""}) == AckCode.TOKEN
    assert _code(GOOD | {"ckey": "", "recvnum": ""}) == AckCode.CKEY


def test_body_limits_are_inclusive() -> None:
    assert codec.parse_send_request(GOOD | {"body": "x" * 160}).body == "x" * 160
    assert codec.parse_send_request(GOOD | {"body": "가" * 80}).body == "가" * 80


def test_numbers_with_or_without_plus() -> None:
    request = codec.parse_send_request(GOOD | {"recvnum": "821012341234"})
    assert request.recv_num == "821012341234"


def test_unusable_callback_is_dropped() -> None:
    assert codec.parse_send_request(GOOD | {"callback": "ftp://x/"}).callback is None
    assert codec.parse_send_request(GOOD | {"callback": "/recv"}).callback is None
    url = "http://yourdomain.com/recv/"
    assert codec.parse_send_request(GOOD | {"callback": url}).callback == url


def test_error_result_echoes_printable_values() -> None:
    error = codec.refusal(AckCode.AUTH_FAILED, "no")
    result = codec.error_result(GOOD | {"ckey": "bad key"}, error)
    assert result.ckey == ""
    assert (result.status, result.error_code) == ("FAIL", 410)
    assert result.recv_num == "821012341234"
    assert result.error_msg == "Authentication Failed"


def test_encoder_refuses_bad_values() -> None:
    request = codec.SendRequest(
        ckey="a b", recv_num="+821012341234", send_num="+821012341234",
        body="x", cid="c", token="t",
    )  # fmt: skip
    with pytest.raises(LocalProtocolError):
        codec.encode_send_request(request)


# ---------------------------------------------------------------- hostile XML

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<ToBeTextResult><ErrorMsg>&lol3;</ErrorMsg><ErrorCode>200</ErrorCode></ToBeTextResult>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ToBeTextResult><ErrorMsg>&xxe;</ErrorMsg><ErrorCode>200</ErrorCode></ToBeTextResult>"""

DTD_ONLY = b"""<?xml version="1.0"?><!DOCTYPE ToBeTextResult SYSTEM "http://x/t.dtd">
<ToBeTextResult><ErrorCode>200</ErrorCode></ToBeTextResult>"""


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        DTD_ONLY,
        b"",
        b"not xml",
        b"<ToBeTextResult><ErrorCode>200</ErrorCode>",
        b"<Other><ErrorCode>200</ErrorCode></Other>",
        b"<ToBeTextResult><ErrorCode>OK</ErrorCode></ToBeTextResult>",
        b"<ToBeTextResult><ErrorCode>-1</ErrorCode></ToBeTextResult>",
        b"<ToBeTextResult><ErrorCode>200</ErrorCode><MsgId>"
        + b"a" * 65
        + b"</MsgId></ToBeTextResult>",
        b"<ToBeTextResult><ErrorMsg>"
        + b"x" * codec.MAX_ACK_BYTES
        + b"</ErrorMsg><ErrorCode>200</ErrorCode></ToBeTextResult>",
    ],
)
def test_hostile_or_malformed_ack_refused(body: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        codec.parse_ack(body)


def test_oversized_callback_refused() -> None:
    body = b"CKey=k&ErrorCode=200&ErrorMsg=" + b"x" * codec.MAX_REQUEST_BYTES
    with pytest.raises(RemoteProtocolError):
        codec.parse_callback(body, "application/x-www-form-urlencoded")


def test_recvnum_validity_agrees_with_the_library() -> None:
    """The receiver check takes umsgate's phone fast path for Korean numbers; it
    says what the library says, for Korean numbers of every start and length and
    for other countries'."""

    def library(digits: str) -> bool:
        try:
            return phonenumbers.is_valid_number(phonenumbers.parse("+" + digits))
        except phonenumbers.NumberParseException:
            return False

    numbers = [
        f"82{start}{tail * 12}"[: 2 + length]
        for start in range(10, 100)
        for length in range(7, 12)
        for tail in ("0", "5", "9")
    ]
    numbers += ["8190123456789"[:n] for n in range(9, 14)]
    numbers += ["14155552671", "447911123456", "8613912345678", "999123456789"]
    for digits in numbers:
        assert codec._valid_number(digits) == library(digits), digits
