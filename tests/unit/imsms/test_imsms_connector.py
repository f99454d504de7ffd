"""IMS SMS connector against `httpx.MockTransport` (no sockets): what each answer
becomes, the no-blind-retry rule, attachments, and the poller."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest

from umsgate.config import ConnectorSettings
from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.errors import ConfigError
from umsgate.protocols.imsms import codec, codes, connector
from umsgate.protocols.registry import ConnectorContext
from umsgate.testing import MemoryFiles, RecordingSink, SystemClock
from umsgate.types import Connector, Outcome

BASE = "http://ims.test"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)
NOW = dt.datetime.now(dt.UTC)
Handler = Callable[[httpx.Request], httpx.Response]


def message(mid: int = 1, **changes: Any) -> Message:
    values: dict[str, Any] = {
        "id": mid,
        "client_id": "c1",
        "src_msg_id": f"s{mid}",
        "channel": Channel.SMS,
        "sender": "+8215881234",
        "receiver": "+821012345678",
        "content": "안녕하세요",
        "created_at": NOW,
        "due_at": NOW,
    }
    values.update(changes)
    return Message(**values)


def sent(ims_id: str = "id-1") -> httpx.Response:
    return httpx.Response(
        200,
        content=codec.render_send_answer(
            codec.SendAnswer(
                result_cd="000",
                result_msg="OK",
                ims_id=ims_id,
                ims_req_dttm="2024-07-09T02:46:48.215Z",
            )
        ),
    )


def refused(code: codes.ResultCd) -> httpx.Response:
    return httpx.Response(
        codes.HTTP_STATUS[code],
        content=codec.render_send_answer(codec.answer_for(code)),
    )


def info(ims_id: str, **state: Any) -> httpx.Response:
    data = codec.ImsData(ims_id=ims_id, **state)
    return httpx.Response(
        200,
        content=codec.render_info_answer(
            codec.InfoAnswer(result_cd="000", result_msg="OK", ims_data=data)
        ),
    )


class Rig:
    def __init__(self, handler: Handler, files: MemoryFiles, **options: Any) -> None:
        self.requests: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return handler(request)

        self.http = httpx.AsyncClient(transport=httpx.MockTransport(record))
        context = ConnectorContext(
            http=self.http,
            files=files,
            add_route=lambda *a: None,
            public_url="",
            clock=SystemClock(),
        )
        settings = ConnectorSettings(
            name="ims",
            protocol="imsms",
            options={
                "api_key": "k-1",
                "agent_id": "ims-demo-web-kr",
                "url": BASE,
                "poll_schedule": [0.01],
            }
            | options,
        )
        self.connector = connector.build(settings, context)
        self.sink = RecordingSink()

    def sends(self) -> list[dict[str, Any]]:
        return [
            orjson.loads(r.content)
            for r in self.requests
            if r.url.path.endswith("/send")
        ]


@pytest.fixture
async def make_rig() -> AsyncIterator[Callable[..., Rig]]:
    rigs: list[Rig] = []
    files = MemoryFiles({"f-png": ("photo.PNG", PNG), "f-gif": ("x.gif", b"GIF89a")})

    def make(handler: Handler, **options: Any) -> Rig:
        rig = Rig(handler, files, **options)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        await rig.connector.stop()
        await rig.http.aclose()


async def test_accepted_send_is_json_with_the_key(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(lambda r: sent("abc"))
    assert isinstance(rig.connector, Connector)
    [result] = await rig.connector.submit([message(subject="ignored")])
    assert (result.outcome, result.provider_msg_id) == (Outcome.ACCEPTED, "abc")
    request = rig.requests[0]
    assert str(request.url) == BASE + "/api/imsms/send"
    assert request.headers["x-api-key"] == "k-1"
    assert request.headers["content-type"] == "application/json"
    assert rig.sends() == [
        {
            "sendTo": "+821012345678",
            "sendType": "S",
            "message": "안녕하세요",
            "imsAgentId": "ims-demo-web-kr",
        }
    ]


async def test_mms_attachment(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(lambda r: sent())
    [result] = await rig.connector.submit(
        [message(channel=Channel.MMS, file_ids=("f-png",))]
    )
    assert result.outcome is Outcome.ACCEPTED
    [body] = rig.sends()
    assert base64.b64decode(body["attachment"]) == PNG
    assert body["attachmentExt"] == "png"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        (
            {"channel": Channel.MMS, "file_ids": ("f-png", "f-png")},
            ResultCode.CONTENT_REJECTED,
        ),
        ({"channel": Channel.MMS, "file_ids": ("f-gif",)}, ResultCode.CONTENT_REJECTED),
        ({"channel": Channel.MMS, "file_ids": ("gone",)}, ResultCode.CONTENT_REJECTED),
        ({"channel": Channel.KKO}, ResultCode.UNSUPPORTED),
        ({"content": "가" * 1001}, ResultCode.CONTENT_REJECTED),
        ({"content": ""}, ResultCode.CONTENT_REJECTED),
    ],
)
async def test_refused_before_sending(
    make_rig: Callable[..., Rig], changes: dict[str, Any], code: ResultCode
) -> None:
    rig = make_rig(lambda r: sent())
    [result] = await rig.connector.submit([message(**changes)])
    assert (result.outcome, result.code) == (Outcome.REJECTED, code)
    assert rig.requests == []


@pytest.mark.parametrize(
    ("cd", "unified"),
    [
        (codes.ResultCd.BAD_NUMBER_FORMAT, ResultCode.INVALID_NUMBER),
        (codes.ResultCd.INVALID_NUMBER, ResultCode.INVALID_NUMBER),
        (codes.ResultCd.EMPTY_MESSAGE, ResultCode.CONTENT_REJECTED),
        (codes.ResultCd.SEND_FAILED, ResultCode.FAILED),
        (codes.ResultCd.UNAUTHORIZED, ResultCode.AUTH_FAILED),
        (codes.ResultCd.AGENT_NOT_ALLOWED, ResultCode.AUTH_FAILED),
        (codes.ResultCd.INVALID_REQUEST, ResultCode.CONTENT_REJECTED),
    ],
)
async def test_refusals(
    make_rig: Callable[..., Rig], cd: codes.ResultCd, unified: ResultCode
) -> None:
    rig = make_rig(lambda r: refused(cd))
    [result] = await rig.connector.submit([message()])
    assert (result.outcome, result.code, result.raw_code) == (
        Outcome.REJECTED,
        unified,
        cd.value,
    )


def _raise(exc: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("boom", request=request)

    return handler


@pytest.mark.parametrize(
    ("handler", "code"),
    [
        (_raise(httpx.ConnectError), ResultCode.CONNECTION_ERROR),
        (_raise(httpx.ConnectTimeout), ResultCode.TIMEOUT),
        (
            lambda r: httpx.Response(429, headers={"retry-after": "3"}),
            ResultCode.THROTTLED,
        ),
    ],
)
async def test_surely_not_taken_is_retried(
    make_rig: Callable[..., Rig], handler: Handler, code: ResultCode
) -> None:
    rig = make_rig(handler)
    [result] = await rig.connector.submit([message()])
    assert (result.outcome, result.code) == (Outcome.RETRY, code)


@pytest.mark.parametrize(
    "handler",
    [
        _raise(httpx.ReadTimeout),
        _raise(httpx.RemoteProtocolError),
        lambda r: refused(codes.ResultCd.INTERNAL),
        lambda r: httpx.Response(502, text="bad gateway"),
        lambda r: httpx.Response(200, content=b'{"resultCd": "000", "imsId"'),
        lambda r: httpx.Response(200, content=b'{"resultCd": "999"}'),
    ],
)
async def test_unknown_outcome_is_never_resent(
    make_rig: Callable[..., Rig], handler: Handler
) -> None:
    rig = make_rig(handler)
    [result] = await rig.connector.submit([message()])
    assert (result.outcome, result.code, result.raw_code) == (
        Outcome.REJECTED,
        ResultCode.FAILED,
        codes.OUTCOME_UNKNOWN,
    )
    assert "outcome unknown" in result.detail
    duplicates = make_rig(handler, allow_duplicates=True)
    [again] = await duplicates.connector.submit([message()])
    assert again.outcome is Outcome.RETRY


async def test_poller_reads_until_finished(make_rig: Callable[..., Rig]) -> None:
    states = iter(
        [
            info("id-1"),
            httpx.Response(503),
            info("id-1", send_start_dttm="2024-07-09T03:10:40.261Z"),
            httpx.Response(200, content=b"garbage"),
            info(
                "id-1",
                message_finished=True,
                message_sent=True,
                message_delivered=False,
                send_end_dttm="2024-07-09T03:10:41.000Z",
            ),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/send"):
            return sent("id-1")
        assert request.url.params["imsId"] == "id-1"
        assert request.headers["x-api-key"] == "k-1"
        return next(states)

    rig = make_rig(handler)
    await rig.connector.start(rig.sink)
    await rig.connector.submit([message(7)])
    await rig.sink.wait_for_count(1)
    [report] = rig.sink.reports
    assert (report.message_id, report.provider_msg_id) == (7, "id-1")
    assert report.code is ResultCode.DELIVERED
    assert "unconfirmed" in report.detail
    assert report.done_at == dt.datetime(2024, 7, 9, 3, 10, 41, tzinfo=dt.UTC)
    assert rig.connector.awaited == 0
    assert len([r for r in rig.requests if r.url.path.endswith("/info")]) == 5


async def test_poller_failed_and_unknown(make_rig: Callable[..., Rig]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        ims_id = request.url.params.get("imsId")
        if ims_id == "lost":
            return refused(codes.ResultCd.NOT_FOUND)
        if ims_id == "bad":
            return info("bad", message_finished=True, message_error=3001)
        return sent("bad" if len(rig.requests) == 1 else "lost")

    rig = make_rig(handler)
    await rig.connector.start(rig.sink)
    await rig.connector.submit([message(1)])
    await rig.connector.submit([message(2)])
    await rig.sink.wait_for_count(2)
    reports = {r.message_id: r for r in rig.sink.reports}
    assert (reports[1].code, reports[1].raw_code) == (ResultCode.FAILED, "3001")
    assert (reports[2].code, reports[2].raw_code) == (ResultCode.FAILED, "904")


async def test_poller_gives_up(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(
        lambda r: sent("slow") if r.url.path.endswith("/send") else info("slow"),
        poll_give_up=0.05,
    )
    await rig.connector.start(rig.sink)
    await rig.connector.submit([message(3)])
    await rig.sink.wait_for_count(1)
    assert rig.sink.reports[0].code is ResultCode.EXPIRED


async def test_resume_polls_again(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(
        lambda r: info(
            "old", message_finished=True, message_sent=True, message_delivered=True
        )
    )
    await rig.connector.start(rig.sink)
    await rig.connector.resume(
        [message(4, provider_msg_id="old"), message(5, provider_msg_id=None)]
    )
    await rig.sink.wait_for_count(1)
    assert [(r.message_id, r.code) for r in rig.sink.reports] == [
        (4, ResultCode.DELIVERED)
    ]


async def test_failing_sink_is_retried_by_polling(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(
        lambda r: info(
            "x", message_finished=True, message_sent=True, message_delivered=True
        )
    )

    class Flaky(RecordingSink):
        failures = 2

        async def report(self, report: Any) -> None:
            if self.failures:
                self.failures -= 1
                raise RuntimeError("locked")
            await super().report(report)

    sink = Flaky()
    await rig.connector.start(sink)
    await rig.connector.resume([message(6, provider_msg_id="x")])
    await sink.wait_for_count(1)
    assert len(sink.reports) == 1 and rig.connector.awaited == 0


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"api_key": None}, "'api_key'"),
        ({"agent_id": "has space"}, "'agent_id'"),
        ({"poll_schedule": []}, "'poll_schedule'"),
        ({"poll_schedule": "5,x"}, "'poll_schedule'"),
        ({"max_text_bytes": 5000}, "'max_text_bytes'"),
        ({"allow_duplicates": "maybe"}, "'allow_duplicates'"),
        ({"url": "ims.test"}, "'url'"),
        ({"agent": "x"}, "'agent'"),
    ],
)
async def test_build_refuses_bad_options(options: dict[str, Any], named: str) -> None:
    merged = {
        k: v
        for k, v in ({"api_key": "k", "agent_id": "a"} | options).items()
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
                ConnectorSettings(name="i", protocol="imsms", options=merged), context
            )


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
                name="i", protocol="imsms", options={"api_key": "k", "agent_id": "a"}
            ),
            context,
        )
    assert isinstance(built, connector.ImsConnector)
