"""Report webhooks (apigw spec §11): retried until the receiver answers HTTP 200 with
``OK``, given up after 1 + max_retries attempts, signed with the client's key; the
sandbox's outcome mix shows up in the reports."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import Counter

import orjson
import pytest
from sqlalchemy import update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.conftest import (
    Account,
    Receiver,
    Running,
    Store,
    make_settings,
    new_account,
    running_gateway,
    sms_body,
)
from tests.integration.native.support import message, report_rows
from umsgate import config
from umsgate.errors import ConfigError
from umsgate.store import tables
from umsgate.testing import running_asgi, wait_for


def verify(secret: str, headers: dict[str, str], body: bytes) -> int:
    """Check the signature header as a client would; returns its timestamp."""
    key = hmac.new(secret.encode(), b"umsgate-webhook-v1", hashlib.sha256).digest()
    fields = dict(
        part.split("=", 1) for part in headers["x-umsgate-signature"].split(",")
    )
    assert set(fields) == {"t", "v1"}
    expected = hmac.new(
        key, fields["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)
    return int(fields["t"])


async def send_sms(gw: Running, acct: Account, prefix: str, count: int) -> list[str]:
    """``count`` SMS sent at once; their umsMsgIds (every answer must be a 200)."""
    answers = await asyncio.gather(
        *(
            gw.http.post(
                "/v1/message/sms",
                json=sms_body(f"{prefix}-{i}"),
                headers=acct.headers(),
            )
            for i in range(count)
        )
    )
    assert [a.status_code for a in answers] == [200] * count
    return [a.json()["umsMsgId"] for a in answers]


async def test_webhook_retries_and_signature(store: Store, receiver: Receiver) -> None:
    settings = make_settings(store, webhook={"max_retries": 2, "retry_interval": 0.05})
    async with running_gateway(settings) as gw:
        acct = await new_account(gw, report_url=receiver.url)

        async def send_and_wait(src: str, requests: int) -> str:
            r = await gw.http.post(
                "/v1/message/sms", json=sms_body(src), headers=acct.headers()
            )
            assert r.status_code == 200, r.text
            ums: str = r.json()["umsMsgId"]
            await wait_for(
                lambda: len(receiver.requests) >= requests,
                what=f"{requests} webhook requests",
            )
            return ums

        async def state(ums: str) -> tuple[str, int]:
            rows = await report_rows(gw, ums)
            assert len(rows) == 1
            return rows[0]["webhook_state"], rows[0]["attempts"]

        async def settled(ums: str) -> bool:
            return (await state(ums))[0] != "pending"

        # HTTP 500 twice, then OK: the third attempt delivers.
        receiver.fail_first, receiver.fail_status = 2, 500
        first = await send_and_wait("w-1", 3)
        await wait_for(lambda: settled(first), what="the first webhook to settle")
        assert await state(first) == ("done", 3)
        assert [r["umsMsgId"] for r in receiver.reports] == [first]
        # Every attempt carried the same report, signed.
        bodies = {body for _, body in receiver.requests}
        assert len(bodies) == 1
        for headers, body in receiver.requests:
            stamp = verify(acct.secret, headers, body)
            assert abs(stamp - time.time()) < 60
            assert headers["content-type"].startswith("application/json")

        # HTTP 200 with a body other than OK is a failure too.
        receiver.fail_first, receiver.fail_status, receiver.fail_body = 5, 200, b"NO"
        second = await send_and_wait("w-2", 6)
        await wait_for(lambda: settled(second), what="the second webhook to settle")
        assert await state(second) == ("done", 3)
        assert [r["umsMsgId"] for r in receiver.reports] == [first, second]

        # A receiver that never answers OK: 1 + max_retries attempts, then given up.
        receiver.fail_first = 10**6
        third = await send_and_wait("w-3", 9)
        await wait_for(lambda: settled(third), what="the third webhook to be given up")
        assert await state(third) == ("failed", 3)
        rows = await report_rows(gw, third)
        assert "HTTP 200" in rows[0]["last_error"]
        assert len(receiver.requests) == 9
        assert [r["umsMsgId"] for r in receiver.reports] == [first, second]
        # The message itself was delivered; only the webhook failed.
        assert (await message(gw, third))["status"] == "DELIVERED"

        # A signature made with another secret does not verify.
        headers, body = receiver.requests[-1]
        with pytest.raises(AssertionError):
            verify("not-the-secret", headers, body)


async def test_sandbox_outcome_mix(store: Store, receiver: Receiver) -> None:
    settings = make_settings(store, sandbox={"mix": {"2001": 0.5}, "seed": 1})
    async with running_gateway(settings) as gw:
        acct = await new_account(gw, report_url=receiver.url)
        sent = await send_sms(gw, acct, "mix", 24)
        await wait_for(lambda: len(receiver.by_id()) == 24, what="24 reports")
        codes = Counter((r["resultCode"], r["resultMessage"]) for r in receiver.reports)
        # Both outcomes appear (24 draws of 50 % all agree once in 8 million runs).
        assert set(codes) == {
            ("-100", "SM_STATE_DELIVERED"),
            ("2001", "invalid or unknown number"),
        }
        for ums in sent:
            report = receiver.by_id()[ums][0]
            status = (await message(gw, ums))["status"]
            assert status == (
                "DELIVERED" if report["resultCode"] == "-100" else "FAILED"
            )
            # A failure reported by the carrier has its report time too.
            assert report["pfmRcvDttm"] and report["pfmSndDttm"]


async def test_webhook_target_url(store: Store) -> None:
    paths: list[str] = []

    async def endpoint(request: Request) -> Response:
        paths.append(request.url.path)
        return PlainTextResponse("OK")

    hooks = Starlette(routes=[Route("/{path:path}", endpoint, methods=["POST"])])
    async with running_asgi(hooks) as url, running_gateway(make_settings(store)) as gw:
        # §11: the report URL itself when it has a path, else + /v1/message/report.
        bare = await new_account(gw, "bare", report_url=url)
        slash = await new_account(gw, "slash", report_url=url + "/")
        own = await new_account(gw, "own", report_url=url + "/hooks/ums?x=1")
        for acct in (bare, slash, own):
            r = await gw.http.post(
                "/v1/message/sms", json=sms_body("p-1"), headers=acct.headers()
            )
            assert r.status_code == 200
        await wait_for(lambda: len(paths) == 3, what="three webhooks")
        assert sorted(paths) == sorted(
            ["/v1/message/report", "/v1/message/report", "/hooks/ums"]
        )


async def test_reports_per_post_sends_arrays(store: Store, receiver: Receiver) -> None:
    # webhook.reports_per_post = 3: the due reports of one client go three to a POST,
    # as a JSON array (§11: receivers accept an array), signed over the array; the
    # answer counts as an attempt for each report in it.
    settings = make_settings(
        store, webhook={"reports_per_post": 3, "retry_interval": 3600.0}
    )
    async with running_gateway(settings) as gw:
        acct = await new_account(gw, report_url=receiver.url)
        receiver.fail_first = 10**6  # every POST fails until the reports are all in
        sent = await send_sms(gw, acct, "arr", 7)

        async def attempts() -> list[tuple[str, int]]:
            return [
                (row["webhook_state"], row["attempts"])
                for ums in sent
                for row in await report_rows(gw, ums)
            ]

        async def all_tried_once() -> bool:
            return await attempts() == [("pending", 1)] * 7

        await wait_for(all_tried_once, what="one failed attempt at each report")
        failed_posts = len(receiver.requests)
        assert 3 <= failed_posts <= 7  # at most three reports went in one POST
        for _, body in receiver.requests:
            doc = orjson.loads(body)
            assert isinstance(doc, dict) or 2 <= len(doc) <= 3

        # Make all seven due at once (the retry interval is an hour), and let the
        # receiver answer OK: one claim takes them, three to a POST.
        receiver.fail_first = 0
        r = tables.reports
        async with gw.gateway.db.transaction() as conn:
            await conn.execute(update(r).values(next_at=0.0))
        gw.gateway.notifier.wake()
        await wait_for(lambda: len(receiver.by_id()) == 7, what="seven reports")
        later = receiver.requests[failed_posts:]
        sizes = sorted(len(orjson.loads(body)) for _, body in later if body[:1] == b"[")
        singles = [body for _, body in later if body[:1] == b"{"]
        assert (sizes, len(singles)) == ([3, 3], 1)
        for headers, body in later:
            verify(acct.secret, headers, body)
        assert sorted(receiver.by_id()) == sorted(sent)

        async def all_done() -> bool:
            return await attempts() == [("done", 2)] * 7

        await wait_for(all_done, what="each report done at its second attempt")


@pytest.mark.parametrize("value", [0, 1001])
def test_reports_per_post_is_bounded(value: int) -> None:
    with pytest.raises(ConfigError, match="reports_per_post must be 1 to 1000"):
        config.load(None, env={}, overrides={"webhook": {"reports_per_post": value}})
