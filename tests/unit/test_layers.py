"""Layers: the domain's rules import no engine, store or protocol code (so the
engine depends on the domain and never the other way), the clock seam depends on
nothing of umsgate, the packages import one another without a cycle (the order is
in docs/architecture.md, "Which package may import which"), and no face imports the
composition root. Read from the source, without importing it."""

from __future__ import annotations

import ast
import itertools
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
            if node.module == "umsgate":  # from umsgate import targets
                names.update(f"umsgate.{alias.name}" for alias in node.names)
            else:
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


# -- no cycle among packages -----------------------------------------------------------

#: An import between two packages, and the files that make it.
Graph = dict[tuple[str, str], set[str]]


def node_of(root: Path, name: str) -> str:
    """The node of an imported module: its subpackage or top-level module of
    ``umsgate`` (``umsgate.engine.pacer`` → ``engine``), or ``__init__`` for a
    name of the package itself (``umsgate.__version__``)."""
    first = name.split(".")[1] if "." in name else "__init__"
    if (root / first).is_dir() or (root / f"{first}.py").is_file():
        return first
    return "__init__"


def package_graph(root: Path) -> Graph:
    """Which node imports which, each subpackage and each top-level module of the
    package at ``root`` being one node; every import counts (deferred ones and
    those under ``TYPE_CHECKING`` too: they are layering all the same)."""
    graph: Graph = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        source = rel.parts[0].removesuffix(".py")
        for name in imported(path):
            target = node_of(root, name)
            if target != source:
                graph.setdefault((source, target), set()).add(str(rel))
    return graph


def find_cycle(graph: Graph) -> list[str]:
    """A cycle of ``graph`` as its nodes in order (the first again at the end), or
    [] when it has none."""
    following: dict[str, list[str]] = {}
    for source, target in sorted(graph):
        following.setdefault(source, []).append(target)
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str]:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return []
        path.append(node)
        for target in following.get(node, []):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return []

    for node in sorted(following):
        cycle = visit(node)
        if cycle:
            return cycle
    return []


def described(graph: Graph, cycle: list[str]) -> str:
    return "\n".join(
        f"{a} -> {b}: {', '.join(sorted(graph[a, b]))}"
        for a, b in itertools.pairwise(cycle)
    )


def test_no_import_cycle_among_packages() -> None:
    graph = package_graph(SRC)
    cycle = find_cycle(graph)
    assert cycle == [], "import cycle:\n" + described(graph, cycle)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_cycle_check_finds_a_cycle(tmp_path: Path) -> None:
    # low -> high by a deferred import, high -> low under TYPE_CHECKING.
    root = write(
        tmp_path,
        {
            "__init__.py": "",
            "low.py": "def f():\n    from umsgate.high.part import g\n",
            "high/__init__.py": "",
            "high/part.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from umsgate import low\n"
            ),
            "top.py": "import umsgate.high.part\nfrom umsgate import __version__\n",
        },
    )
    graph = package_graph(root)
    assert graph == {
        ("low", "high"): {"low.py"},
        ("high", "low"): {"high/part.py"},
        ("top", "high"): {"top.py"},
        ("top", "__init__"): {"top.py"},
    }
    assert find_cycle(graph) == ["high", "low", "high"]
    assert described(graph, ["high", "low", "high"]) == (
        "high -> low: high/part.py\nlow -> high: low.py"
    )
    del graph["low", "high"]
    assert find_cycle(graph) == []


# -- faces and the composition root ---------------------------------------------------


def faces() -> list[Path]:
    """The modules that serve requests: the protocols' faces and sends, the
    console, the fronts."""
    protocols = SRC / "protocols"
    return sorted(
        [
            *(
                p
                for name in ("face", "send", "lookup")
                for p in protocols.glob(f"*/{name}.py")
            ),
            *under("console"),
            *under("front"),
        ]
    )


