"""ToBeText code tables: complete, and the same in docs/protocols/tobetext.md."""

from __future__ import annotations

from pathlib import Path

from umsgate.domain.results import ResultCode
from umsgate.protocols.tobetext import codes

DOC = Path(__file__).parents[3] / "docs" / "protocols" / "tobetext.md"


def table_rows(text: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells
    return rows


def _sections() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    text = DOC.read_text(encoding="utf-8")
    ack, _, rest = text.partition("Callback codes")
    return table_rows(ack.partition("Acknowledgement codes")[2]), table_rows(rest)


def test_every_refusal_is_mapped() -> None:
    assert set(codes.ACK_RESULTS) == set(codes.AckCode) - {codes.AckCode.SUCCESS}
    assert set(codes.CALLBACK_RESULTS) == set(codes.CallbackCode)
    assert set(codes.ACK_MESSAGES) == set(codes.AckCode)
    assert codes.ack_result(1234) is ResultCode.FAILED
    assert codes.callback_result(999) is ResultCode.FAILED
    assert codes.callback_result(200) is ResultCode.DELIVERED


def test_docs_tables_match_the_code() -> None:
    ack_rows, callback_rows = _sections()
    for table, rows in (
        (codes.ACK_RESULTS, ack_rows),
        (codes.CALLBACK_RESULTS, callback_rows),
    ):
        documented = {raw for raw in rows if raw.isdigit()}
        mapped = {str(int(raw)) for raw in table}
        assert documented - {"200"} <= mapped | {"200"}
        for raw, unified in table.items():
            row = rows[str(int(raw))]
            assert row[2:5] == [
                unified.value,
                unified.name,
                "yes" if unified.transient else "no",
            ], row
        assert rows["other"][2:4] == [ResultCode.FAILED.value, ResultCode.FAILED.name]
