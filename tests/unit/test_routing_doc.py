"""``docs/routing.md``: its example file loads (every connector builds), routes as
the document says, and the ``routes test`` output it shows is what the command
prints."""

from __future__ import annotations

import collections
import datetime as dt
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from umsgate import config, routecheck
from umsgate.domain.message import Channel, Message
from umsgate.engine.router import Router
from umsgate.errors import ConfigError
from umsgate.protocols import registry

DOC = Path(__file__).parents[2] / "docs" / "routing.md"
ENV = {
    "SMSC_A_PASSWORD": "pw-a",
    "SMSC_B_PASSWORD": "pw-b",
    "TOBETEXT_TOKEN": "tok-tbt",
}
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def block(name: str) -> str:
    text = DOC.read_text()
    found = re.search(
        rf"<!-- {name}:start -->\n```\w*\n(.*?)```\n<!-- {name}:end -->", text, re.S
    )
    assert found is not None, f"no {name} block in {DOC}"
    return found.group(1)


@pytest.fixture
def example(tmp_path: Path) -> Path:
    path = tmp_path / "umsgate.toml"
    path.write_text(block("example"))
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "ushot-password").write_text("pw-ushot\n")
    (tmp_path / "secrets" / "aicross-token").write_text("tok-ai\n")
    return path


def test_the_example_loads_and_every_connector_builds(example: Path) -> None:
    settings = config.load(example, env=ENV)
    assert registry.check_connectors(settings) == [
        "smsc-a",
        "smsc-b",
        "ushot",
        "tbt",
        "aicross",
    ]
    by_name = {c.name: c for c in settings.connectors}
    assert by_name["ushot"].options["password"] == "pw-ushot"
    assert by_name["aicross"].options["token"] == "tok-ai"
    assert by_name["tbt"].options["token"] == "tok-tbt"
    assert [r.name for r in settings.routes] == [
        "otp",
        "bigshop-long",
        "korea",
        "japan",
        "representative-senders",
        "rest",
    ]


def message(i: int, **fields: Any) -> Message:
    base: dict[str, Any] = {
        "id": i,
        "client_id": "shop",
        "src_msg_id": f"m{i}",
        "channel": Channel.SMS,
        "sender": "+82212345678",
        "receiver": "+821012345678",
        "content": "hello",
        "created_at": NOW,
        "due_at": NOW,
    }
    return Message(**{**base, **fields})


def test_the_example_routes_as_the_document_says(example: Path) -> None:
    settings = config.load(example, env=ENV)
    names = ["sandbox", *(c.name for c in settings.connectors)]
    router = Router(settings.routes, {n: routecheck.Offline(n) for n in names})

    def goes(m: Message) -> tuple[str | None, str | None]:
        pick = router.pick(m)
        return (
            pick.route.name if pick.route else None,
            pick.connector.name if pick.connector else None,
        )

    assert goes(message(1, sender="+8215881234")) == ("otp", "smsc-a")
    assert goes(message(2, client_id="bigshop", channel=Channel.LMS)) == (
        "bigshop-long",
        "ushot",
    )
    korea = collections.Counter(goes(message(i)) for i in range(100, 200))
    assert korea == {("korea", "smsc-a"): 75, ("korea", "smsc-b"): 25}
    assert goes(message(3, receiver="+819012345678")) == ("japan", "aicross")
    assert goes(message(4, channel=Channel.RCS, sender="+8215881234")) == (
        "representative-senders",
        "tbt",
    )
    assert goes(message(5, channel=Channel.RCS, receiver="+14155550123")) == (
        "rest",
        "sandbox",
    )


def test_the_routes_test_output_shown_is_what_the_command_prints(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = block("routes-test").splitlines()
    command, expected = shown[0], shown[1:]
    args = shlex.split(command.removeprefix("$ umsgate "))
    args[args.index("--config") + 1] = str(example)
    monkeypatch.chdir(example.parent)
    result = CliRunner().invoke(routecheck.app, args[1:], env=ENV)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == expected


def test_the_routes_check_output_shown_is_what_the_command_prints(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = block("routes-check").splitlines()
    monkeypatch.chdir(example.parent)
    result = CliRunner().invoke(
        routecheck.app, ["check", "--config", "umsgate.toml"], env=ENV
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == shown[1:]


def test_the_errors_shown_are_what_loading_says(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(example.parent)
    weights, unset, long = block("errors").splitlines()
    text = example.read_text()
    assert "weights = [3, 1] " in text
    Path("bad.toml").write_text(
        text.replace("weights = [3, 1] ", "weights = [3, 1, 1, 1, 1] ")
    )
    cases = [
        ("bad.toml", ENV, weights.replace("umsgate.toml", "bad.toml")),
        (
            "umsgate.toml",
            {k: v for k, v in ENV.items() if k != "SMSC_A_PASSWORD"},
            unset,
        ),
        ("umsgate.toml", {**ENV, "SMSC_A_PASSWORD": "twelve-chars"}, long),
    ]
    for path, env, expected in cases:
        with pytest.raises(ConfigError) as info:
            registry.check_connectors(config.load(path, env=env))
        assert info.value.message == expected
