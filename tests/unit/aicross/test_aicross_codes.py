"""AI CROSS placeholder table: the same in docs/protocols/aicross.md."""

from __future__ import annotations

from pathlib import Path

from umsgate.domain.results import ResultCode
from umsgate.protocols.aicross import codes

DOC = Path(__file__).parents[3] / "docs" / "protocols" / "aicross.md"


def table_rows(text: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells
    return rows


def test_every_code_but_the_duplicate_is_mapped() -> None:
    assert set(codes.DEFAULT_RESULTS) == set(codes.ErrorCode) - {
        codes.ErrorCode.DUPLICATE_CLIENT_TAG
    }
    assert set(codes.MESSAGES) == set(codes.ErrorCode)
    assert codes.unified(None, codes.DEFAULT_RESULTS) is ResultCode.FAILED
    assert codes.unified("99999", codes.DEFAULT_RESULTS) is ResultCode.FAILED


def test_docs_table_matches_the_code() -> None:
    rows = table_rows(DOC.read_text(encoding="utf-8"))
    for raw, unified in codes.DEFAULT_RESULTS.items():
        row = rows[raw]
        status = codes.HTTP_STATUS.get(codes.ErrorCode(raw))
        assert row[2:6] == [
            str(status) if status else "—",
            unified.value,
            unified.name,
            "yes" if unified.transient else "no",
        ], row
    assert rows[codes.ErrorCode.DUPLICATE_CLIENT_TAG][2] == "409"
