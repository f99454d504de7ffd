"""Logging set-up: text or JSON lines, the database drivers quiet unless asked for,
and failing webhooks logged once per client with a count."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import orjson
import pytest

from umsgate import logs
from umsgate.reports.notifier import FailureLog


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put back what pytest set up (its capture handlers) after a test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    loggers = {name: logging.getLogger(name).level for name in logs.DRIVER_LOGGERS}
    saved = logs.current
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lvl in loggers.items():
        logging.getLogger(name).setLevel(lvl)
    logs.current = saved


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_carry_the_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup_logging("info", fmt="json")
    logging.getLogger("umsgate.test").warning(
        "client %s changed", "acme", extra={"event": "client_update", "n": 2}
    )
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("umsgate.test").exception("failed")
    lines = capsys.readouterr().err.splitlines()
    first, second = (orjson.loads(line) for line in lines)
    assert first["message"] == "client acme changed"
    assert first["level"] == "WARNING" and first["logger"] == "umsgate.test"
    assert first["event"] == "client_update" and first["n"] == 2
    assert first["time"].endswith("+00:00")
    assert "RuntimeError: boom" in second["exception"]
    assert logs.current.args() == ["--log-level", "INFO", "--log-format", "json"]


@pytest.mark.usefixtures("restore_logging")
def test_text_lines(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup_logging("INFO")
    logging.getLogger("umsgate.test").info("hello", extra={"event": "x"})
    line = capsys.readouterr().err.strip()
    assert line.endswith("INFO umsgate.test hello event=x")


@pytest.mark.usefixtures("restore_logging")
def test_the_drivers_are_quiet_unless_asked() -> None:
    logs.setup_logging("debug")
    for name in (*logs.DRIVER_LOGGERS, "sqlalchemy.engine", "asyncpg.pool"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
    assert logging.getLogger("umsgate.app").isEnabledFor(logging.DEBUG)
    logs.setup_logging("debug", sql=True)
    assert logging.getLogger("sqlalchemy.engine").isEnabledFor(logging.DEBUG)
    assert logs.current.args()[-1] == "--log-sql"


@pytest.mark.usefixtures("restore_logging")
def test_unknown_format_or_level_is_refused() -> None:
    with pytest.raises(ValueError, match="text, json"):
        logs.setup_logging("info", fmt="xml")
    with pytest.raises(ValueError, match="loud"):
        logs.setup_logging("loud")


def test_failing_webhooks_are_counted_per_client_and_logged_once_a_minute() -> None:
    failures = FailureLog(every=60.0)
    for _ in range(5):
        failures.failed("acme", "HTTP 500", given_up=False)
    failures.failed("acme", "timeout", given_up=True)
    failures.failed("beta", "HTTP 404", given_up=False)
    assert sorted(failures.lines(now=1000.0)) == [
        ("acme", 6, 1, "timeout"),
        ("beta", 1, 0, "HTTP 404"),
    ]
    # More failures within the minute are counted, not logged.
    for _ in range(3):
        failures.failed("acme", "HTTP 500", given_up=False)
    assert failures.lines(now=1030.0) == []
    assert failures.lines(now=1061.0) == [("acme", 3, 0, "HTTP 500")]
    assert failures.lines(now=2000.0) == []  # nothing new, nothing said


@pytest.mark.usefixtures("restore_logging")
def test_a_connector_process_logs_as_its_gateway() -> None:
    from umsgate.config import ConnectorSettings
    from umsgate.hosting.connector import HostedConnector

    logs.setup_logging("warning", fmt="json")
    hosted = HostedConnector(ConnectorSettings(name="c", protocol="sandbox"))
    command = hosted._command
    assert command[command.index("--log-format") + 1] == "json"
    assert command[command.index("--log-level") + 1] == "WARNING"
