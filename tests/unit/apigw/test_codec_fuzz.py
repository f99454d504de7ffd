"""No body or header set makes a parser raise anything but `ValidationError`
(apigw codec): arbitrary JSON documents, and the samples with one field replaced
by an arbitrary JSON value."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.apigw.samples import CASES, NOW
from umsgate.errors import ValidationError
from umsgate.protocols.apigw import codec

#: Every field name any parser reads, so random documents hit the real rules.
FIELDS = sorted(
    {
        "srcMsgId",
        "cmpMsgId",
        "dstCharSet",
        "natCode",
        "countryCode",
        "callback",
        "receiver",
        "content",
        "subject",
        "fileIds",
        "type",
        "chatbotId",
        "brandKey",
        "header",
        "footer",
        "rcsType",
        "expiryOption",
        "templateId",
        "templateParam",
        "buttons",
        "button",
        "copyAllowed",
        "usedFallback",
        "fallback",
        "msgType",
        "title",
        "kplusId",
        "profileKey",
        "wide",
        "templateCode",
        "imageLink",
        "imageUrl",
        "imageFlag",
        "adFlag",
        "reserveTime",
        "expireTime",
        "agencyId",
        "agencyKey",
        "billCode",
        "originCode",
    }
)
HEADERS = ["originCode", "billCode", "agencyId", "agencyKey"]

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30) | st.sampled_from(
    [
        "",
        " ",
        "82",
        "1",
        "Y",
        "N",
        "SMS",
        "MMS",
        "N",
        "01012345678",
        "00113515553",
        "1588-1234",
        "euc-kr",
        "utf-8",
        "AT",
        "INFO",
        "202406101600",
        "2024-06-10T16:00:00+09:00",
        '{"a": 1}',
        "가" * 46,
        "😀",
    ]
)
#: What orjson can decode: 64-bit integers, finite floats, str keys.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.sampled_from(FIELDS)
            | st.sampled_from(["name", "type", "url_pc"])
            | text,
            inner,
            max_size=6,
        )
    ),
    max_leaves=20,
)
bodies = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=12)
header_sets = st.dictionaries(st.sampled_from(HEADERS), text, max_size=4)


def parse_quietly(kind: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    parser = CASES[kind][0]
    # The face hands parsers what orjson decoded; make sure the input could be that.
    assert orjson.loads(orjson.dumps(body)) == body
    try:
        # The face hands headers over with lower-cased names.
        req = parser(body, {k.lower(): v for k, v in headers.items()}, now=NOW)
    except ValidationError as exc:
        assert exc.code and exc.message
        return
    # Whatever passes can be hashed and stored.
    assert len(req.content_hash()) == 64
    orjson.dumps(dict(req.extra))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(codec.PARSERS)), body=bodies, headers=header_sets)
def test_random_documents(
    kind: str, body: dict[str, Any], headers: dict[str, str]
) -> None:
    parse_quietly(kind, body, headers)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(codec.PARSERS)), data=st.data())
def test_samples_with_one_field_replaced(kind: str, data: st.DataObject) -> None:
    _, sample, sample_headers = CASES[kind]
    body = sample()
    name = data.draw(st.sampled_from(sorted(body) + FIELDS))
    body[name] = data.draw(json_values)
    headers = dict(sample_headers())
    if data.draw(st.booleans()):
        headers[data.draw(st.sampled_from(HEADERS))] = data.draw(text)
    parse_quietly(kind, body, headers)


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(sorted(codec.PARSERS)), data=st.data())
def test_fallbacks_with_random_fields(kind: str, data: st.DataObject) -> None:
    if kind not in ("rcs", "kko"):
        kind = "rcs"
    _, sample, sample_headers = CASES[kind]
    fallback = data.draw(
        st.dictionaries(
            st.sampled_from(["type", "subject", "content", "fileIds", "originCode"]),
            json_values | st.sampled_from(["SMS", "LMS", "MMS", "N"]),
        )
    )
    body = sample(
        usedFallback=data.draw(json_values | st.just(True)), fallback=fallback
    )
    parse_quietly(kind, body, dict(sample_headers()))


@settings(max_examples=50, deadline=None)
@given(value=json_values)
def test_parse_time_takes_anything(value: Any) -> None:
    try:
        got = codec.parse_time(value, "reserveTime")
    except ValidationError:
        return
    assert got is None or isinstance(got, float)
