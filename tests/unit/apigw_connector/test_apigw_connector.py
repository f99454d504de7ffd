"""API-Gateway connector against `httpx.MockTransport` and a clock the test moves (no
sockets, no waiting): token renewal, what each answer becomes, 429 and pacing, file
uploads, pushed reports and the report check."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from umsgate import clients
from umsgate.config import ConnectorSettings
from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.errors import ConfigError
from umsgate.protocols.apigw import connector, upstream
from umsgate.protocols.registry import ConnectorContext, Endpoint
from umsgate.testing import MemoryFiles, RecordingSink
from umsgate.types import Connector, Outcome

BASE = "https://up.test"
START = dt.datetime(2024, 7, 9, tzinfo=dt.UTC)
DOC = Path(__file__).parents[3] / "docs" / "protocols" / "apigw.md"

Handler = Callable[[httpx.Request], httpx.Response]


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> dt.datetime:
        return START + dt.timedelta(seconds=self.t)

    def time(self) -> float:
        return self.now().timestamp()

    def monotonic(self) -> float:
        return 1000.0 + self.t


def message(mid: int = 7, **changes: Any) -> Message:
    values: dict[str, Any] = {
        "id": mid,
        "client_id": "c1",
        "src_msg_id": f"s{mid}",
        "channel": Channel.SMS,
        "sender": "+82212345678",
        "receiver": "+821059120601",
        "content": "hi",
        "created_at": START,
        "due_at": START,
        "extra": {"originCode": "123456789", "billCode": "12345"},
    }
    values.update(changes)
    return Message(**values)


def json(status: int, doc: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=orjson.dumps(doc), headers=headers)


class Upstream:
    """A scripted upstream: tokens ``t1``, ``t2``, … living ``lifetime`` seconds;
    sends answered by ``send`` (default: accepted), uploads by ``upload``."""

    def __init__(self, clock: Clock, lifetime: float = 86400.0) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.tokens = 0
        self.service: dict[str, Any] = {"SMS": 1000, "MMS": 1000}
        self.token_status = 200
        self.send: Callable[[httpx.Request], httpx.Response] | None = None
        self.upload: Callable[[httpx.Request], httpx.Response] | None = None
        self.check: Callable[[httpx.Request], httpx.Response] | None = None
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == upstream.TOKEN_PATH:
            if self.token_status != 200:
                return json(self.token_status, {"error": "invalid_client"})
            self.tokens += 1
            expires = self.clock.now() + dt.timedelta(seconds=self.lifetime)
            return json(
                200,
                {
                    "accessToken": f"t{self.tokens}",
                    "tokenType": "Bearer",
                    "expiresIn": expires.isoformat(),
                    "reportUrl": "",
                    "service": self.service,
                },
            )
        if path == upstream.UPLOAD_PATH and self.upload is not None:
            return self.upload(request)
        if path.startswith("/v1/agent/rpt/") and self.check is not None:
            return self.check(request)
        if path.startswith("/v1/message/"):
            if self.send is not None:
                return self.send(request)
            src = orjson.loads(request.content)["srcMsgId"]
            return json(200, {"resultCode": "10000", "umsMsgId": f"U{src}"})
        return json(404, {})

    def of(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == path]


class Transport(httpx.AsyncBaseTransport):
    """The upstream's transport; ``before_answer`` (when set) runs before a send is
    answered, as an upstream that pushes a report ahead of its answer."""

    def __init__(self, up: Upstream) -> None:
        self.mock = httpx.MockTransport(up)
        self.before_answer: Callable[[httpx.Request], Awaitable[None]] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.before_answer is not None and request.url.path.startswith(
            "/v1/message/"
        ):
            await self.before_answer(request)
        return await self.mock.handle_async_request(request)


class Rig:
    def __init__(self, up: Upstream, clock: Clock, **options: Any) -> None:
        self.up = up
        self.transport = Transport(up)
        self.http = httpx.AsyncClient(transport=self.transport)
        self.app = Starlette()

        def add_route(path: str, endpoint: Endpoint, methods: Sequence[str]) -> None:
            self.app.add_route(path, endpoint, methods=list(methods))

        self.files = MemoryFiles({"F1": ("a.jpg", b"\xff\xd8jpeg")})
        context = ConnectorContext(
            http=self.http,
            files=self.files,
            add_route=add_route,
            public_url="http://gw.test",
            clock=clock,
        )
        settings = ConnectorSettings(
            name="up",
            protocol="apigw",
            options={
                "url": BASE,
                "client_id": "id",
                "client_secret": "secret",
                "client_key": "key",
                "report_check": False,
            }
            | options,
        )
        self.connector = connector.build(settings, context)
        self.sink = RecordingSink()
        self.gateway = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://gw.test"
        )

    async def push(self, body: Any, **headers: str) -> httpx.Response:
        return await self.gateway.post(
            "/callbacks/apigw/up", content=orjson.dumps(body), headers=headers
        )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def make_rig(clock: Clock) -> AsyncIterator[Callable[..., Rig]]:
    rigs: list[Rig] = []

    def make(up: Upstream | None = None, **options: Any) -> Rig:
        rig = Rig(up or Upstream(clock), clock, **options)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        await rig.connector.stop()
        await rig.http.aclose()
        await rig.gateway.aclose()


async def test_is_a_connector_and_registers_its_webhook(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    assert isinstance(rig.connector, Connector)
    assert [r.path for r in rig.app.routes] == ["/callbacks/apigw/up"]  # type: ignore[attr-defined]


async def test_token_is_renewed_five_minutes_before_it_expires(
    make_rig: Callable[..., Rig], clock: Clock
) -> None:
    rig = make_rig(Upstream(clock, lifetime=3600.0))
    await rig.connector.submit([message(1), message(2)])
    assert rig.up.tokens == 1
    sends = rig.up.of("/v1/message/sms")
    assert {r.headers["authorization"] for r in sends} == {"Bearer t1"}
    assert orjson.loads(rig.up.of(upstream.TOKEN_PATH)[0].content) == {
        "clientId": "id",
        "clientSecret": "secret",
        "clientKey": "key",
    }
    clock.t = 3600 - 301
    await rig.connector.submit([message(3)])
    assert rig.up.tokens == 1
    clock.t = 3600 - 299
    await rig.connector.submit([message(4)])
    assert rig.up.tokens == 2
    assert rig.up.of("/v1/message/sms")[-1].headers["authorization"] == "Bearer t2"


async def test_a_short_token_is_renewed_at_half_its_life(
    make_rig: Callable[..., Rig], clock: Clock
) -> None:
    rig = make_rig(Upstream(clock, lifetime=60.0))
    await rig.connector.submit([message(1)])
    clock.t = 29
    await rig.connector.submit([message(2)])
    assert rig.up.tokens == 1
    clock.t = 31
    await rig.connector.submit([message(3)])
    assert rig.up.tokens == 2


async def test_401_renews_the_token_once_and_repeats_the_call(
    make_rig: Callable[..., Rig], clock: Clock
) -> None:
    up = Upstream(clock)

    def send(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer t1":
            return json(401, {"resultCode": "40100"})
        return json(200, {"resultCode": "10000", "umsMsgId": "U1"})

    up.send = send
    rig = make_rig(up)
    results = await rig.connector.submit([message(1), message(2), message(3)])
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    assert up.tokens == 2, "one renewal shared by the three sends"
    assert len(up.of("/v1/message/sms")) == 6


async def test_401_to_a_fresh_token_is_retried_later(
    make_rig: Callable[..., Rig], clock: Clock
) -> None:
    up = Upstream(clock)
    up.send = lambda r: json(401, {"resultCode": "40100"})
    rig = make_rig(up)
    [result] = await rig.connector.submit([message()])
    assert (result.outcome, result.code, result.raw_code) == (
        Outcome.RETRY,
        ResultCode.AUTH_FAILED,
        "40100",
    )
    assert up.tokens == 2 and len(up.of("/v1/message/sms")) == 2


async def test_refused_credentials_are_retried_without_a_request_each(
    make_rig: Callable[..., Rig], clock: Clock
) -> None:
    up = Upstream(clock)
    up.token_status = 401
    rig = make_rig(up)
    results = await rig.connector.submit([message(i) for i in range(5)])
    assert {(r.outcome, r.code) for r in results} == {
        (Outcome.RETRY, ResultCode.AUTH_FAILED)
    }
    assert len(up.of(upstream.TOKEN_PATH)) == 1
    assert not up.of("/v1/message/sms")
    await rig.connector.submit([message(9)])
    assert len(up.of(upstream.TOKEN_PATH)) == 1, "a refusal is believed 1 s"
    clock.t = 2
    up.token_status = 200
    [result] = await rig.connector.submit([message(9)])
    assert result.outcome is Outcome.ACCEPTED


REJ, RET, ACC = Outcome.REJECTED, Outcome.RETRY, Outcome.ACCEPTED
R = ResultCode


@pytest.mark.parametrize(
    ("status", "doc", "outcome", "code", "raw"),
    [
        (400, {"resultCode": "40015"}, REJ, R.INVALID_NUMBER, "40015"),
        (400, {"resultCode": "40013"}, REJ, R.SENDER_NOT_REGISTERED, "40013"),
        (400, {"resultCode": "40011"}, REJ, R.CONTENT_REJECTED, "40011"),
        (400, {"resultCode": "40019"}, REJ, R.DUPLICATE, "40019"),
        (400, {"resultCode": "49999"}, REJ, R.FAILED, "49999"),
        (404, "not json", REJ, R.FAILED, "HTTP 404"),
        (400, {"resultCode": "40017"}, ACC, None, "40017"),
        (500, {"resultCode": "50000"}, RET, R.PROVIDER_ERROR, "50000"),
        (502, "bad gateway", RET, R.PROVIDER_ERROR, None),
        (200, "garbage", RET, R.PROVIDER_ERROR, None),
        (200, {"resultCode": "10000"}, RET, R.PROVIDER_ERROR, "10000"),
        (302, {}, RET, R.PROVIDER_ERROR, None),
    ],
)
async def test_answers(
    make_rig: Callable[..., Rig],
    clock: Clock,
    status: int,
    doc: Any,
    outcome: Outcome,
    code: ResultCode | None,
    raw: str | None,
) -> None:
    up = Upstream(clock)
    up.send = lambda r: json(status, doc)
    rig = make_rig(up)
    [result] = await rig.connector.submit([message()])
    assert (result.outcome, result.code, result.raw_code) == (outcome, code, raw)
    assert rig.connector.awaited == (1 if outcome is Outcome.ACCEPTED else 0)


async def test_429_slows_the_channel_with_doubling_pauses(
    make_rig: Callable[..., Rig], clock: Clock
) -> None:
    up = Upstream(clock)
    answers = [
        json(429, {"resultCode": "42900"}),
        json(400, {"resultCode": "42900"}),
        json(429, {}, **{"Retry-After": "30"}),
        json(200, {"resultCode": "10000", "umsMsgId": "U"}),
        json(429, {"resultCode": "42900"}),
    ]
    up.send = lambda r: answers.pop(0)
    rig = make_rig(up)
    waits = []
    for _ in range(5):
        [result] = await rig.connector.submit([message()])
        waits.append(result.retry_after)
        if result.outcome is Outcome.RETRY:
            assert (result.code, result.raw_code) == (ResultCode.THROTTLED, "42900")
    assert waits == [1.0, 2.0, 30.0, None, 1.0]
    assert rig.connector.health().up, "a 429 is not a failure"


async def test_paced_at_the_accounts_tps(
    make_rig: Callable[..., Rig], clock: Clock
) -> None:
    up = Upstream(clock)
    up.service = {"SMS": 0.05}  # one send per 20 s
    rig = make_rig(up)
    [first] = await rig.connector.submit([message(1)])
    [second] = await rig.connector.submit([message(2)])
    assert first.outcome is Outcome.ACCEPTED
    assert (second.outcome, second.code) == (Outcome.RETRY, ResultCode.THROTTLED)
    assert second.retry_after == pytest.approx(20.0)
    assert len(up.of("/v1/message/sms")) == 1


async def test_files_are_uploaded_and_reused_until_near_expiry(
    make_rig: Callable[..., Rig], clock: Clock
) -> None:
    up = Upstream(clock)
    uploads = 0

    def upload(request: httpx.Request) -> httpx.Response:
        nonlocal uploads
        uploads += 1
        expires = clock.now() + dt.timedelta(hours=2)
        return json(
            200,
            {
                "fileId": f"UP{uploads}",
                "expireTime": expires.isoformat(),
                "resultCode": "10001",
            },
        )

    up.upload = upload
    rig = make_rig(up)
    mms = message(channel=Channel.MMS, file_ids=("F1",))
    await rig.connector.submit([mms])
    await rig.connector.submit([mms])
    assert uploads == 1
    [upload_request] = up.of(upstream.UPLOAD_PATH)
    assert b'name="img"; filename="a.jpg"' in upload_request.content
    clock.t = 3601
    await rig.connector.submit([mms])
    assert uploads == 2
    file_ids = [orjson.loads(r.content)["fileIds"] for r in up.of("/v1/message/mms")]
    assert file_ids == [["UP1"], ["UP1"], ["UP2"]]


async def test_a_file_refused_at_send_is_uploaded_again_once(
    make_rig: Callable[..., Rig], clock: Clock
) -> None:
    up = Upstream(clock)
    ids = iter(["A", "B", "C"])
    up.upload = lambda r: json(
        400,
        {
            "fileId": next(ids),
            "expireTime": "2099-01-01T00:00:00",
            "resultCode": "41000",
        },
    )
    up.send = lambda r: json(400, {"resultCode": "40016"})
    rig = make_rig(up)
    [result] = await rig.connector.submit(
        [message(channel=Channel.MMS, file_ids=("F1",))]
    )
    assert (result.outcome, result.code, result.raw_code) == (
        Outcome.REJECTED,
        ResultCode.CONTENT_REJECTED,
        "40016",
    )
    assert len(up.of(upstream.UPLOAD_PATH)) == 2
    assert len(up.of("/v1/message/mms")) == 2


async def test_an_upload_refused_rejects_the_message(
    make_rig: Callable[..., Rig], clock: Clock
) -> None:
    up = Upstream(clock)
    up.upload = lambda r: json(400, {"resultCode": "41001"})
    rig = make_rig(up)
    [result] = await rig.connector.submit(
        [message(channel=Channel.MMS, file_ids=("F1",))]
    )
    assert (result.outcome, result.code, result.raw_code) == (
        Outcome.REJECTED,
        ResultCode.CONTENT_REJECTED,
        "41001",
    )
    assert result.detail.startswith("upload: ")
    assert not up.of("/v1/message/mms")


REPORT = {
    "cmpMsgId": "",
    "srcMsgId": "7",
    "umsMsgId": "U7",
    "channel": "SMS",
    "resultCode": "-100",
    "resultMessage": "SM_STATE_DELIVERED",
    "serviceProvider": "KTF",
    "srcSndDttm": "20240709000000",
    "pfmRcvDttm": "20240709000001",
    "pfmSndDttm": "20240709000000",
}


async def test_pushed_reports(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    await rig.connector.start(rig.sink)
    await rig.connector.submit([message(7), message(8)])
    answer = await rig.push(
        [REPORT, REPORT | {"srcMsgId": "8", "umsMsgId": "U8", "resultCode": "2005"}]
    )
    assert (answer.status_code, answer.text) == (200, "OK")
    first, second = rig.sink.reports
    assert (first.message_id, first.code, first.raw_code, first.carrier) == (
        7,
        ResultCode.DELIVERED,
        "-100",
        "KTF",
    )
    assert (second.message_id, second.code) == (8, ResultCode.BLOCKED)
    assert rig.connector.awaited == 0
    again = await rig.push(REPORT)
    assert (again.status_code, again.text) == (200, "OK")
    assert len(rig.sink.reports) == 2, "a repeated push is not reported again"


async def test_a_push_for_a_message_this_run_did_not_send_names_the_upstream_id(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    await rig.connector.start(rig.sink)
    assert (await rig.push(REPORT | {"srcMsgId": "99"})).text == "OK"
    [report] = rig.sink.reports
    assert (report.message_id, report.provider_msg_id) == (None, "U7")


async def test_bad_pushes(make_rig: Callable[..., Rig], clock: Clock) -> None:
    rig = make_rig(signing_secret="secret")
    await rig.connector.start(rig.sink)
    body = orjson.dumps(REPORT)
    stamp = int(clock.now().timestamp())
    good = clients.sign(clients.signing_key("secret"), stamp, body)
    old = clients.sign(clients.signing_key("secret"), stamp - 301, body)
    assert (await rig.push(REPORT)).status_code == 401
    assert (await rig.push(REPORT, **{"X-Umsgate-Signature": old})).status_code == 401
    unsigned_json = await rig.gateway.post(
        "/callbacks/apigw/up",
        content=b"{",
        headers={
            "X-Umsgate-Signature": clients.sign(
                clients.signing_key("secret"), stamp, b"{"
            )
        },
    )
    assert unsigned_json.status_code == 400
    assert rig.sink.reports == []
    ok = await rig.push(REPORT, **{"X-Umsgate-Signature": good})
    assert (ok.status_code, ok.text) == (200, "OK")

    class Failing(RecordingSink):
        async def report(self, report: Any) -> None:
            raise RuntimeError("store down")

    await rig.connector.start(Failing())
    other = REPORT | {"srcMsgId": "8", "umsMsgId": "U8"}
    signed = clients.sign(clients.signing_key("secret"), stamp, orjson.dumps(other))
    failed = await rig.push(other, **{"X-Umsgate-Signature": signed})
    assert failed.status_code == 500


async def test_report_check(make_rig: Callable[..., Rig], clock: Clock) -> None:
    up = Upstream(clock)
    asked: list[list[str]] = []

    def check(request: httpx.Request) -> httpx.Response:
        ids = orjson.loads(request.content)
        asked.append(ids)
        return json(200, [REPORT | {"srcMsgId": "7", "umsMsgId": "U7"}])

    up.check = check
    rig = make_rig(up, check_after=60, report_timeout=1000)
    await rig.connector.start(rig.sink)
    await rig.connector.submit(
        [message(7), message(8), message(9, channel=Channel.LMS)]
    )
    assert await rig.connector.check_once() == 0 and asked == []
    clock.t = 61
    assert await rig.connector.check_once() == 1
    assert asked == [["U7", "U8"]]
    assert up.of("/v1/agent/rpt/sms")
    # 8 is asked again after a doubled gap; 9 (LMS) goes to the mms URL meanwhile.
    assert await rig.connector.check_once() == 0
    assert asked[-1] == ["U9"] and up.of("/v1/agent/rpt/mms")
    clock.t = 61 + 119
    await rig.connector.check_once()
    assert asked[-1] == ["U9"]
    clock.t = 61 + 121
    await rig.connector.check_once()
    assert asked[-1] == ["U8"]
    clock.t = 1001
    assert await rig.connector.check_once() == 2
    expired = {r.message_id: r.code for r in rig.sink.reports}
    assert expired == {
        7: ResultCode.DELIVERED,
        8: ResultCode.EXPIRED,
        9: ResultCode.EXPIRED,
    }
    assert rig.connector.awaited == 0


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"client_id": None}, "'client_id' is required"),
        ({"url": "ftp://x"}, "'url'"),
        ({"origin_code": "1234567890"}, "'origin_code'"),
        ({"bill_code": "한글"}, "'bill_code'"),
        ({"connect_timeout": 40}, "'connect_timeout'"),
        ({"speling": 1}, "unknown option"),
        ({"signing_key": "ab" * 31}, "'signing_key' must be 64 hex digits"),
        ({"signing_key": "ab" * 32, "signing_secret": "s"}, "not both"),
    ],
)
def test_bad_options(options: dict[str, Any], words: str, clock: Clock) -> None:
    base = {"url": BASE, "client_id": "id", "client_secret": "s", "client_key": "k"}
    merged = {k: v for k, v in (base | options).items() if v is not None}
    context = ConnectorContext(
        http=httpx.AsyncClient(),
        files=MemoryFiles(),
        add_route=lambda *a: None,
        public_url="",
        clock=clock,
    )
    with pytest.raises(ConfigError, match=words):
        connector.build(
            ConnectorSettings(name="up", protocol="apigw", options=merged), context
        )


def test_docs_table_matches_the_code() -> None:
    rows: dict[str, list[str]] = {}
    text = DOC.read_text(encoding="utf-8").partition("## Result codes")[2]
    for line in text.partition("Report codes")[0].splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells
    for raw, unified in upstream.SEND_REFUSALS.items():
        assert rows[raw.value][2:4] == [unified.value, unified.name], raw
    assert rows["other 4xx"][2:4] == ["2000", "FAILED"]


async def test_a_resend_after_its_report_awaits_nothing(
    make_rig: Callable[..., Rig], clock: Clock
) -> None:
    up = Upstream(clock)
    up.check = lambda r: json(200, [REPORT])
    rig = make_rig(up, check_after=60)
    await rig.connector.start(rig.sink)
    await rig.connector.submit([message(7)])
    assert (await rig.push(REPORT)).text == "OK"
    await rig.connector.submit([message(7)])  # answered as a repeat upstream
    assert rig.connector.awaited == 0  # its report came: nothing to wait for
    clock.t = 61
    assert await rig.connector.check_once() == 0
    assert not [r for r in up.requests if r.url.path.startswith("/v1/agent/rpt/")]
    assert len(rig.sink.reports) == 1


async def test_a_report_pushed_before_the_send_is_answered(
    make_rig: Callable[..., Rig], clock: Clock
) -> None:
    up = Upstream(clock)
    up.check = lambda r: json(200, [REPORT])
    rig = make_rig(up, check_after=60)
    await rig.connector.start(rig.sink)
    pushed: list[httpx.Response] = []

    async def push_first(request: httpx.Request) -> None:
        pushed.append(await rig.push(REPORT))

    rig.transport.before_answer = push_first
    [result] = await rig.connector.submit([message(7)])
    assert (result.outcome, result.provider_msg_id) == (Outcome.ACCEPTED, "U7")
    assert [p.text for p in pushed] == ["OK"]
    # The message is being sent, so the report names it: no lookup in the store.
    [report] = rig.sink.reports
    assert (report.message_id, report.provider_msg_id) == (7, "U7")
    # The answer that came after it waits for nothing, checks for nothing.
    assert rig.connector.awaited == 0
    clock.t = 61
    assert await rig.connector.check_once() == 0
    assert not [r for r in up.requests if r.url.path.startswith("/v1/agent/rpt/")]
    assert rig.connector.health().refused == 0


async def test_refused_pushes_are_counted(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    await rig.connector.start(rig.sink)
    assert (await rig.push(REPORT)).text == "OK"
    assert (await rig.push("nope")).status_code == 400
    assert (await rig.push([])).status_code == 400
    health = rig.connector.health()
    assert health.refused == 2
    assert health.last_refusal == "pushed report: not a report object"


def test_signature() -> None:
    body = b'{"resultCode": "-100"}'
    header = clients.sign(clients.signing_key("secret"), 1_700_000_000, body)
    ok = {"now": 1_700_000_100.0, "tolerance": 300.0}
    assert connector.signature_ok("secret", header, body, **ok)
    assert not connector.signature_ok("other", header, body, **ok)
    assert not connector.signature_ok("secret", header, body + b" ", **ok)
    assert not connector.signature_ok(
        "secret", header, body, now=1_700_001_000.0, tolerance=300.0
    )
    assert not connector.signature_ok("secret", "", body, **ok)
    assert not connector.signature_ok("secret", "t=x,v1=y", body, **ok)


def test_a_signature_by_either_key_of_a_rotation_verifies() -> None:
    """During a rotation's grace period the header has a v1 per key; a receiver
    that holds either key accepts it, and one that holds neither does not."""
    body = orjson.dumps(REPORT)
    stamp = 1_700_000_000
    old = clients.signing_key("secret")
    header = clients.sign(clients.new_signing_key(), stamp, body, also=(old,))
    assert header.count("v1=") == 2
    check = connector.signature_ok
    assert check("secret", header, body, now=stamp, tolerance=300)
    assert not check("other", header, body, now=stamp, tolerance=300)
    # The old key's signature alone, first: still one v1 among others.
    swapped = clients.sign(old, stamp, body, also=(clients.new_signing_key(),))
    assert check("secret", swapped, body, now=stamp, tolerance=300)
    # Two timestamps are not a signature.
    assert not check("secret", f"t={stamp}," + header, body, now=stamp, tolerance=300)


async def test_a_rotated_upstream_key_is_given_as_signing_key(
    make_rig: Callable[..., Rig], clock: Clock
) -> None:
    key = clients.new_signing_key()
    rig = make_rig(signing_key=key)
    await rig.connector.start(rig.sink)
    body = orjson.dumps(REPORT)
    stamp = int(clock.now().timestamp())
    by_secret = clients.sign(clients.signing_key("secret"), stamp, body)
    refused = await rig.push(REPORT, **{"X-Umsgate-Signature": by_secret})
    assert refused.status_code == 401
    ok = await rig.push(
        REPORT, **{"X-Umsgate-Signature": clients.sign(key, stamp, body)}
    )
    assert (ok.status_code, ok.text) == (200, "OK")
