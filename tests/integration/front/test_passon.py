"""What a front passes on to the gateway process (`umsgate.front.passon`), over real
sockets: a large upload to the real gateway, answers streamed back (re-framed for
HTTP/1.0, HEAD, a client that reads slowly), and the 503 when the gateway's HTTP
server is gone."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.conftest import Store
from tests.integration.front.conftest import (
    read_answer,
    running_front,
    send_request,
    sms,
)
from tests.unit.apigw.images import jpeg
from umsgate.files import MAX_FILE_BYTES
from umsgate.front.passon import UNAVAILABLE
from umsgate.testing import wait_for

#: The streamed answer: distinct pieces, so that a lost or reordered one shows.
PIECES = 160
PIECE = 64 * 1024


def piece(i: int) -> bytes:
    return hashlib.sha256(str(i).encode()).digest() * (PIECE // 32)


class Upstream:
    """A stand-in for the gateway's HTTP server: a streamed answer, a sized one,
    and an echo of what it received (the length and digest of the body)."""

    def __init__(self) -> None:
        self.disconnected = asyncio.Event()

    async def stream(self, request: Request) -> Response:
        async def pieces() -> AsyncIterator[bytes]:
            for i in range(PIECES):
                yield piece(i)

        return StreamingResponse(
            pieces(), media_type="application/octet-stream", headers={"x-kind": "s"}
        )

    async def sized(self, request: Request) -> Response:
        return Response(b"12345", media_type="text/plain", headers={"x-kind": "z"})

    async def echo(self, request: Request) -> Response:
        digest = hashlib.sha256()
        size = 0
        try:
            async for chunk in request.stream():
                digest.update(chunk)
                size += len(chunk)
        except ClientDisconnect:
            self.disconnected.set()
            raise
        return Response(
            orjson.dumps({"size": size, "sha256": digest.hexdigest()}),
            media_type="application/json",
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/stream", self.stream, methods=["GET"]),
                Route("/sized", self.sized, methods=["GET", "HEAD"]),
                Route("/echo", self.echo, methods=["POST"]),
            ]
        )


async def test_a_large_upload_goes_to_the_gateway(
    sqlite_store: Store, tmp_path: Path
) -> None:
    async with (
        running_front(sqlite_store, tmp_path) as run,
        httpx.AsyncClient(base_url=run.url, timeout=30) as http,
    ):
        auth = {"Authorization": f"Bearer {run.account.token}"}
        image = jpeg(size=MAX_FILE_BYTES)
        r = await http.post(
            "/v1/storage/file", files={"img": ("big.jpg", image, "image/jpeg")},
            headers=auth,
        )  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["resultCode"] == "10001"
        file_id = r.json()["fileId"]
        r = await http.get(f"/v1/storage/{file_id}", headers=auth)
        assert r.json()["fileData"]["exist"] is True
        # The same image again, streamed chunked (no length known in advance).
        body = httpx.Request(
            "POST", "http://x/", files={"img": ("big.jpg", image, "image/jpeg")}
        )
        payload = body.read()

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(payload), 100_000):
                yield payload[i : i + 100_000]

        r = await http.post(
            "/v1/storage/file", content=chunks(),
            headers={**auth, "content-type": body.headers["content-type"]},
        )  # fmt: skip
        assert (r.status_code, r.json()["resultCode"]) == (400, "41000"), r.text
        # Over the gateway's own limit: its own answer.
        r = await http.post(
            "/v1/storage/file",
            files={"img": ("huge.jpg", jpeg(size=2 * MAX_FILE_BYTES), "image/jpeg")},
            headers=auth,
        )
        assert r.status_code == 400
        assert r.json()["resultCode"] == "41002"


async def test_answers_stream_back_as_the_gateway_gives_them(
    sqlite_store: Store, tmp_path: Path
) -> None:
    upstream = Upstream()
    whole = b"".join(piece(i) for i in range(PIECES))
    async with running_front(
        sqlite_store, tmp_path, gateway_http=upstream.app()
    ) as run:
        reader, writer = await run.open()
        # HTTP/1.1: no length from the gateway, chunked to the client.
        writer.write(b"GET /stream HTTP/1.1\r\nHost: front\r\n\r\n")
        answer = await read_answer(reader)
        assert answer.status == 200
        assert answer.headers["transfer-encoding"] == "chunked"
        assert answer.headers["x-kind"] == "s"
        assert answer.body == whole
        # A length from the gateway is kept; HEAD has none of the body.
        writer.write(b"GET /sized HTTP/1.1\r\nHost: front\r\n\r\n")
        answer = await read_answer(reader)
        assert (answer.body, answer.headers["content-length"]) == (b"12345", "5")
        writer.write(b"HEAD /sized HTTP/1.1\r\nHost: front\r\n\r\n")
        answer = await read_answer(reader, head=True)
        assert answer.status == 200 and answer.headers["content-length"] == "5"
        # A chunked request body, and pipelined after the HEAD: still in order.
        body = b"".join(piece(i)[:1000] for i in range(50))
        chunked = b"".join(
            b"%x\r\n%s\r\n" % (len(body[i : i + 3000]), body[i : i + 3000])
            for i in range(0, len(body), 3000)
        )
        writer.write(
            b"POST /echo HTTP/1.1\r\nHost: front\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunked
            + b"0\r\n\r\n"
            + b"GET /sized HTTP/1.1\r\nHost: front\r\n\r\n"
        )
        answer = await read_answer(reader)
        assert orjson.loads(answer.body) == {
            "size": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        assert (await read_answer(reader)).body == b"12345"
        writer.close()
        # HTTP/1.0: the body ends with the connection.
        reader, writer = await run.open()
        writer.write(b"GET /stream HTTP/1.0\r\n\r\n")
        answer = await read_answer(reader)
        assert answer.headers["connection"] == "close"
        assert "transfer-encoding" not in answer.headers
        assert answer.body == whole
        writer.close()


async def test_a_slow_reader_holds_the_gateway_back(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """The front does not keep a long answer for a client that reads slowly: the
    gateway's connection waits instead."""
    upstream = Upstream()
    async with running_front(
        sqlite_store, tmp_path, gateway_http=upstream.app()
    ) as run:
        sock = socket.create_connection((run.host, run.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(b"GET /stream HTTP/1.1\r\nHost: front\r\n\r\n")
        await wait_for(lambda: bool(run.listener.connections), what="the connection")
        (conn,) = run.listener.connections
        buffered = 0
        received = 0
        while received < PIECES * PIECE:
            got = await asyncio.wait_for(reader.read(16 * 1024), 10)
            assert got
            received += len(got)
            assert conn.transport is not None
            buffered = max(buffered, conn.transport.get_write_buffer_size())
            if received < 2 * 1024 * 1024:
                await asyncio.sleep(0.001)
        # The answer is 10 MiB; the front held at most a few pieces of it.
        assert buffered < 1024 * 1024, buffered
        writer.close()


async def test_the_gateway_gone_is_503(sqlite_store: Store, tmp_path: Path) -> None:
    async with (
        running_front(sqlite_store, tmp_path) as run,
        httpx.AsyncClient(base_url=run.url, timeout=10) as http,
    ):
        assert (await http.get("/healthz")).status_code == 200
        await run.stop_gateway_http()
        r = await http.get("/healthz")
        assert r.status_code == 503
        assert r.content == UNAVAILABLE
        assert r.headers["content-type"] == "application/json"
        # The sends do not need it.
        r = await http.post(
            "/v1/message/sms", content=sms("no-http"), headers=run.account.headers()
        )
        assert r.status_code == 200, r.text


async def test_expect_100_continue_is_passed_on(
    sqlite_store: Store, tmp_path: Path
) -> None:
    upstream = Upstream()
    async with running_front(
        sqlite_store, tmp_path, gateway_http=upstream.app()
    ) as run:
        reader, writer = await run.open()
        body = b"x" * 5000
        writer.write(
            b"POST /echo HTTP/1.1\r\nHost: front\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        assert (await read_answer(reader)).status == 100
        writer.write(body)
        answer = await read_answer(reader)
        assert orjson.loads(answer.body)["size"] == len(body)
        writer.close()


@pytest.mark.parametrize("cut", ["head", "body"])
async def test_a_client_gone_mid_upload_lets_the_gateway_go(
    sqlite_store: Store, tmp_path: Path, cut: str
) -> None:
    upstream = Upstream()
    async with running_front(
        sqlite_store, tmp_path, gateway_http=upstream.app()
    ) as run:
        reader, writer = await run.open()
        head = b"POST /echo HTTP/1.1\r\nHost: front\r\nContent-Length: 100000\r\n\r\n"
        writer.write(head + (b"x" * 30_000 if cut == "body" else b""))
        await writer.drain()
        if cut == "body":
            await wait_for(lambda: run.front.link.busy == 1, what="the pass-on")
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()
        await wait_for(lambda: not run.listener.connections, what="the close")
        await wait_for(lambda: run.front.link.busy == 0, what="the gateway's side")
        if cut == "body":
            await asyncio.wait_for(upstream.disconnected.wait(), 10)
        # And on: a request after it is passed on.
        reader, writer = await run.open()
        writer.write(b"GET /sized HTTP/1.1\r\nHost: front\r\n\r\n")
        assert (await read_answer(reader)).body == b"12345"
        writer.close()


async def test_sends_and_passed_on_requests_share_a_connection(
    sqlite_store: Store, tmp_path: Path
) -> None:
    async with running_front(sqlite_store, tmp_path) as run:
        reader, writer = await run.open()
        for i in range(3):
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: front\r\n\r\n")
            assert (await read_answer(reader)).status == 200
            writer.write(send_request(run.account, sms(f"mix-{i}")))
            assert (await read_answer(reader)).status == 200
        writer.close()
        # One connection to the gateway served the three, one after the other.
        assert run.front.link.busy == 0 and run.front.link.idle == 1


async def test_a_token_request_names_its_client_address(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """The gateway sees passed-on requests come from its Unix socket: the front
    names the client's address (for the token endpoint's per-address limit), and
    drops the header of that name that a client sent."""
    async with (
        running_front(
            sqlite_store,
            tmp_path,
            auth={"failures_before_lockout": 100, "address_failures_before_lockout": 2},
        ) as run,
        httpx.AsyncClient(base_url=run.url, timeout=30) as http,
    ):
        guard = run.running.gateway.directory.guard
        assert guard is not None
        body = {"clientSecret": "wrong", "clientKey": "k"}
        for n in range(2):
            r = await http.post(
                "/v1/auth/token",
                json={**body, "clientId": f"guess-{n}"},
                headers={"X-Umsgate-Peer": f"10.9.9.{n}"},
            )
            assert r.status_code == 401
        assert guard.addresses.failures("127.0.0.1") == 2
        assert guard.addresses.failures("10.9.9.0") == 0
        r = await http.post(
            "/v1/auth/token",
            json={**body, "clientId": "guess-3"},
            headers={"X-Umsgate-Peer": "10.9.9.9"},
        )
        assert r.status_code == 429
        assert r.json()["error_description"].endswith("by this address")
        assert int(r.headers["Retry-After"]) >= 1
