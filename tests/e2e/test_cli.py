"""The command line: clients, sending through a running gateway, settings errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from tests.conftest import Receiver, Store
from tests.e2e.conftest import FAST_ENV, add_client, cli, server, token
from umsgate.testing import wait_for


async def test_client_commands_and_send(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    creds = add_client(sqlite_store, "shop", receiver.url, tps=50)
    assert set(creds) == {"clientId", "clientSecret", "clientKey", "tps"}
    assert creds["tps"] == {"SMS": 50, "MMS": 50}  # type: ignore[comparison-overlap]
    assert len(creds["clientKey"]) == 64
    listed = [
        orjson.loads(line) for line in cli(sqlite_store, "client", "list").splitlines()
    ]
    assert [c["clientId"] for c in listed] == ["shop"]
    assert listed[0]["tps"]["SMS"] == 50 and listed[0]["reportUrl"] == receiver.url
    assert "clientSecret" not in listed[0]  # secrets are never shown again

    async with server(sqlite_store, tmp_path) as srv:
        env = {
            **os.environ,
            **FAST_ENV,
            "UMSGATE_URL": srv.url,
            "UMSGATE_CLIENT_ID": "shop",
            "UMSGATE_CLIENT_SECRET": creds["clientSecret"],
            "UMSGATE_CLIENT_KEY": creds["clientKey"],
        }
        sent = subprocess.run(
            [
                sys.executable,
                "-m",
                "umsgate",
                "send",
                "--to",
                "01012345678",
                "--text",
                "안녕",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert sent.returncode == 0, sent.stderr
        ums = orjson.loads(sent.stdout)["umsMsgId"]
        await wait_for(
            lambda: ums in receiver.by_id(), what="the report of the CLI's message"
        )

        async with httpx.AsyncClient(timeout=10) as http:
            old = await token(http, srv.url, creds)
            out = orjson.loads(
                cli(sqlite_store, "client", "update", "--id", "shop", "--new-key")
            )
            assert (
                len(out["clientKey"]) == 64 and out["clientKey"] != creds["clientKey"]
            )
            r = await http.post(
                srv.url + "/v1/message/sms",
                headers={"Authorization": f"Bearer {old}"},
                json={"srcMsgId": "x"},
            )
            assert r.status_code == 401 and r.json()["resultCode"] == "40100"
            refused = await http.post(
                srv.url + "/v1/auth/token",
                json={
                    "clientId": "shop",
                    "clientSecret": creds["clientSecret"],
                    "clientKey": creds["clientKey"],
                },
            )
            assert refused.status_code == 404
            assert await token(http, srv.url, {**creds, "clientKey": out["clientKey"]})


def test_bad_settings_name_the_key(tmp_path: Path) -> None:
    settings = tmp_path / "umsgate.toml"
    settings.write_text('[engine]\nbatch_size = "many"\n')
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "umsgate",
            "migrate",
            "--config",
            str(settings),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert (
        "batch_size" in done.stderr and "many" in done.stderr and "int" in done.stderr
    )
    assert "Traceback" not in done.stderr


def test_unknown_route_connector_is_refused(tmp_path: Path) -> None:
    settings = tmp_path / "umsgate.toml"
    settings.write_text('[[routes]]\nname = "r"\nconnectors = ["nowhere"]\n')
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "umsgate",
            "migrate",
            "--config",
            str(settings),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "nowhere" in done.stderr and "Traceback" not in done.stderr
