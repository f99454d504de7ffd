"""The outbound URL policy at send time: a report URL at an address the gateway does
not call fails its delivery at once, with the reason in the report's
``last_error``, and nothing reaches the address; names are resolved through the
notifier's resolver seam, and the connection goes to the address
checked. ``webhook.allow_private_targets`` lets them through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from sqlalchemy import update

from tests.conftest import (
    Receiver,
    Running,
    Store,
    make_settings,
    new_account,
    running_gateway,
    sms_body,
)
from tests.integration.native.support import report_rows
from umsgate import targets
from umsgate.store import tables
from umsgate.testing import wait_for

#: Names the tests' resolver knows; none of them exists in the DNS.
NAMES: Mapping[str, Sequence[str]] = {
    "hooks.private.example": ["10.0.0.7"],
    "hooks.loopback.example": ["127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
}


async def resolve(host: str, _port: int) -> Sequence[str]:
    if host not in NAMES:
        raise OSError(f"unknown name {host!r}")
    return NAMES[host]


def strict(store: Store) -> Any:
    return make_settings(
        store, webhook={"allow_private_targets": False, "max_retries": 3}
    )


async def final_report(gw: Running, ums: str) -> dict[str, Any]:
    """The report row of ``ums`` once its webhook is no longer pending."""
    rows: list[dict[str, Any]] = []

    async def settled() -> bool:
        rows[:] = await report_rows(gw, ums)
        return bool(rows) and rows[-1]["webhook_state"] != "pending"

    await wait_for(settled, what="the webhook's outcome")
    return rows[-1]


async def send_one(gw: Running, report_url: str, client_id: str = "acme") -> str:
    acct = await new_account(gw, client_id, report_url=report_url)
    r = await gw.http.post(
        "/v1/message/sms", json=sms_body("t-1"), headers=acct.headers()
    )
    assert r.status_code == 200, r.text
    return str(r.json()["umsMsgId"])


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("{receiver}", "127.0.0.1, a loopback address"),
        ("http://10.0.0.1:9/hooks", "10.0.0.1, a private address"),
        ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
        (
            "http://hooks.private.example:{port}/hooks",
            "hooks.private.example resolves to 10.0.0.7, a private address",
        ),
        ("http://metadata.example/", "resolves to 169.254.169.254, a link-local"),
    ],
)
async def test_refused_at_send_time(
    store: Store, receiver: Receiver, url: str, reason: str
) -> None:
    port = receiver.url.rpartition(":")[2]
    async with running_gateway(strict(store)) as gw:
        gw.gateway.notifier.policy = targets.Policy(resolver=resolve)
        ums = await send_one(gw, url.format(receiver=receiver.url, port=port))
        row = await final_report(gw, ums)
    assert row["webhook_state"] == "failed"
    assert row["attempts"] == 1  # a refusal is not retried
    assert row["last_error"].startswith("refused: ")
    assert reason in row["last_error"]
    assert "allow_private_targets" in row["last_error"]
    assert receiver.requests == []


async def test_a_url_set_before_the_policy_is_refused(
    store: Store, receiver: Receiver
) -> None:
    """A report URL stored by an earlier version (``file://`` was accepted then)
    fails at send time."""
    async with running_gateway(strict(store)) as gw:
        acct = await new_account(gw, report_url=receiver.url)
        async with gw.gateway.db.transaction() as conn:
            await conn.execute(
                update(tables.clients).values(report_url="file:///etc/passwd")
            )
        r = await gw.http.post(
            "/v1/message/sms", json=sms_body("t-2"), headers=acct.headers()
        )
        row = await final_report(gw, r.json()["umsMsgId"])
    assert row["webhook_state"] == "failed" and row["attempts"] == 1
    assert "must be http or https, not file://" in row["last_error"]


async def test_allowed_when_the_setting_is_on(store: Store, receiver: Receiver) -> None:
    """With private targets allowed, a name that resolves (through the seam) to
    127.0.0.1 is called at that address: the name itself is never resolved again
    (it does not exist in the DNS)."""
    port = receiver.url.rpartition(":")[2]
    settings = make_settings(store, webhook={"allow_private_targets": True})
    async with running_gateway(settings) as gw:
        gw.gateway.notifier.policy = targets.Policy(
            allow_private=True, resolver=resolve
        )
        ums = await send_one(gw, f"http://hooks.loopback.example:{port}/hooks")
        row = await final_report(gw, ums)
    assert row["webhook_state"] == "done", row["last_error"]
    assert [rep["umsMsgId"] for rep in receiver.reports] == [ums]
    headers = receiver.requests[0][0]
    assert headers["host"] == f"hooks.loopback.example:{port}"
