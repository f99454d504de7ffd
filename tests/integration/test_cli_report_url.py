"""``umsgate client add/update --report-url`` under the outbound URL policy: URLs the
gateway would never call are refused with exit code 2 and the reason; private
addresses (and names that resolve to them, through the CLI's resolver seam) only
with ``webhook.allow_private_targets``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from umsgate import cli

ALLOW = {"UMSGATE_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}


def run(
    data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli.app,
        [*args, "--data-dir", str(data_dir)],
        env=env or {},
        catch_exceptions=False,
    )
    return result.exit_code, result.output


def report_urls(data_dir: Path) -> dict[str, str]:
    status, out = run(data_dir, "client", "list")
    assert status == 0, out
    rows = [orjson.loads(line) for line in out.splitlines()]
    return {r["clientId"]: r["reportUrl"] for r in rows}


async def resolve(host: str, _port: int) -> Sequence[str]:
    if host == "hooks.private.example":
        return ["10.0.0.7"]
    if host == "hooks.public.example":
        return ["93.184.215.14"]
    raise OSError(f"unknown name {host!r}")


@pytest.fixture(autouse=True)
def resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    # The seam the CLI offers for this: nothing here may reach the DNS.
    monkeypatch.setattr(cli, "RESOLVER", resolve)


@pytest.fixture(autouse=True)
def store(tmp_path: Path) -> None:
    """The tests' store exists (client commands refuse one that does not)."""
    assert run(tmp_path / "data", "migrate")[0] == 0


PRIVATE = [
    ("http://127.0.0.1:9000/hooks", "127.0.0.1, a loopback address"),
    ("http://10.0.0.1/hooks", "10.0.0.1, a private address"),
    ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
    (
        "https://hooks.private.example/hooks",
        "hooks.private.example resolves to 10.0.0.7, a private address",
    ),
]
MALFORMED = [
    ("file:///etc/passwd", "must be http or https, not file://"),
    ("gopher://example.com:70/_x", "must be http or https, not gopher://"),
    ("notaurl", "must be http or https"),
    ("http:///reports", "no host"),
]


@pytest.mark.parametrize(("url", "reason"), PRIVATE + MALFORMED)
def test_refused_when_set(tmp_path: Path, url: str, reason: str) -> None:
    data = tmp_path / "data"
    status, out = run(data, "client", "add", "--id", "a", "--report-url", url)
    assert status == 2
    assert f"error: --report-url {url!r}: " in out and reason in out
    assert "Traceback" not in out
    assert report_urls(data) == {}  # nothing was created
    assert run(data, "client", "add", "--id", "a")[0] == 0
    status, out = run(data, "client", "update", "--id", "a", "--report-url", url)
    assert status == 2 and reason in out
    assert report_urls(data) == {"a": ""}


@pytest.mark.parametrize(("url", "reason"), PRIVATE)
def test_private_targets_allowed_by_the_setting(
    tmp_path: Path, url: str, reason: str
) -> None:
    data = tmp_path / "data"
    status, out = run(
        data, "client", "add", "--id", "a", "--report-url", url, env=ALLOW
    )
    assert status == 0, out
    assert report_urls(data) == {"a": url}
    # From the settings file as well.
    settings = tmp_path / "umsgate.toml"
    settings.write_text("[webhook]\nallow_private_targets = true\n")
    status, out = run(
        data, "client", "update", "--id", "a", "--report-url", url + "x",
        "--config", str(settings),
    )  # fmt: skip
    assert status == 0, out
    assert report_urls(data) == {"a": url + "x"}


@pytest.mark.parametrize(("url", "reason"), MALFORMED)
def test_malformed_urls_refused_even_when_private_targets_are_allowed(
    tmp_path: Path, url: str, reason: str
) -> None:
    status, out = run(
        tmp_path / "data", "client", "add", "--id", "a", "--report-url", url, env=ALLOW
    )
    assert status == 2 and reason in out


def test_public_and_unresolved_names_are_taken(tmp_path: Path) -> None:
    """A name that does not resolve now is kept: it is checked at every send."""
    data = tmp_path / "data"
    for client_id, url in (
        ("a", "https://hooks.public.example/hooks"),
        ("b", "https://not-yet.example/hooks"),
        ("c", "http://93.184.215.14:8080/hooks"),
    ):
        status, out = run(data, "client", "add", "--id", client_id, "--report-url", url)
        assert status == 0, out
    assert set(report_urls(data)) == {"a", "b", "c"}
    # "" clears it.
    assert run(data, "client", "update", "--id", "a", "--report-url", "")[0] == 0
    assert report_urls(data)["a"] == ""
