"""One HTTP request to a provider, and what its failure means.

Every connector call goes through `exchange`, which never raises for a network or
HTTP problem: it returns either the provider's `Answer` (any status, body read up to
a limit) or a `Failure` that says which unified code fits and whether the request
may have reached the provider. That second fact decides what a connector may do
next: a request that surely never arrived (connection refused, connect timeout, no
pooled connection in time) can be sent again by any provider's rules; one that may
have arrived can be repeated only where the provider recognises repeats (ToBeText's
``Ckey``, AI CROSS's ``clientTag``) and never where it cannot (IMS SMS).

httpx applies its timeouts per network operation, so a slow trickle of bytes could
hold a request forever; `exchange` adds one deadline over the whole request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import math
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

import httpx

from umsgate.domain.results import ResultCode
from umsgate.errors import RemoteProtocolError

#: Longest a provider may ask us to wait in ``Retry-After`` before we stop believing it
#: (one hour; longer values are clamped so a bad header cannot park a message for days).
MAX_RETRY_AFTER = 3600.0

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Timeouts and the answer size limit of one kind of request."""

    #: Seconds to open a connection (the specs' "10 s connect").
    connect: float = 10.0
    #: Seconds for the whole exchange, connect included (the specs' "30 s total").
    total: float = 30.0
    #: Largest answer body read; a larger one is a provider failure.
    max_body: int = 65536

    def __post_init__(self) -> None:
        if not (0 < self.connect <= self.total) or not math.isfinite(self.total):
            raise ValueError(
                f"timeouts must satisfy 0 < connect ≤ total, got {self.connect}, "
                f"{self.total}"
            )
        if self.max_body < 1:
            raise ValueError(f"max_body must be positive, got {self.max_body}")

    def httpx_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.total, connect=self.connect)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """What the provider answered (any status)."""

    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def content_type(self) -> str:
        value: str = self.headers.get("content-type", "")
        return value


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """Why no usable answer came.

    Attributes:
        code: the unified code (all transient: a later try may work).
        detail: what happened, for logs and the message's event.
        reached: whether the request may have reached the provider; False only when
            it surely did not (nothing was written on a connection).
        retry_after: seconds the provider asked us to wait (429/503), if it said.
    """

    code: ResultCode
    detail: str
    reached: bool
    retry_after: float | None = None


async def exchange(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    limits: Limits,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> Answer | Failure:
    """Send one request and read the answer, within ``limits``.

    Never raises for network, timeout or HTTP-level problems; a body over
    ``limits.max_body`` is a `Failure` (the request reached the provider).
    """
    try:
        async with asyncio.timeout(limits.total):
            request = client.build_request(
                method,
                url,
                content=content,
                headers=headers,
                params=params,
                timeout=limits.httpx_timeout(),
            )
            response = await client.send(request, stream=True)
            try:
                body = await _read_limited(response, limits.max_body)
            finally:
                await response.aclose()
    except TimeoutError:
        return Failure(
            code=ResultCode.TIMEOUT,
            detail=f"no complete answer within {limits.total:g} s",
            reached=True,
        )
    except httpx.HTTPError as exc:
        return classify(exc)
    if body is None:
        return Failure(
            code=ResultCode.PROVIDER_ERROR,
            detail=f"answer larger than {limits.max_body} bytes",
            reached=True,
        )
    return Answer(status=response.status_code, headers=response.headers, body=body)


async def _read_limited(response: httpx.Response, limit: int) -> bytes | None:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def classify(exc: httpx.HTTPError) -> Failure:
    """The `Failure` an httpx exception stands for."""
    name = type(exc).__name__
    detail = f"{name}: {exc}" if str(exc) else name
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return Failure(code=ResultCode.TIMEOUT, detail=detail, reached=False)
    if isinstance(exc, httpx.ConnectError):
        return Failure(code=ResultCode.CONNECTION_ERROR, detail=detail, reached=False)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        # Refused by httpx before anything was written (bad scheme, bad header).
        return Failure(code=ResultCode.CONNECTION_ERROR, detail=detail, reached=False)
    if isinstance(exc, httpx.TimeoutException):
        return Failure(code=ResultCode.TIMEOUT, detail=detail, reached=True)
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError):
        return Failure(code=ResultCode.CONNECTION_ERROR, detail=detail, reached=True)
    return Failure(code=ResultCode.PROVIDER_ERROR, detail=detail, reached=True)


def status_failure(answer: Answer) -> Failure | None:
    """The transient `Failure` an HTTP status stands for (429 and 5xx), else None."""
    if answer.status == 429:
        return Failure(
            code=ResultCode.THROTTLED,
            detail="HTTP 429",
            reached=True,
            retry_after=retry_after(answer.headers),
        )
    if answer.status >= 500:
        return Failure(
            code=ResultCode.PROVIDER_ERROR,
            detail=f"HTTP {answer.status}",
            reached=True,
            retry_after=retry_after(answer.headers) if answer.status == 503 else None,
        )
    return None


def read_answer(
    result: Answer | Failure,
    parse: Callable[[Answer], T],
    *,
    unreadable: str = "HTTP {status}, answer unreadable: {error}",
    expect: int | None = None,
    unexpected: str = "HTTP {status} instead of {expect}",
) -> T | Failure:
    """What ``parse`` reads in the provider's answer, or the `Failure` that stands
    for no usable answer: none came, a 429 or 5xx (`status_failure`), a status other
    than ``expect`` (when given), or a body ``parse`` refuses.

    Args:
        unreadable: the detail when ``parse`` raises `RemoteProtocolError`, formatted
            with ``status`` and ``error``.
        unexpected: the detail for a status other than ``expect``, formatted with
            ``status`` and ``expect``.
    """
    if isinstance(result, Failure):
        return result
    failure = status_failure(result)
    if failure is not None:
        return failure
    if expect is not None and result.status != expect:
        return Failure(
            code=ResultCode.PROVIDER_ERROR,
            detail=unexpected.format(status=result.status, expect=expect),
            reached=True,
        )
    try:
        return parse(result)
    except RemoteProtocolError as exc:
        return Failure(
            code=ResultCode.PROVIDER_ERROR,
            detail=unreadable.format(status=result.status, error=exc),
            reached=True,
        )


def retry_after(
    headers: Mapping[str, str], *, now: float | None = None
) -> float | None:
    """Seconds from a ``Retry-After`` header (delta or HTTP date), clamped to
    `MAX_RETRY_AFTER`; None when absent or unreadable."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    wall = time.time() if now is None else now
    return min(max(when.timestamp() - wall, 0.0), MAX_RETRY_AFTER)
