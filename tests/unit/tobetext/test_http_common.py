"""The machinery shared by the three HTTP providers (`umsgate.protocols._http`):
failure classification, bounded exchanges, options, health, the agenda. It lives
with the ToBeText tests, the first of its users."""

from __future__ import annotations

import asyncio
import email.utils
from typing import Any

import httpx
import pytest

from umsgate.domain.results import ResultCode
from umsgate.errors import ConfigError
from umsgate.protocols._http.exchange import (
    MAX_RETRY_AFTER,
    Answer,
    Failure,
    Limits,
    classify,
    exchange,
    retry_after,
    status_failure,
)
from umsgate.protocols._http.health import HealthMeter
from umsgate.protocols._http.options import Options
from umsgate.protocols._http.schedule import Agenda, AgendaFull

REQUEST = httpx.Request("POST", "http://p.test/")


@pytest.mark.parametrize(
    ("exc", "code", "reached"),
    [
        (httpx.ConnectError("x", request=REQUEST), ResultCode.CONNECTION_ERROR, False),
        (httpx.ConnectTimeout("x", request=REQUEST), ResultCode.TIMEOUT, False),
        (httpx.PoolTimeout("x", request=REQUEST), ResultCode.TIMEOUT, False),
        (
            httpx.UnsupportedProtocol("x", request=REQUEST),
            ResultCode.CONNECTION_ERROR,
            False,
        ),
        (httpx.ReadTimeout("x", request=REQUEST), ResultCode.TIMEOUT, True),
        (httpx.WriteTimeout("x", request=REQUEST), ResultCode.TIMEOUT, True),
        (httpx.ReadError("x", request=REQUEST), ResultCode.CONNECTION_ERROR, True),
        (
            httpx.RemoteProtocolError("x", request=REQUEST),
            ResultCode.CONNECTION_ERROR,
            True,
        ),
        (httpx.DecodingError("x", request=REQUEST), ResultCode.PROVIDER_ERROR, True),
    ],
)
def test_classify(exc: httpx.HTTPError, code: ResultCode, reached: bool) -> None:
    failure = classify(exc)
    assert (failure.code, failure.reached) == (code, reached)
    assert failure.code.transient


def _answer(status: int, **headers: str) -> Answer:
    return Answer(status=status, headers=httpx.Headers(headers), body=b"")


def test_status_failure() -> None:
    throttled = status_failure(_answer(429, **{"retry-after": "12"}))
    assert throttled is not None
    assert (throttled.code, throttled.retry_after) == (ResultCode.THROTTLED, 12.0)
    busy = status_failure(_answer(503, **{"retry-after": "4"}))
    assert busy is not None and (busy.code, busy.retry_after) == (
        ResultCode.PROVIDER_ERROR,
        4.0,
    )
    broken = status_failure(_answer(500, **{"retry-after": "4"}))
    assert broken is not None and broken.retry_after is None
    assert status_failure(_answer(404)) is None
    assert status_failure(_answer(200)) is None


def test_retry_after_forms() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert retry_after({"retry-after": date}, now=now) == pytest.approx(30.0)
    assert retry_after({"retry-after": "999999"}) == MAX_RETRY_AFTER
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


def test_limits_validated() -> None:
    with pytest.raises(ValueError):
        Limits(connect=5, total=1)
    with pytest.raises(ValueError):
        Limits(max_body=0)


async def _exchange(handler: Any, limits: Limits) -> Answer | Failure:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        return await exchange(http, "GET", "http://p.test/", limits=limits)


async def test_exchange_bounds_the_answer() -> None:
    limits = Limits(max_body=10)
    small = await _exchange(
        lambda r: httpx.Response(200, content=b"0123456789"), limits
    )
    assert isinstance(small, Answer) and small.body == b"0123456789"
    big = await _exchange(lambda r: httpx.Response(200, content=b"x" * 11), limits)
    assert isinstance(big, Failure) and big.reached and "larger" in big.detail

    async def chunks() -> Any:
        for _ in range(5):
            yield b"xxxx"

    streamed = await _exchange(lambda r: httpx.Response(200, content=chunks()), limits)
    assert isinstance(streamed, Failure)


