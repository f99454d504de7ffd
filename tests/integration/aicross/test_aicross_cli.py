"""``umsgate sim aicross`` as the CLI will mount it: a Typer command that prints
where it listens, serves, pushes DLRs, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from umsgate.testing import running_asgi

MOUNT = """
import sys, typer
from umsgate.protocols.aicross import simulator
app = typer.Typer()
sim = typer.Typer()
app.add_typer(sim, name="sim")
sim.command(name="aicross")(simulator.command)
app(sys.argv[1:])
"""


async def test_command_prints_listening_serves_and_stops() -> None:
    dlrs: asyncio.Queue[bytes] = asyncio.Queue()

    async def receive(request: Request) -> PlainTextResponse:
        await dlrs.put(await request.body())
        return PlainTextResponse("OK")

    customer = Starlette(routes=[Route("/dlr", receive, methods=["POST"])])
    async with running_asgi(customer) as base:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            MOUNT,
            "sim",
            "aicross",
            "--port",
            "0",
            "--token",
            "tok",
            "--delay",
            "0",
            "--dlr-url",
            f"{base}/dlr",
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "UMSGATE_SIM_AICROSS_MIX": "60002=1"},
        )
        assert process.stdout is not None
        try:
            async with asyncio.timeout(30):
                line = (await process.stdout.readline()).decode().strip()
            assert line.startswith("listening aicross=127.0.0.1:")
            url = f"http://{line.split('=', 1)[1]}/api/p5/send.json"
            async with httpx.AsyncClient() as http:
                sent = await http.post(
                    url,
                    data={
                        "token": "tok",
                        "to": "+819012345678",
                        "text": "x",
                        "clientTag": "a",
                    },
                )
            assert orjson.loads(sent.content)["status"] == "accepted"
            async with asyncio.timeout(30):
                dlr = orjson.loads(await dlrs.get())
            assert (dlr["clientTag"], dlr["status"], dlr["errorCode"]) == (
                "a",
                "failed",
                "60002",
            )
        finally:
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                code = await process.wait()
        assert code == 0
