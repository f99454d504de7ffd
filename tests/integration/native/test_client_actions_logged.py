"""Every change to a client account is one log line, whoever makes it (the CLI,
the console): what changed and whether its tokens stay valid; never a secret."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import Store, make_settings, running_gateway
from umsgate import clients


async def test_each_account_change_logs_one_line(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="umsgate.clients")
    async with running_gateway(make_settings(sqlite_store)) as gw:
        db = gw.gateway.db
        creds = await clients.add_client(db, "logged")
        await clients.update_client(db, "logged", tps={"SMS": 5})
        await clients.update_client(db, "logged", secret="a-new-secret-1234")
        await clients.set_disabled(db, "logged", True)
    lines = [
        (r.event, r.getMessage())  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "umsgate.clients"
    ]
    assert [event for event, _ in lines] == [
        "client.added",
        "client.changed",
        "client.changed",
        "client.disabled",
    ]
    assert lines[1][1] == "client logged changed (tps); its tokens stay valid"
    assert lines[2][1].endswith("its tokens are revoked")
    text = " ".join(message for _, message in lines)
    assert creds.client_secret not in text and "a-new-secret-1234" not in text
