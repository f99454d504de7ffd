"""Connector parts without sockets: options and ``build``, MSG_IDs, the result table and
its documentation, reports made of results, file extensions."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from umsgate.config import ConnectorSettings
from umsgate.domain.message import Channel
from umsgate.domain.results import ResultCode
from umsgate.errors import ConfigError
from umsgate.protocols import registry
from umsgate.protocols.ushot import codes, msgid, session
from umsgate.protocols.ushot.codes import Port, ResultClass, Version
from umsgate.protocols.ushot.connector import UShotConnector
from umsgate.protocols.ushot.events import ResultRecord
from umsgate.protocols.ushot.options import Options
from umsgate.protocols.ushot.reporting import carrier, report_of
from umsgate.protocols.ushot.sending import upload_ext
from umsgate.types import Connector

DOC = Path(__file__).resolve().parents[3] / "docs" / "protocols" / "ushot.md"

#: Every code of the seed's 발송결과코드 table (seed 003, section 3-C).
SEED_CODES = [
    0, 1, 3, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 20, 21, 22, 23, 28, 29, 36, 37,
    50, 51, 52, 53, 54, 59, 60, 61, 62, 63, 64, 69, 73, 74, 75, 76, 77, 78, 79, 80,
    81, 84, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99,
]  # fmt: skip


def options(**changes: Any) -> Options:
    return Options.from_mapping(
        {"user_id": "id", "password": "pw", **changes}, where="connector 'u'"
    )


def test_defaults_are_the_seeds() -> None:
    opts = options()
    assert opts.host == "link.unionmc.co.kr"
    assert [opts.port(p) for p in Port] == [33300, 33301, 33302, 33303]
    assert opts.version is Version.SAM11
    assert (opts.reconnect_delay, opts.send_keepalive, opts.poll_interval) == (
        10,
        30,
        5,
    )
    assert (opts.report_keepalive, opts.request_timeout, opts.max_count) == (30, 30, 30)
    assert opts.ports == (Port.SMS, Port.SMS_REPORT, Port.MMS, Port.MMS_REPORT)


def test_base_port_moves_all_four_and_strings_are_read() -> None:
    opts = options(base_port="40000", mms_report_port=41000, version="sam10")
    assert [opts.port(p) for p in Port] == [40000, 40001, 40002, 41000]
    assert opts.version is Version.SAM10
    assert options(
        reconnect_delay="0.5", legacy_record_layout="yes"
    ).legacy_record_layout
    assert options(channels="sms").ports == (Port.SMS, Port.SMS_REPORT)
    assert options(channels=["LMS"]).ports == (Port.MMS, Port.MMS_REPORT)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"password": ""}, "password"),
        ({"user_id": "x" * 21}, "user_id"),
        ({"colour": "red"}, "colour"),
        ({"version": "SAM12"}, "version"),
        ({"sms_port": "abc"}, "sms_port"),
        ({"sms_port": 70000}, "sms_port"),
        ({"reconnect_delay": 0}, "reconnect_delay"),
        ({"request_timeout": "soon"}, "request_timeout"),
        ({"max_count": 0}, "max_count"),
        ({"channels": "SMS,RCS"}, "channels"),
        ({"legacy_record_layout": "maybe"}, "legacy_record_layout"),
        ({"login_retry_max": 1}, "login_retry_max"),
        ({"usercode": "😀"}, "usercode"),
    ],
)
def test_bad_options_name_their_key(changes: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(repr(key))) as info:
        options(**changes)
    assert "connector 'u'" in str(info.value)


def test_missing_credentials_are_named() -> None:
    with pytest.raises(ConfigError, match="'user_id'"):
        Options.from_mapping({"password": "x"}, where="c")


class _Clock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class _Files:
    async def load(self, file_id: str) -> tuple[str, bytes]:
        raise KeyError(file_id)


async def test_the_registry_builds_the_connector() -> None:
    async with httpx.AsyncClient() as http:
        context = registry.ConnectorContext(
            http=http,
            files=_Files(),
            add_route=lambda path, endpoint, methods: None,
            public_url="",
            clock=_Clock(),
        )
        settings = ConnectorSettings(
            name="u", protocol="ushot", options={"user_id": "a", "password": "b"}
        )
        connector = registry.build_connector(settings, context)
        assert isinstance(connector, UShotConnector)
        assert isinstance(connector, Connector)
        assert connector.name == "u"
        assert not connector.health().up
        with pytest.raises(ConfigError, match="'hots'"):
            registry.build_connector(
                ConnectorSettings(
                    name="u",
                    protocol="ushot",
                    options={"user_id": "a", "password": "b", "hots": "x"},
                ),
                context,
            )


def test_msg_ids_fit_and_parse_back() -> None:
    mid = 123_456_789_012_345_678
    assert msgid.make(mid) == "123456789012345678"
    assert msgid.make(mid, 1) == "123456789012345678-1"
    assert msgid.make(mid, msgid.MAX_GENERATION).endswith("-z")
    assert all(len(msgid.make(mid, g)) <= 20 for g in range(msgid.MAX_GENERATION + 1))
    for g in range(msgid.MAX_GENERATION + 1):
        assert msgid.parse(msgid.make(mid, g)) == (mid, g)
    with pytest.raises(ValueError):
        msgid.make(mid, msgid.MAX_GENERATION + 1)
    with pytest.raises(ValueError):
        msgid.make(10**20, 1)  # 21 digits + suffix: does not fit
    assert msgid.parse("0001") == (1, 0)
    for foreign in ("abc", "12-", "12-!", "12-ab", "", "-1", "١٢"):
        assert msgid.parse(foreign) is None


def test_every_seed_result_code_is_mapped_and_only_95_to_99_are_transient() -> None:
    assert sorted(codes.RESULTS) == SEED_CODES
    for code, info in codes.RESULTS.items():
        if info.klass is ResultClass.PENDING:
            assert code in (0, 1) and info.unified is None
            continue
        assert info.unified is not None
        assert info.unified.transient == (code >= 95), code
        assert (info.klass is ResultClass.TRANSIENT) == (code >= 95)
    assert codes.RESULTS[6].unified is ResultCode.DELIVERED
    assert codes.RESULTS[90].unified is ResultCode.EXPIRED
    unknown = codes.result_info("42")
    assert (unknown.unified, unknown.klass) == (
        ResultCode.FAILED,
        ResultClass.PERMANENT,
    )
    assert codes.result_info(" 6 ").unified is ResultCode.DELIVERED
    assert codes.result_info("x").unified is ResultCode.FAILED


def test_header_codes_classify_answers() -> None:
    assert codes.answer_code("00000") is None
    assert codes.answer_code("11001") is ResultCode.CARRIER_REJECTED
    assert codes.answer_code("12345") is ResultCode.PROVIDER_ERROR


def _doc_table() -> dict[str, str]:
    rows = re.findall(
        r"^\| (\d+) \| [^|]+ \| ([FPXT]) \| (?:`(\w+)`|—)[^|]*\|$",
        DOC.read_text(encoding="utf-8"),
        re.M,
    )
    return {code: unified or "" for code, _, unified in rows}


def test_the_documented_table_is_the_code_table() -> None:
    documented = _doc_table()
    assert documented == {
        str(code): info.unified.name if info.unified else ""
        for code, info in codes.RESULTS.items()
    }


def test_the_documented_state_diagrams_are_the_tables() -> None:
    text = DOC.read_text(encoding="utf-8")
    for role in session.Role:
        assert session.mermaid(role) in text


def record(**changes: str) -> ResultRecord:
    values = {
        "grp_id": "g",
        "msg_id": "100000000000000042",
        "receiver": "01012345678",
        "send_dt": "2009-01-01 09:30:10",
        "result": "6",
        "telecom": "SKT",
    }
    return ResultRecord(**{**values, **changes})


def test_results_become_reports() -> None:
    report = report_of("u", record())
    assert report is not None
    assert report.message_id == 100000000000000042
    assert report.provider_msg_id == "100000000000000042"
    assert (report.code, report.raw_code, report.carrier) == (
        ResultCode.DELIVERED,
        "6",
        "SKT",
    )
    assert report.done_at == dt.datetime(2009, 1, 1, 0, 30, 10, tzinfo=dt.UTC)
    resent = report_of("u", record(msg_id="100000000000000042-2", result="96"))
    assert resent is not None and resent.message_id == 100000000000000042
    assert resent.code is ResultCode.RETRY_LATER and resent.code.transient
    assert report_of("u", record(result="1")) is None  # pending: no report
    assert report_of("u", record(msg_id="0001")) is not None  # digits: an id
    assert report_of("u", record(msg_id="ABC")) is None  # not one of ours
    odd = report_of("u", record(send_dt="soon", telecom="01190", result="77x"))
    assert odd is not None
    assert (odd.done_at, odd.carrier, odd.code) == (None, "", ResultCode.FAILED)
    assert "01190" in odd.detail


def test_carriers() -> None:
    assert [carrier(t) for t in ("SKT", "ktf", "KT", "LGU+", "LGT", "01190", "")] == [
        "SKT",
        "KTF",
        "KTF",
        "LGT",
        "LGT",
        "",
        "",
    ]


def test_upload_extensions() -> None:
    assert upload_ext("photo.JPEG") == "jpg"
    assert upload_ext("a.b.png") == "png"
    for bad in ("noext", "x.", "x.tiff", "x.사진"):
        assert upload_ext(bad) is None


def test_channel_sessions() -> None:
    assert options(channels="MMS").channels == frozenset({Channel.MMS})
