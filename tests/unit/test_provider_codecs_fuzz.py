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
