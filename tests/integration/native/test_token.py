"""Tokens (apigw spec §3, resolutions 15, 30, 31): issue, refusals, and the end of a
token when its account changes or its time runs out."""

from __future__ import annotations

import datetime as dt
import time

import httpx

from tests.conftest import (
    Account,
    Receiver,
    Running,
    Store,
    get_token,
    make_settings,
    new_account,
    running_gateway,
    sms_body,
)
from tests.integration.native.support import ISO_WITH_OFFSET
from umsgate import clients
from umsgate.testing import wait_for

INVALID_CLIENT = {
    "error": "invalid_client",
    "error_description": (
        "Client authentication failed (e.g., unknown client, no client authentication "
        "included, or unsupported authentication method)."
    ),
}
WRONG_KEY = {"error_description": "ClientKey를 확인해주세요."}


def creds(acct: Account, **change: str) -> dict[str, str]:
    body = {
        "clientId": acct.client_id,
        "clientSecret": acct.secret,
        "clientKey": acct.key,
    }
    body.update(change)
    return body


async def probe(http: httpx.AsyncClient, authorization: str | None) -> httpx.Response:
    """An authenticated call without side effects (a file check)."""
    hdrs = {} if authorization is None else {"Authorization": authorization}
    return await http.get("/v1/storage/PROBE", headers=hdrs)


def unauthorized(r: httpx.Response) -> bool:
    return r.status_code == 401 and r.json()["resultCode"] == "40100"


