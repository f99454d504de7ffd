"""How umsgate's processes log: one line per record on stderr,
``time level logger message key=value…`` with the records' ``extra`` fields.

The command line (`umsgate.cli`) and the processes that ``serve`` starts
(`umsgate.children`) set logging up here and nowhere else; the rest of the code
only logs.
"""

from __future__ import annotations

import logging
import sys


class _Formatter(logging.Formatter):
    """``time level logger message key=value…`` with the records' ``extra`` fields."""

    _skip = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
        "message",
        "asctime",
    }

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in self._skip}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO with its full URL: a line per webhook, and
    # report URLs can carry a client's secret in their query.
    logging.getLogger("httpx").setLevel(logging.WARNING)
