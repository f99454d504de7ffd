"""How umsgate's processes log: one line per record on stderr, as text
(``time level logger message key=value…`` with the records' ``extra`` fields) or as
one JSON object per line (``--log-format json``, for log collectors).

The database drivers' loggers (SQLAlchemy, aiosqlite, asyncpg) stay at WARNING
whatever the level: at DEBUG they write several lines per statement and bury
everything else. ``--log-sql`` lets them log at the chosen level.

The command line (`umsgate.cli`) and the processes that ``serve`` starts
(`umsgate.children`) set logging up here and nowhere else; the rest of the code
only logs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import sys

import orjson

#: The formats of ``--log-format``.
FORMATS = ("text", "json")
#: Loggers of the database drivers, quiet unless ``--log-sql``.
DRIVER_LOGGERS = ("sqlalchemy", "aiosqlite", "asyncpg")

_SKIP = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
}


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in record.__dict__.items() if k not in _SKIP}


class _Formatter(logging.Formatter):
    """``time level logger message key=value…`` with the records' ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (ISO 8601 UTC), ``level``, ``logger``,
    ``message``, the ``extra`` fields, and ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LogOptions:
    level: str = "INFO"
    format: str = "text"
    sql: bool = False

    def args(self) -> list[str]:
        """The same options for a process ``serve`` starts (`umsgate.children`)."""
        return [
            "--log-level",
            self.level,
            "--log-format",
            self.format,
            *(["--log-sql"] if self.sql else []),
        ]


#: What the last `setup_logging` was given (the child processes get the same).
current = LogOptions()


def setup_logging(level: str = "INFO", *, fmt: str = "text", sql: bool = False) -> None:
    """Log to stderr at ``level`` in format ``fmt`` (`FORMATS`); the drivers at
    WARNING unless ``sql``.

    Raises:
        ValueError: an unknown format or level.
    """
    global current
    if fmt not in FORMATS:
        raise ValueError(f"log format is one of {', '.join(FORMATS)}, not {fmt!r}")
    name = level.upper()
    if not isinstance(logging.getLevelName(name), int):
        raise ValueError(f"unknown log level {level!r}")
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            _Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(name)
    for driver in DRIVER_LOGGERS:
        logging.getLogger(driver).setLevel(name if sql else logging.WARNING)
    # httpx logs every request at INFO with its full URL: a line per webhook, and
    # report URLs can carry a client's secret in their query.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    current = LogOptions(level=name, format=fmt, sql=sql)
