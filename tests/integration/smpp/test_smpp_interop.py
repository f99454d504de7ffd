"""Interop: smpplib, an independent SMPP client, against our simulator; then our
connector through the same scenario."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from smpp_it import RecordingSink, connector, message
from smpplib import client as smpplib_client  # type: ignore[import-untyped]
from smpplib import exceptions as smpplib_exceptions

from umsgate.domain.results import ResultCode
from umsgate.protocols.smpp import receipt, simulator
from umsgate.protocols.smpp.codes import CommandStatus, MessageState
from umsgate.types import Outcome


def smpplib_scenario(port: int) -> dict[str, Any]:
    """Bind, submit one message asking for a receipt, read the receipt, unbind —
    with smpplib's blocking client (run in a thread)."""
    sent: list[Any] = []
    received: list[Any] = []
    client = smpplib_client.Client(
        "127.0.0.1", port, timeout=5, allow_unknown_opt_params=True
    )
    client.set_message_sent_handler(lambda pdu: sent.append(pdu))
    client.set_message_received_handler(lambda pdu: received.append(pdu))
    client.connect()
    try:
        client.bind_transceiver(system_id="esme", password="pw")
        client.send_message(
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="821012345678",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="821098765432",
            short_message=b"hello from smpplib",
            data_coding=0,
            registered_delivery=1,
        )
        for _ in range(10):  # submit_sm_resp, then the receipt (enquire_links aside)
            if sent and received:
                break
            client.read_once(auto_send_enquire_link=False)
        client.unbind()
    finally:
        client.disconnect()
    return {"sent": sent, "received": received}


async def test_smpplib_binds_submits_and_gets_its_receipt() -> None:
    async with simulator.running(accounts={"esme": "pw"}, receipt_delay=0.05) as sim:
        outcome = await asyncio.wait_for(
            asyncio.to_thread(smpplib_scenario, sim.port), 30
        )
        [resp] = outcome["sent"]
        [deliver] = outcome["received"]
        message_id = resp.message_id.decode()
        [record] = list(sim.submitted)
        assert record.message_id == message_id
        assert record.text == "hello from smpplib"
        assert record.pdu.destination_addr == "821098765432"
        # The receipt as smpplib read it: esm_class, TLVs and the Appendix B text.
        assert deliver.esm_class == 0x04
        assert deliver.receipted_message_id.decode() == message_id
        assert deliver.message_state == MessageState.DELIVERED
        text = receipt.parse(deliver.short_message.decode())
        assert (text.id, text.stat) == (message_id, "DELIVRD")
        # smpplib answered deliver_sm_resp: the simulator let the receipt go.
        assert sim.stats.receipts_acked == 1
        assert sim.queued_receipts() == 0


def smpplib_bind(port: int, password: str) -> int:
    client = smpplib_client.Client(
        "127.0.0.1", port, timeout=5, allow_unknown_opt_params=True
    )
    client.connect()
    try:
        client.bind_transmitter(system_id="esme", password=password)
    except smpplib_exceptions.PDUError as exc:
        return int(exc.args[1])
    finally:
        client.disconnect()
    return 0


async def test_smpplib_gets_invalid_password() -> None:
    async with simulator.running(accounts={"esme": "pw"}) as sim:
        status = await asyncio.wait_for(
            asyncio.to_thread(smpplib_bind, sim.port, "nope"), 30
        )
        assert status == CommandStatus.RINVPASWD
        assert sim.stats.bind_failures == 1


@pytest.mark.parametrize("bind", ["transceiver", "transmitter+receiver"])
async def test_connector_same_scenario(bind: str) -> None:
    async with simulator.running(accounts={"esme": "pw"}, receipt_delay=0.05) as sim:
        conn = connector(sim, bind=bind)
        sink = RecordingSink()
        await conn.start(sink)
        try:
            assert conn.health().up
            [result] = await conn.submit([message(1, "hello from umsgate")])
            assert result.outcome is Outcome.ACCEPTED
            assert result.segments == 1 and result.segment_ids == (
                result.provider_msg_id,
            )
            await sink.wait_count(1)
            [report] = sink.reports
            assert report.provider_msg_id == result.provider_msg_id
            assert report.code is ResultCode.DELIVERED
            assert report.raw_code == "DELIVRD/000"
            assert report.connector == "smsc1"
            assert sim.stats.binds == (1 if bind == "transceiver" else 2)
        finally:
            await conn.stop()
        assert not conn.health().up


def test_connector_and_simulator_on_uvloop() -> None:
    # `umsgate serve` runs on uvloop (uvicorn[standard]); so does `umsgate sim smpp`.
    import uvloop

    async def scenario() -> None:
        async with simulator.running(
            accounts={"esme": "pw"}, receipt_delay=0.01
        ) as sim:
            conn = connector(sim)
            sink = RecordingSink()
            await conn.start(sink)
            try:
                results = await conn.submit(
                    [message(i, "안녕하세요 " * 20) for i in range(20)]
                )
                assert {r.outcome for r in results} == {Outcome.ACCEPTED}
                await sink.wait_count(sum(len(r.segment_ids) for r in results))
            finally:
                await conn.stop()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())
