"""The gateway process loads only what it runs. The HTTP client library only when
one of its connectors makes HTTP requests: a gateway of SMPP (or UShot, or the
sandbox) starts and stops in a fresh interpreter without ``httpx`` in
``sys.modules``, and one with a ToBeText connector makes the shared client its
connectors use. The simulators' modules only for ``umsgate sim``: the command line
of ``serve`` (the gateway process) and the other commands leave them unloaded."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

GATEWAY = """
import asyncio, json, sys
from pathlib import Path
from umsgate import config
from umsgate.app import Gateway

async def main():
    settings = config.load(Path(sys.argv[1]), env={})
    gateway = Gateway(settings)
    await gateway.start()
    try:
        made = gateway.http is not None
    finally:
        await gateway.stop()
    return made

made = asyncio.run(main())
print(json.dumps({"client": made, "httpx": "httpx" in sys.modules}))
"""

SMPP = """
[[connectors]]
name = "smsc"
protocol = "smpp"
own_process = false
host = "127.0.0.1"
port = 9
system_id = "u"
password = "p"
"""

TOBETEXT = """
[[connectors]]
name = "tbt"
protocol = "tobetext"
cid = "C1"
token = "T1"
url = "http://127.0.0.1:9/"
"""


async def _run(tmp_path: Path, connectors: str) -> dict[str, bool]:
    data = tmp_path / "data"
    conf = tmp_path / "umsgate.toml"
    conf.write_text(f'[store]\ndata_dir = "{data}"\n{connectors}')
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        GATEWAY,
        str(conf),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    result: dict[str, bool] = json.loads(out.decode().strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("connectors", [SMPP, ""], ids=["smpp", "sandbox-only"])
async def test_a_gateway_without_http_providers_never_loads_httpx(
    tmp_path: Path, connectors: str
) -> None:
    assert await _run(tmp_path, connectors) == {"client": False, "httpx": False}


async def test_a_gateway_with_an_http_provider_makes_the_shared_client(
    tmp_path: Path,
) -> None:
    assert await _run(tmp_path, TOBETEXT) == {"client": True, "httpx": True}


COMMAND_LINE = """
import json, sys
from umsgate import cli

sys.argv = ["umsgate", *sys.argv[1:]]
try:
    cli.main()
except SystemExit:
    pass
print(json.dumps({"simulators": "umsgate.protocols.smpp.simulator" in sys.modules,
                  "httpx": "httpx" in sys.modules}))
"""


@pytest.mark.parametrize(
    ("args", "loaded"),
    [(["version"], False), (["serve", "--help"], False), (["sim", "--help"], True)],
)
async def test_the_command_line_loads_the_simulators_only_for_sim(
    args: list[str], loaded: bool
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        COMMAND_LINE,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    found = json.loads(out.decode().strip().splitlines()[-1])
    assert found == {"simulators": loaded, "httpx": loaded}
