"""Helpers of the UShot integration tests: a running simulator, a clock, a recording
sink, a file source with a real JPEG, messages, a connector built through ``build``, a
raw protocol client and a dispatcher stand-in that re-submits RETRY outcomes."""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import httpx

from umsgate.config import ConnectorSettings
from umsgate.domain.message import Channel, Message
from umsgate.protocols import _tcp
from umsgate.protocols.registry import ConnectorContext, Endpoint
from umsgate.protocols.ushot.codes import Port
from umsgate.protocols.ushot.connection import SessionStream
from umsgate.protocols.ushot.connector import UShotConnector, build
from umsgate.protocols.ushot.events import Event, Login, LoginResult
from umsgate.protocols.ushot.session import Role, Session, SessionEvent
from umsgate.protocols.ushot.simbackend import Account
from umsgate.protocols.ushot.simulator import UShotSimulator
from umsgate.testing import wait_for
from umsgate.types import Outcome, ProviderReport, SubmitResult

#: A 1×1 greyscale baseline JPEG (160 bytes; decodes to one black pixel).
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkK"
    "DA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAA"
    "AAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q=="
)

#: Base of test message ids (18 digits like the gateway's).
ID_BASE = 100_000_000_000_000_000


@contextlib.asynccontextmanager
async def running(
    *accounts: Account, **options: Any
) -> AsyncIterator[tuple[UShotSimulator, httpx.AsyncClient]]:
    """A simulator on 127.0.0.1 (free ports; results after 50 ms unless told) with the
    account ``ushot``/``secret`` unless others are given, and an HTTP client for the
    connector context."""
    options.setdefault("result_delay", 0.05)
    sim = UShotSimulator(
        accounts=accounts or [Account(user_id="ushot", password="secret")], **options
    )
    async with sim, httpx.AsyncClient() as http:
        yield sim, http


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class RecordingSink:
    """Keeps every report; `wait_count` waits on an event, not on time."""

    def __init__(self) -> None:
        self.reports: list[ProviderReport] = []
        self._changed = asyncio.Event()

    async def report(self, report: ProviderReport) -> None:
        self.reports.append(report)
        self._changed.set()

    async def wait_count(self, n: int, *, within: float = 30.0) -> None:
        async with asyncio.timeout(within):
            while len(self.reports) < n:
                self._changed.clear()
                await self._changed.wait()

    def per_message(self) -> collections.Counter[int | None]:
        return collections.Counter(r.message_id for r in self.reports)


class JpegFiles:
    """A FileSource serving one photo under any id."""

    def __init__(self) -> None:
        self.loads: collections.Counter[str] = collections.Counter()

    async def load(self, file_id: str) -> tuple[str, bytes]:
        self.loads[file_id] += 1
        return f"{file_id}.jpeg", JPEG


def message(
    n: int,
    channel: Channel = Channel.SMS,
    *,
    content: str | None = None,
    file_ids: tuple[str, ...] = (),
    receiver: str = "+821012345678",
    provider_msg_id: str | None = None,
) -> Message:
    now = dt.datetime.now(dt.UTC)
    return Message(
        id=ID_BASE + n,
        client_id="client",
        src_msg_id=f"src-{n}",
        channel=channel,
        sender="+8215881234",
        receiver=receiver,
        content=content if content is not None else f"테스트 메시지 {n}",
        subject="제목" if channel is not Channel.SMS else "",
        file_ids=file_ids,
        created_at=now,
        due_at=now,
        expires_at=now + dt.timedelta(hours=1),
        provider_msg_id=provider_msg_id,
    )


def _no_route(path: str, endpoint: Endpoint, methods: Sequence[str]) -> None:
    raise AssertionError("the ushot connector adds no HTTP routes")


async def make_connector(
    sim: UShotSimulator,
    http: httpx.AsyncClient,
    *,
    version: str = "SAM11",
    files: JpegFiles | None = None,
    user_id: str = "ushot",
    password: str = "secret",
    **options: Any,
) -> UShotConnector:
    settings = ConnectorSettings(
        name="ushot-test",
        protocol="ushot",
        options={
            "user_id": user_id,
            "password": password,
            "version": version,
            "host": "127.0.0.1",
            "sms_port": sim.ports[Port.SMS],
            "sms_report_port": sim.ports[Port.SMS_REPORT],
            "mms_port": sim.ports[Port.MMS],
            "mms_report_port": sim.ports[Port.MMS_REPORT],
            "reconnect_delay": 0.05,
            "poll_interval": 0.05,
            "request_timeout": 5.0,
            **options,
        },
    )
    context = ConnectorContext(
        http=http,
        files=files or JpegFiles(),
        add_route=_no_route,
        public_url="",
        clock=SystemClock(),
    )
    return build(settings, context)


async def dispatch(
    connector: UShotConnector, messages: Iterable[Message], *, rounds: int = 20
) -> dict[int, SubmitResult]:
    """Submit like the dispatcher: RETRY outcomes go again once the connector is up."""
    todo = list(messages)
    by_id = {m.id: m for m in todo}
    final: dict[int, SubmitResult] = {}
    for _ in range(rounds):
        results = await connector.submit(todo)
        assert sorted(r.message_id for r in results) == sorted(m.id for m in todo)
        todo = []
        for result in results:
            if result.outcome is Outcome.RETRY:
                todo.append(by_id[result.message_id])
            else:
                final[result.message_id] = result
        if not todo:
            return final
        await wait_for(lambda: connector.health().up, timeout=10, what="reconnection")
    raise AssertionError(f"{len(todo)} messages still RETRY after {rounds} rounds")


class RawClient:
    """A protocol client on one simulator port, for checking the simulator itself."""

    def __init__(self, stream: SessionStream) -> None:
        self.stream = stream

    @classmethod
    async def connect(
        cls, sim: UShotSimulator, port: Port, *, version: str = "SAM11"
    ) -> RawClient:
        clock = SystemClock()

        def new_stream() -> SessionStream:
            session = Session(
                Role.CLIENT,
                now=clock.monotonic(),
                version=version,
                answer_timeout=5,
                idle_timeout=10,
            )
            return SessionStream(session, clock=clock)

        return cls(
            await _tcp.connect(new_stream, "127.0.0.1", sim.ports[port], within=5)
        )

    async def request(self, event: Event) -> SessionEvent | None:
        await self.stream.send(event)
        return await self.stream.next_event()

    async def login(
        self, user_id: str = "ushot", password: str = "secret"
    ) -> LoginResult:
        answer = await self.request(
            Login(
                user_id=user_id, password=password, version=self.stream.session.version
            )
        )
        assert isinstance(answer, LoginResult)
        return answer

    async def close(self) -> None:
        await self.stream.aclose()
