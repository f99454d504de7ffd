"""An AI CROSS simulator whose DLRs go to a stand-in gateway, and connectors."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from umsgate.config import ConnectorSettings
from umsgate.domain.message import Channel, Message
from umsgate.protocols._http.pusher import PushPolicy
from umsgate.protocols.aicross import connector
from umsgate.protocols.aicross.simulator import AiCrossSimulator, parse_mix
from umsgate.testing import ConnectorGateway, connector_gateway

TOKEN = "tok-1"
NAME = "ac"
NOW = dt.datetime.now(dt.UTC)


def message(mid: int, **changes: Any) -> Message:
    values: dict[str, Any] = {
        "id": mid,
        "client_id": "c1",
        "src_msg_id": f"s{mid}",
        "channel": Channel.SMS,
        "sender": "+81312345678",
        "receiver": f"+81{(7, 8, 9)[mid % 3]}0{mid % 100000000:08d}",
        "content": f"テスト {mid}",
        "created_at": NOW,
        "due_at": NOW,
    }
    values.update(changes)
    return Message(**values)


@pytest.fixture
def new_message() -> Callable[..., Message]:
    return message


@pytest.fixture
async def gateway() -> AsyncIterator[ConnectorGateway]:
    async with connector_gateway() as gw:
        yield gw


@pytest.fixture
async def simulator(gateway: ConnectorGateway) -> AsyncIterator[AiCrossSimulator]:
    sim = AiCrossSimulator(
        tokens=[TOKEN],
        mix=parse_mix("60001=0.05,60002=0.03,60003=0.02", seed=11),
        delay=0.1,
        dlr_url=f"{gateway.url}/callbacks/aicross/{NAME}",
        push=PushPolicy(attempts=5, interval=0.05, timeout=10.0),
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


@pytest.fixture
async def make_connector(
    simulator: AiCrossSimulator, gateway: ConnectorGateway
) -> AsyncIterator[Callable[..., Any]]:
    """``await make_connector(**options)`` → a started connector named ``ac``
    (whose DLR path the simulator calls) unless ``name`` is given."""
    built: list[connector.AiCrossConnector] = []

    async def make(name: str = NAME, **options: Any) -> connector.AiCrossConnector:
        settings = ConnectorSettings(
            name=name,
            protocol="aicross",
            options={
                "url": simulator.url,
                "token": TOKEN,
                "poll_schedule": [5.0],
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
