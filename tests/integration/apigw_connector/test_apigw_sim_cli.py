"""``umsgate sim apigw`` as a process: prints where it listens, takes the given
credentials, sends to the sandbox, stops on SIGTERM, keeps its store when asked."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from umsgate.testing import wait_for

CREDS = {"clientId": "gw-1", "clientSecret": "pa:ss", "clientKey": "k3y"}


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "umsgate",
        "sim",
        "apigw",
        "--port",
        "0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "UMSGATE_SIM_APIGW_DELAY": "0"},
    )
    assert process.stdout is not None
    async with asyncio.timeout(60):
        line = (await process.stdout.readline()).decode().strip()
    assert line.startswith("listening apigw=127.0.0.1:"), line
    return process, f"http://{line.split('=', 1)[1]}"


async def _stop(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(30):
        return await process.wait()


async def test_serves_the_native_api_and_keeps_its_store(tmp_path: Path) -> None:
    args = (
        "--client",
        "gw-1:pa:ss:k3y",
        "--data-dir",
        str(tmp_path / "sim"),
        "--report-check-interval",
        "0",
    )
    process, url = await _start(*args)
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            token = (await http.post("/v1/auth/token", json=CREDS)).json()
            sent = await http.post(
                "/v1/message/sms",
                json={
                    "srcMsgId": "1",
                    "callback": "0212345678",
                    "receiver": "01012345678",
                    "content": "hi",
                },
                headers={
                    "Authorization": f"Bearer {token['accessToken']}",
                    "originCode": "123456789",
                    "billCode": "12345",
                },
            )
            assert sent.status_code == 200, sent.text
            ums = sent.json()["umsMsgId"]
    finally:
        assert await _stop(process) == 0
    process, url = await _start(*args)
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            again = await http.post("/v1/auth/token", json=CREDS)
            assert again.status_code == 200, again.text
            auth = {"Authorization": f"Bearer {again.json()['accessToken']}"}

            async def reported() -> bool:
                check = await http.post("/v1/agent/rpt/sms", json=[ums], headers=auth)
                assert check.status_code == 200, check.text
                return [r["umsMsgId"] for r in check.json()] == [ums]

            # Taken by the first run; reported by either, kept across the restart.
            await wait_for(reported, timeout=30, what="the report of the first run")
    finally:
        assert await _stop(process) == 0


async def test_refuses_a_bad_client() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "umsgate",
        "sim",
        "apigw",
        "--client",
        "no-key",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        _, err = await process.communicate()
    assert process.returncode == 2
    assert b"ID:SECRET:KEY" in err
