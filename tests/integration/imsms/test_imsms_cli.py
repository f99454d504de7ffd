"""``umsgate sim imsms`` as the CLI will mount it: a Typer command that prints where
it listens, serves, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import httpx
import orjson

MOUNT = """
import sys, typer
from umsgate.protocols.imsms import simulator
app = typer.Typer()
sim = typer.Typer()
app.add_typer(sim, name="sim")
sim.command(name="imsms")(simulator.command)
app(sys.argv[1:])
"""


async def test_command_prints_listening_serves_and_stops() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        MOUNT,
        "sim",
        "imsms",
        "--port",
        "0",
        "--api-key",
        "k-1",
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "UMSGATE_SIM_IMSMS_DELAY": "0"},
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(30):
            line = (await process.stdout.readline()).decode().strip()
        assert line.startswith("listening imsms=127.0.0.1:")
        base = f"http://{line.split('=', 1)[1]}"
        async with httpx.AsyncClient(base_url=base) as http:
            sent = await http.post(
                "/api/imsms/send",
                json={"sendTo": "01012345678", "message": "hi", "imsAgentId": "any"},
                headers={"X-API-KEY": "k-1"},
            )
            ims_id = orjson.loads(sent.content)["imsId"]
            state = await http.get(
                "/api/imsms/info",
                params={"imsId": ims_id},
                headers={"X-API-KEY": "k-1"},
            )
        assert orjson.loads(state.content)["imsData"]["messageFinished"] is True
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            code = await process.wait()
    assert code == 0


async def test_command_refuses_a_bad_mix() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        MOUNT,
        "sim",
        "imsms",
        "--mix",
        "lost=0.5",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        _, err = await process.communicate()
    assert process.returncode == 2
    assert b"lost" in err
