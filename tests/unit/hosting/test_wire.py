"""The values that cross between the gateway process and a connector process come
back as they went, through the real frame encoding."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from umsgate import config
from umsgate.config import ConnectorSettings
from umsgate.domain.lifecycle import Status
from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.errors import ConfigError
from umsgate.hosting import wire
from umsgate.hosting.connector import HostedConnector
from umsgate.protocols import registry
from umsgate.types import Health, Outcome, ProviderReport, SubmitResult

UTC = dt.UTC


def through_a_frame(value: object) -> object:
    """``value`` written as a frame and read back from a stream."""

    async def run() -> object:
        reader = asyncio.StreamReader()
        reader.feed_data(wire.frame(value))
        reader.feed_eof()
        return await wire.read_frame(reader)

    return asyncio.run(run())


def test_a_message_with_every_field_set_comes_back_equal() -> None:
    m = Message(
        id=123456789012345,
        client_id="shop",
        src_msg_id="s-1",
        channel=Channel.LMS,
        sender="+8221234567",
        receiver="+821012345678",
        content="안내 말씀 드립니다",
        status=Status.SENDING,
        subject="공지",
        charset="utf-8",
        cmp_msg_id="cmp",
        file_ids=("F1", "F2"),
        extra={"button": [{"name": "열기", "url": "https://example.com"}]},
        fallback={"channel": "SMS", "content": "fb"},
        parent_id=42,
        created_at=dt.datetime(2026, 12, 2, 9, 30, 1, 123456, UTC),
        due_at=dt.datetime(2026, 12, 2, 9, 30, 2, 654321, UTC),
        expires_at=dt.datetime(2026, 12, 3, 9, 30, 1, tzinfo=UTC),
        attempts=3,
        connector="smsc",
        provider_msg_id="P-9",
        segments=3,
    )
    back = wire.message_from_wire(through_a_frame(wire.message_to_wire(m)))  # type: ignore[arg-type]
    assert back == m
    assert back.created_at.tzinfo is not None


def test_a_message_with_the_defaults_comes_back_equal() -> None:
    m = Message(
        id=1,
        client_id="c",
        src_msg_id="",
        channel=Channel.SMS,
        sender="+8221234567",
        receiver="+821012345678",
        content="hi",
        created_at=dt.datetime(2026, 1, 1, tzinfo=UTC),
        due_at=dt.datetime(2026, 1, 1, tzinfo=UTC),
    )
    back = wire.message_from_wire(through_a_frame(wire.message_to_wire(m)))  # type: ignore[arg-type]
    assert back == m


@pytest.mark.parametrize(
    "result",
    [
        SubmitResult(
            message_id=7,
            outcome=Outcome.ACCEPTED,
            provider_msg_id="a1",
            segments=3,
            segment_ids=("a1", "a2", "a3"),
        ),
        SubmitResult(
            message_id=8,
            outcome=Outcome.RETRY,
            code=ResultCode.THROTTLED,
            raw_code="ESME_RTHROTTLED",
            detail="still throttled",
            segments=1,
            retry_after=1.5,
        ),
        SubmitResult(message_id=9, outcome=Outcome.REJECTED, code=ResultCode.FAILED),
    ],
)
def test_submit_results_come_back_equal(result: SubmitResult) -> None:
    back = wire.result_from_wire(through_a_frame(wire.result_to_wire(result)))  # type: ignore[arg-type]
    assert back == result


@pytest.mark.parametrize(
    "report",
    [
        ProviderReport(
            connector="smsc",
            code=ResultCode.DELIVERED,
            provider_msg_id="a1",
            raw_code="DELIVRD/000",
            done_at=dt.datetime(2026, 12, 2, 9, 31, tzinfo=UTC),
        ),
        ProviderReport(
            connector="sb",
            code=ResultCode.EXPIRED,
            message_id=5,
            detail="network error 3/12",
            carrier="SKT",
        ),
    ],
)
def test_reports_come_back_equal(report: ProviderReport) -> None:
    back = wire.report_from_wire(through_a_frame(wire.report_to_wire(report)))  # type: ignore[arg-type]
    assert back == report


def test_health_and_settings_come_back() -> None:
    health = Health(up=False, detail="binding", in_flight=12)
    assert wire.health_from_wire(through_a_frame(wire.health_to_wire(health))) == health  # type: ignore[arg-type]
    settings = ConnectorSettings(
        name="smsc",
        protocol="smpp",
        tps=100.0,
        window=20,
        options={"host": "127.0.0.1", "password": "pw"},
        secrets=frozenset({"password"}),
        own_process=True,
    )
    back = wire.settings_from_wire(through_a_frame(wire.settings_to_wire(settings)))  # type: ignore[arg-type]
    # The process builds the connector itself, not another process for it.
    assert back == ConnectorSettings(
        name="smsc",
        protocol="smpp",
        tps=100.0,
        window=20,
        options={"host": "127.0.0.1", "password": "pw"},
        secrets=frozenset({"password"}),
    )


Read = Callable[[asyncio.StreamReader], Awaitable[object]]


def _read_back(read: Read, value: object) -> object:
    async def run() -> object:
        reader = asyncio.StreamReader()
        reader.feed_data(wire.frame(value))
        reader.feed_eof()
        return await read(reader)

    return asyncio.run(run())


@pytest.mark.parametrize("read", [wire.read_to_connector, wire.read_to_gateway])
def test_a_frame_is_read_back_as_the_object_it_was(read: Read) -> None:
    assert _read_back(read, {"x": 1}) == {"x": 1}


@pytest.mark.parametrize("read", [wire.read_to_connector, wire.read_to_gateway])
@pytest.mark.parametrize("value", [[1, 2], "s", 3, None])
def test_a_frame_that_is_not_an_object_is_refused(read: Read, value: object) -> None:
    with pytest.raises(wire.FrameError, match="not an object"):
        _read_back(read, value)


def _load(tmp_path: Path, body: str) -> config.Settings:
    path = tmp_path / "umsgate.toml"
    path.write_text(body)
    return config.load(path, env={})


def test_own_process_must_be_a_boolean(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"umsgate.toml, line 4: connector 'a': own_process = 'yes' must be "
        r'true, false or "auto"',
    ):
        _load(
            tmp_path,
            '[[connectors]]\nname = "a"\nprotocol = "sandbox"\nown_process = "yes"\n',
        )


def test_own_process_auto_is_smpp_on_a_machine_of_several_cores(
    tmp_path: Path,
) -> None:
    assert config.auto_own_process("smpp", cores=2)
    assert not config.auto_own_process("smpp", cores=1)
    for protocol in ("sandbox", "ushot", "tobetext", "imsms", "apigw", "aicross"):
        assert not config.auto_own_process(protocol, cores=64)
    settings = _load(
        tmp_path,
        '[[connectors]]\nname = "s"\nprotocol = "smpp"\nhost = "h"\n'
        'system_id = "x"\n[[connectors]]\nname = "t"\nprotocol = "smpp"\n'
        'host = "h"\nsystem_id = "x"\nown_process = "auto"\n'
        '[[connectors]]\nname = "u"\nprotocol = "smpp"\nhost = "h"\n'
        'system_id = "x"\nown_process = false\n',
    )
    left_out, auto, off = settings.connectors
    assert left_out.own_process == auto.own_process == config.auto_own_process("smpp")
    assert off.own_process is False


def test_workers_auto_is_one_front_per_two_cores() -> None:
    assert [config.auto_workers(n) for n in (1, 2, 3, 4, 8, 16)] == [0, 1, 1, 2, 4, 4]
    assert config.load(env={}).server.workers == config.auto_workers()
    assert config.load(env={"UMSGATE_SERVER_WORKERS": "auto"}).server.workers == (
        config.auto_workers()
    )
    assert config.load(env={"UMSGATE_SERVER_WORKERS": "3"}).server.workers == 3
    with pytest.raises(ConfigError, match="UMSGATE_SERVER_WORKERS"):
        config.load(env={"UMSGATE_SERVER_WORKERS": "many"})


@pytest.mark.parametrize("protocol", ["tobetext", "aicross", "imsms", "ushot", "apigw"])
def test_own_process_is_refused_for_protocols_that_need_the_gateway(
    tmp_path: Path, protocol: str
) -> None:
    # Callbacks on the gateway's HTTP server (ToBeText, AI CROSS), MMS files from
    # the store (IMS, UShot), or not checked to need neither (API-Gateway).
    settings = _load(
        tmp_path,
        f'[[connectors]]\nname = "t"\nprotocol = "{protocol}"\nown_process = true\n',
    )
    with pytest.raises(
        ConfigError,
        match=rf"umsgate.toml, line 4: connector 't': a {protocol} connector cannot "
        r"run in its own process \(only sandbox, smpp\)",
    ):
        registry.check_connectors(settings)


def test_own_process_gives_a_hosted_connector_after_checking_its_options(
    tmp_path: Path,
) -> None:
    good = _load(
        tmp_path,
        '[[connectors]]\nname = "s"\nprotocol = "sandbox"\nown_process = true\n',
    )
    assert registry.check_connectors(good) == ["s"]
    assert good.connectors[0].own_process
    bad = _load(
        tmp_path,
        '[[connectors]]\nname = "s"\nprotocol = "smpp"\nown_process = true\n',
    )
    with pytest.raises(ConfigError, match="connector 's'"):
        registry.check_connectors(bad)


def test_hosted_connector_is_down_before_it_starts() -> None:
    hosted = HostedConnector(ConnectorSettings(name="s", protocol="sandbox"))
    assert hosted.health().up is False
    assert hosted.pid is None
