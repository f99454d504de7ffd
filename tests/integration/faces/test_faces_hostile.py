"""Hostile input to both faces is refused in the face's own vocabulary: bodies over
the limit (declared or streamed), XML with entity expansion, wrong types, missing
fields, bytes that are neither UTF-8 nor CP949, floods of fields. Never a 500, never a
hang (every request here has a 10 s timeout), and nothing is stored. A 500 comes only
from a store that fails, as a "try again"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
from sqlalchemy import text

from tests.conftest import (
    Running,
    Store,
    make_settings,
    running_gateway,
    status_counts,
)
from tests.integration.faces.conftest import (
    CID,
    FORM,
    IMS_KEY,
    XML_TYPE,
    ack,
    curl_body,
    ims_client,
    send_fields,
    tobetext_client,
)
from umsgate.protocols.imsms import codec as ims_codec
from umsgate.protocols.tobetext import codec
from umsgate.protocols.tobetext.send import src_msg_id

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ToBeTextResult><Ckey>&lol9;</Ckey><Cid>C000123</Cid><token>9f2c1e7a</token></ToBeTextResult>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r><Cid>&x;</Cid></r>"""
#: Neither UTF-8 nor CP949 (0xFF is a lead byte in neither).
GARBAGE = b"\xff\xfe\xff\x80\x81\xc0"


async def chunks(data: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def nothing_stored(running: Running) -> bool:
    return not await status_counts(running.gateway)


async def test_tobetext_face_refuses_hostile_input(store: Store) -> None:
    valid = dict(send_fields("h-1", body="hello"))
    over = codec.MAX_REQUEST_BYTES + 1
    # (what, request keyword arguments, HTTP status, ErrorCode)
    cases: list[tuple[str, dict[str, Any], int, int]] = [
        (
            "a body over 16 KiB",
            {"content": curl_body(send_fields("h-1", body="x" * over))},
            413,
            2005,
        ),
        (
            "a streamed body over 16 KiB (no Content-Length)",
            {"content": chunks(b"Ckey=h-1&Body=" + b"x" * over)},
            413,
            2005,
        ),
        (
            "an XML billion laughs",
            {"content": BILLION_LAUGHS, "headers": {"content-type": "application/xml"}},
            200,
            2006,
        ),
        (
            "an XML external entity",
            {"content": EXTERNAL_ENTITY, "headers": {"content-type": "text/xml"}},
            200,
            2006,
        ),
        ("a JSON body", {"json": valid}, 200, 2006),
        ("an empty body", {"content": b""}, 200, 2006),
        ("bytes that are no text", {"content": GARBAGE * 100}, 200, 2006),
        (
            "Cid of garbage bytes",
            {"content": b"Cid=" + GARBAGE + b"&token=9f2c1e7a", "headers": FORM},
            200,
            2006,
        ),
        (
            "Body of garbage bytes",
            {
                "content": curl_body(send_fields("h-1", body="BODY")).replace(
                    b"BODY", GARBAGE
                ),
                "headers": FORM,
            },
            200,
            2005,
        ),
        (
            "a NUL in the Ckey",
            {"content": curl_body(send_fields("h\x001", body="hi")), "headers": FORM},
            200,
            2001,
        ),
        (
            "broken percent escapes (kept as they are: no account has them)",
            {"content": b"Cid=%zz%&token=%", "headers": FORM},
            200,
            410,
        ),
        (
            "a flood of fields before the real ones",
            {"content": b"a=1&" * 3000 + curl_body(list(valid.items()))},
            200,
            2006,
        ),
        (
            "multipart without a boundary",
            {
                "content": b"--x\r\nContent-Disposition: form-data; name=Cid\r\n\r\n"
                b"C000123\r\n--x--\r\n",
                "headers": {"content-type": "multipart/form-data"},
            },
            200,
            2006,
        ),
        (
            "multipart cut short",
            {
                "content": b'--b\r\nContent-Disposition: form-data; name="Cid"\r\n',
                "headers": {"content-type": "multipart/form-data; boundary=b"},
            },
            200,
            2006,
        ),
        (
            "Body given twice: the first counts",
            {
                "content": curl_body(send_fields("h-1", body="x" * 200))
                + b"&Body=short",
                "headers": FORM,
            },
            200,
            2005,
        ),
    ]
    async with running_gateway(make_settings(store)) as gw:
        await tobetext_client(gw)
        for what, request, status, code in cases:
            r = await gw.http.post("/sms", timeout=10, **request)
            assert r.status_code == status, (what, r.text)
            assert r.headers["content-type"] == XML_TYPE, what
            result = ack(r)
            assert (result.error_code, result.status) == (code, "FAIL"), what
        for method in ("GET", "PUT", "DELETE"):
            r = await gw.http.request(method, "/sms", timeout=10)
            assert r.status_code == 405, method
        assert await nothing_stored(gw)
        # A curl on a Korean Windows console sends CP949: read as such.
        fields = send_fields("cp949", body="안녕하세요 똠방각하")
        r = await gw.http.post("/sms", content=curl_body(fields, "cp949"), headers=FORM)
        assert ack(r).error_code == 200
        row = await gw.gateway.message_by_src(CID, src_msg_id("cp949"))
        assert row is not None and row.content == "안녕하세요 똠방각하"
        # No content type at all (the Java sample sets none of its own).
        r = await gw.http.post(
            "/sms", content=curl_body(send_fields("no-type", body="hi"))
        )
        assert ack(r).error_code == 200
        assert (await gw.http.get("/healthz")).status_code == 200


async def test_imsms_face_refuses_hostile_input(store: Store) -> None:
    over = ims_codec.MAX_REQUEST_BYTES + 1
    headers = {"X-API-KEY": IMS_KEY, "content-type": "application/json"}
    # (what, request keyword arguments, HTTP status, resultCd)
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("a body over 2 MiB", {"content": b"{" + b" " * over + b"}"}, 400, "903"),
        (
            "a streamed body over 2 MiB",
            {"content": chunks(b'{"message": "' + b"x" * over, 65536)},
            400,
            "903",
        ),
        ("an XML billion laughs", {"content": BILLION_LAUGHS}, 400, "903"),
        ("bytes that are no text", {"content": GARBAGE}, 400, "903"),
        ("CP949 JSON", {"content": '{"message": "안녕"}'.encode("cp949")}, 400, "903"),
        ("an empty body", {"content": b""}, 400, "903"),
        ("JSON null", {"content": b"null"}, 400, "903"),
        ("a JSON string", {"content": b'"send"'}, 400, "903"),
        (
            "deeply nested JSON",
            {"content": b"[" * 100_000 + b"]" * 100_000},
            400,
            "903",
        ),
        (
            "a huge number",
            {"content": b'{"sendTo": 1' + b"0" * 5000 + b"}"},
            400,
            "903",
        ),
        (
            "NaN",
            {"content": b'{"sendTo": NaN, "message": "x", "imsAgentId": "a"}'},
            400,
            "903",
        ),
        (
            "an object for the agent",
            {"json": {"sendTo": "01012345678", "message": "x", "imsAgentId": {}}},
            400,
            "903",
        ),
        (
            "attachment a number",
            {"json": {"sendTo": "01012345678", "message": "x", "attachment": 1}},
            400,
            "903",
        ),
        (
            "a sendTo of 10,000 digits",
            {"json": {"sendTo": "0" * 10_000, "message": "x", "imsAgentId": "a"}},
            200,
            "100",
        ),
        (
            "an attachment over 1 MiB",
            {
                "json": {
                    "sendTo": "01012345678",
                    "message": "x",
                    "imsAgentId": "a",
                    "attachment": "A" * 1_500_000,
                    "attachmentExt": "jpg",
                }
            },
            400,
            "903",
        ),
    ]
    async with running_gateway(make_settings(store)) as gw:
        await ims_client(gw)
        for what, request, status, code in cases:
            request_headers = headers | request.pop("headers", {})
            if "json" in request:
                request_headers.pop("content-type")
            r = await gw.http.post(
                "/api/imsms/send", timeout=10, headers=request_headers, **request
            )
            assert (r.status_code, r.json()["resultCd"]) == (status, code), what
            assert r.json()["imsId"] is None, what
        # An X-API-KEY of garbage or of megabytes is simply not a key.
        for key in (b"\xff\xfe", b"k" * 8000):
            r = await gw.http.post(
                "/api/imsms/send",
                json={},
                headers=httpx.Headers({b"X-API-KEY": key}),
                timeout=10,
            )
            assert (r.status_code, r.json()["resultCd"]) == (401, "901")
        for query, status, code in (
            ("imsId=%FF%FE%00", 400, "903"),
            ("imsId=" + "%41" * 5000, 400, "903"),
            ("imsId=%FF&imsId=x", 404, "904"),  # the last one counts
        ):
            r = await gw.http.get(
                "/api/imsms/info?" + query, headers={"X-API-KEY": IMS_KEY}, timeout=10
            )
            assert (r.status_code, r.json()["resultCd"]) == (status, code), query
        for method, path in (("GET", "/api/imsms/send"), ("POST", "/api/imsms/info")):
            r = await gw.http.request(method, path, timeout=10)
            assert r.status_code == 405, path
        assert await nothing_stored(gw)
        assert (await gw.http.get("/healthz")).status_code == 200


