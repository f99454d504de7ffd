"""``umsgate sim smpp`` as a process: it prints where it listens, serves, stops
cleanly on SIGTERM and says how long its receipts waited for their answers."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

import pytest
import typer
from smpp_it import RecordingSink, connector, message
from typer.testing import CliRunner

from umsgate.protocols.smpp import simulator
from umsgate.protocols.smpp.smsc import SimulatorConfig, Smsc
from umsgate.types import Outcome


async def test_command_serves_until_sigterm() -> None:
    env = {**os.environ, "UMSGATE_SIM_SMPP_RECEIPT_DELAY": "0.05"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "umsgate.protocols.smpp.simulator",
        "--port",
        "0",
        "--account",
        "esme:pw",
        "--mix",
        "EXPIRED=1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("listening smpp=127.0.0.1:")
        conn = connector(int(line.rsplit(":", 1)[1]))
        sink = RecordingSink()
        await conn.start(sink)
        try:
            [result] = await conn.submit([message(1, "via the command")])
            assert result.outcome is Outcome.ACCEPTED
            await sink.wait_count(1)
            assert sink.reports[0].raw_code == "EXPIRED/000"
        finally:
            await conn.stop()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        # Its last line: how long the receipt waited for its answer.
        rest = (await proc.stdout.read()).decode().splitlines()
        assert rest and re.fullmatch(
            r"receipts answered 1; answer after p50 [0-9.]+ ms, p90 [0-9.]+, "
            r"p99 [0-9.]+",
            rest[-1],
        ), rest
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_bad_account_is_a_usage_error() -> None:
    app = typer.Typer()
    app.command()(simulator.command)
    result = CliRunner().invoke(app, ["--account", "no-colon", "--port", "0"])
    assert result.exit_code == 2
    assert "SYSTEM_ID:PASSWORD" in result.output


@pytest.mark.parametrize(
    ("value", "pair"),
    [
        ("esme:pw", ("esme", "pw")),
        ("esme:a:b", ("esme", "a:b")),
        ("esme:", ("esme", "")),
    ],
)
def test_parse_account(value: str, pair: tuple[str, str]) -> None:
    assert simulator.parse_account(value) == pair


def test_mix_names_only_final_states() -> None:
    with pytest.raises(ValueError, match="ENROUTE"):
        Smsc(SimulatorConfig(mix="ENROUTE=0.5"))


@pytest.mark.parametrize(
    ("value", "status"),
    [("RSYSERR", 0x08), ("esme_rinvdstadr", 0x0B), ("0x58", 0x58), ("20", 20)],
)
def test_parse_status(value: str, status: int) -> None:
    assert simulator.parse_status(value) == status


@pytest.mark.parametrize("value", ["NOPE", "0x100000000", "-1"])
def test_parse_status_refuses(value: str) -> None:
    with pytest.raises(ValueError):
        simulator.parse_status(value)


def test_refuse_options_need_a_status() -> None:
    app = typer.Typer()
    app.command()(simulator.command)
    result = CliRunner().invoke(app, ["--refuse-first", "3", "--port", "0"])
    assert result.exit_code == 2
    assert "--refuse-status" in result.output
    result = CliRunner().invoke(app, ["--refuse-status", "BOGUS", "--port", "0"])
    assert result.exit_code == 2
    assert "BOGUS" in result.output
