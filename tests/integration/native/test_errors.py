"""Every refusal a send request can meet (apigw spec §13.1), over HTTP: the status,
the resultCode, a message that names the field, and nothing stored."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.conftest import (
    Account,
    Running,
    Store,
    make_settings,
    new_account,
    running_gateway,
    sms_body,
)
from tests.integration.native.support import (
    count_messages,
    kko_body,
    lms_body,
    rcs_body,
    upload_ok,
)
from tests.unit.apigw.images import jpeg


@dataclasses.dataclass
class Case:
    """One request and the refusal it must get."""

    name: str
    path: str
    status: int
    code: str
    #: Texts the resultMessage must contain (the field, mostly).
    says: tuple[str, ...]
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] | None = None


async def check(running: Running, acct: Account, cases: list[Case]) -> None:
    """Send every case; fail with the list of those answered otherwise."""
    wrong = []
    for case in cases:
        headers = (
            case.headers
            if case.headers is not None
            else (
                acct.rcs_headers()
                if case.path.endswith(("rcs", "kko"))
                else acct.headers()
            )
        )
        if case.raw is not None:
            r = await running.http.post(
                case.path,
                content=case.raw,
                headers={**headers, "Content-Type": "application/json"},
            )
        else:
            r = await running.http.post(case.path, json=case.body, headers=headers)
        try:
            doc = r.json()
        except ValueError:
            doc = {}
        ok = (
            r.status_code == case.status
            and set(doc) == {"resultCode", "resultMessage"}
            and doc["resultCode"] == case.code
            and all(s in doc["resultMessage"] for s in case.says)
        )
        if not ok:
            wrong.append(
                f"{case.name}: expected {case.status}/{case.code} naming {case.says}, "
                f"got "
                f"{r.status_code} {r.text[:300]}"
            )
    assert not wrong, "\n".join(wrong)


async def chunks(data: bytes, size: int = 8192) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_refusals_of_send_requests(store: Store) -> None:
    async with running_gateway(make_settings(store)) as gw:
        acct = await new_account(gw, "acme")
        other = await new_account(gw, "other")
        own_file = await upload_ok(gw, acct, b"own")
        foreign_file = await upload_ok(gw, other, b"foreign")
        stale = await gw.gateway.files.put(
            acct.client_id, "old.jpg", jpeg(tag=b"old"), now=time.time() - 31 * 86400
        )
        no_origin = {k: v for k, v in acct.headers().items() if k != "originCode"}
        no_agency = {k: v for k, v in acct.rcs_headers().items() if k != "agencyKey"}
        cases = [
            # 40000: not JSON, or wrong types.
            Case(
                "not json",
                "/v1/message/sms",
                400,
                "40000",
                ("JSON",),
                raw=b'{"srcMsgId": ',
            ),
            Case(
                "not an object",
                "/v1/message/sms",
                400,
                "40000",
                ("object",),
                body=[sms_body("e")],
            ),
            Case(
                "content type",
                "/v1/message/sms",
                400,
                "40000",
                ("content",),
                body=sms_body("e", content=12345),
            ),
            Case(
                "fileIds type",
                "/v1/message/mms",
                400,
                "40000",
                ("fileIds",),
                body=lms_body("e", fileIds="ABC"),
            ),
            Case(
                "boolean type",
                "/v1/message/kko",
                400,
                "40000",
                ("adFlag",),
                body=kko_body("e", adFlag="maybe"),
            ),
            # 40010: required field or header missing.
            Case(
                "receiver",
                "/v1/message/sms",
                400,
                "40010",
                ("receiver",),
                body={k: v for k, v in sms_body("e").items() if k != "receiver"},
            ),
            Case(
                "content",
                "/v1/message/sms",
                400,
                "40010",
                ("content",),
                body=sms_body("e", content=""),
            ),
            Case(
                "srcMsgId",
                "/v1/message/mms",
                400,
                "40010",
                ("srcMsgId",),
                body={k: v for k, v in lms_body("e").items() if k != "srcMsgId"},
            ),
            Case(
                "LMS content",
                "/v1/message/mms",
                400,
                "40010",
                ("content",),
                body={k: v for k, v in lms_body("e").items() if k != "content"},
            ),
            Case(
                "originCode header",
                "/v1/message/sms",
                400,
                "40010",
                ("originCode",),
                body=sms_body("e"),
                headers=no_origin,
            ),
            Case(
                "agencyKey header",
                "/v1/message/rcs",
                400,
                "40010",
                ("agencyKey",),
                body=rcs_body("e"),
                headers=no_agency,
            ),
            Case(
                "templateParam",
                "/v1/message/rcs",
                400,
                "40010",
                ("templateParam",),
                body=rcs_body("e", templateParam=None),
            ),
            Case(
                "RCS footer when advertising",
                "/v1/message/rcs",
                400,
                "40010",
                ("footer",),
                body=rcs_body("e", header="1"),
            ),
            Case(
                "fallback",
                "/v1/message/kko",
                400,
                "40010",
                ("fallback",),
                body=kko_body("e", usedFallback=True),
            ),
            Case(
                "fallback content",
                "/v1/message/kko",
                400,
                "40010",
                ("fallback.content",),
                body=kko_body("e", usedFallback=True, fallback={"type": "SMS"}),
            ),
            Case(
                "templateCode of AlimTalk",
                "/v1/message/kko",
                400,
                "40010",
                ("templateCode",),
                body=kko_body("e", templateCode=""),
            ),
            # 40011: too long.
            Case(
                "SMS 91 bytes",
                "/v1/message/sms",
                400,
                "40011",
                ("content", "90"),
                body=sms_body("e", content="x" * 91),
            ),
            Case(
                "SMS 46 Hangul",
                "/v1/message/sms",
                400,
                "40011",
                ("content", "92 bytes"),
                body=sms_body("e", content="가" * 46),
            ),
            Case(
                "LMS 2001 bytes",
                "/v1/message/mms",
                400,
                "40011",
                ("content", "2000"),
                body=lms_body("e", content="가" * 1000 + "x"),
            ),
            Case(
                "subject",
                "/v1/message/mms",
                400,
                "40011",
                ("subject", "120"),
                body=lms_body("e", subject="제" * 61),
            ),
            Case(
                "srcMsgId",
                "/v1/message/sms",
                400,
                "40011",
                ("srcMsgId", "20"),
                body=sms_body("s" * 21),
            ),
            Case(
                "billCode",
                "/v1/message/sms",
                400,
                "40011",
                ("billCode",),
                body=sms_body("e"),
                headers={**acct.headers(), "billCode": "123456"},
            ),
            Case(
                "KakaoTalk buttons",
                "/v1/message/kko",
                400,
                "40011",
                ("buttons",),
                body=kko_body("e", buttons=[{"name": "b", "type": "BK"}] * 6),
            ),
            # 40012: a value that is not allowed.
            Case(
                "dstCharSet",
                "/v1/message/sms",
                400,
                "40012",
                ("dstCharSet", "latin-1"),
                body=sms_body("e", dstCharSet="latin-1"),
            ),
            Case(
                "natCode",
                "/v1/message/sms",
                400,
                "40012",
                ("natCode",),
                body=sms_body("e", natCode=1),
            ),
            Case(
                "unencodable",
                "/v1/message/sms",
                400,
                "40012",
                ("content", "U+1F600"),
                body=sms_body("e", content="hi 😀"),
            ),
            Case(
                "RCS OTP",
                "/v1/message/rcs",
                400,
                "40012",
                ("type", "OTP"),
                body=rcs_body("e", type="OTP"),
            ),
            Case(
                "expiryOption",
                "/v1/message/rcs",
                400,
                "40012",
                ("expiryOption",),
                body=rcs_body("e", expiryOption="9"),
            ),
            Case(
                "msgType",
                "/v1/message/kko",
                400,
                "40012",
                ("msgType",),
                body=kko_body("e", msgType="XX"),
            ),
            Case(
                "expireTime past",
                "/v1/message/sms",
                400,
                "40012",
                ("expireTime",),
                body=sms_body("e", expireTime="202001010000"),
            ),
            Case(
                "NUL in the content",
                "/v1/message/sms",
                400,
                "40012",
                ("content", "NUL"),
                body=sms_body("e", content="a\u0000b"),
            ),
            Case(
                "NUL in the fallback",
                "/v1/message/rcs",
                400,
                "40012",
                ("fallback.content", "NUL"),
                body=rcs_body("e", fallback={"type": "SMS", "content": "\u0000"}),
            ),
            Case(
                "unknown channel",
                "/v1/message/fax",
                400,
                "40012",
                ("fax",),
                body=sms_body("e"),
            ),
            # 40013: the sender.
            Case(
                "callback",
                "/v1/message/sms",
                400,
                "40013",
                ("callback", "12345"),
                body=sms_body("e", callback="12345"),
            ),
            Case(
                "chatbotId",
                "/v1/message/rcs",
                400,
                "40013",
                ("chatbotId",),
                body=rcs_body("e", chatbotId="00113515553"),
            ),
            Case(
                "KakaoTalk callback",
                "/v1/message/kko",
                400,
                "40013",
                ("callback",),
                body=kko_body("e", callback="99"),
            ),
            # 40015: the receiver, in the seed's words.
            Case(
                "receiver",
                "/v1/message/sms",
                400,
                "40015",
                ("00113515553는 잘못된 수신번호 형식입니다.",),
                body=sms_body("e", receiver="00113515553"),
            ),
            Case(
                "landline receiver",
                "/v1/message/mms",
                400,
                "40015",
                ("0212345678", "수신번호"),
                body=lms_body("e", receiver="0212345678"),
            ),
            Case(
                "RCS receiver",
                "/v1/message/rcs",
                400,
                "40015",
                ("수신번호",),
                body=rcs_body("e", receiver="+8210"),
            ),
            # 40016: files.
            Case(
                "four files",
                "/v1/message/mms",
                400,
                "40016",
                ("fileIds",),
                body=lms_body("e", fileIds=[own_file] * 4),
            ),
            Case(
                "unknown file",
                "/v1/message/mms",
                400,
                "40016",
                ("fileIds", "0GBBSVB5JSAYS"),
                body=lms_body("e", fileIds=[own_file, "0GBBSVB5JSAYS"]),
            ),
            Case(
                "foreign file",
                "/v1/message/mms",
                400,
                "40016",
                ("fileIds", foreign_file),
                body=lms_body("e", fileIds=[foreign_file]),
            ),
            Case(
                "expired file",
                "/v1/message/mms",
                400,
                "40016",
                ("fileIds", stale.file_id),
                body=lms_body("e", fileIds=[stale.file_id]),
            ),
            Case(
                "foreign fallback file",
                "/v1/message/rcs",
                400,
                "40016",
                ("fallback.fileIds",),
                body=rcs_body(
                    "e",
                    fallback={
                        "type": "MMS",
                        "subject": "s",
                        "content": "c",
                        "fileIds": [foreign_file],
                    },
                ),
            ),
        ]
        await check(gw, acct, cases)
        assert await count_messages(gw, acct.client_id) == 0

        # Bodies over 64 KiB (§14) are refused before they are parsed.
        limit = gw.gateway.settings.server.max_body
        assert limit == 65536  # apigw spec §14
        padding = sms_body("big", memo="")
        base = len(httpx.Request("POST", "/", json=padding).content)
        fits = sms_body("big", memo="x" * (limit - base))
        over = sms_body("big", memo="x" * (limit - base + 1))
        r = await gw.http.post("/v1/message/sms", json=fits, headers=acct.headers())
        assert r.status_code == 200, r.text
        for body in (over, sms_body("big", memo="x" * 10 * limit)):
            r = await gw.http.post("/v1/message/sms", json=body, headers=acct.headers())
            assert r.status_code == 400
            assert r.json()["resultCode"] == "40011"
            assert "65536" in r.json()["resultMessage"]
        # Without a Content-Length (chunked), the limit holds while reading.
        raw = httpx.Request(
            "POST", "/", json=sms_body("big2", memo="x" * limit)
        ).content
        r = await gw.http.post(
            "/v1/message/sms",
            content=chunks(raw),
            headers={**acct.headers(), "Content-Type": "application/json"},
        )
        assert r.status_code == 400
        assert r.json()["resultCode"] == "40011"
        assert await count_messages(gw, acct.client_id) == 1  # the one that fit
