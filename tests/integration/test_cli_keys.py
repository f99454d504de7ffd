"""``umsgate secret-key`` and ``umsgate client rotate-webhook-key``: a key file made
0600, keys sealed by the CLI when a key is configured, and a rotation shown once."""

from __future__ import annotations

import asyncio
import datetime as dt
import stat
import time
from pathlib import Path

import orjson
from sqlalchemy import select
from typer.testing import CliRunner

from umsgate import cli, clients, config, sealing
from umsgate.store import tables
from umsgate.store.database import open_database


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


def stored(data_dir: Path, client_id: str) -> tuple[str, str, float]:
    async def read() -> tuple[str, str, float]:
        settings = config.load(
            None, env={}, overrides={"store": {"data_dir": str(data_dir)}}
        )
        db = open_database(settings)
        try:
            c = tables.clients
            stmt = select(
                c.c.signing_key, c.c.previous_signing_key, c.c.previous_key_until
            ).where(c.c.id == client_id)
            async with db.transaction() as conn:
                row = (await conn.execute(stmt)).one()
        finally:
            await db.close()
        return str(row[0]), str(row[1]), float(row[2])

    return asyncio.run(read())


def test_secret_key_makes_a_private_key_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.app, ["secret-key"], env={})
    assert result.exit_code == 0
    sealing.check_key(result.output.strip())
    out = tmp_path / "umsgate.key"
    result = CliRunner().invoke(cli.app, ["secret-key", "--out", str(out)], env={})
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    sealing.check_key(out.read_text().strip())
    # Never over an existing file.
    before = out.read_text()
    result = CliRunner().invoke(cli.app, ["secret-key", "--out", str(out)], env={})
    assert result.exit_code == 1 and "exists" in result.output
    assert out.read_text() == before


def test_rotate_webhook_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = sealing.new_key()
    env = {"UMSGATE_SECRET_KEY": key}
    status, out = run(data, "client", "add", "--id", "a", "--create", env=env)
    assert status == 0, out
    secret = orjson.loads(out.splitlines()[0])["clientSecret"]
    signing, previous, _ = stored(data, "a")
    opener = sealing.Sealer(key)
    assert sealing.is_sealed(signing)
    assert opener.open(signing) == clients.signing_key(secret)
    assert previous == ""

    before = time.time()
    status, out = run(data, "client", "rotate-webhook-key", "--id", "a",
                      "--grace", "7200", env=env)  # fmt: skip
    assert status == 0, out
    shown = orjson.loads(out)
    assert set(shown) == {"clientId", "signingKey", "previousKeyUntil"}
    until = dt.datetime.fromisoformat(shown["previousKeyUntil"]).timestamp()
    assert before + 7200 - 2 <= until <= time.time() + 7200 + 1
    signing, previous, until_stored = stored(data, "a")
    assert opener.open(signing) == shown["signingKey"]
    assert opener.open(previous) == clients.signing_key(secret)
    assert abs(until_stored - until) < 1.5

    # The settings' grace by default.
    status, out = run(data, "client", "rotate-webhook-key", "--id", "a", env={
        **env, "UMSGATE_SECURITY_WEBHOOK_KEY_GRACE": "60"})  # fmt: skip
    assert status == 0, out
    assert stored(data, "a")[2] <= time.time() + 61
    status, out = run(data, "client", "rotate-webhook-key", "--id", "a",
                      "--grace", "-5", env=env)  # fmt: skip
    assert status != 0 and "--grace" in out
    status, out = run(data, "client", "rotate-webhook-key", "--id", "nobody", env=env)
    assert status == 1 and "no client 'nobody'" in out
