"""The lifecycle diagram in docs/architecture.md is generated from the table."""

from __future__ import annotations

import re
from pathlib import Path

from umsgate.domain import lifecycle

DOC = Path(__file__).resolve().parents[3] / "docs" / "architecture.md"


def test_architecture_diagram_matches_the_table() -> None:
    text = DOC.read_text()
    match = re.search(
        r"<!-- lifecycle:start -->\n```mermaid\n(.*?)\n```\n<!-- lifecycle:end -->",
        text,
        re.S,
    )
    assert match, "docs/architecture.md has no lifecycle block"
    assert match.group(1) == lifecycle.mermaid()
