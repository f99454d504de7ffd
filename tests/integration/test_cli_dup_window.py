"""``umsgate client add/update --dup-window``: the client's duplicate window."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from umsgate import cli


def run(data_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli.app, [*args, "--data-dir", str(data_dir)], env={}, catch_exceptions=False
    )
    return result.exit_code, result.output


def listed(data_dir: Path) -> dict[str, float]:
    status, out = run(data_dir, "client", "list")
    assert status == 0, out
    rows = [orjson.loads(line) for line in out.splitlines()]
    return {r["clientId"]: r["dupWindow"] for r in rows}


def test_add_update_and_list(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(data, "migrate")[0] == 0
    assert run(data, "client", "add", "--id", "a", "--dup-window", "300")[0] == 0
    assert run(data, "client", "add", "--id", "b")[0] == 0
    assert listed(data) == {"a": 300.0, "b": 0.0}
    assert run(data, "client", "update", "--id", "b", "--dup-window", "60")[0] == 0
    assert run(data, "client", "update", "--id", "a", "--dup-window", "0")[0] == 0
    assert listed(data) == {"a": 0.0, "b": 60.0}
    # Other changes leave the window as it is.
    assert run(data, "client", "update", "--id", "b", "--tps-sms", "5")[0] == 0
    assert listed(data)["b"] == 60.0


def test_a_bad_window_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    status, out = run(
        data, "client", "add", "--id", "a", "--dup-window", "-1", "--create"
    )
    assert status != 0 and "duplicate window" in out
    assert run(data, "client", "add", "--id", "a", "--create")[0] == 0
    status, out = run(data, "client", "update", "--id", "a", "--dup-window", "99999999")
    assert status != 0 and "duplicate window" in out
    assert listed(data) == {"a": 0.0}
