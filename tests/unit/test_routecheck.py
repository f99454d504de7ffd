"""``umsgate routes check`` and ``umsgate routes test`` through Typer's runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from umsgate import routecheck

SETTINGS = """\
[[connectors]]
name = "a"
protocol = "smpp"
host = "127.0.0.1"
system_id = "esme"
password_env = "A_PASS"

[[connectors]]
name = "b"
protocol = "smpp"
host = "127.0.0.1"
system_id = "esme"
password = "inline-s"

[[connectors]]
name = "spare"
protocol = "sandbox"

[[routes]]
name = "jp"
countries = ["JP"]
connectors = ["b"]

[[routes]]
name = "kr"
countries = ["KR"]
channels = ["SMS"]
connectors = ["a", "b", "sandbox"]
weights = [1, 1]

[[routes]]
name = "all"
connectors = ["sandbox"]

[[routes]]
name = "never"
clients = ["x"]
connectors = ["a"]
"""

ENV = {"A_PASS": "env-pass"}


def run(tmp_path: Path, *args: str, text: str = SETTINGS) -> Result:
    path = tmp_path / "umsgate.toml"
    path.write_text(text)
    result = CliRunner().invoke(routecheck.app, [*args, "--config", str(path)], env=ENV)
    for secret in ("env-pass", "inline-s"):
        assert secret not in result.output
    return result


def test_check_prints_a_summary_and_warnings(tmp_path: Path) -> None:
    result = run(tmp_path, "check")
    assert result.exit_code == 0, result.output
    out = result.output.splitlines()
    assert out[0].endswith("umsgate.toml: OK")
    assert "  a (line 1): smpp" in out
    assert (
        "  2. kr (line 24): channels SMS; countries KR → a ×1 + b ×1 | sandbox" in out
    )
    assert "  3. all (line 31): every message → sandbox" in out
    assert (
        "warning: route 'never' never matches: route 'all' before it takes every "
        "message" in out
    )
    assert "warning: connector 'spare' is in no route" in out


def test_check_refuses_a_bad_file_naming_the_line(tmp_path: Path) -> None:
    result = run(tmp_path, "check", text=SETTINGS.replace("[1, 1]", "[1, 1, 1, 1]"))
    assert result.exit_code == 1
    assert "umsgate.toml, line 29: route 'kr': 'weights' has 4 weights" in (
        result.output
    )
    assert "Traceback" not in result.output


def test_check_refuses_a_bad_connector_option_hiding_the_secret(
    tmp_path: Path,
) -> None:
    result = run(tmp_path, "check", text=SETTINGS.replace("inline-s", "inline-s-long"))
    assert result.exit_code == 1
    assert "umsgate.toml, line 13: connector 'b': option 'password'" in result.output
    assert "inline-s-long" not in result.output and "***" in result.output


def test_check_wants_a_file() -> None:
    result = CliRunner().invoke(routecheck.app, ["check"], env={"UMSGATE_CONFIG": ""})
    assert result.exit_code == 1
    assert "--config" in result.output


def test_routes_test_explains_the_choice(tmp_path: Path) -> None:
    result = run(tmp_path, "test", "--to", "01012345678", "--channel", "sms")
    assert result.exit_code == 0, result.output
    out = result.output.splitlines()
    assert out[0] == "message: SMS to +821012345678 (country KR), no sender, no client"
    assert out[1] == "route 1 'jp': passed over: receiver country KR not in ['JP']"
    assert out[2] == "route 2 'kr' (line 24): matches"
    assert "  receiver country KR in ['KR']" in out
    assert out[-4].split() == [
        "rank", "1", "a", "weight", "1", "(50%", "of", "rank)", "breaker", "closed",
        "(offline:", "no", "traffic", "seen)",
    ]  # fmt: skip
    assert out[-2].split()[:4] == ["rank", "2", "sandbox", "failover"]
    assert (
        out[-1] == "takes: a (rank 1, which shares its traffic 1:1 among 2 connectors)"
    )


def test_routes_test_shows_where_a_retry_goes(tmp_path: Path) -> None:
    result = run(
        tmp_path, "test", "--to", "+821012345678", "--channel", "SMS", "--tried", "a"
    )
    assert result.exit_code == 0, result.output
    assert "(tried last: skipped while another can take it)" in result.output
    assert result.output.splitlines()[-1].startswith("takes: b (rank 1")


def test_routes_test_with_client_and_sender(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "test",
        "--to",
        "+14155550123",
        "--channel",
        "LMS",
        "--client",
        "x",
        "--sender",
        "1588-1234",
    )
    assert result.exit_code == 0, result.output
    out = result.output.splitlines()
    assert out[0] == (
        "message: LMS to +14155550123 (country US), from +8215881234, client 'x'"
    )
    assert "route 2 'kr': passed over: channel LMS not in ['SMS']" in out
    assert "route 3 'all' (line 31): matches" in out
    assert out[-1] == "takes: sandbox (rank 1)"


def test_routes_test_without_a_matching_route_exits_1(tmp_path: Path) -> None:
    text = SETTINGS.split('[[routes]]\nname = "all"')[0]
    result = run(
        tmp_path, "test", "--to", "+14155550123", "--channel", "SMS", text=text
    )
    assert result.exit_code == 1
    assert "no route matches" in result.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--to", "12", "--channel", "SMS"], "--to '12'"),
        (["--to", "01012345678", "--channel", "FAX"], "--channel 'FAX'"),
        (["--to", "01012345678", "--channel", "SMS", "--sender", "x"], "--sender"),
    ],
)
def test_routes_test_refuses_bad_arguments(
    tmp_path: Path, args: list[str], words: str
) -> None:
    result = run(tmp_path, "test", *args)
    assert result.exit_code == 1
    assert words in result.output
