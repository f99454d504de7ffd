"""ToBeText connector against `httpx.MockTransport` (no sockets): what each answer
becomes, the backup rule, the repeat rule, callbacks and expiry."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from umsgate.config import ConnectorSettings
from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.errors import ConfigError
from umsgate.protocols.registry import ConnectorContext, Endpoint
from umsgate.protocols.tobetext import codec, connector
from umsgate.testing import MemoryFiles, RecordingSink, SystemClock
from umsgate.types import Connector, Outcome

PRIMARY = "https://primary.test/sms"
BACKUP = "http://backup.test/sms"
NOW = dt.datetime(2024, 7, 9, tzinfo=dt.UTC)

Handler = Callable[[httpx.Request], httpx.Response]


def message(mid: int = 589406775975211890, **changes: Any) -> Message:
    values: dict[str, Any] = {
        "id": mid,
        "client_id": "c1",
        "src_msg_id": f"s{mid}",
        "channel": Channel.SMS,
        "sender": "+821012341234",
        "receiver": "+821098765432",
        "content": "Your code is 123456",
        "created_at": NOW,
        "due_at": NOW,
    }
    values.update(changes)
    return Message(**values)


def ack(code: int = 200, msg_id: str = "41aa33709703dea382c10a057823ffdc") -> bytes:
    return codec.render_ack(
        codec.Result(
            status="SUCCESS" if code == 200 else "FAIL",
            msg_id=msg_id if code == 200 else "",
            send_num="821012341234",
            recv_num="821098765432",
            error_code=code,
            error_msg="x",
        )
    )


class Rig:
    """A connector over a scripted transport, with its callback app."""

    def __init__(self, handler: Handler, **options: Any) -> None:
        self.requests: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return handler(request)

        self.http = httpx.AsyncClient(transport=httpx.MockTransport(record))
        self.app = Starlette()

        def add_route(path: str, endpoint: Endpoint, methods: Sequence[str]) -> None:
            self.app.add_route(path, endpoint, methods=list(methods))

        context = ConnectorContext(
            http=self.http,
            files=MemoryFiles(),
            add_route=add_route,
            public_url="http://gw.test",
            clock=SystemClock(),
        )
        settings = ConnectorSettings(
            name="tbt",
            protocol="tobetext",
            options={"cid": "C000123", "token": "9f2c1e7a", "url": PRIMARY} | options,
        )
        self.connector = connector.build(settings, context)
        self.sink = RecordingSink()
        self.gateway = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://gw.test"
        )

    def fields(self, index: int = -1) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.requests[index].content.decode()))


@pytest.fixture
async def make_rig() -> AsyncIterator[Callable[..., Rig]]:
    rigs: list[Rig] = []

    def make(handler: Handler, **options: Any) -> Rig:
        rig = Rig(handler, **options)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        await rig.connector.stop()
        await rig.http.aclose()
        await rig.gateway.aclose()


async def test_is_a_connector_and_registers_its_callback(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(lambda r: httpx.Response(200, content=ack()))
    assert isinstance(rig.connector, Connector)
    assert [r.path for r in rig.app.routes] == ["/callbacks/tobetext/tbt"]  # type: ignore[attr-defined]


async def test_accepted_send(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(lambda r: httpx.Response(200, content=ack()))
    [result] = await rig.connector.submit([message()])
    assert result.outcome is Outcome.ACCEPTED
    assert result.provider_msg_id == "41aa33709703dea382c10a057823ffdc"
    assert rig.requests[0].url == PRIMARY
    assert (
        rig.requests[0]
        .headers["content-type"]
        .startswith("application/x-www-form-urlencoded")
    )
    assert rig.fields() == {
        "Ckey": "589406775975211890",
        "RecvNum": "+821098765432",
        "SendNum": "+821012341234",
        "Body": "Your code is 123456",
        "Cid": "C000123",
        "token": "9f2c1e7a",
        "callback": "http://gw.test/callbacks/tobetext/tbt",
    }


@pytest.mark.parametrize(
    ("code", "unified"),
    [
        (410, ResultCode.AUTH_FAILED),
        (2002, ResultCode.INVALID_NUMBER),
        (2004, ResultCode.SENDER_NOT_REGISTERED),
        (2005, ResultCode.CONTENT_REJECTED),
        (2001, ResultCode.FAILED),
        (9999, ResultCode.FAILED),
    ],
)
async def test_refused_send(
    make_rig: Callable[..., Rig], code: int, unified: ResultCode
) -> None:
    rig = make_rig(lambda r: httpx.Response(200, content=ack(code)))
    [result] = await rig.connector.submit([message()])
    assert (result.outcome, result.code, result.raw_code) == (
        Outcome.REJECTED,
        unified,
        str(code),
    )


@pytest.mark.parametrize(
    ("response", "code", "retry_after"),
    [
        (httpx.Response(503, text="busy"), ResultCode.PROVIDER_ERROR, None),
        (
            httpx.Response(429, headers={"retry-after": "7"}),
            ResultCode.THROTTLED,
            7.0,
        ),
        (httpx.Response(404, text="no"), ResultCode.PROVIDER_ERROR, None),
        (httpx.Response(200, text="<html>hi</html>"), ResultCode.PROVIDER_ERROR, None),
        (httpx.Response(200, content=ack()[:40]), ResultCode.PROVIDER_ERROR, None),
    ],
)
async def test_unusable_answers_retry(
    make_rig: Callable[..., Rig],
    response: httpx.Response,
    code: ResultCode,
    retry_after: float | None,
) -> None:
    rig = make_rig(lambda r: response)
    [result] = await rig.connector.submit([message()])
    assert (result.outcome, result.code, result.retry_after) == (
        Outcome.RETRY,
        code,
        retry_after,
    )


async def test_oversized_answer_retries(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(lambda r: httpx.Response(200, content=b"<a>" + b"x" * 10**6))
    [result] = await rig.connector.submit([message()])
    assert result.outcome is Outcome.RETRY
    assert "larger than" in result.detail


async def test_timeout_then_2001_waits_for_the_callback(
    make_rig: Callable[..., Rig],
) -> None:
    answers: list[Callable[[httpx.Request], httpx.Response]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)(request)

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    answers += [timeout, lambda r: httpx.Response(200, content=ack(2001))]
    rig = make_rig(handler)
    [first] = await rig.connector.submit([message()])
    assert (first.outcome, first.code) == (Outcome.RETRY, ResultCode.TIMEOUT)
    [second] = await rig.connector.submit([message()])
    assert second.outcome is Outcome.ACCEPTED
    assert second.provider_msg_id is None
    assert rig.fields(0)["Ckey"] == rig.fields(1)["Ckey"]


async def test_2001_without_a_doubtful_attempt_is_refused(
    make_rig: Callable[..., Rig],
) -> None:
    def refused_first(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    answers: list[Handler] = [
        refused_first,
        lambda r: httpx.Response(200, content=ack(2001)),
    ]
    rig = make_rig(lambda r: answers.pop(0)(r))
    await rig.connector.submit([message()])
    [second] = await rig.connector.submit([message()])
    # A refused connection never reached the provider: 2001 is a real refusal.
    assert (second.outcome, second.code) == (Outcome.REJECTED, ResultCode.FAILED)


def _primary_fails(exc: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == PRIMARY:
            raise exc("down", request=request)
        return httpx.Response(200, content=ack())

    return handler


async def test_backup_only_when_active_and_primary_unreached(
    make_rig: Callable[..., Rig],
) -> None:
    inactive = make_rig(_primary_fails(httpx.ConnectError), backup_url=BACKUP)
    [result] = await inactive.connector.submit([message()])
    assert (result.outcome, result.code) == (Outcome.RETRY, ResultCode.CONNECTION_ERROR)
    assert [str(r.url) for r in inactive.requests] == [PRIMARY]

    active = make_rig(
        _primary_fails(httpx.ConnectError), backup_url=BACKUP, backup_active=True
    )
    [result] = await active.connector.submit([message()])
    assert result.outcome is Outcome.ACCEPTED
    assert [str(r.url) for r in active.requests] == [PRIMARY, BACKUP]

    doubtful = make_rig(
        _primary_fails(httpx.ReadTimeout), backup_url=BACKUP, backup_active=True
    )
    [result] = await doubtful.connector.submit([message()])
    assert (result.outcome, result.code) == (Outcome.RETRY, ResultCode.TIMEOUT)
    assert [str(r.url) for r in doubtful.requests] == [PRIMARY]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"channel": Channel.LMS}, ResultCode.UNSUPPORTED),
        ({"content": "가" * 81}, ResultCode.CONTENT_REJECTED),
        ({"content": ""}, ResultCode.CONTENT_REJECTED),
    ],
)
async def test_refused_before_sending(
    make_rig: Callable[..., Rig], changes: dict[str, Any], code: ResultCode
) -> None:
    rig = make_rig(lambda r: httpx.Response(200, content=ack()))
    [result] = await rig.connector.submit([message(**changes)])
    assert (result.outcome, result.code) == (Outcome.REJECTED, code)
    assert rig.requests == []


async def test_health_follows_failures(make_rig: Callable[..., Rig]) -> None:
    status = [503]
    rig = make_rig(
        lambda r: httpx.Response(status[0], content=ack() if status[0] == 200 else b"")
    )
    assert rig.connector.health().up
    await rig.connector.submit([message(i) for i in range(1, 4)])
    health = rig.connector.health()
    assert not health.up and "HTTP 503" in health.detail
    status[0] = 200
    await rig.connector.submit([message(9)])
    assert rig.connector.health().up


# ---------------------------------------------------------------- callbacks

CALLBACK = "/callbacks/tobetext/tbt"


def callback_body(ckey: str, code: int = 200, msg_id: str = "m1") -> bytes:
    return codec.render_callback(
        codec.Result(ckey=ckey, msg_id=msg_id, error_code=code, error_msg="r")
    )


async def test_callback_reported_once(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(lambda r: httpx.Response(200, content=ack(msg_id="m1")))
    await rig.connector.start(rig.sink)
    await rig.connector.submit([message(42)])
    for _ in range(3):
        answer = await rig.gateway.post(CALLBACK, content=callback_body("42", 411))
        assert (answer.status_code, answer.text) == (200, "OK")
    [report] = rig.sink.reports
    assert (report.message_id, report.provider_msg_id) == (42, "m1")
    assert (report.code, report.raw_code) == (ResultCode.FAILED, "411")


async def test_callback_checks_msg_id(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(lambda r: httpx.Response(200, content=ack(msg_id="m1")))
    await rig.connector.start(rig.sink)
    await rig.connector.submit([message(42)])
    answer = await rig.gateway.post(CALLBACK, content=callback_body("42", msg_id="m2"))
    assert answer.status_code == 400
    assert rig.sink.reports == []


async def test_callback_by_msg_id_only_and_by_get(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(lambda r: httpx.Response(200, content=ack(msg_id="m7")))
    await rig.connector.start(rig.sink)
    await rig.connector.submit([message(7)])
    answer = await rig.gateway.get(CALLBACK, params={"MsgId": "m7", "ErrorCode": "200"})
    assert answer.status_code == 200
    [report] = rig.sink.reports
    assert (report.message_id, report.code) == (7, ResultCode.DELIVERED)


async def test_callback_after_restart_trusts_a_gateway_id(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(lambda r: httpx.Response(200, content=ack()))
    await rig.connector.start(rig.sink)
    answer = await rig.gateway.post(CALLBACK, content=callback_body("123456", 400))
    assert answer.status_code == 200
    assert rig.sink.reports[0].message_id == 123456
    foreign = await rig.gateway.post(CALLBACK, content=b"CKey=not-ours&ErrorCode=200")
    assert foreign.status_code == 404
    assert len(rig.sink.reports) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"CKey=1&ErrorCode=abc", 400),
        (b"<!DOCTYPE x [<!ENTITY a 'b'>]><ToBeTextResult/>", 400),
        (b"CKey=1&ErrorCode=200&ErrorMsg=" + b"x" * codec.MAX_REQUEST_BYTES, 413),
    ],
)
async def test_bad_callbacks_refused(
    make_rig: Callable[..., Rig], body: bytes, status: int
) -> None:
    rig = make_rig(lambda r: httpx.Response(200, content=ack()))
    await rig.connector.start(rig.sink)
    answer = await rig.gateway.post(CALLBACK, content=body)
    assert answer.status_code == status
    assert rig.sink.reports == []
    assert rig.connector.health().refused == 1


async def test_callback_before_start_and_failing_sink(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(lambda r: httpx.Response(200, content=ack()))
    early = await rig.gateway.post(CALLBACK, content=callback_body("5"))
    assert early.status_code == 503

    class Failing(RecordingSink):
        fail = True

        async def report(self, report: Any) -> None:
            if self.fail:
                self.fail = False
                raise RuntimeError("database is locked")
            await super().report(report)

    sink = Failing()
    await rig.connector.start(sink)
    first = await rig.gateway.post(CALLBACK, content=callback_body("5"))
    assert first.status_code == 500
    again = await rig.gateway.post(CALLBACK, content=callback_body("5"))
    assert again.status_code == 200
    assert len(sink.reports) == 1
    health = rig.connector.health()
    assert (health.refused, health.last_refusal) == (
        2,
        "callback 5: report not recorded",
    )


async def test_missing_callback_expires_once(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(lambda r: httpx.Response(200, content=ack()), report_timeout=0.05)
    await rig.connector.start(rig.sink)
    await rig.connector.submit([message(1), message(2)])
    await rig.sink.wait_for_count(2, within=5)
    assert {r.message_id for r in rig.sink.reports} == {1, 2}
    assert {r.code for r in rig.sink.reports} == {ResultCode.EXPIRED}
    late = await rig.gateway.post(CALLBACK, content=callback_body("1", msg_id=""))
    assert late.status_code == 200
    assert len(rig.sink.reports) == 2


async def test_resume_waits_and_expires(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(lambda r: httpx.Response(200, content=ack()), report_timeout=0.05)
    await rig.connector.start(rig.sink)
    await rig.connector.resume([message(3, provider_msg_id="m3")])
    await rig.sink.wait_for_count(1, within=5)
    assert rig.sink.reports[0].provider_msg_id == "m3"


# ---------------------------------------------------------------- build


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"cid": None}, "'cid'"),
        ({"token": 5}, "'token'"),
        ({"url": "ftp://x"}, "'url'"),
        ({"backup_active": True}, "'backup_active'"),
        ({"timeout": "soon"}, "'timeout'"),
        ({"concurrency": 0}, "'concurrency'"),
        ({"callback_path": "no-slash"}, "'callback_path'"),
        ({"colour": "blue"}, "'colour'"),
    ],
)
async def test_build_refuses_bad_options(options: dict[str, Any], named: str) -> None:
    base: dict[str, Any] = {"cid": "C1", "token": "t"}
    merged = {k: v for k, v in (base | options).items() if v is not None}
    async with httpx.AsyncClient() as http:
        context = ConnectorContext(
            http=http,
            files=MemoryFiles(),
            add_route=lambda *a: None,
            public_url="http://gw.test",
            clock=SystemClock(),
        )
        with pytest.raises(ConfigError, match=named):
            connector.build(
                ConnectorSettings(name="t", protocol="tobetext", options=merged),
                context,
            )


async def test_build_needs_a_callback_url() -> None:
    async with httpx.AsyncClient() as http:
        context = ConnectorContext(
            http=http,
            files=MemoryFiles(),
            add_route=lambda *a: None,
            public_url="",
            clock=SystemClock(),
        )
        settings = ConnectorSettings(
            name="t", protocol="tobetext", options={"cid": "C1", "token": "t"}
        )
        with pytest.raises(ConfigError, match="public_url"):
            connector.build(settings, context)
        with_url = ConnectorSettings(
            name="t",
            protocol="tobetext",
            options={"cid": "C1", "token": "t", "callback_url": "https://h/cb"},
        )
        assert connector.build(with_url, context).config.callback_url == "https://h/cb"


async def test_registry_builds_it() -> None:
    from umsgate.protocols import registry

    async with httpx.AsyncClient() as http:
        context = ConnectorContext(
            http=http,
            files=MemoryFiles(),
            add_route=lambda *a: None,
            public_url="http://gw.test",
            clock=SystemClock(),
        )
        built = registry.build_connector(
            ConnectorSettings(
                name="t", protocol="tobetext", options={"cid": "C1", "token": "t"}
            ),
            context,
        )
    assert isinstance(built, connector.ToBeTextConnector)
