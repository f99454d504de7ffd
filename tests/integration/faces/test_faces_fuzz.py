"""Every HTTP face of one gateway, over real HTTP, answers generated bodies, forms,
JSON documents and headers in its own vocabulary: ToBeText's XML acknowledgement,
IMS's ``resultCd`` JSON, the native API's ``resultCode`` JSON (or the token
endpoint's OAuth-style error). Never a 5xx (nothing here makes the store fail).

The gateway runs in a thread of its own (`served_in_thread`) so that hypothesis can
drive it with blocking calls; examples are few and the runs derandomized, so the
suite stays quick and repeatable. ``UMSGATE_FUZZ_EXAMPLES`` raises them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import (
    Store,
    fuzz_settings,
    make_settings,
    new_account,
    running_gateway,
    served_in_thread,
)
from tests.integration.faces.conftest import (
    CID,
    IMS_KEY,
    TOKEN,
    XML_TYPE,
    ims_client,
    tobetext_client,
)
from umsgate.protocols.apigw import codes as apigw_codes
from umsgate.protocols.imsms import codes as ims_codes
from umsgate.protocols.tobetext import codec as tobetext_codec
from umsgate.protocols.tobetext import codes as tobetext_codes

FUZZ = fuzz_settings(25)


@dataclasses.dataclass
class Faces:
    url: str
    token: str


@contextlib.asynccontextmanager
async def _gateway(store: Store) -> AsyncIterator[Faces]:
    async with running_gateway(make_settings(store)) as gw:
        await tobetext_client(gw)
        await ims_client(gw)
        acct = await new_account(gw, "native")
        yield Faces(url=gw.url, token=acct.token)


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faces]:
    store = Store(backend="sqlite", data_dir=tmp_path_factory.mktemp("faces") / "data")
    with served_in_thread(lambda: _gateway(store)) as value:
        yield value


@pytest.fixture(scope="module")
def http(faces: Faces) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=faces.url, timeout=10) as client:
        yield client


# -- what requests are made of ---------------------------------------------------------

#: Text a client might send, and text no client should.
_text = st.text(max_size=30) | st.sampled_from(
    ["", " ", "0", "-1", "01012345678", "+821012341234", "Y", "null", "가나다", "\x00"]
)
_scalar = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | _text
_json = st.recursive(
    _scalar | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=4)
    ),
    max_leaves=12,
)


def _fields(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(names) | _text, _scalar, max_size=len(names))


def _form(fields: dict[str, Any], raw: bool) -> bytes:
    pairs = [(k, "" if v is None else str(v)) for k, v in fields.items()]
    if raw:  # as curl -d writes it: not encoded
        return "&".join(f"{k}={v}" for k, v in pairs).encode("utf-8", "replace")
    return urllib.parse.urlencode(pairs).encode()


_content_types = st.sampled_from(
    [
        None,
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=euc-kr",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=b",
        "multipart/form-data",
    ]
)


def _headers(content_type: str | None, extra: dict[str, str]) -> dict[str, str]:
    # What an HTTP client can send at all: printable ASCII, no surrounding blanks.
    headers = {
        k: v.strip() for k, v in extra.items() if v.isascii() and v.isprintable()
    }
    if content_type is not None:
        headers["content-type"] = content_type
    return headers


# -- ToBeText --------------------------------------------------------------------------

_TOBETEXT = ["Cid", "token", "Ckey", "RecvNum", "SendNum", "Body", "callback"]
_tobetext_fields = st.fixed_dictionaries(
    {"Cid": st.just(CID) | _text, "token": st.just(TOKEN) | _text},
    optional={
        "Ckey": _text,
        "RecvNum": st.just("01012345678") | _text,
        "SendNum": st.just("0212345678") | _text,
        "Body": _text,
        "callback": st.just("http://127.0.0.1:9/cb") | _text,
    },
) | _fields(_TOBETEXT)


@FUZZ
@given(
    fields=_tobetext_fields,
    raw=st.booleans(),
    garbage=st.none() | st.binary(max_size=200),
    content_type=_content_types,
)
def test_tobetext_answers_its_xml_ack(
    http: httpx.Client,
    fields: dict[str, Any],
    raw: bool,
    garbage: bytes | None,
    content_type: str | None,
) -> None:
    body = garbage if garbage is not None else _form(fields, raw)
    r = http.post("/sms", content=body, headers=_headers(content_type, {}))
    assert r.status_code < 500, r.text
    assert r.headers["content-type"] == XML_TYPE
    result = tobetext_codec.parse_ack(r.content)
    if result.status == "FAIL":
        assert result.error_code in {int(c) for c in tobetext_codes.AckCode}


# -- IMS -------------------------------------------------------------------------------

_IMS = ["sendTo", "message", "imsAgentId", "sendType", "sendDate", "attachment"]
_ims_docs = _json | _fields([*_IMS, "attachmentExt"])
_ims_codes = {c.value for c in ims_codes.ResultCd}


@FUZZ
@given(
    doc=_ims_docs,
    garbage=st.none() | st.binary(max_size=200),
    key=st.just(IMS_KEY) | _text,
    content_type=_content_types,
)
def test_ims_answers_its_result_code(
    http: httpx.Client,
    doc: Any,
    garbage: bytes | None,
    key: str,
    content_type: str | None,
) -> None:
    body = garbage if garbage is not None else orjson.dumps(doc)
    headers = _headers(content_type, {"X-API-KEY": key})
    r = http.post("/api/imsms/send", content=body, headers=headers)
    assert r.status_code < 500, r.text
    assert r.json()["resultCd"] in _ims_codes
    r = http.get(
        "/api/imsms/info",
        params={"imsId": str(doc)[:40]} if doc is not None else None,
        headers=headers,
    )
    assert r.status_code < 500, r.text
    assert r.json()["resultCd"] in _ims_codes


# -- the native API --------------------------------------------------------------------

_NATIVE = ["srcMsgId", "callback", "receiver", "content", "subject", "fileIds"]
_native_codes = {c.value for c in apigw_codes.Code}


@FUZZ
@given(
    path=st.sampled_from(
        [
            "/v1/message/sms",
            "/v1/message/mms",
            "/v1/message/rcs",
            "/v1/message/kko",
            "/v1/message/xyz",
            "/v1/agent/rpt/sms",
            "/v1/auth/token",
        ]
    ),
    doc=_json | _fields([*_NATIVE, "clientId", "clientSecret", "clientKey"]),
    garbage=st.none() | st.binary(max_size=200),
    token=st.booleans(),
    extra=st.dictionaries(
        st.sampled_from(["originCode", "billCode", "agencyId", "agencyKey"]), _text
    ),
    content_type=_content_types,
)
def test_native_answers_its_result_code(
    http: httpx.Client,
    faces: Faces,
    path: str,
    doc: Any,
    garbage: bytes | None,
    token: bool,
    extra: dict[str, str],
    content_type: str | None,
) -> None:
    if token:
        extra = {**extra, "Authorization": f"Bearer {faces.token}"}
    body = garbage if garbage is not None else orjson.dumps(doc)
    r = http.post(path, content=body, headers=_headers(content_type, extra))
    assert r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/json"
    answer = r.json()
    if path == "/v1/auth/token":
        assert r.status_code in (200, 400, 401, 404)
        assert "accessToken" in answer or "error_description" in answer
    elif r.status_code != 200 or path.startswith("/v1/message/"):
        assert answer["resultCode"] in _native_codes
