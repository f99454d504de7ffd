"""The codec and session modules stay sans-I/O (STYLE convention 1): no asyncio,
sockets, logging, store or clock among their imports."""

from __future__ import annotations

import ast
import importlib
import pathlib

import pytest

SANS_IO = [
    "codes",
    "errors",
    "tlv",
    "pdu",
    "session",
    "gsm",
    "encoding",
    "receipt",
    "results",
    "outbound",
    "options",
]
#: Sans-I/O modules the SMPP connector shares with others.
SHARED = ["umsgate.protocols.ratelimit"]
FORBIDDEN = {
    "asyncio",
    "socket",
    "logging",
    "time",
    "selectors",
    "ssl",
    "umsgate.store",
}


@pytest.mark.parametrize(
    "name", [f"umsgate.protocols.smpp.{name}" for name in SANS_IO] + SHARED
)
def test_no_io_imports(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    tree = ast.parse(pathlib.Path(module.__file__).read_text("utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    bad = {m for m in imported if m in FORBIDDEN or m.split(".")[0] in FORBIDDEN}
    assert not bad, f"{name} imports {sorted(bad)}"
    # No module reads the clock: datetime.now / time.time are not called.
    source = ast.unparse(tree)
    assert ".now(" not in source and "time.time(" not in source