@pytest.mark.parametrize("path", faces(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_face_imports_the_composition_root(path: Path) -> None:
    bad = sorted(
        n for n in imported(path) if n == "umsgate.app" or n.startswith("umsgate.app.")
    )
    assert bad == []


def test_the_faces_are_found() -> None:
    names = {str(p.relative_to(SRC)) for p in faces()}
    assert {
        "protocols/apigw/face.py",
        "protocols/apigw/lookup.py",
        "protocols/apigw/send.py",
        "protocols/imsms/face.py",
        "protocols/tobetext/face.py",
        "console/auth.py",
        "console/data.py",
        "front/app.py",
    } <= names


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


#: The store's modules on the driver alone (`umsgate.store.driver`): the gateway
#: process runs them without SQLAlchemy.
ON_THE_DRIVER = ("accounts", "files", "lookup", "console", "operators")


def source_of(module: str) -> Path | None:
    """The file of a umsgate module (None: not a module of umsgate's own)."""
    base = SRC.parent / module.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def umsgate_imports(path: Path) -> set[str]:
    """The umsgate modules ``path`` imports, a module named in ``from package
    import module`` too."""
    names = imported(path)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if source_of(f"{node.module}.{alias.name}") is not None
            )
    return {n for n in names if source_of(n) is not None}


@pytest.mark.parametrize("name", ON_THE_DRIVER)
def test_the_stores_on_the_driver_need_no_sqlalchemy(name: str) -> None:
    """Neither the module nor any umsgate module it imports, at any depth."""
    seen: set[str] = set()
    todo = [f"umsgate.store.{name}"]
    while todo:
        module = todo.pop()
        path = source_of(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        assert "sqlalchemy" not in imported_packages(path), module
        todo.extend(umsgate_imports(path))
    assert "umsgate.store.driver" in seen


def test_the_driver_check_follows_imports() -> None:
    assert "umsgate.store.lookup" in umsgate_imports(SRC / "store" / "console.py")
    assert "umsgate.store.tables" in umsgate_imports(
        SRC / "store" / "migrations" / "env.py"
    )


# -- transactions stay in the store ---------------------------------------------------

#: The names a `Database` goes by where it is used (``db``, ``self._db``, ``gw.db``,
#: the CLI's ``d``): a ``.read()`` or ``.transaction()`` on one of them opens a
#: SQLAlchemy connection.
DATABASE_NAMES = {"db", "_db", "d", "database"}


def connection_uses(path: Path) -> list[str]:
    """Where ``path`` opens a connection of a `Database` (``db.read()``,
    ``db.transaction()``) or names ``AsyncConnection``, as ``line: what``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("read", "transaction")
            and not node.args
            and not node.keywords
        ):
            receiver = node.func.value
            name = (
                receiver.attr
                if isinstance(receiver, ast.Attribute)
                else receiver.id
                if isinstance(receiver, ast.Name)
                else ""
            )
            if name in DATABASE_NAMES:
                found.append(f"{node.lineno}: {name}.{node.func.attr}()")
        elif (isinstance(node, ast.Name) and node.id == "AsyncConnection") or (
            isinstance(node, ast.Attribute) and node.attr == "AsyncConnection"
        ):
            found.append(f"{node.lineno}: AsyncConnection")
        elif isinstance(node, ast.ImportFrom):
            found.extend(
                f"{node.lineno}: AsyncConnection"
                for alias in node.names
                if alias.name == "AsyncConnection"
            )
    return found


@pytest.mark.parametrize(
    "path",
    outside_the_store(),
    ids=lambda p: str(p.relative_to(SRC)),
)
def test_only_the_store_opens_transactions(path: Path) -> None:
    assert connection_uses(path) == []


def test_the_transaction_check_sees_them(tmp_path: Path) -> None:
    assert connection_uses(SRC / "store" / "migrate.py")
    path = tmp_path / "m.py"
    path.write_text(
        "from x import AsyncConnection as C\n"
        "async def f(gw, fh, conn: 'AsyncConnection'):\n"
        "    async with gw.db.read() as c:\n"
        "        data = fh.read()\n"
        "    async with self._db.transaction() as c:\n"
        "        text = item.read(10)\n"
    )
    assert connection_uses(path) == [
        "1: AsyncConnection",
        "3: db.read()",
        "5: _db.transaction()",
    ]
