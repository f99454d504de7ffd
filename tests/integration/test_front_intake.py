"""The fronts' socket, in one process over a real Unix socket: a `RemoteIntake`
against the `IntakeServer` of a running gateway gets the same answers as the
gateway's own faces, and a broken or vanished peer is an error, never a hang."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Store, make_settings, new_account, running_gateway
from umsgate.domain.results import Invalid
from umsgate.engine.accept import Submission
from umsgate.engine.intake import Throttled
from umsgate.errors import ValidationError
from umsgate.front import wire
from umsgate.front.intake import GatewayGone, RemoteIntake
from umsgate.front.server import IntakeServer
from umsgate.protocols.apigw import codec

HEADERS = {"origincode": "123456789", "billcode": "12345"}


def submission(settings: Any, client: str, src: str, content: str = "hi") -> Submission:
    body = {
        "srcMsgId": src,
        "callback": "0212345678",
        "receiver": "01012345678",
        "content": content,
    }
    req = codec.PARSERS["sms"](body, HEADERS, now=time.time())
    return Submission(row=req.row(client, time.time(), settings.engine.default_ttl))


async def test_the_socket_answers_like_the_acceptor(
    store: Store, tmp_path: Path
) -> None:
    settings = make_settings(store)
    async with running_gateway(settings) as running:
        gw = running.gateway
        await new_account(running, "acme")
        server = IntakeServer(gw.intake, on_counts=gw.metrics.add_counts)
        path = str(tmp_path / "intake.sock")
        await server.start(path)
        assert (os.stat(path).st_mode & 0o777) == 0o600
        counts = [{"a": [["SMS", False, 3]], "r": [["sms", "bad_receiver", 2]]}]
        intake = RemoteIntake(path, counts=lambda: counts.pop() if counts else None)
        await intake.connect()
        try:
            # Many in one turn: one frame, answered by tag.
            got = await asyncio.gather(
                *(
                    intake.submit(submission(settings, "acme", f"r{i}"), "SMS", None)
                    for i in range(50)
                )
            )
            assert len({a.id for a in got}) == 50
            assert not any(a.repeated for a in got)
            again = await intake.submit(submission(settings, "acme", "r7"), "SMS", None)
            assert again.repeated and again.id == got[7].id
            with pytest.raises(ValidationError) as refused:
                await intake.submit(
                    submission(settings, "acme", "r7", content="other"), "SMS", None
                )
            assert refused.value.code == Invalid.ID_REUSED
            assert refused.value.field == "srcMsgId"
            # The bucket lives in the gateway process: 2 per second, whoever asks.
            tried = await asyncio.gather(
                *(
                    intake.submit(submission(settings, "acme", f"t{i}"), "SMS", 2)
                    for i in range(6)
                ),
                return_exceptions=True,
            )
            assert sum(isinstance(t, Throttled) for t in tried) == 4
            assert server.received == 50 + 2 + 6
            metrics = gw.metrics.render().decode()
            assert 'umsgate_messages_accepted_total{channel="SMS",repeat="no"} 3.0' in (
                metrics
            )
            assert 'reason="bad_receiver"} 2.0' in metrics
        finally:
            await intake.close()
            await server.stop()


async def test_a_broken_frame_closes_that_connection_only(
    sqlite_store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(sqlite_store)
    async with running_gateway(settings) as running:
        await new_account(running, "acme")
        server = IntakeServer(running.gateway.intake)
        path = str(tmp_path / "intake.sock")
        await server.start(path)
        try:
            for bad in (
                (2**31).to_bytes(4, "big"),  # longer than any frame may be
                (5).to_bytes(4, "big") + b"{nope",
            ):
                reader, writer = await asyncio.open_unix_connection(path)
                with caplog.at_level(logging.ERROR, logger="umsgate.front"):
                    writer.write(bad)
                    await writer.drain()
                    assert await asyncio.wait_for(reader.read(), 5) == b""
                writer.close()
            assert "closing a front's connection" in caplog.text
            # A frame whose message has the wrong shape: that message is failed.
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(wire.frame({"s": [[7, "not a row", 0, "SMS", None]]}))
            assert await asyncio.wait_for(wire.read_frame(reader), 5) == [
                [7, wire.FAILED, "malformed message"]
            ]
            writer.close()
            # The server still serves.
            intake = RemoteIntake(path)
            await intake.connect()
            accepted = await intake.submit(
                submission(settings, "acme", "after"), "SMS", None
            )
            assert not accepted.repeated
            await intake.close()
        finally:
            await server.stop()


async def test_a_vanished_gateway_fails_what_is_waiting(tmp_path: Path) -> None:
    """A peer that takes frames and closes without answering: the waiting submission
    fails with GatewayGone, later ones at once, and the front is told."""
    path = str(tmp_path / "intake.sock")
    got_frame = asyncio.Event()

    async def swallow(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await wire.read_frame(reader)
        got_frame.set()
        writer.close()

    server = await asyncio.start_unix_server(swallow, path)
    lost = asyncio.Event()
    intake = RemoteIntake(path, on_lost=lost.set)
    await intake.connect()
    sub = Submission(row={"client_id": "c", "src_msg_id": "x"})
    with pytest.raises(GatewayGone):
        await asyncio.wait_for(intake.submit(sub, "SMS", None), 5)
    assert got_frame.is_set()
    await asyncio.wait_for(lost.wait(), 5)
    with pytest.raises(GatewayGone):
        await intake.submit(sub, "SMS", None)
    await intake.close()
    server.close()
    await server.wait_closed()
