"""IMS SMS code tables: complete, and the same in docs/protocols/imsms.md."""

from __future__ import annotations

from pathlib import Path

from umsgate.domain.results import ResultCode
from umsgate.protocols.imsms import codes

DOC = Path(__file__).parents[3] / "docs" / "protocols" / "imsms.md"


def table_rows(text: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells
    return rows


def test_tables_complete() -> None:
    assert set(codes.SEND_RESULTS) == set(codes.ResultCd) - {codes.ResultCd.OK}
    assert set(codes.HTTP_STATUS) == set(codes.ResultCd) == set(codes.MESSAGES)
    assert codes.send_result("777") is ResultCode.FAILED


def test_docs_table_matches_the_code() -> None:
    rows = table_rows(DOC.read_text(encoding="utf-8"))
    for cd, unified in codes.SEND_RESULTS.items():
        row = rows[cd.value]
        assert row[2:6] == [
            str(codes.HTTP_STATUS[cd]),
            unified.value,
            unified.name,
            "yes" if unified.transient else "no",
        ], row
    assert rows["000"][2] == "200"
    assert rows["other"][3:5] == [ResultCode.FAILED.value, ResultCode.FAILED.name]
