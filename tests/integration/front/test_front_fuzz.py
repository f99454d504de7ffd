"""A front's own HTTP/1.1 parser (`umsgate.front.connection`, `front.exchange`) over
a real socket, fed generated requests: well-formed ones with odd methods, paths,
headers and bodies, pipelined, cut short, or followed by garbage. Whatever comes, the
front answers in HTTP with a status under 500 or closes the connection, and goes on
serving the next client.

The front runs in a thread of its own (`served_in_thread`) so that hypothesis can
drive it with blocking sockets; ``UMSGATE_FUZZ_EXAMPLES`` raises the examples.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import Store, fuzz_settings, served_in_thread
from tests.integration.front.conftest import running_front

STATUS = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


@contextlib.asynccontextmanager
async def _front(store: Store, tmp: Path) -> AsyncIterator[tuple[int, str]]:
    async with running_front(store, tmp) as run:
        yield run.port, run.account.token


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    tmp = tmp_path_factory.mktemp("front")
    store = Store(backend="sqlite", data_dir=tmp / "data")
    with served_in_thread(lambda: _front(store, tmp)) as value:
        yield value


def exchange(port: int, data: bytes, *, timeout: float = 5.0) -> bytes:
    """Write ``data``, close the writing side, and read until the front closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(ConnectionError):
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        with contextlib.suppress(ConnectionError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


_token = st.sampled_from(
    [b"GET", b"POST", b"PUT", b"HEAD", b"OPTIONS", b"G\x00T", b"", b"POST POST"]
)
_path = st.sampled_from(
    [
        b"/v1/message/sms",
        b"/v1/message/mms",
        b"/v1/message/",
        b"/healthz",
        b"/v1/auth/token",
        b"/sms",
        b"*",
        b"http://x/v1/message/sms",
        b"/%zz",
        b"/v1/message/sms?x=1#f",
    ]
) | st.binary(max_size=20)
_version = st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1x", b""])
_header_name = st.sampled_from(
    [
        b"Content-Length",
        b"Transfer-Encoding",
        b"Content-Type",
        b"Authorization",
        b"Connection",
        b"Expect",
        b"originCode",
        b"billCode",
        b"Host",
    ]
) | st.binary(min_size=1, max_size=10)
_header_value = st.sampled_from(
    [
        b"0",
        b"5",
        b"-1",
        b"99999999999999999999",
        b"chunked",
        b"gzip, chunked",
        b"application/json",
        b"close",
        b"100-continue",
        b"123456789",
        b"12345",
    ]
) | st.binary(max_size=20)
_body = st.sampled_from(
    [
        b"",
        b"{}",
        b'{"srcMsgId":"f","callback":"0212345678","receiver":"01012345678",'
        b'"content":"x"}',
        b"5\r\nhello\r\n0\r\n\r\n",
        b"zz\r\n",
    ]
) | st.binary(max_size=120)


@st.composite
def requests(draw: st.DrawFn, token: str) -> bytes:
    head = b" ".join((draw(_token), draw(_path), draw(_version))) + b"\r\n"
    if draw(st.booleans()):
        head += f"Authorization: Bearer {token}\r\n".encode()
    for name, value in draw(
        st.lists(st.tuples(_header_name, _header_value), max_size=5)
    ):
        head += name + b": " + value + b"\r\n"
    return head + b"\r\n" + draw(_body)


@fuzz_settings(40)
@given(data=st.data())
def test_any_bytes_get_http_answers_under_500_or_a_close(
    front: tuple[int, str], data: st.DataObject
) -> None:
    port, token = front
    stream = b"".join(data.draw(st.lists(requests(token), min_size=1, max_size=3)))
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(stream)))
        stream = stream[:cut] + data.draw(st.binary(max_size=40))
    answer = exchange(port, stream)
    statuses = [int(m) for m in STATUS.findall(answer)]
    assert all(100 <= s < 500 for s in statuses), answer[:500]
    # The front still serves.
    health = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: f\r\n\r\n")
    assert health.startswith(b"HTTP/1.1 200 "), health[:200]
