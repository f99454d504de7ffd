"""File upload and file check (apigw spec §4, §5, resolutions 1–5)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time

from tests.conftest import Running, Store, make_settings, new_account, running_gateway
from tests.integration.native.support import KST, count_files, upload
from tests.unit.apigw.images import jpeg, png
from umsgate.files import MAX_FILE_BYTES

FILE_ID = re.compile(r"^[0-9A-Z]{13}$")
EXPIRE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")  # KST, no offset


def kst_epoch(expire_time: str) -> float:
    return dt.datetime.fromisoformat(expire_time).replace(tzinfo=KST).timestamp()


async def uploads_and_checks(gw: Running) -> None:
    acct = await new_account(gw, "acme")
    other = await new_account(gw, "other")
    image = jpeg(tag=b"coupon")

    before = time.time()
    r = await upload(gw.http, acct, image, name="coupon.jpg")
    assert r.status_code == 200, r.text
    first = r.json()
    assert set(first) == {"resultCode", "resultMessage", "fileId", "expireTime"}
    assert (first["resultCode"], first["resultMessage"]) == (
        "10001",
        "이미지 등록 성공",
    )
    assert FILE_ID.match(first["fileId"])
    assert EXPIRE_TIME.match(first["expireTime"])
    expires = kst_epoch(first["expireTime"])
    assert before + 30 * 86400 - 2 <= expires <= time.time() + 30 * 86400 + 1

    # The same bytes again, under another name: 41000 with the same id and expiry.
    r = await upload(gw.http, acct, image, name="again.jpeg")
    assert r.status_code == 400
    assert r.json() == {
        "resultCode": "41000",
        "resultMessage": "이미 등록된 이미지 입니다.",
        "fileId": first["fileId"],
        "expireTime": first["expireTime"],
    }
    # Duplicates are per client: another client gets a file of its own.
    r = await upload(gw.http, other, image)
    assert r.status_code == 200 and r.json()["resultCode"] == "10001"
    assert r.json()["fileId"] != first["fileId"]
    other_file = r.json()["fileId"]

    # The file check (§5) for an own file.
    r = await gw.http.get(f"/v1/storage/{first['fileId']}", headers=acct.headers())
    assert r.status_code == 200
    assert r.json() == {
        "fileData": {
            "fileId": first["fileId"],
            "fileName": "coupon.jpg",
            "fileExtension": "jpg",
            "fileMd5": hashlib.md5(image).hexdigest(),
            "expireTime": first["expireTime"],
            "exist": True,
        }
    }
    # Unknown and foreign ids: exist false and nothing else (resolution 5).
    for path, file_id in (
        ("0GBBSVB5JSAYS", "0GBBSVB5JSAYS"),
        (other_file, other_file),
        ("a%00b", "a\u0000b"),
        ("x" * 300, "x" * 300),
        ("%EA%B0%80", "가"),
    ):
        r = await gw.http.get(f"/v1/storage/{path}", headers=acct.headers())
        assert r.status_code == 200
        assert r.json() == {"fileData": {"fileId": file_id, "exist": False}}
    # An expired own file does not exist either.
    stale = await gw.gateway.files.put(
        acct.client_id, "old.jpg", jpeg(tag=b"old"), now=time.time() - 31 * 86400
    )
    r = await gw.http.get(f"/v1/storage/{stale.file_id}", headers=acct.headers())
    assert r.json() == {"fileData": {"fileId": stale.file_id, "exist": False}}

    # A stored copy with less than a day left is not reused: a new id (§4).
    ageing = jpeg(tag=b"ageing")
    old = await gw.gateway.files.put(
        acct.client_id, "ageing.jpg", ageing, now=time.time() - 29.5 * 86400
    )
    r = await upload(gw.http, acct, ageing)
    assert (r.status_code, r.json()["resultCode"]) == (200, "10001")
    assert r.json()["fileId"] != old.file_id
    r = await upload(gw.http, acct, ageing)
    assert (r.status_code, r.json()["resultCode"]) == (400, "41000")

    # Resolution 1: GET with a multipart body uploads, as the seed documents.
    r = await upload(gw.http, acct, jpeg(tag=b"get"), method="GET")
    assert r.status_code == 200, r.text
    assert r.json()["resultCode"] == "10001"
    file_id = r.json()["fileId"]
    r = await upload(gw.http, acct, jpeg(tag=b"get"), method="GET")
    assert (r.status_code, r.json()["resultCode"], r.json()["fileId"]) == (
        400,
        "41000",
        file_id,
    )
    r = await gw.http.get(f"/v1/storage/{file_id}", headers=acct.headers())
    assert r.json()["fileData"]["exist"] is True
    # Without a body it is a file check of the id "file".
    r = await gw.http.get("/v1/storage/file", headers=acct.headers())
    assert r.status_code == 200
    assert r.json() == {"fileData": {"fileId": "file", "exist": False}}


async def refusals(gw: Running) -> None:
    acct = await new_account(gw, "refused")

    # Not a JPEG, whatever the name says (41001).
    for data in (png(), b"just some text\n" * 10, jpeg()[:40]):
        r = await upload(gw.http, acct, data, name="photo.jpg")
        assert r.status_code == 400, r.text
        assert r.json()["resultCode"] == "41001"
        assert "img" in r.json()["resultMessage"]

    # The size limit is 1,048,576 bytes (41002), however the limit is hit.
    r = await upload(gw.http, acct, jpeg(size=MAX_FILE_BYTES, tag=b"max"))
    assert r.status_code == 200 and r.json()["resultCode"] == "10001", r.text
    for size in (MAX_FILE_BYTES + 1, 2 * MAX_FILE_BYTES):
        r = await upload(gw.http, acct, jpeg(size=size))
        assert r.status_code == 400, size
        assert r.json()["resultCode"] == "41002"
        assert "img" in r.json()["resultMessage"]
        assert "1048576" in r.json()["resultMessage"]

    # The field must be called img (40010).
    r = await upload(gw.http, acct, jpeg(tag=b"field"), field="file")
    assert r.status_code == 400
    assert r.json()["resultCode"] == "40010"
    assert "img" in r.json()["resultMessage"]
    r = await gw.http.post(
        "/v1/storage/file",
        json={"img": "base64?"},
        headers={"Authorization": f"Bearer {acct.token}"},
    )
    assert r.status_code == 400 and r.json()["resultCode"] == "40010"
    assert "img" in r.json()["resultMessage"]
    r = await gw.http.post(
        "/v1/storage/file",
        content=b"--x\r\nbroken",
        headers={
            "Authorization": f"Bearer {acct.token}",
            "Content-Type": "multipart/form-data; boundary=x",
        },
    )
    # A body that ends before its first part holds no img.
    assert (r.status_code, r.json()["resultCode"]) == (400, "40010"), r.text
    r = await gw.http.post(
        "/v1/storage/file",
        content=b"whatever",
        headers={
            "Authorization": f"Bearer {acct.token}",
            "Content-Type": "multipart/form-data",
        },
    )
    # No boundary: the body cannot be parsed at all.
    assert (r.status_code, r.json()["resultCode"]) == (400, "40000"), r.text
    assert "multipart" in r.json()["resultMessage"]

    # Nothing refused was stored: the only file is the 1 MiB one.
    assert await count_files(gw, acct.client_id) == 1


async def test_files(store: Store) -> None:
    async with running_gateway(make_settings(store)) as gw:
        await uploads_and_checks(gw)
        await refusals(gw)


async def test_post_to_a_file_id_is_not_an_upload(sqlite_store: Store) -> None:
    """Only /v1/storage/file takes uploads; POST on a file id's URL is no method of
    that path (405 with Allow), as the OpenAPI description says."""
    async with running_gateway(make_settings(sqlite_store)) as gw:
        acct = await new_account(gw, "acme")
        r = await gw.http.post(
            "/v1/storage/ABC",
            files={"img": ("a.jpg", jpeg(tag=b"x"), "image/jpeg")},
            headers=acct.headers(),
        )
        assert r.status_code == 405, r.text
        assert "POST" not in r.headers["allow"]
        assert await count_files(gw, acct.client_id) == 0
        # GET with a multipart body on "file" still uploads (resolution 1).
        r = await gw.http.request(
            "GET",
            "/v1/storage/file",
            files={"img": ("a.jpg", jpeg(tag=b"y"), "image/jpeg")},
            headers=acct.headers(),
        )
        assert (r.status_code, r.json()["resultCode"]) == (200, "10001"), r.text
