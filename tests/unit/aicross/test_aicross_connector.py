"""AI CROSS connector against `httpx.MockTransport` (no sockets): configured names,
what each answer becomes, the duplicate rule, DLRs and polling."""

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
from umsgate.protocols.aicross import codec, connector
from umsgate.protocols.aicross.codes import ErrorCode, Status
from umsgate.protocols.registry import ConnectorContext, Endpoint
from umsgate.testing import MemoryFiles, RecordingSink, SystemClock
from umsgate.types import Connector, Outcome

BASE = "https://aicross.test"
NOW = dt.datetime.now(dt.UTC)
Handler = Callable[[httpx.Request], httpx.Response]


def message(mid: int = 589406775975211890, **changes: Any) -> Message:
    values: dict[str, Any] = {
        "id": mid,
        "client_id": "c1",
        "src_msg_id": f"s{mid}",
        "channel": Channel.SMS,
        "sender": "+81312345678",
        "receiver": "+819012345678",
        "content": "テスト",
        "created_at": NOW,
        "due_at": NOW,
    }
    values.update(changes)
    return Message(**values)


def accepted(request: httpx.Request) -> httpx.Response:
    tag = dict(urllib.parse.parse_qsl(request.content.decode())).get("clientTag")
    return httpx.Response(
        200,
        content=codec.render_answer(
            status=Status.ACCEPTED, client_tag=tag, error_code=None, message="OK"
        ),
    )


def error(code: ErrorCode, status: int) -> httpx.Response:
    return httpx.Response(
        status,
        content=codec.render_answer(
            status=Status.ERROR, client_tag=None, error_code=code.value, message="no"
        ),
    )


def result(tag: str, status: Status, code: str | None = None) -> httpx.Response:
    state = {
        Status.DELIVERED: codec.State.DELIVERED,
        Status.FAILED: codec.State.FAILED,
        Status.DELIVERING: codec.State.DELIVERING,
    }[status]
    return httpx.Response(
        200,
        content=codec.render_result(
            codec.Result(
                client_tag=tag,
                state=state,
                status=status,
                error_code=code,
                carrier="docomo",
                done_at="2024-07-09T12:00:05+09:00",
            )
        ),
    )


class Rig:
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
            name="ac",
            protocol="aicross",
            options={"url": BASE, "token": "tok", "poll_schedule": [0.01]} | options,
        )
        self.connector = connector.build(settings, context)
        self.sink = RecordingSink()
        self.gateway = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://gw.test"
        )

    def form(self, index: int = 0) -> list[tuple[str, str]]:
        return urllib.parse.parse_qsl(self.requests[index].content.decode())


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


async def test_accepted_send(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(accepted, poll=False)
    assert isinstance(rig.connector, Connector)
    [sent] = await rig.connector.submit([message()])
    assert (sent.outcome, sent.provider_msg_id) == (
        Outcome.ACCEPTED,
        "589406775975211890",
    )
    assert str(rig.requests[0].url) == BASE + "/api/p5/send.json"
    assert rig.form() == [
        ("token", "tok"),
        ("to", "+819012345678"),
        ("text", "テスト"),
        ("clientTag", "589406775975211890"),
    ]
    assert [r.path for r in rig.app.routes] == ["/callbacks/aicross/ac"]  # type: ignore[attr-defined]


async def test_configured_names(make_rig: Callable[..., Rig]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"res": {"st": "0"}})

    rig = make_rig(
        handler,
        token_header="X-Auth-Token",
        to_field="dest",
        text_field="body",
        sender_field="from",
        extra_fields={"type": "1"},
        send_path="/v5/send.json",
        status_path="res.st",
        accepted_values=["0"],
        poll=False,
    )
    [sent] = await rig.connector.submit([message()])
    assert sent.outcome is Outcome.ACCEPTED
    request = rig.requests[0]
    assert str(request.url) == BASE + "/v5/send.json"
    assert request.headers["x-auth-token"] == "tok"
    assert rig.form() == [
        ("type", "1"),
        ("from", "+81312345678"),
        ("dest", "+819012345678"),
        ("body", "テスト"),
        ("clientTag", "589406775975211890"),
    ]


