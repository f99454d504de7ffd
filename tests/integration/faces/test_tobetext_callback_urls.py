"""The ToBeText face's ``callback`` under the outbound URL policy: a callback that is
not an http(s) URL, or whose host is an address the gateway does not call, is
refused with ``2008`` (callback value error); a name that resolves to such an
address is taken and its callback fails at once, the reason in ``last_error``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from tests.conftest import Store, make_settings
from tests.integration.faces.conftest import (
    CallbackReceiver,
    ack,
    encoded_body,
    running_quick_faces,
    send_fields,
    tobetext_client,
)
from tests.integration.native.support import report_rows
from umsgate import targets
from umsgate.testing import wait_for


async def resolve(host: str, _port: int) -> Sequence[str]:
    if host != "hooks.private.example":
        raise OSError(f"unknown name {host!r}")
    return ["10.0.0.7"]


def strict(store: Store) -> Any:
    return make_settings(store, webhook={"allow_private_targets": False})


@pytest.mark.parametrize(
    ("callback", "reason"),
    [
        ("http://127.0.0.1:8080/recv", "127.0.0.1, a loopback address"),
        ("http://10.0.0.1/recv", "10.0.0.1, a private address"),
        ("http://169.254.169.254/latest/", "a link-local address"),
        ("http://[::1]/recv", "::1, a loopback address"),
        ("file:///etc/passwd", "must be http or https, not file://"),
        ("gopher://example.com:70/_x", "not gopher://"),
        ("notaurl", "must be http or https"),
    ],
)
async def test_refused_when_given(store: Store, callback: str, reason: str) -> None:
    async with running_quick_faces(strict(store)) as gw:
        await tobetext_client(gw)
        r = await gw.http.post(
            "/sms", content=encoded_body(send_fields("cb-1", callback=callback))
        )
    answer = ack(r)
    assert r.status_code == 200
    assert (answer.status, answer.error_code) == ("FAIL", 2008)
    assert answer.error_msg.startswith("callback value error: ")
    assert reason in answer.error_msg


async def test_private_callbacks_taken_when_allowed(
    store: Store, callbacks: CallbackReceiver
) -> None:
    settings = make_settings(store, webhook={"allow_private_targets": True})
    async with running_quick_faces(settings) as gw:
        await tobetext_client(gw)
        answer = ack(
            await gw.http.post(
                "/sms",
                content=encoded_body(send_fields("cb-2", callback=callbacks.url)),
            )
        )
        assert answer.error_code == 200
        await wait_for(lambda: len(callbacks.results) == 1, what="the callback")
        # Malformed ones are still refused.
        r = await gw.http.post(
            "/sms", content=encoded_body(send_fields("cb-3", callback="notaurl"))
        )
        assert ack(r).error_code == 2008


async def test_a_name_resolving_to_a_private_address_fails_at_send_time(
    store: Store, callbacks: CallbackReceiver
) -> None:
    port = callbacks.url.split(":")[2].split("/")[0]
    async with running_quick_faces(strict(store)) as gw:
        gw.gateway.notifier.policy = targets.Policy(resolver=resolve)
        await tobetext_client(gw)
        url = f"http://hooks.private.example:{port}/recv/"
        answer = ack(
            await gw.http.post(
                "/sms", content=encoded_body(send_fields("cb-4", callback=url))
            )
        )
        assert answer.error_code == 200
        ums = str(int(answer.msg_id, 16))
        rows: list[dict[str, Any]] = []

        async def settled() -> bool:
            rows[:] = await report_rows(gw, ums)
            return bool(rows) and rows[-1]["webhook_state"] != "pending"

        await wait_for(settled, what="the callback's outcome")
    row = rows[-1]
    assert row["webhook_state"] == "failed" and row["attempts"] == 1
    assert "hooks.private.example resolves to 10.0.0.7" in row["last_error"]
    assert callbacks.requests == []
