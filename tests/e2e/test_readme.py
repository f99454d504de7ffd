"""The README's walk-through works as written, against a real ``umsgate serve``."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import orjson

from tests.conftest import Store
from tests.e2e.conftest import server

ROOT = Path(__file__).resolve().parents[2]


def walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(
        r"<!-- walkthrough:start -->\n```bash\n(.*?)```\n<!-- walkthrough:end -->",
        text,
        re.S,
    )
    assert match, "the README has no walk-through block"
    return match.group(1)


async def test_readme_walkthrough(tmp_path: Path) -> None:
    work = tmp_path / "repo"
    work.mkdir()
    # The walk-through runs at the repository root, where scripts/setup made .venv.
    (work / ".venv").symlink_to(ROOT / ".venv")
    store = Store(backend="sqlite", data_dir=work / "data")
    async with server(store, tmp_path) as srv:
        script = walkthrough().replace("127.0.0.1:8080", f"127.0.0.1:{srv.port}")
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ),
            check=False,
        )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    sent = orjson.loads(lines[0])
    assert sent["resultCode"] == "10000"
    reports = orjson.loads(lines[-1])
    assert reports[0]["umsMsgId"] == sent["umsMsgId"]
    assert reports[0]["resultCode"] == "-100"
    assert reports[0]["resultMessage"] == "SM_STATE_DELIVERED"
