"""An IMS SMS simulator on a loopback port, and a stand-in gateway with a connector
pointed at it."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from umsgate.config import ConnectorSettings
from umsgate.domain.message import Channel, Message
from umsgate.protocols.imsms import connector
from umsgate.protocols.imsms.simulator import ImsSimulator, parse_mix
from umsgate.testing import ConnectorGateway, connector_gateway

KEY = "d49855bc-0da6-4214-baf1-543564b25cfc"
AGENT = "ims-demo-web-kr"
NOW = dt.datetime.now(dt.UTC)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def message(mid: int, **changes: Any) -> Message:
    values: dict[str, Any] = {
        "id": mid,
        "client_id": "c1",
        "src_msg_id": f"s{mid}",
        "channel": Channel.SMS,
        "sender": "+8215881234",
        "receiver": f"+82102{mid % 10000000:07d}",
        "content": f"인증번호 {mid}",
        "created_at": NOW,
        "due_at": NOW,
    }
    values.update(changes)
    return Message(**values)


@pytest.fixture
def new_message() -> Callable[..., Message]:
    return message


@pytest.fixture
async def simulator() -> AsyncIterator[ImsSimulator]:
    sim = ImsSimulator(
        keys={KEY: [AGENT]},
        mix=parse_mix("undelivered=0.05,E3001=0.05,130=0.02", seed=3),
        delay=0.2,
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


@pytest.fixture
async def gateway() -> AsyncIterator[ConnectorGateway]:
    async with connector_gateway(files={"f-1": ("photo.png", PNG)}) as gw:
        yield gw


@pytest.fixture
async def make_connector(
    simulator: ImsSimulator, gateway: ConnectorGateway
) -> AsyncIterator[Callable[..., Any]]:
    """``await make_connector(**options)`` → a started connector."""
    built: list[connector.ImsConnector] = []

    async def make(**options: Any) -> connector.ImsConnector:
        settings = ConnectorSettings(
            name=f"ims{len(built)}",
            protocol="imsms",
            options={
                "api_key": KEY,
                "agent_id": AGENT,
                "url": simulator.url,
                "poll_schedule": [0.1, 0.1, 0.2],
                "timeout": 30.0,
                "connect_timeout": 1.0,
            }
            | options,
        )
        conn = connector.build(settings, gateway.context)
        await conn.start(gateway.sink)
        built.append(conn)
        return conn

    try:
        yield make
    finally:
        for conn in built:
            await conn.stop()
