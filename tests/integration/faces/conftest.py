"""Helpers of the compatible faces' tests: accounts with face credentials, a
ToBeText callback receiver, requests shaped like the seeds' sample code, and a
gateway whose face push rules are quick."""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import AsyncIterator, Mapping, Sequence

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.conftest import Running
from umsgate import clients, config
from umsgate.app import create_app
from umsgate.protocols.imsms.face import ImsReports
from umsgate.protocols.tobetext import codec
from umsgate.protocols.tobetext.face import PUSH, ToBeTextReports
from umsgate.reports.faces import PushRule
from umsgate.testing import running_asgi

CID, TOKEN = "C000123", "9f2c1e7a"
#: The seed's sample key.
IMS_KEY = "d49855bc-0da6-4214-baf1-543564b25cfc"
AGENT = "ims-demo-web-kr"
#: A JPEG as short as `umsgate.files.is_jpeg` accepts: SOI, an APP0 segment, SOS.
JPEG = (
    b"\xff\xd8"
    + b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
    + b"\x00" * 32
    + b"\xff\xd9"
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
XML_TYPE = "application/xml; charset=UTF-8"


async def tobetext_client(
    running: Running,
    cid: str = CID,
    token: str = TOKEN,
    *,
    tps: int = 1000,
) -> None:
    await clients.add_client(
        running.gateway.db,
        cid,
        tps={"SMS": tps, "MMS": tps},
        tobetext_token=token,
    )


async def ims_client(
    running: Running,
    client_id: str = "ims-app",
    key: str = IMS_KEY,
    *,
    agents: Mapping[str, str] | None = None,
    tps: int = 1000,
) -> None:
    await clients.add_client(
        running.gateway.db,
        client_id,
        tps={"SMS": tps, "MMS": tps},
        imsms_key=key,
        imsms_agents=agents,
    )


# -- requests as the seed's sample code makes them -------------------------------------


def curl_body(fields: Sequence[tuple[str, str]], charset: str = "utf-8") -> bytes:
    """``curl -d 'name=value' -d …``: the pairs joined with ``&``, not URL-encoded,
    in the terminal's charset."""
    return "&".join(f"{k}={v}" for k, v in fields).encode(charset)


def java_body(fields: Sequence[tuple[str, str]]) -> bytes:
    """The Java sample: ``DataOutputStream.writeBytes`` of the unencoded parameter
    string, which keeps only the low byte of every character."""
    raw = "&".join(f"{k}={v}" for k, v in fields)
    return bytes(ord(ch) & 0xFF for ch in raw)


def encoded_body(fields: Sequence[tuple[str, str]]) -> bytes:
    """A URL-encoded UTF-8 form (what umsgate's own connector sends)."""
    return urllib.parse.urlencode(list(fields)).encode("ascii")


FORM = {"content-type": "application/x-www-form-urlencoded"}


def multipart(fields: Sequence[tuple[str, str]]) -> dict[str, tuple[None, bytes]]:
    """The PHP sample: ``CURLOPT_POSTFIELDS`` with an array, sent as
    ``multipart/form-data`` (httpx ``files=`` with no file names)."""
    return {k: (None, v.encode()) for k, v in fields}


def send_fields(
    ckey: str,
    *,
    body: str = "Your code is 123456",
    recv: str = "+821012341234",
    send: str = "+821012341234",
    callback: str | None = None,
    cid: str = CID,
    token: str = TOKEN,
) -> list[tuple[str, str]]:
    fields = [
        ("Ckey", ckey),
        ("RecvNum", recv),
        ("SendNum", send),
        ("Body", body),
        ("Cid", cid),
        ("token", token),
    ]
    if callback is not None:
        fields.append(("callback", callback))
    return fields


def ack(response: httpx.Response) -> codec.Result:
    """The acknowledgement of a response: always the spec's XML."""
    assert response.headers["content-type"] == XML_TYPE, response.headers
    return codec.parse_ack(response.content)


# -- the ToBeText application's callback endpoint --------------------------------------


class CallbackReceiver:
    """Status callbacks as a ToBeText application receives them: form POSTs to its
    ``callback`` URL, answered 200 ``OK`` unless told to fail the first ones."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.results: list[codec.Result] = []
        self.fail_first = 0
        #: Paths that always answer 503.
        self.failing: set[str] = set()
        self.url = ""

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        self.requests.append((request.url.path, dict(request.headers)))
        if request.url.path in self.failing or len(self.requests) <= self.fail_first:
            return PlainTextResponse("busy", status_code=503)
        self.results.append(
            codec.parse_callback(body, request.headers.get("content-type", ""))
        )
        return PlainTextResponse("OK")

    def by_ckey(self) -> dict[str, list[codec.Result]]:
        out: dict[str, list[codec.Result]] = {}
        for result in self.results:
            out.setdefault(result.ckey, []).append(result)
        return out


@pytest.fixture
async def callbacks() -> AsyncIterator[CallbackReceiver]:
    rec = CallbackReceiver()
    app = Starlette(routes=[Route("/{path:path}", rec.endpoint, methods=["POST"])])
    async with running_asgi(app) as url:
        rec.url = url + "/recv/"
        yield rec


# -- a gateway whose faces push quickly ------------------------------------------------

#: The ToBeText callback rule with the spec's attempts and short intervals.
QUICK_PUSH = PushRule(
    content_type=PUSH.content_type,
    attempts=PUSH.attempts,
    interval=0.1,
    timeout=2.0,
    accepts=PUSH.accepts,
)


@contextlib.asynccontextmanager
async def running_quick_faces(settings: config.Settings) -> AsyncIterator[Running]:
    """`tests.conftest.running_gateway` with ToBeText callbacks retried every 0.1 s."""
    app = create_app(settings, faces=(ToBeTextReports(push=QUICK_PUSH), ImsReports()))
    async with (
        running_asgi(app) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        yield Running(url=url, gateway=app.gateway, http=http)
