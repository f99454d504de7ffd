"""An API-Gateway simulator (umsgate's native face on the sandbox) whose reports go
to a stand-in gateway, and connectors pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from apigw_it import ACCOUNT, JPEG, NAME, message

from umsgate.config import ConnectorSettings
from umsgate.domain.message import Message
from umsgate.protocols.apigw import connector
from umsgate.sim.apigw import ApiGatewaySimulator
from umsgate.testing import ConnectorGateway, connector_gateway


@pytest.fixture
def new_message() -> Callable[..., Message]:
    return message


@pytest.fixture
async def gateway() -> AsyncIterator[ConnectorGateway]:
    async with connector_gateway(files={"F1": ("coupon.jpg", JPEG)}) as gw:
        yield gw


@pytest.fixture
def sim_options() -> dict[str, Any]:
    """Options of the simulator; a test changes them before asking for it."""
    return {"mix": {"2001": 0.1, "2003": 0.05, "3000": 0.05}, "delay": 0.05}


@pytest.fixture
async def simulator(
    gateway: ConnectorGateway, sim_options: dict[str, Any]
) -> AsyncIterator[ApiGatewaySimulator]:
    sim = ApiGatewaySimulator(
        accounts=[ACCOUNT],
        report_url=f"{gateway.url}/callbacks/apigw/{NAME}",
        tps=10_000,
        webhook_retry_interval=0.2,
        **sim_options,
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


@pytest.fixture
async def make_connector(
    simulator: ApiGatewaySimulator, gateway: ConnectorGateway
) -> AsyncIterator[Callable[..., Any]]:
    """``await make_connector(**options)`` → a started connector named ``up`` (whose
    webhook path the simulator pushes to) unless ``name`` is given."""
    built: list[connector.ApiGatewayConnector] = []

    async def make(name: str = NAME, **options: Any) -> connector.ApiGatewayConnector:
        settings = ConnectorSettings(
            name=name,
            protocol="apigw",
            options={
                "url": simulator.url,
                "client_id": ACCOUNT.client_id,
                "client_secret": ACCOUNT.secret,
                "client_key": ACCOUNT.key,
                "signing_secret": ACCOUNT.secret,
                "timeout": 30.0,
                "connect_timeout": 1.0,
                "report_check": False,
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
