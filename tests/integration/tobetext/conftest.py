"""A ToBeText simulator on a loopback port, and a stand-in gateway with a connector
pointed at it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from umsgate.config import ConnectorSettings
from umsgate.domain.message import Channel, Message
from umsgate.protocols._http.pusher import PushPolicy
from umsgate.protocols.tobetext import connector
from umsgate.protocols.tobetext.simulator import ToBeTextSimulator, parse_mix
from umsgate.testing import ConnectorGateway, connector_gateway

CID, TOKEN = "C000123", "9f2c1e7a"
NOW = dt.datetime(2024, 7, 9, tzinfo=dt.UTC)


def message(mid: int, **changes: Any) -> Message:
    values: dict[str, Any] = {
        "id": mid,
        "client_id": "c1",
        "src_msg_id": f"s{mid}",
        "channel": Channel.SMS,
        "sender": "+821012341234",
        "receiver": "+821098765432",
        "content": f"인증번호 {mid % 1000000:06d}",
        "created_at": NOW,
        "due_at": NOW,
    }
    values.update(changes)
    return Message(**values)


@pytest.fixture
async def simulator() -> AsyncIterator[ToBeTextSimulator]:
    sim = ToBeTextSimulator(
        accounts={CID: TOKEN},
        mix=parse_mix("400=0.1,411=0.05,412=0.05", seed=7),
        delay=0.05,
        push=PushPolicy(attempts=4, interval=0.05, timeout=10.0),
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


@dataclasses.dataclass
class Rig:
    gateway: ConnectorGateway
    connector: connector.ToBeTextConnector


@pytest.fixture
async def make_rig(
    simulator: ToBeTextSimulator,
) -> AsyncIterator[Callable[..., Any]]:
    """``await make_rig(**options)`` → a started connector and its gateway."""
    async with connector_gateway() as gateway:
        built: list[connector.ToBeTextConnector] = []

        async def make(**options: Any) -> Rig:
            settings = ConnectorSettings(
                name=f"tbt{len(built)}",
                protocol="tobetext",
                options={
                    "cid": CID,
                    "token": TOKEN,
                    "url": simulator.url,
                    "timeout": 30.0,
                    "connect_timeout": 1.0,
                }
                | options,
            )
            conn = connector.build(settings, gateway.context)
            await conn.start(gateway.sink)
            built.append(conn)
            return Rig(gateway=gateway, connector=conn)

        try:
            yield make
        finally:
            for conn in built:
                await conn.stop()


@pytest.fixture
def new_message() -> Callable[..., Message]:
    return message
