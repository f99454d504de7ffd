"""The operators' command line: a store that is not there is not made up, inputs are
checked with clear errors, ``client update`` keeps live tokens unless a credential
changes, ``messages show/search`` print a message's timeline and a search, and
every help text fits 80 columns."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
import typer
from sqlalchemy import insert
from typer.testing import CliRunner

from tests.conftest import Store, make_settings
from tests.integration.lookup.test_store_lookup import _filled
from umsgate import __version__, clients
from umsgate.cli import app
from umsgate.clients import AuthError, Directory
from umsgate.store import lookup
from umsgate.store.database import open_database
from umsgate.store.tables import events

runner = CliRunner()


def run(*args: str, columns: int = 200) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": str(columns)})
    return result.exit_code, result.output


def test_client_commands_refuse_a_store_that_does_not_exist(tmp_path: Path) -> None:
    where = tmp_path / "wrong-folder"
    for args in (
        ("client", "list"),
        ("client", "update", "--id", "a", "--tps-sms", "5"),
        ("client", "add", "--id", "a"),
        ("client", "rotate-webhook-key", "--id", "a"),
        ("messages", "search"),
    ):
        code, out = run(*args, "--data-dir", str(where))
        assert code == 1, (args, out)
        assert "there is no store at" in out and str(where / "umsgate.db") in out
        assert "--create" in out
    assert not where.exists()  # nothing was made on the way

    code, out = run("client", "add", "--id", "a", "--data-dir", str(where), "--create")
    assert code == 0, out
    code, out = run("client", "list", "--data-dir", str(where))
    assert code == 0 and orjson.loads(out.splitlines()[0])["clientId"] == "a"


@pytest.mark.parametrize(
    ("args", "option", "words"),
    [
        (("--tps-sms", "-5"), "--tps-sms", "1..1000000000, not -5"),
        (("--tps-kko", "0"), "--tps-kko", "not 0"),
        (("--report-url", "not-a-url"), "--report-url", "http or https"),
        (("--report-url", "ftp://host/x"), "--report-url", "http or https"),
        (("--report-url", "http:///path"), "--report-url", "no host"),
    ],
)
def test_client_add_checks_its_inputs(
    tmp_path: Path, args: tuple[str, ...], option: str, words: str
) -> None:
    data = str(tmp_path / "data")
    code, out = run(
        "client", "add", "--id", "ok", *args, "--data-dir", data, "--create"
    )
    assert code == 2, out
    assert option in out and words in out
    assert "Traceback" not in out
    assert not (tmp_path / "data").exists()


def test_client_ids_are_checked(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    for bad in ("bad id!", "-leading", "a" * 65, "tab\there", ""):
        code, out = run("client", "add", "--id", bad, "--data-dir", data, "--create")
        assert code == 2, (bad, out)
        assert "Invalid value for --id" in out
    for good in ("C000123", "shop.kr", "app_2", "ops@acme", "a" * 64):
        code, out = run("client", "add", "--id", good, "--data-dir", data, "--create")
        assert code == 0, (good, out)


def test_client_update_keeps_tokens_unless_a_credential_changes(
    sqlite_store: Store,
) -> None:
    data = str(sqlite_store.data_dir)
    code, out = run("client", "add", "--id", "shop", "--data-dir", data, "--create")
    assert code == 0, out
    creds = orjson.loads(out.splitlines()[0])

    async def token() -> str:
        db = open_database(make_settings(sqlite_store))
        try:
            directory = Directory(db, token_ttl=3600, cache_ttl=0)
            issued = await directory.issue_token(
                "shop", creds["clientSecret"], creds["clientKey"]
            )
            return issued.token
        finally:
            await db.close()

    async def valid(tok: str) -> bool:
        db = open_database(make_settings(sqlite_store))
        try:
            directory = Directory(db, token_ttl=3600, cache_ttl=0)
            try:
                info = await directory.authenticate(tok)
            except AuthError:
                return False
            return info.id == "shop"
        finally:
            await db.close()

    live = asyncio.run(token())
    for change in (
        ("--tps-sms", "5"),
        ("--tps-kko", "7"),
        ("--report-url", "https://93.184.215.14/hooks"),
        ("--dup-window", "60"),
        ("--imsms-agent", "agent1"),
    ):
        code, out = run("client", "update", "--id", "shop", *change, "--data-dir", data)
        assert code == 0, out
        assert asyncio.run(valid(live)), change
    code, out = run("client", "list", "--data-dir", data)
    row = orjson.loads(out.splitlines()[0])
    assert row["tps"]["SMS"] == 5 and row["reportUrl"] == "https://93.184.215.14/hooks"

    code, out = run(
        "client", "update", "--id", "shop", "--secret", "new-secret", "--data-dir", data
    )
    assert code == 0, out
    assert not asyncio.run(valid(live))

    code, out = run(
        "client", "update", "--id", "shop", "--report-url", "nope", "--data-dir", data
    )
    assert code == 2 and "--report-url" in out and "http or https" in out


def test_version() -> None:
    for args in (("--version",), ("version",)):
        code, out = run(*args)
        assert code == 0 and out.strip() == __version__


def _commands(group: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command's path (typer's groups carry ``commands``)."""
    found = [path]
    for name, sub in getattr(group, "commands", {}).items():
        found.extend(_commands(sub, (*path, name)))
    return found


