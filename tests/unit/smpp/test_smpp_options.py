"""Connector options: defaults, types, and errors that name the key."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from umsgate.config import ConnectorSettings
from umsgate.errors import ConfigError
from umsgate.protocols import registry
from umsgate.protocols.smpp import connector, options
from umsgate.protocols.smpp.encoding import Encoding
from umsgate.types import Connector

BASE = {"host": "smsc.example", "system_id": "esme"}


def test_defaults() -> None:
    o = options.parse("c1", BASE)
    assert (o.port, o.window, o.bind, o.long_message) == (
        2775,
        10,
        "transceiver",
        "udh",
    )
    assert o.data_coding is None and o.korean is Encoding.UCS2 and o.tps is None


def test_values_and_strings_from_the_environment() -> None:
    o = options.parse(
        "c1",
        {
            **BASE,
            "port": "2776",
            "bind": "Transmitter+Receiver",
            "tps": 0,
            "window": 50,
            "data_coding": "ksc5601",
            "korean": "ksc5601",
            "long_message": "sar",
            "retry_statuses": [0x401],
            "receipt_timezone": "Asia/Seoul",
        },
    )
    assert o.port == 2776 and not o.transceiver and o.tps is None
    assert o.data_coding is Encoding.KSC5601 and o.long_message == "sar"
    assert o.retry_statuses == frozenset({0x401})


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"system_id": "esme"}, "host"),
        ({"host": "h"}, "system_id"),
        ({**BASE, "system_id": "x" * 16}, "system_id"),
        ({**BASE, "password": "123456789"}, "password"),
        ({**BASE, "port": 70000}, "port"),
        ({**BASE, "window": 0}, "window"),
        ({**BASE, "window": 2.5}, "window"),
        ({**BASE, "bind": "both"}, "bind"),
        ({**BASE, "data_coding": "utf8"}, "data_coding"),
        ({**BASE, "long_message": "mms"}, "long_message"),
        ({**BASE, "validity": "yes"}, "validity"),
        ({**BASE, "retry_statuses": ["x"]}, "retry_statuses"),
        ({**BASE, "receipt_timezone": "Mars/Base"}, "receipt_timezone"),
        ({**BASE, "tsp": 5}, "tsp"),
        ({**BASE, "tps": True}, "tps"),
    ],
)
def test_errors_name_the_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=f"'c1'.*{key}"):
        options.parse("c1", raw)


def test_reconnect_bounds() -> None:
    with pytest.raises(ConfigError, match="reconnect_max"):
        options.parse("c1", {**BASE, "reconnect_initial": 5, "reconnect_max": 1})


class _Clock:
    def now(self) -> dt.datetime:
        return dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def time(self) -> float:
        return self.now().timestamp()

    def monotonic(self) -> float:
        return 0.0


class _Files:
    async def load(self, file_id: str) -> tuple[str, bytes]:
        raise FileNotFoundError(file_id)


async def test_registry_builds_the_connector() -> None:
    async with httpx.AsyncClient() as http:
        context = registry.ConnectorContext(
            http=http,
            files=_Files(),
            add_route=lambda path, endpoint, methods: None,
            public_url="http://127.0.0.1",
            clock=_Clock(),
        )
        built = registry.build_connector(
            ConnectorSettings(name="smsc1", protocol="smpp", options=BASE), context
        )
        assert isinstance(built, connector.SmppConnector)
        assert isinstance(built, Connector)
        assert built.name == "smsc1"
        assert not built.health().up
        with pytest.raises(ConfigError, match=r"'smsc1'.*window"):
            registry.build_connector(
                ConnectorSettings(
                    name="smsc1", protocol="smpp", options={**BASE, "window": -1}
                ),
                context,
            )
