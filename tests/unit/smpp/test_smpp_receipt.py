"""Receipt texts, and the SMPP → unified code tables (and their copy in the docs)."""

from __future__ import annotations

import datetime as dt
import pathlib
import re

import pytest

from umsgate.domain.results import ResultCode
from umsgate.protocols.smpp import receipt, results
from umsgate.protocols.smpp.codes import CommandStatus, MessageState, status_name
from umsgate.protocols.smpp.tlv import NetworkErrorCode

APPENDIX_B = (
    "id:0123456789 sub:001 dlvrd:001 submit date:0610191018 done date:0610191018 "
    "stat:DELIVRD err:000 Text:Hello world"
)


def test_parse_the_appendix_b_layout() -> None:
    r = receipt.parse(APPENDIX_B)
    assert r == receipt.Receipt(
        id="0123456789",
        sub="001",
        dlvrd="001",
        submit_date="0610191018",
        done_date="0610191018",
        stat="DELIVRD",
        err="000",
        text="Hello world",
    )


@pytest.mark.parametrize(
    ("text", "ident", "stat", "err"),
    [
        # Lower case, hex id, no Text: part.
        (
            "id:5A3F0C sub:1 dlvrd:0 submit date:2611220026 done date:2611220027 "
            "stat:undeliv err:27",
            "5A3F0C",
            "UNDELIV",
            "27",
        ),
        # Keys out of order and seconds on the dates.
        ("stat:EXPIRED id:77 err:000 done date:261122002701", "77", "EXPIRED", "000"),
        # Underscores instead of spaces (some SMSCs).
        (
            "id:abc submit_date:2611220026 done_date:2611220026 stat:REJECTD err:011",
            "abc",
            "REJECTD",
            "011",
        ),
    ],
)
def test_parse_variants(text: str, ident: str, stat: str, err: str) -> None:
    r = receipt.parse(text)
    assert (r.id, r.stat, r.err) == (ident, stat, err)


def test_not_a_receipt() -> None:
    with pytest.raises(receipt.NotAReceipt):
        receipt.parse("hello, this is a mobile-originated text")
    with pytest.raises(receipt.NotAReceipt):
        receipt.parse("id:123 sub:001")


def test_render_parses_back() -> None:
    r = receipt.Receipt(
        id="x1", stat="DELIVRD", submit_date="2611220026", done_date="2611220027"
    )
    assert receipt.parse(receipt.render(r)) == r


def test_dates() -> None:
    utc = dt.UTC
    assert receipt.parse_date("2611220027", utc) == dt.datetime(
        2026, 11, 22, 0, 27, tzinfo=utc
    )
    assert receipt.parse_date("261122002705", utc) == dt.datetime(
        2026, 11, 22, 0, 27, 5, tzinfo=utc
    )
    assert receipt.parse_date("2613220027", utc) is None
    assert receipt.parse_date("26112200", utc) is None
    assert receipt.date(dt.datetime(2026, 1, 2, 3, 4)) == "2601020304"


def test_stat_mapping() -> None:
    assert results.for_stat("DELIVRD") is ResultCode.DELIVERED
    assert results.for_stat("EXPIRED") is ResultCode.EXPIRED
    assert results.for_stat("UNDELIV") is ResultCode.FAILED
    assert results.for_stat("ENROUTE") is None
    assert results.for_stat("WHATEVR") is ResultCode.FAILED
    gsm_absent = NetworkErrorCode(network_type=3, error_code=27)
    assert results.for_stat("UNDELIV", gsm_absent) is ResultCode.UNREACHABLE
    # Not GSM: the code is not read as a MAP error.
    assert results.for_stat(
        "UNDELIV", NetworkErrorCode(network_type=2, error_code=27)
    ) is (ResultCode.FAILED)
    for state in MessageState:
        assert state.stat in results.STAT_RESULTS


def test_status_mapping_marks_the_transient_ones() -> None:
    transient = {s for s, code in results.STATUS_RESULTS.items() if code.transient}
    assert {
        CommandStatus.RTHROTTLED,
        CommandStatus.RMSGQFUL,
        CommandStatus.RSYSERR,
    } <= transient
    assert results.for_status(CommandStatus.RINVDSTADR) is ResultCode.INVALID_NUMBER
    assert results.for_status(0x401) is ResultCode.FAILED
    assert results.for_status(0x401, frozenset({0x401})).transient
    assert set(results.STATUS_RESULTS) == set(CommandStatus) - {CommandStatus.ROK}


DOC = pathlib.Path(__file__).parents[3] / "docs" / "protocols" / "smpp.md"


def _rows(heading: str) -> dict[str, str]:
    text = DOC.read_text("utf-8")
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and re.fullmatch(r"[A-Z_0-9x]+", cells[0]) and cells[1]:
            rows[cells[0]] = cells[1]
    return rows


def test_docs_stat_table_matches_the_code() -> None:
    rows = _rows("## Receipt stat → unified code")
    expected = {
        stat: (code.name if code else "—")
        for stat, code in results.STAT_RESULTS.items()
    }
    assert {k: v.split()[0] for k, v in rows.items()} == expected


def test_docs_status_table_matches_the_code() -> None:
    rows = _rows("## submit_sm_resp command_status → unified code")
    expected = {
        status_name(status).removeprefix("ESME_"): code.name
        for status, code in results.STATUS_RESULTS.items()
    }
    assert {k: v.split()[0] for k, v in rows.items()} == expected
