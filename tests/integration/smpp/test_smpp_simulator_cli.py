"""``umsgate sim smpp`` as a process: it prints where it listens, serves, stops
cleanly on SIGTERM and says what became of its receipts and how long they waited for
their answers."""

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
from umsgate.testing import wait_for
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
        # Its last lines: what became of its receipts, and how long the receipt
        # waited for its answer.
        rest = (await proc.stdout.read()).decode().splitlines()
        assert rest[-2:-1] == ["receipts sent 1, answered 1, refused 0, lost 0"], rest
        assert re.fullmatch(
            r"receipts answered 1; answer after p50 [0-9.]+ ms, p90 [0-9.]+, "
            r"p99 [0-9.]+; at most 1 unanswered",
            rest[-1],
        ), rest
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_receipt_modes_from_the_environment() -> None:
    # Every receipt before its resp (long before the minute of delay); the one the
    # connector refuses is never sent again.
    env = {
        **os.environ,
        "UMSGATE_SIM_SMPP_RECEIPT_DELAY": "60",
        "UMSGATE_SIM_SMPP_EARLY_RECEIPTS": "1",
        "UMSGATE_SIM_SMPP_RECEIPT_WINDOW": "0",
        "UMSGATE_SIM_SMPP_RESEND_REFUSED": "false",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "umsgate.protocols.smpp.simulator",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        conn = connector(int(line.rsplit(":", 1)[1]))
        sink = RecordingSink()
        sink.fail = 1
        await conn.start(sink)
        try:
            results = await conn.submit([message(i, "early") for i in range(3)])
            assert {r.outcome for r in results} == {Outcome.ACCEPTED}
            # The receipts a loop turn read go to the store together: the failed
            # call refuses one or more of them, and the rest are recorded.
            await wait_for(
                lambda: (
                    sink.failures == 1
                    and conn.health().refused + len(sink.reports) == 3
                ),
                timeout=20,
                what="every receipt recorded or refused",
            )
            refused = conn.health().refused
            assert 1 <= refused <= 3
        finally:
            await conn.stop()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        rest = (await proc.stdout.read()).decode().splitlines()
        assert rest[0] == (
            f"receipts sent 3, answered 3, refused {refused}, lost {refused}; 3 early"
        )
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize(
    "args",
    [
        ["--early-receipts", "1.5"],
        ["--receipt-burst", "-1"],
        ["--receipt-window", "-1"],
    ],
)
def test_receipt_settings_out_of_range_are_usage_errors(args: list[str]) -> None:
    app = typer.Typer()
    app.command()(simulator.command)
    result = CliRunner().invoke(app, [*args, "--port", "0"])
    assert result.exit_code == 2, result.output


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
