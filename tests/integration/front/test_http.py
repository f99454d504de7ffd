"""A front's own HTTP/1.1 server (`umsgate.front.connection`) over real sockets:
keep-alive, pipelining, chunked bodies, ``Expect: 100-continue``, HTTP/1.0, the
limits (431, the native API's own error for a long body, connections per address)
and the deadlines (a trickled head, an idle connection, a late body)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import Store
from tests.e2e.conftest import db_rows
from tests.integration.front.conftest import (
    closed_within,
    read_answer,
    running_front,
    send_request,
    sms,
)
from umsgate.front.listener import TICK
from umsgate.testing import wait_for

#: How much later than its deadline a connection may be closed here: the sweep's
#: period, and the load of a shared machine.
SLACK = TICK + 0.75


def stored(store: Store) -> int:
    return int(db_rows(store, "select count(*) from messages")[0][0])


async def test_keep_alive_and_pipelined_requests_are_answered_in_order(
    sqlite_store: Store, tmp_path: Path
) -> None:
    async with running_front(sqlite_store, tmp_path) as run:
        reader, writer = await run.open()
        acct = run.account
        # Sends, a passed-on request and a refused send in one write: the answers
        # come in the order of the requests, whatever order they are ready in.
        writer.write(
            send_request(acct, sms("p1"))
            + send_request(acct, sms("p2"))
            + b"GET /healthz HTTP/1.1\r\nHost: front\r\n\r\n"
            + send_request(acct, sms("p3", receiver="12"))
            + send_request(acct, sms("p4"))
        )
        answers = [await read_answer(reader) for _ in range(5)]
        assert [a.status for a in answers] == [200, 200, 200, 400, 200]
        docs = [orjson.loads(a.body) for a in answers]
        assert [docs[i]["srcMsgId"] for i in (0, 1, 4)] == ["p1", "p2", "p4"]
        assert docs[2]["status"] == "ok"
        assert docs[3]["resultCode"] == "40015"
        assert all("connection" not in a.headers for a in answers)
        # The connection is kept: one more on it.
        writer.write(send_request(acct, sms("p5")))
        again = await read_answer(reader)
        assert again.status == 200 and orjson.loads(again.body)["srcMsgId"] == "p5"
        writer.close()
    assert stored(sqlite_store) == 4


async def test_a_chunked_body_is_read(sqlite_store: Store, tmp_path: Path) -> None:
    async with running_front(sqlite_store, tmp_path) as run:
        reader, writer = await run.open()
        head = send_request(run.account, b"").split(b"Content-Length")[0]
        body = sms("chunked-1")
        writer.write(head + b"Transfer-Encoding: chunked\r\n\r\n")
        for i in range(0, len(body), 7):
            piece = body[i : i + 7]
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        answer = await read_answer(reader)
        assert answer.status == 200, answer.body
        assert orjson.loads(answer.body)["srcMsgId"] == "chunked-1"
        writer.close()
    assert stored(sqlite_store) == 1


async def test_expect_100_continue(sqlite_store: Store, tmp_path: Path) -> None:
    async with running_front(sqlite_store, tmp_path) as run:
        reader, writer = await run.open()
        body = sms("expect-1")
        request = send_request(run.account, body, extra="Expect: 100-continue\r\n")
        writer.write(request[: -len(body)])
        interim = await read_answer(reader)
        assert interim.status == 100
        writer.write(body)
        answer = await read_answer(reader)
        assert answer.status == 200, answer.body

        # A body declared too long: refused at once, without 100, and closed.
        big = b"x" * 70_000
        request = send_request(run.account, big, extra="Expect: 100-continue\r\n")
        writer.write(request[: -len(big)])
        answer = await read_answer(reader)
        assert answer.status == 400
        assert orjson.loads(answer.body)["resultCode"] == "40011"
        assert answer.headers["connection"] == "close"
        assert await closed_within(reader, 5) < 5
        writer.close()


async def test_a_head_over_16_kib_is_431(sqlite_store: Store, tmp_path: Path) -> None:
    async with running_front(sqlite_store, tmp_path) as run:
        # In one write, and trickled in pieces that never complete it.
        for pieces in (1, 40):
            reader, writer = await run.open()
            request = send_request(
                run.account, sms("big-head"), extra=f"X-Pad: {'a' * 17_000}\r\n"
            )
            head = request.split(b"\r\n\r\n")[0]
            if pieces == 1:
                writer.write(request)
            else:
                size = len(head) // pieces + 1
                for i in range(0, len(head), size):
                    writer.write(head[i : i + size])
                    await writer.drain()
            answer = await read_answer(reader)
            assert answer.status == 431, pieces
            assert answer.headers["connection"] == "close"
            assert await closed_within(reader, 5) < 5
            writer.close()
        # A head just under the limit is served.
        reader, writer = await run.open()
        writer.write(
            send_request(
                run.account, sms("ok-head"), extra=f"X-Pad: {'a' * 15_000}\r\n"
            )
        )
        assert (await read_answer(reader)).status == 200
        writer.close()
    assert stored(sqlite_store) == 1


async def test_a_long_body_gets_the_apis_own_error(
    sqlite_store: Store, tmp_path: Path
) -> None:
    limit = 65536  # server.max_body
    async with running_front(sqlite_store, tmp_path) as run:
        content = "가" * (limit // 3 + 10)
        body = sms("long-1", content=content)
        assert len(body) > limit
        # Declared too long.
        reader, writer = await run.open()
        writer.write(send_request(run.account, body))
        answer = await read_answer(reader)
        assert answer.status == 400
        assert orjson.loads(answer.body) == {
            "resultCode": "40011",
            "resultMessage": f"the body is larger than {limit} bytes",
        }
        writer.close()
        # Chunked, found too long as it comes.
        reader, writer = await run.open()
        head = send_request(run.account, b"").split(b"Content-Length")[0]
        writer.write(head + b"Transfer-Encoding: chunked\r\n\r\n")
        for i in range(0, len(body), 8192):
            piece = body[i : i + 8192]
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        answer = await read_answer(reader)
        assert answer.status == 400
        assert orjson.loads(answer.body)["resultMessage"] == (
            f"the body is larger than {limit} bytes"
        )
        writer.close()
        # ToBeText: its own 413 acknowledgement.
        reader, writer = await run.open()
        form = b"Cid=acme&token=t&Body=" + b"x" * 20_000
        writer.write(
            b"POST /sms HTTP/1.1\r\nHost: front\r\nContent-Type: "
            b"application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
            % (len(form), form)
        )
        answer = await read_answer(reader)
        assert answer.status == 413
        assert b"<ErrorCode>2005</ErrorCode>" in answer.body
        writer.close()
    assert stored(sqlite_store) == 0


async def test_a_trickled_head_is_closed_by_its_deadline(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """Slowloris: one header byte every 0.1 s never completes a head within
    ``server.header_timeout`` (1 s here); the connection gets 408 and is closed."""
    async with running_front(sqlite_store, tmp_path) as run:
        reader, writer = await run.open()
        request = send_request(run.account, sms("slow"))
        started = time.monotonic()

        async def trickle() -> None:
            for byte in request:
                writer.write(bytes([byte]))
                await asyncio.sleep(0.1)

        trickling = asyncio.create_task(trickle())
        try:
            answer = await read_answer(reader, timeout=5)
            assert answer.status == 408
            await closed_within(reader, 5)
            elapsed = time.monotonic() - started
            assert 1.0 <= elapsed < 1.0 + SLACK, elapsed
        finally:
            trickling.cancel()
            writer.close()
        # A connection that says nothing is closed too, quietly.
        reader, writer = await run.open()
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        assert time.monotonic() - started < 1.0 + SLACK
        writer.close()
        # Meanwhile others are served.
        reader, writer = await run.open()
        writer.write(send_request(run.account, sms("quick")))
        assert (await read_answer(reader)).status == 200
        writer.close()


async def test_an_idle_connection_is_closed(
    sqlite_store: Store, tmp_path: Path
) -> None:
    async with running_front(sqlite_store, tmp_path) as run:
        reader, writer = await run.open()
        writer.write(send_request(run.account, sms("idle-1")))
        assert (await read_answer(reader)).status == 200
        answered = time.monotonic()
        # server.keepalive_timeout is 1 s here.
        assert await asyncio.wait_for(reader.read(), 5) == b""
        elapsed = time.monotonic() - answered
        assert 1.0 - TICK <= elapsed < 1.0 + SLACK, elapsed
        writer.close()


async def test_a_late_body_is_refused_in_the_apis_words(
    sqlite_store: Store, tmp_path: Path
) -> None:
    async with running_front(sqlite_store, tmp_path) as run:
        reader, writer = await run.open()
        body = sms("late-1")
        request = send_request(run.account, body)
        writer.write(request[:-10])  # the head and most of the body, never the rest
        answer = await read_answer(reader, timeout=5)
        assert answer.status == 408
        assert orjson.loads(answer.body)["resultCode"] == "40000"
        assert answer.headers["connection"] == "close"
        writer.close()
    assert stored(sqlite_store) == 0


async def test_too_many_connections_from_one_address(
    sqlite_store: Store, tmp_path: Path
) -> None:
    async with running_front(
        sqlite_store, tmp_path, server={"max_connections_per_client": 3}
    ) as run:
        held = [await run.open() for _ in range(3)]
        for i, (reader, writer) in enumerate(held):
            writer.write(send_request(run.account, sms(f"cap-{i}")))
            assert (await read_answer(reader)).status == 200
        # The fourth is closed at once.
        reader, writer = await run.open()
        writer.write(send_request(run.account, sms("cap-refused")))
        with contextlib.suppress(ConnectionResetError):
            assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        assert run.listener.refused == 1
        # The three still serve; once one goes, a new one is taken.
        reader, writer = held[0]
        writer.write(send_request(run.account, sms("cap-again")))
        assert (await read_answer(reader)).status == 200
        writer.close()
        await wait_for(lambda: len(run.listener.connections) == 2, what="a close")
        reader, writer = await run.open()
        writer.write(send_request(run.account, sms("cap-new")))
        assert (await read_answer(reader)).status == 200
        writer.close()
        for _, w in held[1:]:
            w.close()
    assert stored(sqlite_store) == 5


async def test_a_client_that_goes_away_mid_request(
    sqlite_store: Store, tmp_path: Path
) -> None:
    async with running_front(sqlite_store, tmp_path) as run:
        # Gone in the middle of the head, of the body, and while its answer is due.
        request = send_request(run.account, sms("gone-1"))
        for cut in (20, len(request) - 5, len(request)):
            reader, writer = await run.open()
            writer.write(request[:cut])
            await writer.drain()
            sock = writer.get_extra_info("socket")
            # A reset, as a client that dies sends it.
            linger = struct.pack("ii", 1, 0)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            writer.close()
        await wait_for(lambda: not run.listener.connections, what="the closes")
        # The front serves on.
        reader, writer = await run.open()
        writer.write(send_request(run.account, sms("gone-after")))
        answer = await read_answer(reader)
        assert answer.status == 200
        writer.close()
    # The complete request was stored or not; the others were not.
    assert stored(sqlite_store) in (1, 2)


async def test_http_1_0_and_connection_close(
    sqlite_store: Store, tmp_path: Path
) -> None:
    async with running_front(sqlite_store, tmp_path) as run:
        for request in (
            send_request(run.account, sms("old-1"), version="1.0"),
            send_request(run.account, sms("close-1"), extra="Connection: close\r\n"),
        ):
            reader, writer = await run.open()
            writer.write(request)
            answer = await read_answer(reader)
            assert answer.status == 200
            assert answer.headers["connection"] == "close"
            assert await closed_within(reader, 5) < 1
            writer.close()
        # Not HTTP at all.
        reader, writer = await run.open()
        writer.write(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64)
        answer = await read_answer(reader)
        assert answer.status == 400
        assert await closed_within(reader, 5) < 5
        writer.close()
    assert stored(sqlite_store) == 2


@pytest.mark.parametrize("cache_ttl", [60.0, 0.0], ids=["cached", "read"])
async def test_sends_answer_as_the_gateway_does(
    sqlite_store: Store, tmp_path: Path, cache_ttl: float
) -> None:
    """The same answers from the front as from the gateway process's own face,
    with the token and client cached, and read from the store (in a task)."""
    cases = [
        ({}, sms("same-1")),
        ({}, sms("same-1", content="other")),
        ({}, b"{not json"),
        ({}, b"[1]"),
        ({}, sms("same-2", receiver="12")),
        ({"Authorization": "Bearer wrong"}, sms("same-3")),
        ({"Authorization": ""}, sms("same-4")),
    ]
    async with (
        running_front(sqlite_store, tmp_path, auth={"cache_ttl": cache_ttl}) as run,
        httpx.AsyncClient(timeout=10) as http,
    ):
        for path in ("/v1/message/sms", "/v1/message/nope"):
            for headers, body in cases:
                full = {**run.account.headers(), **headers}
                via_front = await http.post(run.url + path, content=body, headers=full)
                via_gateway = await http.post(
                    run.running.url + path, content=body, headers=full
                )
                assert via_front.status_code == via_gateway.status_code, body
                a, b = via_front.json(), via_gateway.json()
                for doc in (a, b):
                    doc.pop("transferTime", None)
                assert a == b
                assert via_front.headers["content-type"] == "application/json"
        # The front served them: what it handed over was the stored one and the
        # reused id (the acceptor's refusal); the gateway refused the rest itself.
        assert run.intake.received == 2


@pytest.mark.parametrize("method", ["GET", "PUT"])
async def test_a_send_path_with_another_method_is_the_gateways(
    sqlite_store: Store, tmp_path: Path, method: str
) -> None:
    async with running_front(sqlite_store, tmp_path) as run:
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.request(method, run.url + "/v1/message/sms")
            g = await http.request(method, run.running.url + "/v1/message/sms")
        assert r.status_code == g.status_code == 405
