"""The route table from the command line, as real processes: ``routes check`` exit
codes, and ``serve`` refusing a file it cannot use with the line, no traceback and
no secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

GOOD = """\
[[connectors]]
name = "smsc"
protocol = "smpp"
host = "127.0.0.1"
system_id = "esme"
password_env = "SMSC_PASSWORD"

[[routes]]
name = "all"
connectors = ["smsc", "sandbox"]
"""


def umsgate(
    tmp_path: Path, *args: str, secret: str | None
) -> subprocess.CompletedProcess[str]:
    """``umsgate ARGS`` in ``tmp_path``, with ``secret`` as SMSC_PASSWORD (None:
    the variable is not set)."""
    env = {**os.environ}
    env.pop("UMSGATE_CONFIG", None)
    env.pop("SMSC_PASSWORD", None)
    if secret is not None:
        env["SMSC_PASSWORD"] = secret
    return subprocess.run(
        [sys.executable, "-m", "umsgate", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_routes_check_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "umsgate.toml").write_text(GOOD)
    ok = umsgate(tmp_path, "routes", "check", "--config", "umsgate.toml", secret="s3")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("umsgate.toml: OK\n")
    bad = umsgate(tmp_path, "routes", "check", "--config", "umsgate.toml", secret=None)
    assert bad.returncode == 1
    assert "umsgate.toml, line 6: connector 'smsc': the environment variable" in (
        bad.stderr
    )
    assert "Traceback" not in bad.stderr


def test_serve_refuses_a_connector_option_naming_the_line(tmp_path: Path) -> None:
    """An SMPP password of more than 8 characters, from the environment: serve
    stops before it listens, names the line of ``password_env``, hides the value."""
    (tmp_path / "umsgate.toml").write_text(GOOD)
    done = umsgate(
        tmp_path,
        "serve",
        "--config",
        "umsgate.toml",
        "--data-dir",
        str(tmp_path / "data"),
        "--port",
        "0",
        secret="much-too-long-secret",
    )
    assert done.returncode == 2
    assert "umsgate.toml, line 6: connector 'smsc': option 'password'" in done.stderr
    assert "much-too-long-secret" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
