"""docs/result-codes.md lists every unified code as the code defines it."""

from __future__ import annotations

from pathlib import Path

from umsgate.domain.results import ResultCode
from umsgate.reports.format import native_code

DOC = Path(__file__).resolve().parents[3] / "docs" / "result-codes.md"


def test_every_unified_code_is_documented() -> None:
    text = DOC.read_text()
    block = text.split("<!-- codes:start -->")[1].split("<!-- codes:end -->")[0]
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in block.splitlines()
        if line.startswith("| `")
    }
    assert set(rows) == {c.value for c in ResultCode}
    for code in ResultCode:
        row = rows[code.value]
        assert f"| {code.name} |" in row
        assert f"`{native_code(code)[0]}`" in row
        assert ("transient" in row) == code.transient
