"""``umsgate serve --workers N``: HTTP front processes on the public port hand their
sends to the gateway process, which alone writes, throttles and delivers; every other
request is passed to it. Killing a front or the gateway process loses nothing."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Receiver, Store
from tests.e2e.conftest import (
    Server,
    add_client,
    db_rows,
    free_port,
    server,
    status_counts,
    token,
)
from tests.unit.apigw.images import jpeg
from umsgate import config as config_module
from umsgate.files import MAX_FILE_BYTES
from umsgate.testing import wait_for

HEADERS = {"originCode": "123456789", "billCode": "12345"}


def sms(src: str, **fields: Any) -> dict[str, Any]:
    return {
        "srcMsgId": src,
        "callback": "0212345678",
        "receiver": "01012345678",
        "content": "안녕하세요",
        **fields,
    }


async def health(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        r = await http.get(url + "/healthz", timeout=5)
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    return doc


def gone(pid: int) -> bool:
    """The process has exited (a zombie counts: it no longer runs)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


async def test_fronts_serve_the_api_and_one_process_writes(
    store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    creds = add_client(store, "fronted", receiver.url)
    async with (
        server(store, tmp_path, workers=2) as srv,
        httpx.AsyncClient(base_url=srv.url, timeout=10) as http,
    ):
        fronts = (await health(srv.url))["fronts"]
        assert len(fronts["pids"]) == 2 and fronts["ready"] == 2
        assert all(not gone(p) for p in fronts["pids"])
        auth = {"Authorization": f"Bearer {await token(http, srv.url, creds)}"}
        headers = {**auth, **HEADERS}

        # Passed on to the gateway process: the upload (multipart), its checks.
        r = await http.post(
            "/v1/storage/file", files={"img": ("a.jpg", jpeg(tag=b"f1"), "image/jpeg")},
            headers=auth,
        )  # fmt: skip
        assert r.status_code == 200, r.text
        file_id = r.json()["fileId"]
        r = await http.post(
            "/v1/storage/file", files={"img": ("a.jpg", b"GIF89a....", "image/jpeg")},
            headers=auth,
        )  # fmt: skip
        assert r.status_code == 400 and r.json()["resultCode"] != "10000"
        # The largest image there may be, streamed through the front.
        r = await http.post(
            "/v1/storage/file",
            files={"img": ("big.jpg", jpeg(size=MAX_FILE_BYTES), "image/jpeg")},
            headers=auth,
        )
        assert r.status_code == 200 and r.json()["resultCode"] == "10001", r.text

        # Served by the fronts: sends, their refusals, the acceptor's answers.
        r = await http.post("/v1/message/sms", json=sms("s1"), headers=headers)
        assert r.status_code == 200, r.text
        first = r.json()["umsMsgId"]
        r = await http.post("/v1/message/sms", json=sms("s1"), headers=headers)
        assert r.status_code == 200 and r.json()["umsMsgId"] == first
        r = await http.post(
            "/v1/message/sms", json=sms("s1", content="other"), headers=headers
        )
        assert r.status_code == 400, r.text
        assert r.json()["resultCode"] == "40017" and "srcMsgId" in r.text
        r = await http.post(
            "/v1/message/sms", json=sms("s2", receiver="12"), headers=headers
        )
        assert (r.status_code, r.json()["resultCode"]) == (400, "40015")
        r = await http.post("/v1/message/sms", content=b"{not json", headers=headers)
        assert r.status_code == 400
        r = await http.post(
            "/v1/message/sms", json=sms("s3"), headers={**HEADERS,
            "Authorization": "Bearer wrong"},
        )  # fmt: skip
        assert r.status_code == 401
        mms = {
            **sms("m1", content="사진", subject="제목"),
            "fileIds": [file_id],
        }
        r = await http.post("/v1/message/mms", json=mms, headers=headers)
        assert r.status_code == 200, r.text
        second = r.json()["umsMsgId"]
        r = await http.post(
            "/v1/message/mms", json={**mms, "srcMsgId": "m2", "fileIds": ["nope"]},
            headers=headers,
        )  # fmt: skip
        assert r.status_code == 400 and "fileIds" in r.text

        fronts = (await health(srv.url))["fronts"]
        # Two stored, one repeat, one reused id: four reached the gateway process.
        assert fronts["messages"] == 4

        await wait_for(
            lambda: {first, second} <= set(receiver.by_id()),
            timeout=30,
            what="both reports at the webhook",
        )
        r = await http.post("/v1/agent/rpt/sms", json=[first], headers=auth)
        assert r.status_code == 200, r.text
        assert [rep["umsMsgId"] for rep in r.json()] == [first]

        async def counted() -> bool:
            text = (await http.get("/metrics")).text
            return (
                'umsgate_messages_accepted_total{channel="SMS",repeat="yes"} 1.0'
                in text
                and 'umsgate_messages_accepted_total{channel="MMS",repeat="no"} 1.0'
                in text
                and 'reason="bad_receiver"} 1.0' in text
            )

        await wait_for(counted, timeout=10, what="the fronts' counts in /metrics")


async def test_a_clients_tps_holds_across_the_fronts(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    creds = add_client(sqlite_store, "slow", receiver.url, tps=10)
    async with server(sqlite_store, tmp_path, workers=2) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            headers = {
                "Authorization": f"Bearer {await token(http, srv.url, creds)}",
                **HEADERS,
            }

        # A connection per sender, opened first (the kernel spreads them over both
        # fronts), so that the burst itself is short and the bucket refills little.
        clients = [httpx.AsyncClient(base_url=srv.url, timeout=10) for _ in range(60)]
        try:
            for c in clients:
                assert (await c.get("/healthz")).status_code == 200
            started = asyncio.get_running_loop().time()
            answers = await asyncio.gather(
                *(
                    c.post("/v1/message/sms", json=sms(f"t{i}"), headers=headers)
                    for i, c in enumerate(clients)
                )
            )
            elapsed = asyncio.get_running_loop().time() - started
        finally:
            for c in clients:
                await c.aclose()
    codes = [a.status_code for a in answers]
    assert set(codes) <= {200, 429}
    # One bucket of 10 for the client, refilled at 10/s while the burst lasts. A
    # bucket per front would let through 10 at each front, 20 and more.
    assert 10 <= codes.count(200) <= 10 + math.ceil(10 * elapsed)
    assert db_rows(sqlite_store, "select count(*) from messages") == [
        (codes.count(200),)
    ]


def test_a_port_in_use_is_refused(sqlite_store: Store) -> None:
    """The fronts bind with SO_REUSEPORT, which would share a port with another
    gateway's fronts: a held port is refused instead."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "umsgate", "serve", "--workers", "1",
             "--port", str(port), *sqlite_store.cli_args()],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, **sqlite_store.env()},
        )  # fmt: skip
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: in use" in done.stderr
    assert "Traceback" not in done.stderr


TOTAL = 3000
CONCURRENCY = 24


@pytest.mark.slow
async def test_killing_a_front_or_the_gateway_process_loses_nothing(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    creds = add_client(sqlite_store, "crash", receiver.url)
    srv = Server(sqlite_store, free_port(), tmp_path / "serve.log", workers=2)
    await srv.start()
    acked: dict[str, str] = {}
    next_index = iter(range(TOTAL))
    up = asyncio.Event()
    up.set()
    events: list[str] = []

    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as http:
        headers = {
            "Authorization": f"Bearer {await token(http, srv.url, creds)}",
            **HEADERS,
        }

    async def chaos() -> None:
        """A front killed at a third of the load, the gateway process at two."""
        await wait_for(lambda: len(acked) >= TOTAL // 3, timeout=120, interval=0.01)
        fronts = (await health(srv.url))["fronts"]
        os.kill(fronts["pids"][0], signal.SIGKILL)
        events.append("front killed")

        async def replaced() -> bool:
            f = (await health(srv.url))["fronts"]
            return bool(f["restarts"] == 1 and f["ready"] == 2)

        await wait_for(replaced, timeout=30, what="a new front")
        events.append("front replaced")
        await wait_for(lambda: len(acked) >= 2 * TOTAL // 3, timeout=120)
        pids = (await health(srv.url))["fronts"]["pids"]
        up.clear()
        srv.kill9()
        # Its fronts notice and exit.
        await wait_for(
            lambda: all(gone(p) for p in pids), timeout=30, what="fronts to exit"
        )
        events.append("gateway killed, fronts gone")
        await srv.start()
        up.set()

    async def sender() -> None:
        async with httpx.AsyncClient(base_url=srv.url, timeout=10) as own:
            for i in next_index:
                src = f"c{i}"
                body = sms(src, receiver=f"010{20000000 + i:08d}", content=f"c {i}")
                # No answer, or a 5xx: the client repeats (same srcMsgId).
                for _attempt in range(200):
                    try:
                        r = await own.post(
                            "/v1/message/sms", json=body, headers=headers
                        )
                    except httpx.HTTPError:
                        await asyncio.sleep(0.05)
                        await up.wait()
                        continue
                    if r.status_code >= 500:
                        await asyncio.sleep(0.05)
                        await up.wait()
                        continue
                    assert r.status_code == 200, r.text
                    acked[src] = r.json()["umsMsgId"]
                    break

    try:
        await asyncio.wait_for(
            asyncio.gather(chaos(), *(sender() for _ in range(CONCURRENCY))),
            timeout=300,
        )
        assert events == [
            "front killed",
            "front replaced",
            "gateway killed, fronts gone",
        ]
        assert len(acked) == TOTAL
        wanted = set(acked.values())
        assert len(wanted) == TOTAL
        await wait_for(
            lambda: wanted <= set(receiver.by_id()),
            timeout=120,
            interval=0.2,
            what="a report for every acknowledged message",
        )
    finally:
        srv.stop()
    statuses = status_counts(sqlite_store)
    stored = {str(r[0]) for r in db_rows(sqlite_store, "select id from messages")}
    # Every 200 is stored, and nothing twice (the repeats were answered by id).
    assert stored == wanted
    assert statuses == {"DELIVERED": TOTAL}


async def test_serve_with_no_options_uses_the_cores(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    """With neither ``--workers`` nor ``own_process``, serve puts HTTP fronts and
    SMPP connectors' processes on the machine's cores (`config.auto_workers`,
    `config.auto_own_process`), and a send goes through."""
    settings = tmp_path / "umsgate.toml"
    settings.write_text(
        "[[connectors]]\n"
        'name = "smsc"\nprotocol = "smpp"\nhost = "127.0.0.1"\n'
        f'port = {free_port()}\nsystem_id = "esme"\nreconnect_initial = 0.1\n'
    )
    creds = add_client(sqlite_store, "shop", receiver.url)
    async with server(sqlite_store, tmp_path, config=settings, workers=None) as srv:
        doc = await health(srv.url)
        fronts = config_module.auto_workers()
        assert doc.get("fronts", {"ready": 0})["ready"] == fronts
        hosted = doc["connectors"]["smsc"].get("process", {}).get("pid")
        assert (hosted is not None) == config_module.auto_own_process("smpp")
        async with httpx.AsyncClient() as http:
            tok = await token(http, srv.url, creds)
            r = await http.post(
                srv.url + "/v1/message/sms",
                json=sms("default-1"),
                headers={**HEADERS, "Authorization": f"Bearer {tok}"},
            )
        assert r.status_code == 200, r.text


async def test_a_front_closes_slow_and_surplus_connections(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    """Against a front process: a client trickling its head a byte at a time is
    closed by ``server.header_timeout``, and an address holding
    ``server.max_connections_per_client`` connections gets no more; others are
    served meanwhile."""
    creds = add_client(sqlite_store, "edge", receiver.url)
    env = {
        "UMSGATE_SERVER_HEADER_TIMEOUT": "1",
        "UMSGATE_SERVER_MAX_CONNECTIONS_PER_CLIENT": "4",
    }
    async with server(sqlite_store, tmp_path, workers=1, env=env) as srv:
        async with httpx.AsyncClient(base_url=srv.url, timeout=10) as http:
            tok = await token(http, srv.url, creds)
        request = (
            "POST /v1/message/sms HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {tok}\r\noriginCode: 123456789\r\n"
            "billCode: 12345\r\nContent-Type: application/json\r\n"
        ).encode()
        host, port = "127.0.0.1", srv.port
        # Slowloris: one byte every 0.2 s.
        reader, writer = await asyncio.open_connection(host, port)
        started = asyncio.get_running_loop().time()

        async def trickle() -> None:
            for byte in request:
                writer.write(bytes([byte]))
                await asyncio.sleep(0.2)

        trickling = asyncio.create_task(trickle())
        try:
            head = await asyncio.wait_for(reader.read(), 5)
        finally:
            trickling.cancel()
            writer.close()
        elapsed = asyncio.get_running_loop().time() - started
        assert head.startswith(b"HTTP/1.1 408 "), head
        assert 1.0 <= elapsed < 2.5, elapsed
        # The cap: four connections held, the fifth closed at once.
        held = [await asyncio.open_connection(host, port) for _ in range(4)]
        body = b'{"srcMsgId":"e1","callback":"0212345678","receiver":"01012345678",'
        body += b'"content":"hi"}'
        for r, w in held:
            w.write(request + b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            assert (await asyncio.wait_for(r.readuntil(b"\r\n"), 10)).startswith(
                b"HTTP/1.1 200 "
            )
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            assert await asyncio.wait_for(reader.read(), 5) == b""
        except ConnectionResetError:
            pass
        writer.close()
        for _, w in held:
            w.close()
