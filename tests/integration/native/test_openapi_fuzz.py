"""schemathesis over the native API's OpenAPI description, against a live gateway.

Two bounded, deterministic runs over every operation of ``/openapi.json``:

- *positive*: requests the schema allows, with ASCII text (so that ``maxLength`` is
  the byte limit it documents); every one must be accepted. The rules no schema can
  state are met by the test itself or named in `TOLERATED`: each send gets a new
  ``srcMsgId`` (idempotency is a rule between requests), ``fileIds`` name a file the
  client uploaded; times relative to now and the serialised size of free-form
  objects may be refused, and so may a lookup of a message that does not exist, or
  with a cursor the gateway did not give out or a time that is not one.
- *any*: schema-valid and schema-breaking requests, any text; the server must never
  answer 5xx, and every answer must have a documented status, content type and
  schema; routes refuse undeclared methods and missing credentials.

The schema is `umsgate.protocols.apigw.openapi.SCHEMA`, loaded at import so that
pytest collects one test per operation (schemathesis' fixture loader does not run
under pytest 9.2); the fixture checks that the gateway serves the same document. The
gateway runs in a thread of its own with its own event loop (schemathesis makes its
calls synchronously); a client with a token and one uploaded JPEG is made first.

``UMSGATE_FUZZ_EXAMPLES=N`` runs a longer campaign: N examples per operation, and
the coverage phase (boundary values, every way to break each field, undeclared
methods, missing headers) as well (docs/testing.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest
import schemathesis
from schemathesis import checks as st_checks
from schemathesis.specs.openapi import checks as oas_checks

from tests.conftest import (
    FUZZ_EXAMPLES,
    Store,
    examples,
    make_settings,
    new_account,
    running_gateway,
    served_in_thread,
)
from tests.integration.native.support import upload
from tests.unit.apigw.images import jpeg
from umsgate.app import OPENAPI
from umsgate.protocols.apigw import openapi

#: The coverage phase (every boundary value and every way to break each field, a few
#: hundred requests per operation) runs in a campaign only.
PHASES = (
    ["examples", "coverage", "fuzzing"] if FUZZ_EXAMPLES else ["examples", "fuzzing"]
)

#: Refusals of schema-valid requests that the schema documents in words only, as
#: (HTTP status, resultCode, how the resultMessage starts): times relative to now (a
#: past expireTime, a reserveTime more than 90 days ahead), and sizes of free-form
#: JSON objects as serialised (RCS and KakaoTalk buttons, RCS templateParam).
TOLERATED = (
    (400, "40012", "reserveTime "),
    (400, "40012", "expireTime "),
    (400, "40011", "buttons is larger than "),
    (400, "40011", "templateParam is larger than "),
    # Message lookup: an id no message has, a cursor the gateway did not give out,
    # a time range that is not a time (the schema names the forms in words).
    (404, "40400", "no message "),
    (400, "40000", "cursor: "),
    (400, "40000", "from "),
    (400, "40000", "to "),
)


@dataclasses.dataclass
class Live:
    url: str
    token: str
    file_id: str


@contextlib.asynccontextmanager
async def _gateway(store: Store) -> AsyncIterator[Live]:
    async with running_gateway(make_settings(store)) as gw:
        acct = await new_account(
            gw, "fuzz", tps={k: 1_000_000 for k in ("SMS", "MMS", "RCS", "KKO")}
        )
        # The served document is this one with the admin API's paths added
        # (those are fuzzed by tests/integration/console/test_admin_openapi_fuzz.py).
        served = (await gw.http.get("/openapi.json")).json()
        native = orjson.loads(orjson.dumps(openapi.SCHEMA))
        assert {p: served["paths"][p] for p in native["paths"]} == native["paths"]
        assert served == orjson.loads(orjson.dumps(OPENAPI))
        r = await upload(gw.http, acct, jpeg(tag=b"fuzz"))
        assert r.status_code == 200, r.text
        yield Live(url=gw.url, token=acct.token, file_id=r.json()["fileId"])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A gateway on a loopback port, in a thread of its own, with one client."""
    store = Store(backend="sqlite", data_dir=tmp_path_factory.mktemp("fuzz") / "data")
    with served_in_thread(lambda: _gateway(store)) as value:
        yield value


def _schema(*, positive: bool) -> Any:
    schema = schemathesis.openapi.from_dict(openapi.SCHEMA)
    schema.config.update(request_timeout=10)
    schema.config.phases.update(phases=PHASES)
    schema.config.generation.update(
        modes=["positive"] if positive else ["positive", "negative"],
        max_examples=examples(6 if positive else 5),
        deterministic=True,
        database="none",
        # ASCII text makes maxLength the byte limit; NUL is refused in every field
        # (PostgreSQL cannot store it).
        codec="ascii" if positive else None,
        allow_x00=not positive,
    )
    return schema


positive_schema = _schema(positive=True)
any_schema = _schema(positive=False)
_src_ids = itertools.count(1)


def _meet_stateful_rules(case: Any, live: Live) -> None:
    """What a schema cannot say, made true: a new srcMsgId per send, fileIds of a
    file the client owns, an upload that is a JPEG."""
    body = case.body
    if case.path == "/v1/storage/file" and isinstance(body, dict):
        body["img"] = jpeg(tag=b"case %d" % next(_src_ids))
    if not case.path.startswith("/v1/message/") or not isinstance(body, dict):
        return
    body["srcMsgId"] = f"fz{next(_src_ids)}"
    for holder in (body, body.get("fallback")):
        if isinstance(holder, dict) and isinstance(holder.get("fileIds"), list):
            holder["fileIds"] = [live.file_id] * len(holder["fileIds"])


def _accepted(case: Any, response: Any) -> bool:
    status = response.status_code
    if 200 <= status < 300:
        return True
    if case.path == "/v1/auth/token":
        return status in (401, 404)  # made-up credentials
    if case.path.startswith("/v1/agent/rpt/"):
        return status == 429  # one report check per 30 s
    try:
        doc = response.json()
        code, message = doc["resultCode"], doc["resultMessage"]
    except (ValueError, KeyError, TypeError):
        return False
    return any(
        (status, code) == (s, c) and message.startswith(prefix)
        for s, c, prefix in TOLERATED
    )


_CONFORMANCE = [
    st_checks.not_a_server_error,
    oas_checks.status_code_conformance,
    oas_checks.content_type_conformance,
    oas_checks.response_schema_conformance,
]


@positive_schema.parametrize()
def test_schema_valid_requests_are_accepted(case: Any, live: Live) -> None:
    _meet_stateful_rules(case, live)
    response = case.call(
        base_url=live.url, headers={"Authorization": f"Bearer {live.token}"}
    )
    case.validate_response(response, checks=_CONFORMANCE)
    assert _accepted(case, response), (
        f"{case.method} {case.formatted_path} refused a schema-valid request: "
        f"{response.status_code} {response.text}"
    )


@any_schema.parametrize()
def test_any_request_gets_a_documented_answer(case: Any, live: Live) -> None:
    response = case.call(
        base_url=live.url, headers={"Authorization": f"Bearer {live.token}"}
    )
    case.validate_response(
        response,
        checks=[
            *_CONFORMANCE,
            oas_checks.missing_required_header,
            oas_checks.unsupported_method,
            oas_checks.ignored_auth,
        ],
    )
