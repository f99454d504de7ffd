"""``/readyz``: ready while the store answers and every route has a connector that
can take a message; 503 with the reasons otherwise, and ready again when the
connector comes back."""

from __future__ import annotations

import dataclasses
import shutil
import socket

from tests.conftest import Store, make_settings, running_gateway
from umsgate.config import ConnectorSettings, RouteSettings
from umsgate.protocols.smpp import simulator
from umsgate.store.database import open_database
from umsgate.testing import wait_for


async def test_not_ready_while_the_only_routes_smsc_is_stopped(store: Store) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = dataclasses.replace(
        make_settings(store),
        connectors=(
            ConnectorSettings(
                name="smsc1",
                protocol="smpp",
                options={
                    "host": "127.0.0.1",
                    "port": port,
                    "system_id": "esme",
                    "password": "pw",
                    "reconnect_initial": 0.05,
                    "reconnect_max": 0.2,
                },
            ),
        ),
        routes=(RouteSettings(name="sms", connectors=("smsc1",)),),
    )
    async with (
        simulator.running(accounts={"esme": "pw"}, port=port) as sim,
        running_gateway(settings) as gw,
    ):

        async def ready(expected: int) -> bool:
            r = await gw.http.get("/readyz")
            return r.status_code == expected

        await wait_for(lambda: ready(200), what="ready with the SMSC bound")
        assert (await gw.http.get("/readyz")).json() == {"status": "ready"}

        await sim.close()
        await wait_for(lambda: ready(503), what="not ready without the SMSC")
        r = await gw.http.get("/readyz")
        doc = r.json()
        assert doc["status"] == "unavailable"
        [reason] = doc["reasons"]
        assert reason["check"] == "route" and reason["route"] == "sms"
        assert "smsc1" in reason["detail"]
        # Liveness is another question: the process runs.
        assert (await gw.http.get("/healthz")).status_code == 200

        await sim.start()
        await wait_for(lambda: ready(200), what="ready once the SMSC is back")


async def test_not_ready_when_the_store_does_not_answer(sqlite_store: Store) -> None:
    async with running_gateway(make_settings(sqlite_store)) as gw:
        assert (await gw.http.get("/readyz")).status_code == 200
        # A store that is gone: the driver of the reads swapped for one whose
        # database file cannot be opened (its directory is a file). The gateway's
        # own file stays as it was, for the ready answer after.
        db = gw.gateway.db
        driver = db.driver
        gone = sqlite_store.data_dir / "gone"
        other = open_database(
            make_settings(dataclasses.replace(sqlite_store, data_dir=gone))
        )
        shutil.rmtree(gone)
        gone.write_text("not a directory")
        db._driver = other.driver
        try:
            r = await gw.http.get("/readyz")
        finally:
            db._driver = driver
            await other.close()
        assert r.status_code == 503, r.text
        assert r.json()["reasons"][0]["check"] == "store"

        async def ready() -> bool:
            return (await gw.http.get("/readyz")).status_code == 200

        await wait_for(ready, what="ready with the store back")