async def test_exchange_has_a_total_deadline() -> None:
    never = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await never.wait()
        return httpx.Response(200)

    result = await _exchange(slow, Limits(connect=0.05, total=0.05))
    assert isinstance(result, Failure)
    assert (result.code, result.reached) == (ResultCode.TIMEOUT, True)


def test_health_meter() -> None:
    meter = HealthMeter(threshold=2)
    meter.failed("one")
    assert meter.health().up
    meter.failed("two")
    health = meter.health()
    assert not health.up and "two" in health.detail
    meter.succeeded()
    assert meter.health() == meter.health().__class__(up=True, detail="ok", in_flight=0)


def test_options() -> None:
    options = Options(
        "connector 'x'",
        {
            "s": "v",
            "n": "2.5",
            "i": 3,
            "b": "yes",
            "l": "a, b",
            "nums": [1, "2"],
            "t": {"k": 1},
            "u": "https://h/p",
        },
    )
    assert options.string("s") == "v"
    assert options.string("missing", "d") == "d"
    assert options.number("n", 0) == 2.5
    assert options.integer("i", 0) == 3
    assert options.boolean("b", False) is True
    assert options.strings("l", []) == ("a", "b")
    assert options.numbers("nums", [9]) == (1.0, 2.0)
    assert options.table("t") == {"k": "1"}
    assert options.url("u") == "https://h/p"
    options.finish()


@pytest.mark.parametrize(
    ("data", "read", "message"),
    [
        ({}, lambda o: o.string("key"), "'key' is required"),
        ({"key": 1}, lambda o: o.string("key"), "'key' = 1"),
        ({"key": "inf"}, lambda o: o.number("key", 1), "'key'"),
        ({"key": -1}, lambda o: o.integer("key", 1), "'key'"),
        ({"key": True}, lambda o: o.integer("key", 1), "'key'"),
        ({"key": "maybe"}, lambda o: o.boolean("key", True), "'key'"),
        ({"key": [1]}, lambda o: o.strings("key", []), "'key'"),
        ({"key": []}, lambda o: o.numbers("key", [1]), "'key'"),
        ({"key": "h/p"}, lambda o: o.url("key"), "'key'"),
        ({"key": "p"}, lambda o: o.path("key", "/"), "'key'"),
        ({"key": {"a": [1]}}, lambda o: o.table("key"), "'key'"),
        ({"other": 1}, lambda o: o.finish(), "unknown option"),
    ],
)
def test_option_errors_name_the_key(
    data: dict[str, Any], read: Any, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        read(Options("connector 'x'", data))


async def test_agenda_order_concurrency_and_failures() -> None:
    order: list[str] = []
    running = 0
    peak = 0
    done = asyncio.Event()

    async def handle(item: str) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        running -= 1
        order.append(item)
        if item == "boom":
            raise RuntimeError("handler failed")
        if len(order) == 5:
            done.set()

    agenda: Agenda[str] = Agenda(handle, concurrency=2, max_items=5)
    agenda.add("c", delay=0.03)
    agenda.add("a", delay=0.0)
    agenda.add("boom", delay=0.01)
    agenda.add("b", delay=0.02)
    agenda.add("d", delay=0.04)
    with pytest.raises(AgendaFull):
        agenda.add("e")
    agenda.start()
    try:
        async with asyncio.timeout(5):
            await done.wait()
        await agenda.wait_idle(5)
    finally:
        await agenda.stop()
    assert order == ["a", "boom", "b", "c", "d"]
    assert peak <= 2
    assert len(agenda) == 0


async def test_agenda_drop_and_stop_keeps_waiting_items() -> None:
    agenda: Agenda[int] = Agenda(lambda item: asyncio.sleep(0))
    for i in range(4):
        agenda.add(i, delay=60)
    assert agenda.drop(lambda i: i % 2 == 0) == 2
    agenda.start()
    await agenda.stop()
    assert len(agenda) == 2


def test_a_provider_key_is_a_message_id_only_in_ascii_digits() -> None:
    from umsgate.protocols._http.base import message_id_in

    assert message_id_in("1234567890123456789") == 1234567890123456789
    assert message_id_in("12345678901234567890") is None  # beyond 64 bits
    assert message_id_in("") is None
    assert message_id_in("12a") is None
    assert message_id_in("²") is None  # isdigit, but int() refuses it
    assert message_id_in("١٢") is None  # Arabic-Indic digits, int() reads 12
