"""Layers: the domain's rules import no engine, store or protocol code (so the
engine depends on the domain and never the other way), and the clock seam depends
on nothing of umsgate. Read from the source, without importing it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import umsgate

SRC = Path(umsgate.__file__).parent


def imported(path: Path) -> set[str]:
    """The umsgate modules ``path`` imports (at any level: a deferred import is
    an import too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n == "umsgate" or n.startswith("umsgate.")}


def under(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


FORBIDDEN_TO_DOMAIN = (
    "umsgate.engine",
    "umsgate.store",
    "umsgate.protocols",
    "umsgate.reports",
    "umsgate.front",
    "umsgate.hosting",
    "umsgate.app",
)


@pytest.mark.parametrize("path", under("domain"), ids=lambda p: p.name)
def test_the_domain_imports_no_outer_layer(path: Path) -> None:
    bad = sorted(
        name
        for name in imported(path)
        for prefix in FORBIDDEN_TO_DOMAIN
        if name == prefix or name.startswith(prefix + ".")
    )
    assert bad == []


def test_the_clock_depends_on_nothing_of_umsgate() -> None:
    assert imported(SRC / "clock.py") == set()


def test_the_check_sees_imports() -> None:
    # The ledger imports the domain's rules: the walk finds them.
    assert "umsgate.domain" in imported(SRC / "engine" / "ledger.py")


SQL_PACKAGES = ("sqlalchemy", "aiosqlite", "asyncpg", "sqlite3")


def imported_packages(path: Path) -> set[str]:
    """The top-level packages ``path`` imports, at any level (under
    ``TYPE_CHECKING`` and inside functions too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
    return names


def outside_the_store() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if (SRC / "store") not in p.parents]


@pytest.mark.parametrize(
    "path", outside_the_store(), ids=lambda p: str(p.relative_to(SRC))
)
def test_only_the_store_speaks_to_the_database(path: Path) -> None:
    assert sorted(imported_packages(path) & set(SQL_PACKAGES)) == []


def test_the_database_check_sees_imports() -> None:
    assert "sqlalchemy" in imported_packages(SRC / "store" / "database.py")
    assert "sqlite3" in imported_packages(SRC / "store" / "driver.py")
