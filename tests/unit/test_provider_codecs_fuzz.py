"""Property tests of the HTTP providers' codecs (ToBeText, IMS, AICross) on hostile
input: every reader takes any body, as bytes, JSON or form, and gives a value or the
protocol's own `RemoteProtocolError` (the refusal with its code), never another
exception. The round trips of each codec's writers are in the codec's own tests."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import fuzz_settings
from umsgate.errors import RemoteProtocolError
from umsgate.protocols.aicross import codec as aicross
from umsgate.protocols.aicross import codes as aicross_codes
from umsgate.protocols.imsms import codec as imsms
from umsgate.protocols.tobetext import codec as tobetext

SETTINGS = fuzz_settings(50)

#: Field names the readers look for, so that documents reach past the first check.
NAMES = [
    *("Cid", "token", "Ckey", "CKey", "RecvNum", "SendNum", "Body", "callback"),
    *("MsgId", "Status", "ErrorCode", "ErrorMsg", "tobetextresult"),
    *("sendTo", "message", "imsAgentId", "sendType", "sendDate", "attachment"),
    *("attachmentExt", "resultCd", "resultMsg", "imsId", "imsReqDttm", "imsData"),
    *("messageError", "messageFinished", "messageSent", "messageDelivered"),
    *("to", "text", "clientTag", "status", "errorCode", "carrier", "doneAt"),
]
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["0", "000", "200", "S", "L", "M", "Y", "01012345678", "jpg"])
    | st.sampled_from(["accepted", "delivered", "failed", "error", "20240614105206"])
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(NAMES) | st.text(max_size=5), inner, max_size=8
        )
    ),
    max_leaves=20,
)
_documents = st.dictionaries(st.sampled_from(NAMES), _json, max_size=10)


def _form(doc: dict[str, Any]) -> bytes:
    return urllib.parse.urlencode({k: str(v) for k, v in doc.items()}).encode()


def _xml(doc: dict[str, Any]) -> bytes:
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in doc.items())
    return f"<tobetextresult>{inner}</tobetextresult>".encode()


bodies = (
    st.binary(max_size=300)
    | _json.map(orjson.dumps)
    | _documents.map(orjson.dumps)
    | _documents.map(_form)
    | _documents.map(_xml)
    | st.sampled_from(
        [
            b"",
            b"{}",
            b"[]",
            b"null",
            b"<a>",
            b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
        ]
    )
)
content_types = st.sampled_from(
    [
        "",
        "application/x-www-form-urlencoded",
        "application/json",
        "text/xml",
        "multipart/form-data; boundary=x",
        "multipart/form-data",
    ]
)

READERS: dict[str, Callable[[bytes, str], object]] = {
    "tobetext.ack": lambda b, _: tobetext.parse_ack(b),
    "tobetext.callback": lambda b, ct: tobetext.parse_callback(
        b, ct, b.decode("latin-1")
    ),
    "tobetext.send": lambda b, ct: tobetext.parse_send_request(
        tobetext.decode_form(b, ct)
    ),
    "imsms.send": lambda b, _: imsms.parse_send_request(b),
    "imsms.send_answer": lambda b, _: imsms.parse_send_answer(b),
    "imsms.info_answer": lambda b, _: imsms.parse_info_answer(b),
    "aicross.send": lambda b, _: aicross.parse_send_request(aicross.decode_form(b)),
    "aicross.send_answer": lambda b, _: aicross.parse_send_answer(b),
    "aicross.result": lambda b, _: aicross.parse_result(b),
    "aicross.dlr": lambda b, ct: aicross.parse_dlr(b, ct),
}


@pytest.mark.parametrize("reader", sorted(READERS))
@SETTINGS
@given(body=bodies, content_type=content_types)
def test_readers_give_a_value_or_a_protocol_error(
    reader: str, body: bytes, content_type: str
) -> None:
    try:
        READERS[reader](body, content_type)
    except RemoteProtocolError:
        pass


# -- round trips of the answers the faces and simulators write ------------------------

_words = st.text(max_size=30)
#: An optional field: absent, or not empty (an empty one reads as absent).
_some = st.none() | st.text(min_size=1, max_size=30)


@SETTINGS
@given(
    result_cd=st.from_regex(r"\A[0-9]{3}\Z"),
    result_msg=_words,
    ims_req_dttm=_some,
    ims_id=st.from_regex(imsms.IMS_ID_PATTERN, fullmatch=True),
)
def test_ims_send_answer_round_trip(
    result_cd: str, result_msg: str, ims_req_dttm: str | None, ims_id: str
) -> None:
    answer = imsms.SendAnswer(
        result_cd=result_cd,
        result_msg=result_msg,
        ims_id=ims_id,
        ims_req_dttm=ims_req_dttm,
    )
    assert imsms.parse_send_answer(imsms.render_send_answer(answer)) == answer


@SETTINGS
@given(
    status=st.sampled_from(["delivered", "failed", "delivering", "error"]),
    client_tag=_some,
    error_code=_some,
    message=_words,
    carrier=_words,
    done_at=_some,
)
def test_aicross_result_round_trip(
    status: str,
    client_tag: str | None,
    error_code: str | None,
    message: str,
    carrier: str,
    done_at: str | None,
) -> None:
    result = aicross.Result(
        client_tag=client_tag,
        state=aicross.State(status),
        status=status,
        error_code=error_code,
        message=message,
        carrier=carrier,
        done_at=done_at,
    )
    assert aicross.parse_result(aicross.render_result(result)) == result


@SETTINGS
@given(
    status=st.sampled_from(list(aicross_codes.Status)[:2]),
    client_tag=_some,
    error_code=_some,
    message=_words,
)
def test_aicross_send_answer_round_trip(
    status: aicross_codes.Status,
    client_tag: str | None,
    error_code: str | None,
    message: str,
) -> None:
    body = aicross.render_answer(
        status=status, client_tag=client_tag, error_code=error_code, message=message
    )
    assert aicross.parse_send_answer(body) == aicross.SendAnswer(
        kind=aicross.AnswerKind(status.value),
        client_tag=client_tag,
        error_code=error_code,
        message=message,
    )