def test_every_help_text_fits_80_columns() -> None:
    paths = _commands(typer.main.get_command(app))
    assert ("messages", "search") in paths and ("client", "add") in paths
    for path in paths:
        code, out = run(*path, "--help", columns=80)
        assert code == 0, (path, out)
        long = [line for line in out.splitlines() if len(line) > 80]
        assert not long, (path, long)


def test_messages_show_and_search(sqlite_store: Store) -> None:
    async def fill() -> list[int]:
        db = await _filled(sqlite_store, count=90)
        try:
            page = await lookup.search(db, lookup.Search(client_id="acme", limit=10))
            ids = [m.id for m in page.messages]
            async with db.transaction() as conn:
                await conn.execute(
                    insert(events),
                    [
                        {
                            "message_id": ids[0],
                            "at": 1.0,
                            "status": "ACCEPTED",
                            "detail": "",
                        },
                        {
                            "message_id": ids[0],
                            "at": 2.0,
                            "status": "WEBHOOK",
                            "detail": "try 1: HTTP 500",
                        },
                    ],
                )
            return ids
        finally:
            await db.close()

    ids = asyncio.run(fill())
    data = str(sqlite_store.data_dir)
    code, out = run("messages", "show", str(ids[0]), "--data-dir", data)
    assert code == 0, out
    assert f"message {ids[0]}" in out and "acme" in out
    assert "ACCEPTED" in out and "webhook" in out and "try 1: HTTP 500" in out

    code, out = run("messages", "show", "123", "--data-dir", data)
    assert code == 1 and "no message 123" in out

    code, out = run(
        "messages", "search", "--client", "acme", "--limit", "2", "--data-dir", data
    )
    assert code == 0, out
    assert str(ids[0]) in out and str(ids[1]) in out and str(ids[2]) not in out
    cursor = out.rsplit("--cursor ", 1)[1].strip()
    code, out = run(
        "messages", "search", "--client", "acme", "--limit", "2",
        "--cursor", cursor, "--data-dir", data,
    )  # fmt: skip
    assert code == 0 and str(ids[2]) in out and str(ids[1]) not in out

    code, out = run(
        "messages", "search", "--receiver", "010-1234-5678", "--status", "failed",
        "--data-dir", data,
    )  # fmt: skip
    assert code == 0, out
    for bad, option in (
        (("--limit", "201"), "--limit"),
        (("--status", "LOST"), "--status"),
        (("--channel", "FAX"), "--channel"),
        (("--receiver", "12"), "--receiver"),
        (("--since", "yesterday"), "--since"),
        (("--cursor", "x"), "--cursor"),
    ):
        code, out = run("messages", "search", *bad, "--data-dir", data)
        assert code == 2 and f"Invalid value for {option}" in out, (bad, out)
    assert clients.CLIENT_ID.fullmatch("acme")


def test_serve_refuses_an_unknown_log_format() -> None:
    code, out = run("serve", "--log-format", "xml", "--port", "0")
    assert code == 2 and "text, json" in out
