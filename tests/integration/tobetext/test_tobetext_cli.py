"""``umsgate sim tobetext`` as the CLI will mount it: a Typer command that prints
where it listens, serves, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import httpx

from umsgate.protocols.tobetext import codec

# The CLI (written elsewhere) mounts each simulator exactly like this.
MOUNT = """
import sys, typer
from umsgate.protocols.tobetext import simulator
app = typer.Typer()
sim = typer.Typer()
app.add_typer(sim, name="sim")
sim.command(name="tobetext")(simulator.command)
app(sys.argv[1:])
"""


async def test_command_prints_listening_serves_and_stops() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        MOUNT,
        "sim",
        "tobetext",
        "--port",
        "0",
        "--account",
        "C1:T1",
        "--delay",
        "0",
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "UMSGATE_SIM_TOBETEXT_MIX": "400=1"},
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(30):
            line = (await process.stdout.readline()).decode().strip()
        assert line.startswith("listening tobetext=127.0.0.1:")
        url = f"http://{line.split('=', 1)[1]}/sms"
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                url,
                data={
                    "Ckey": "k1",
                    "RecvNum": "+821012341234",
                    "SendNum": "+821012341234",
                    "Body": "hi",
                    "Cid": "C1",
                    "token": "T1",
                },
            )
        assert codec.parse_ack(answer.content).success
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            code = await process.wait()
    assert code == 0


async def test_command_refuses_a_bad_account() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        MOUNT,
        "sim",
        "tobetext",
        "--port",
        "0",
        "--account",
        "no-colon",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        _, err = await process.communicate()
    assert process.returncode == 2
    assert b"CID:TOKEN" in err