async def test_duplicate_means_taken_before(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(lambda r: error(ErrorCode.DUPLICATE_CLIENT_TAG, 409), poll=False)
    [sent] = await rig.connector.submit([message()])
    assert (sent.outcome, sent.raw_code) == (Outcome.ACCEPTED, "40901")
    assert "earlier attempt" in sent.detail


RETRY, REJECTED = Outcome.RETRY, Outcome.REJECTED
ANSWERS: list[tuple[httpx.Response, Outcome, ResultCode, str | None]] = [
    (
        error(ErrorCode.INVALID_PARAMETER, 400),
        REJECTED,
        ResultCode.CONTENT_REJECTED,
        "40001",
    ),
    (error(ErrorCode.BAD_TOKEN, 401), REJECTED, ResultCode.AUTH_FAILED, "40101"),
    (error(ErrorCode.INTERNAL, 200), RETRY, ResultCode.PROVIDER_ERROR, "50001"),
    (httpx.Response(404, json={"errorCode": "1"}), REJECTED, ResultCode.FAILED, "1"),
    (error(ErrorCode.INTERNAL, 500), RETRY, ResultCode.PROVIDER_ERROR, None),
    (httpx.Response(429), RETRY, ResultCode.THROTTLED, None),
    (httpx.Response(200, text="<html>"), RETRY, ResultCode.PROVIDER_ERROR, None),
    (
        httpx.Response(200, json={"status": "queued"}),
        RETRY,
        ResultCode.PROVIDER_ERROR,
        None,
    ),
]


@pytest.mark.parametrize(("response", "outcome", "code", "raw"), ANSWERS)
async def test_answers(
    make_rig: Callable[..., Rig],
    response: httpx.Response,
    outcome: Outcome,
    code: ResultCode,
    raw: str | None,
) -> None:
    rig = make_rig(lambda r: response, poll=False)
    [sent] = await rig.connector.submit([message()])
    assert (sent.outcome, sent.code, sent.raw_code) == (outcome, code, raw)


async def test_timeouts_retry(make_rig: Callable[..., Rig]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    rig = make_rig(handler, poll=False)
    [sent] = await rig.connector.submit([message()])
    assert (sent.outcome, sent.code) == (Outcome.RETRY, ResultCode.TIMEOUT)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"channel": Channel.MMS}, ResultCode.UNSUPPORTED),
        ({"content": "あ" * 671}, ResultCode.CONTENT_REJECTED),
    ],
)
async def test_refused_before_sending(
    make_rig: Callable[..., Rig], changes: dict[str, Any], code: ResultCode
) -> None:
    rig = make_rig(accepted)
    [sent] = await rig.connector.submit([message(**changes)])
    assert (sent.outcome, sent.code) == (Outcome.REJECTED, code)
    assert rig.requests == []