async def issue_and_refusals(gw: Running, receiver: Receiver) -> None:
    acct = await new_account(gw, report_url=receiver.url, tps={"SMS": 50, "MMS": 20})
    before = time.time()
    r = await gw.http.post(
        "/v1/auth/token",
        json=creds(acct),
        headers={"Content-Type": "application/json; charset=UTF-8;"},  # the seed's form
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert set(doc) == {
        "accessToken",
        "tokenType",
        "expiresIn",
        "reportUrl",
        "service",
    }
    assert isinstance(doc["accessToken"], str) and len(doc["accessToken"]) >= 32
    assert doc["tokenType"] == "Bearer"
    assert ISO_WITH_OFFSET.match(doc["expiresIn"]), doc["expiresIn"]
    expires = dt.datetime.fromisoformat(doc["expiresIn"]).timestamp()
    assert before + 86400 - 5 <= expires <= time.time() + 86400 + 5  # 24 h (§14)
    assert doc["reportUrl"] == receiver.url
    assert doc["service"] == {"SMS": 50, "MMS": 20}
    assert all(type(v) is int for v in doc["service"].values())

    # Several unexpired tokens coexist (resolution of §3).
    assert (await probe(gw.http, f"Bearer {acct.token}")).status_code == 200
    assert (await probe(gw.http, f"Bearer {doc['accessToken']}")).status_code == 200

    for wrong in (
        creds(acct, clientId="nobody"),
        creds(acct, clientId="acme\u0000"),  # no client id holds a NUL
        creds(acct, clientId="acme\n"),
        creds(acct, clientSecret="wrong"),
    ):
        r = await gw.http.post("/v1/auth/token", json=wrong)
        assert (r.status_code, r.json()) == (401, INVALID_CLIENT)
    r = await gw.http.post("/v1/auth/token", json=creds(acct, clientKey="ab" * 32))
    assert (r.status_code, r.json()) == (404, WRONG_KEY)
    # A wrong secret is invalid_client even when the key is wrong too.
    r = await gw.http.post(
        "/v1/auth/token", json=creds(acct, clientSecret="x", clientKey="y")
    )
    assert r.status_code == 401

    for name in ("clientId", "clientSecret", "clientKey"):
        body = {k: v for k, v in creds(acct).items() if k != name}
        r = await gw.http.post("/v1/auth/token", json=body)
        assert r.status_code == 400
        assert r.json() == {"error": "invalid_request", "error_description": name}
        r = await gw.http.post("/v1/auth/token", json=creds(acct, **{name: ""}))
        assert r.json() == {"error": "invalid_request", "error_description": name}
    r = await gw.http.post("/v1/auth/token", json={**creds(acct), "clientId": 42})
    assert r.json() == {"error": "invalid_request", "error_description": "clientId"}
    for raw in (b'{"clientId": "acme",', b"clientId=acme", b"", b"\xff\xfe"):
        r = await gw.http.post(
            "/v1/auth/token",
            content=raw,
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 400, raw
        assert r.json()["error"] == "invalid_request"
        assert "JSON" in r.json()["error_description"]
    r = await gw.http.post("/v1/auth/token", json=[creds(acct)])
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")


async def authorization_forms(gw: Running) -> None:
    acct = await new_account(gw, "forms")
    assert (await probe(gw.http, f"Bearer {acct.token}")).status_code == 200
    assert (await probe(gw.http, f"bearer {acct.token}")).status_code == 200
    # Resolution 15: the bare token is accepted too.
    bare = await gw.http.post(
        "/v1/message/sms",
        json=sms_body("bare-1"),
        headers={**acct.headers(), "Authorization": acct.token},
    )
    assert bare.status_code == 200, bare.text

    for authorization in (
        None,
        "",
        "Bearer",
        "Bearer garbage",
        "garbage",
        f"Basic {acct.token}",
    ):
        r = await probe(gw.http, authorization)
        assert unauthorized(r), (authorization, r.text)
    r = await probe(gw.http, None)
    assert "Authorization" in r.json()["resultMessage"]
    r = await probe(gw.http, f"Bearer {acct.token}x")
    assert "token" in r.json()["resultMessage"]
    # Every authenticated route refuses a bad token the same way (resolution 31).
    bad = {"Authorization": "Bearer nope", "originCode": "1", "billCode": "1"}
    for method, path, kwargs in (
        ("POST", "/v1/message/sms", {"json": sms_body("x")}),
        ("POST", "/v1/message/mms", {"json": sms_body("x")}),
        ("POST", "/v1/message/rcs", {"json": {}}),
        ("POST", "/v1/message/kko", {"json": {}}),
        ("POST", "/v1/agent/rpt/sms", {"json": []}),
        ("POST", "/v1/storage/file", {"files": {"img": ("a.jpg", b"x")}}),
        ("GET", "/v1/storage/ABC", {}),
    ):
        r = await gw.http.request(method, path, headers=bad, **kwargs)
        assert unauthorized(r), (path, r.status_code, r.text)
        assert set(r.json()) == {"resultCode", "resultMessage"}


async def account_changes(gw: Running, receiver: Receiver) -> None:
    db = gw.gateway.db
    acct = await new_account(gw, "changes", report_url=receiver.url)

    async def still_works(token: str) -> bool:
        return (await probe(gw.http, f"Bearer {token}")).status_code == 200

    # A new secret: earlier tokens end, the old secret issues nothing, the new
    # one does.
    old = acct.token
    await clients.update_client(db, acct.client_id, secret="s3cret-2")
    r = await probe(gw.http, f"Bearer {old}")
    assert unauthorized(r), r.text
    assert "superseded" in r.json()["resultMessage"]
    r = await gw.http.post("/v1/auth/token", json=creds(acct))
    assert (r.status_code, r.json()) == (401, INVALID_CLIENT)
    acct.secret = "s3cret-2"
    acct.token = await get_token(gw.http, acct)
    assert await still_works(acct.token)

    # A re-issued key.
    old = acct.token
    key = await clients.update_client(db, acct.client_id, new_key=True)
    assert key is not None and key != acct.key
    assert unauthorized(await probe(gw.http, f"Bearer {old}"))
    r = await gw.http.post("/v1/auth/token", json=creds(acct))
    assert (r.status_code, r.json()) == (404, WRONG_KEY)
    acct.key = key
    acct.token = await get_token(gw.http, acct)
    assert await still_works(acct.token)

    # New TPS: not a credential, so live tokens go on (issue 15); a new token's
    # service shows the change, as the seed asks clients to fetch one.
    kept = acct.token
    await clients.update_client(db, acct.client_id, tps={"SMS": 7})
    assert await still_works(kept)
    r = await gw.http.post("/v1/auth/token", json=creds(acct))
    assert r.json()["service"] == {"SMS": 7, "MMS": 1000}
    acct.token = r.json()["accessToken"]

    # A new report URL: the same.
    await clients.update_client(db, acct.client_id, report_url=receiver.url + "/hooks")
    assert await still_works(kept)
    r = await gw.http.post("/v1/auth/token", json=creds(acct))
    assert r.json()["reportUrl"] == receiver.url + "/hooks"
    acct.token = r.json()["accessToken"]

    # A new ToBeText token is a credential: the native tokens end too.
    old = acct.token
    await clients.update_client(db, acct.client_id, tobetext_token="tbt-token-1")
    assert unauthorized(await probe(gw.http, f"Bearer {old}"))
    assert unauthorized(await probe(gw.http, f"Bearer {kept}"))
    acct.token = await get_token(gw.http, acct)

    # Sending with a superseded token stores nothing.
    r = await gw.http.post(
        "/v1/message/sms",
        json=sms_body("after-change"),
        headers={**acct.headers(), "Authorization": f"Bearer {old}"},
    )
    assert unauthorized(r)
    r = await gw.http.post(
        "/v1/message/sms", json=sms_body("after-change"), headers=acct.headers()
    )
    assert r.status_code == 200, r.text


async def test_tokens(store: Store, receiver: Receiver) -> None:
    async with running_gateway(make_settings(store)) as gw:
        await issue_and_refusals(gw, receiver)
        await authorization_forms(gw)
        await account_changes(gw, receiver)


async def test_tokens_expire(store: Store) -> None:
    async with running_gateway(make_settings(store, auth={"token_ttl": 2.0})) as gw:
        acct = await new_account(gw)
        issued = time.monotonic()
        r = await gw.http.post("/v1/auth/token", json=creds(acct))
        expires = dt.datetime.fromisoformat(r.json()["expiresIn"]).timestamp()
        assert expires - time.time() <= 2.0
        token = r.json()["accessToken"]
        assert (await probe(gw.http, f"Bearer {token}")).status_code == 200

        async def refused() -> bool:
            return unauthorized(await probe(gw.http, f"Bearer {token}"))

        await wait_for(refused, timeout=10, what="the token to expire")
        assert time.monotonic() - issued >= 1.9
        r = await probe(gw.http, f"Bearer {token}")
        assert "expired" in r.json()["resultMessage"]
        # A new token works again.
        fresh = await get_token(gw.http, acct)
        assert (await probe(gw.http, f"Bearer {fresh}")).status_code == 200
