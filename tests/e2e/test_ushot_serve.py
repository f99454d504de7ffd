"""UShot through the whole gateway: ``umsgate serve`` (a real process) routes SMS, LMS
and MMS to a ``ushot`` connector that talks to the UShot simulator over loopback TCP;
a client sends through the native HTTP API and gets every report by webhook.

The load test runs ``umsgate sim ushot`` as a process too. The fault tests need fault
switches the simulator's command line does not have (drop a session at a given frame,
drop a report session that is about to get results, corrupt a frame), so they run the
simulator in this process through its importable API; the gateway is still a real
process.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import itertools
import re
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Receiver, Store
from tests.e2e.conftest import Server, add_client, server, token
from umsgate.protocols.ushot.codes import Command, Port, Version
from umsgate.protocols.ushot.simbackend import Account
from umsgate.protocols.ushot.simulator import UShotSimulator
from umsgate.testing import wait_for

pytestmark = pytest.mark.slow

USER, PASSWORD = "gateway", "pw-e2e"
#: Requests in flight from the client.
CONCURRENCY = 32
#: A 1×1 greyscale baseline JPEG (160 bytes; decodes to one black pixel).
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkK"
    "DA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAA"
    "AAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q=="
)
#: An LMS body of about 600 CP949 bytes (Hangul is 2 bytes a syllable).
LMS_TEXT = "장문 메시지 시험입니다. " * 40
#: The auth cache at its default (FAST_ENV turns it off for tests that change clients;
#: these do not, and a database read per request would only slow them down), and
#: fewer webhooks in flight: the HTTP client's pool costs CPU per request that grows
#: with the square of its connections, and one receiver needs no more than 16.
SERVE_ENV = {"UMSGATE_AUTH_CACHE_TTL": "2", "UMSGATE_WEBHOOK_CONCURRENCY": "16"}
#: Seconds from a record's acceptance to its result. The fault tests give the gateway
#: longer to record a lost answer as RETRY before the result of the copy UShot took
#: arrives (which would end the message straight from SENDING).
RESULT_DELAY, FAULT_RESULT_DELAY = 0.05, 0.3


# -- the pieces ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def simulator_process(
    version: str, log: Path, *options: str
) -> AsyncIterator[dict[Port, int]]:
    """``umsgate sim ushot [OPTIONS]`` on free loopback ports; yields the ports of its
    ``listening`` line and ends the process on exit."""
    with open(log, "ab") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "umsgate",
            "sim",
            "ushot",
            "--host",
            "127.0.0.1",
            "--base-port",
            "0",
            "--account",
            f"{USER}:{PASSWORD}",
            "--version",
            version,
            "--delay",
            str(RESULT_DELAY),
            *options,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
        )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            line = (await proc.stdout.readline()).decode()
        assert line.startswith("listening "), f"the simulator said {line!r}; see {log}"
        found = dict(re.findall(r"(\w+)=127\.0\.0\.1:(\d+)", line))
        yield {port: int(found[port.value]) for port in Port}
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(10):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


@contextlib.asynccontextmanager
async def simulator_here(version: str) -> AsyncIterator[UShotSimulator]:
    """The simulator in this process (free loopback ports), for its fault switches."""
    account = Account(
        user_id=USER, password=PASSWORD, versions=frozenset({Version(version)})
    )
    async with UShotSimulator(
        accounts=[account], result_delay=FAULT_RESULT_DELAY
    ) as sim:
        yield sim


def settings_file(path: Path, ports: Mapping[Port, int], version: str) -> Path:
    """A settings file with one ``ushot`` connector at ``ports`` and a route sending
    SMS, LMS and MMS to it (nothing to the sandbox)."""
    path.write_text(
        "[[connectors]]\n"
        'name = "ushot"\n'
        'protocol = "ushot"\n'
        f'user_id = "{USER}"\n'
        f'password = "{PASSWORD}"\n'
        f'version = "{version}"\n'
        'host = "127.0.0.1"\n'
        f"sms_port = {ports[Port.SMS]}\n"
        f"sms_report_port = {ports[Port.SMS_REPORT]}\n"
        f"mms_port = {ports[Port.MMS]}\n"
        f"mms_report_port = {ports[Port.MMS_REPORT]}\n"
        "reconnect_delay = 0.1\n"
        "poll_interval = 0.05\n"
        "request_timeout = 10.0\n"
        "\n"
        "[[routes]]\n"
        'name = "ushot-only"\n'
        'channels = ["SMS", "LMS", "MMS"]\n'
        'connectors = ["ushot"]\n'
    )
    return path


@contextlib.asynccontextmanager
async def gateway(
    store: Store,
    tmp_path: Path,
    ports: Mapping[Port, int],
    version: str,
    receiver: Receiver,
) -> AsyncIterator[tuple[Server, Client]]:
    """``umsgate serve`` routing to UShot at ``ports``, with the ushot connector
    logged in, and a client whose report URL is ``receiver``."""
    creds = add_client(store, "shop", receiver.url)
    config = settings_file(tmp_path / "umsgate.toml", ports, version)
    async with (
        server(store, tmp_path, env=SERVE_ENV, config=config) as srv,
        httpx.AsyncClient(base_url=srv.url, timeout=30) as http,
    ):
        await wait_for(
            lambda: connector_up(http), timeout=30, what="the ushot connector up"
        )
        yield srv, Client(srv.url, await token(http, srv.url, creds))


async def connector_up(http: httpx.AsyncClient) -> bool:
    """Whether /healthz answers and says the ushot connector is logged in on every
    lane."""
    with contextlib.suppress(httpx.HTTPError):
        r = await http.get("/healthz")
        if r.status_code == 200:
            return bool(r.json()["connectors"]["ushot"]["up"])
    return False


class Client:
    """The native API as a client application uses it."""

    def __init__(self, url: str, access_token: str) -> None:
        self.url = url
        self.headers = {
            "Authorization": f"Bearer {access_token}",
            "originCode": "123456789",
            "billCode": "12345",
        }

    async def upload_jpeg(self) -> str:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            r = await http.post(
                "/v1/storage/file",
                files={"img": ("photo.jpg", JPEG, "image/jpeg")},
                headers={"Authorization": self.headers["Authorization"]},
            )
        assert r.status_code == 200, r.text
        assert r.json()["resultCode"] == "10001", r.text
        return str(r.json()["fileId"])

    async def send_all(
        self, requests: Iterable[tuple[str, dict[str, Any]]]
    ) -> dict[str, str]:
        """POST every (path, body) with `CONCURRENCY` in flight; srcMsgId → umsMsgId.

        Each worker has a client of its own: one pool shared by many requests in
        flight costs httpx more CPU than the gateway spends on them.
        """
        todo = iter(requests)
        acked: dict[str, str] = {}

        async def worker() -> None:
            async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
                for path, body in todo:
                    r = await http.post(path, json=body, headers=self.headers)
                    assert r.status_code == 200, r.text
                    acked[body["srcMsgId"]] = r.json()["umsMsgId"]

        async with asyncio.timeout(90):
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return acked


def sms(n: int) -> tuple[str, dict[str, Any]]:
    return "/v1/message/sms", {
        "srcMsgId": f"s{n}",
        "callback": "0212345678",
        "receiver": f"010{10000000 + n:08d}",
        "content": f"UShot 시험 {n}",
    }


def lms(n: int) -> tuple[str, dict[str, Any]]:
    return "/v1/message/mms", {
        "srcMsgId": f"l{n}",
        "callback": "0212345678",
        "receiver": f"010{20000000 + n:08d}",
        "subject": f"장문 {n}",
        "content": f"{n}: {LMS_TEXT}",
    }


def mms(n: int, file_id: str) -> tuple[str, dict[str, Any]]:
    return "/v1/message/mms", {
        "srcMsgId": f"m{n}",
        "callback": "0212345678",
        "receiver": f"010{30000000 + n:08d}",
        "subject": f"사진 {n}",
        "content": f"사진을 보냅니다 {n}",
        "fileIds": [file_id],
    }


async def send_mix(
    client: Client, n_sms: int, n_lms: int, n_mms: int
) -> dict[str, str]:
    """Upload the JPEG, then send the three kinds; srcMsgId → umsMsgId."""
    file_id = await client.upload_jpeg() if n_mms else ""
    acked = await client.send_all(
        [
            *(sms(i) for i in range(n_sms)),
            *(lms(i) for i in range(n_lms)),
            *(mms(i, file_id) for i in range(n_mms)),
        ]
    )
    assert len(acked) == n_sms + n_lms + n_mms
    return acked


async def wait_for_reports(receiver: Receiver, wanted: Iterable[str]) -> None:
    ids = set(wanted)
    await wait_for(
        lambda: ids <= receiver.by_id().keys(),
        timeout=90,
        interval=0.1,
        what=f"a webhook report for each of {len(ids)} messages",
    )


def stored(store: Store) -> dict[str, dict[str, Any]]:
    """umsMsgId → the message's row, with the counts of its claims (SENDING), its
    SENT events, its returns to the queue after a failed try, its final events and
    its report rows."""
    with contextlib.closing(sqlite3.connect(store.data_dir / "umsgate.db")) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT m.id, m.channel, m.status, m.connector, m.raw_code,"
            " m.provider_msg_id,"
            " (SELECT count(*) FROM events e WHERE e.message_id = m.id"
            "  AND e.status = 'SENDING') AS claims,"
            " (SELECT count(*) FROM events e WHERE e.message_id = m.id"
            "  AND e.status = 'SENT') AS sent,"
            " (SELECT count(*) FROM events e WHERE e.message_id = m.id"
            "  AND e.status = 'QUEUED' AND e.code IS NOT NULL) AS requeued,"
            " (SELECT count(*) FROM events e WHERE e.message_id = m.id"
            "  AND e.status IN ('DELIVERED', 'FAILED', 'EXPIRED')) AS finals,"
            " (SELECT count(*) FROM reports r WHERE r.message_id = m.id) AS reports"
            " FROM messages m"
        ).fetchall()
    return {str(r["id"]): dict(r) for r in rows}


def all_delivered_once(
    store: Store, receiver: Receiver, acked: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """Every acknowledged message is DELIVERED through UShot, with one final event and
    one report row in the store and one report at the webhook; the store's rows.

    Exactly one webhook each: delivery is at least once (docs/api.md), and a report
    comes twice only when the gateway stops between the receiver's OK and its record
    of it. These gateways are never stopped before the last report arrived, and the
    receiver answers OK to everything, so a second report would be a fault.
    """
    rows = stored(store)
    ums_ids = set(acked.values())
    assert ums_ids == set(rows), "the store holds other messages than the 200s named"
    bad = [r for r in rows.values() if r["status"] != "DELIVERED"]
    assert not bad, f"{len(bad)} not DELIVERED, e.g. {bad[0]}"
    assert {r["connector"] for r in rows.values()} == {"ushot"}
    assert {r["raw_code"] for r in rows.values()} == {"6"}  # UShot's "delivered"
    assert {r["provider_msg_id"] for r in rows.values()} == ums_ids  # MSG_ID = id
    assert all(r["finals"] == 1 and r["reports"] == 1 for r in rows.values())
    by_id = receiver.by_id()
    assert set(by_id) == ums_ids
    for src, ums in acked.items():
        reports = by_id[ums]
        assert len(reports) == 1, reports
        assert reports[0]["srcMsgId"] == src
        assert reports[0]["resultCode"] == "-100", reports
    return rows


# -- 1. everything through the gateway -------------------------------------------------

SMS_COUNT, LMS_COUNT, MMS_COUNT = 2000, 200, 50


@pytest.mark.parametrize("version", ["SAM10", "SAM11"])
async def test_sms_lms_mms_through_the_gateway_are_delivered_and_reported(
    version: str, sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    async with (
        simulator_process(version, tmp_path / "sim.log") as ports,
        gateway(sqlite_store, tmp_path, ports, version, receiver) as (srv, client),
    ):
        acked = await send_mix(client, SMS_COUNT, LMS_COUNT, MMS_COUNT)
        await wait_for_reports(receiver, acked.values())
    rows = all_delivered_once(sqlite_store, receiver, acked)
    channels = collections.Counter(r["channel"] for r in rows.values())
    assert channels == {"SMS": SMS_COUNT, "LMS": LMS_COUNT, "MMS": MMS_COUNT}
    # Nothing went unanswered on the way: each message was claimed once and never
    # queued again. (A result can overtake the answer to its send request, which
    # comes when the dispatcher's whole batch is settled: such a message goes from
    # SENDING straight to DELIVERED, without a SENT event.)
    assert all(r["claims"] == 1 and r["requeued"] == 0 for r in rows.values())
    assert all(r["sent"] <= 1 for r in rows.values())
    assert not events_logged(srv, "ushot_session_lost")
    assert receiver.url not in srv.log.read_text()  # no line per webhook, no URLs


# -- 2. sessions dropped ---------------------------------------------------------------


def unanswered_requests(sim: UShotSimulator, port: Port) -> list[tuple[str, ...]]:
    """The MSG_IDs of each request on ``port`` that a session ended without
    answering: the last frame of a session before the next login on the port (the
    connector keeps one session per port). Counts a request answered just before a
    session ended for another reason too, which only loosens the bound."""
    frames = [f for f in sim.record.frames if f.port is port]
    return [
        before.msg_ids
        for before, after in itertools.pairwise(frames)
        if after.command == Command.LOGIN and before.command != Command.LOGIN
    ]


@pytest.mark.parametrize("version", ["SAM10", "SAM11"])
async def test_dropped_sessions_lose_nothing_and_send_nothing_twice_unasked(
    version: str, sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    async with simulator_here(version) as sim:
        # Frame 1 of a session is the login. The SMS session takes its third
        # request and closes without answering it; the MMS session closes on its
        # second frame without taking it; each report session closes when it is
        # about to be given results, which stay pending for its next session.
        sim.faults.drop(Port.SMS, after_frames=4, handle=True)
        sim.faults.drop(Port.MMS, after_frames=2, handle=False)
        sim.faults.drop_on_results(Port.SMS_REPORT)
        sim.faults.drop_on_results(Port.MMS_REPORT)
        async with gateway(sqlite_store, tmp_path, sim.ports, version, receiver) as (
            srv,
            client,
        ):
            acked = await send_mix(client, 400, 60, 20)
            await wait_for_reports(receiver, acked.values())
    rows = all_delivered_once(sqlite_store, receiver, acked)
    # Every fault fired: two sessions on each port.
    assert all(sim.record.logins[port] == 2 for port in Port), sim.record.logins
    assert len(events_logged(srv, "ushot_session_lost")) >= 4
    # docs/protocols/ushot.md: a message is sent at most once, plus once per request
    # of it that went unanswered (no result here asks for a resend). UShot takes
    # each MSG_ID once: the copies of the unanswered requests were recognised.
    again = collections.Counter(
        msg_id
        for port in (Port.SMS, Port.MMS)
        for request in unanswered_requests(sim, port)
        for msg_id in request
    )
    for msg_id in acked.values():
        assert sim.record.sends[msg_id] <= 1 + again[msg_id], msg_id
        assert sim.record.accepted[msg_id] == 1, msg_id
    # The messages of the SMS request that UShot took without answering went back to
    # the queue; each was then sent again (a duplicate to UShot) or ended first by
    # the report of the copy UShot had taken.
    (taken,) = unanswered_requests(sim, Port.SMS)
    assert taken
    assert all(rows[m]["requeued"] >= 1 and rows[m]["sent"] <= 1 for m in taken)
    # Each result went out at least once; those of the dropped report sessions' first
    # push or poll were held back, not lost.
    assert all(sim.record.results[m] >= 1 for m in acked.values())


# -- 3. a malformed frame --------------------------------------------------------------


async def test_a_malformed_frame_closes_its_session_and_the_messages_go_again(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    async with (
        simulator_here("SAM11") as sim,
        gateway(sqlite_store, tmp_path, sim.ports, "SAM11", receiver) as (srv, client),
        httpx.AsyncClient(base_url=srv.url, timeout=10) as http,
    ):
        # The answer to the next SMS send request and the next push of LMS results
        # lose their ETX.
        sim.faults.corrupt_next(Port.SMS)
        sim.faults.corrupt_next(Port.MMS_REPORT)
        acked = await send_mix(client, 300, 30, 0)
        await wait_for(
            lambda: (
                {"port=sms", "port=mms_report"}
                <= {
                    p
                    for line in events_logged(srv, "ushot_protocol_error")
                    for p in line
                }
            ),
            timeout=30,
            what="the protocol errors logged",
        )
        assert (await http.get("/healthz")).status_code == 200
        await wait_for_reports(receiver, acked.values())
        await wait_for(
            lambda: connector_up(http), timeout=30, what="the ushot connector up again"
        )
    rows = all_delivered_once(sqlite_store, receiver, acked)
    errors = events_logged(srv, "ushot_protocol_error")
    assert len(errors) == 2, errors
    assert all("ETX" in line for line in errors), errors  # the log names the fault
    # The messages of the request whose answer was corrupt went back to the queue.
    # Each was sent again with its MSG_ID (UShot had taken it and did not take the
    # copy), or was ended first by the report of the copy UShot had taken.
    (retried,) = unanswered_requests(sim, Port.SMS)
    assert retried
    for msg_id in retried:
        assert rows[msg_id]["requeued"] >= 1 and rows[msg_id]["sent"] <= 1
        assert sim.record.sends[msg_id] <= 2
        assert sim.record.accepted[msg_id] == 1
    # Others may have gone back to the queue too (waiting on the lane when it closed,
    # or tried while it reconnected), but none of them had been sent.
    assert all(sim.record.sends[m] == 1 for m in rows if m not in retried)
    # The LMS results of the corrupt push came again on the next session.
    assert sim.record.logins[Port.MMS_REPORT] == 2
    assert any(sim.record.results[m] == 2 for m in acked.values())


def events_logged(srv: Server, event: str) -> list[list[str]]:
    """The gateway's log lines with ``event=EVENT``, split into words."""
    return [
        line.split()
        for line in srv.log.read_text().splitlines()
        if f"event={event}" in line.split()
    ]