async def test_polling_until_final(make_rig: Callable[..., Rig]) -> None:
    answers = iter(
        [
            result("7", Status.DELIVERING),
            httpx.Response(502),
            httpx.Response(200, text="{"),
            result("7", Status.FAILED, "60001"),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("send.json"):
            return accepted(request)
        assert dict(urllib.parse.parse_qsl(request.content.decode())) == {
            "token": "tok",
            "clientTag": "7",
        }
        return next(answers)

    rig = make_rig(handler, code_map={"60001": "NO_SERVICE"})
    await rig.connector.start(rig.sink)
    await rig.connector.submit([message(7)])
    await rig.sink.wait_for_count(1)
    [report] = rig.sink.reports
    assert (report.message_id, report.provider_msg_id) == (7, "7")
    assert (report.code, report.raw_code, report.carrier) == (
        ResultCode.NO_SERVICE,
        "60001",
        "docomo",
    )
    assert report.done_at == dt.datetime(2024, 7, 9, 3, 0, 5, tzinfo=dt.UTC)
    assert rig.connector.awaited == 0


async def test_unknown_tag_and_give_up(make_rig: Callable[..., Rig]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("send.json"):
            return accepted(request)
        tag = dict(urllib.parse.parse_qsl(request.content.decode()))["clientTag"]
        if tag == "1":
            return error(ErrorCode.UNKNOWN_CLIENT_TAG, 404)
        return result(tag, Status.DELIVERING)

    rig = make_rig(handler, poll_give_up=0.05)
    await rig.connector.start(rig.sink)
    await rig.connector.submit([message(1), message(2)])
    await rig.sink.wait_for_count(2)
    reports = {r.message_id: r for r in rig.sink.reports}
    assert (reports[1].code, reports[1].raw_code) == (ResultCode.FAILED, "40401")
    assert reports[2].code is ResultCode.EXPIRED


DLR = "/callbacks/aicross/ac"


def dlr_body(tag: str, status: Status, code: str | None = None) -> bytes:
    return result(tag, status, code).content


async def test_dlr_reported_once_and_polling_stops(
    make_rig: Callable[..., Rig],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("send.json"):
            return accepted(request)
        return result("9", Status.DELIVERING)

    rig = make_rig(handler, poll_schedule=[0.2])
    await rig.connector.start(rig.sink)
    await rig.connector.submit([message(9)])
    early = await rig.gateway.post(DLR, content=dlr_body("9", Status.DELIVERING))
    assert early.status_code == 200 and rig.sink.reports == []
    for _ in range(3):
        answer = await rig.gateway.post(
            DLR,
            content=dlr_body("9", Status.DELIVERED),
            headers={"content-type": "application/json"},
        )
        assert (answer.status_code, answer.text) == (200, "OK")
    [report] = rig.sink.reports
    assert (report.message_id, report.code) == (9, ResultCode.DELIVERED)
    assert rig.connector.awaited == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"status": "delivered"}', 400),
        (b'{"clientTag": "x", "status": "beamed"}', 400),
        (dlr_body("not-ours", Status.DELIVERED), 404),
        (b"{" * (codec.MAX_REQUEST_BYTES + 1), 413),
    ],
)
async def test_bad_dlrs_refused(
    make_rig: Callable[..., Rig], body: bytes, status: int
) -> None:
    rig = make_rig(accepted)
    await rig.connector.start(rig.sink)
    answer = await rig.gateway.post(DLR, content=body)
    assert answer.status_code == status
    assert rig.sink.reports == []
    assert rig.connector.health().refused == 1


async def test_dlr_after_restart_and_form_dlr(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(accepted, poll=False)
    await rig.connector.start(rig.sink)
    form = urllib.parse.urlencode(
        {"clientTag": "123", "status": "failed", "errorCode": "60003"}
    )
    answer = await rig.gateway.post(
        DLR, content=form, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert answer.status_code == 200
    [report] = rig.sink.reports
    assert (report.message_id, report.code) == (123, ResultCode.EXPIRED)


async def test_resume_polls(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(lambda r: result("5", Status.DELIVERED))
    await rig.connector.start(rig.sink)
    await rig.connector.resume([message(5, provider_msg_id="5")])
    await rig.sink.wait_for_count(1)
    assert rig.sink.reports[0].code is ResultCode.DELIVERED


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"url": None}, "'url'"),
        ({"token": None}, "'token'"),
        ({"code_map": {"60001": "LOST"}}, "'code_map'"),
        ({"delivered_values": ["x"], "failed_values": ["x"]}, "'delivered_values'"),
        ({"dlr": False, "poll": False}, "'dlr' and 'poll'"),
        ({"status_paht": "s"}, "'status_paht'"),
        ({"extra_fields": ["a"]}, "'extra_fields'"),
    ],
)
async def test_build_refuses_bad_options(options: dict[str, Any], named: str) -> None:
    merged = {
        k: v
        for k, v in ({"url": BASE, "token": "t"} | options).items()
        if v is not None
    }
    async with httpx.AsyncClient() as http:
        context = ConnectorContext(
            http=http,
            files=MemoryFiles(),
            add_route=lambda *a: None,
            public_url="",
            clock=SystemClock(),
        )
        with pytest.raises(ConfigError, match=named):
            connector.build(
                ConnectorSettings(name="a", protocol="aicross", options=merged), context
            )


async def test_code_map_accepts_names_and_values(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(accepted, code_map={"60001": "2002", "99999": "BLOCKED"})
    results = rig.connector.config.results
    assert results["60001"] is ResultCode.NO_SERVICE
    assert results["99999"] is ResultCode.BLOCKED
    assert results["60002"] is ResultCode.CARRIER_REJECTED  # placeholder kept


async def test_registry_builds_it() -> None:
    from umsgate.protocols import registry

    async with httpx.AsyncClient() as http:
        context = ConnectorContext(
            http=http,
            files=MemoryFiles(),
            add_route=lambda *a: None,
            public_url="",
            clock=SystemClock(),
        )
        built = registry.build_connector(
            ConnectorSettings(
                name="a", protocol="aicross", options={"url": BASE, "token": "t"}
            ),
            context,
        )
    assert isinstance(built, connector.AiCrossConnector)