async def test_a_failing_store_gets_a_retryable_answer(store: Store) -> None:
    """With the messages table out of reach, both faces answer their "try again"
    (HTTP 500: ToBeText ``FAIL``/500, IMS ``999``), and take messages again once it is
    back. The failure is real: the table is renamed under the running gateway."""
    async with running_gateway(make_settings(store)) as gw:
        await tobetext_client(gw)
        await ims_client(gw)
        body = curl_body(send_fields("s-1", body="hi"))
        ims = {"sendTo": "01012345678", "message": "hi", "imsAgentId": "a"}
        ims_headers = {"X-API-KEY": IMS_KEY}
        sent = await gw.http.post("/api/imsms/send", json=ims, headers=ims_headers)
        ims_id = sent.json()["imsId"]
        async with gw.gateway.db.transaction() as conn:
            await conn.execute(text("ALTER TABLE messages RENAME TO messages_away"))
        try:
            r = await gw.http.post("/sms", content=body, headers=FORM, timeout=10)
            assert r.status_code == 500
            assert (ack(r).error_code, ack(r).status) == (500, "FAIL")
            r = await gw.http.post(
                "/api/imsms/send", json=ims, headers=ims_headers, timeout=10
            )
            assert (r.status_code, r.json()["resultCd"]) == (500, "999")
            r = await gw.http.get(
                "/api/imsms/info",
                params={"imsId": ims_id},
                headers=ims_headers,
                timeout=10,
            )
            assert (r.status_code, r.json()["resultCd"]) == (500, "999")
        finally:
            async with gw.gateway.db.transaction() as conn:
                await conn.execute(text("ALTER TABLE messages_away RENAME TO messages"))
        r = await gw.http.post("/sms", content=body, headers=FORM, timeout=10)
        assert ack(r).error_code == 200
