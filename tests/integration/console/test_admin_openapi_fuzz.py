"""schemathesis over the admin API's part of ``/openapi.json``, against a live
gateway with an operator token: whatever the request, schema-valid or not, the
answer is never a 5xx and has a documented status, content type and schema; routes
refuse undeclared methods and requests without credentials.

Schema-valid requests may still be refused here (a client id that exists, a message
id that does not): the admin API's rules between requests are the console tests'
business. The schema is the one the gateway serves (checked by the fixture), loaded
at import so that pytest collects one test per operation (see
tests/integration/native/test_openapi_fuzz.py). ``UMSGATE_FUZZ_EXAMPLES=N`` runs a
longer campaign.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
    sms_body,
)
from tests.integration.console.support import operator
from umsgate.app import OPENAPI
from umsgate.console import operators

PHASES = (
    ["examples", "coverage", "fuzzing"] if FUZZ_EXAMPLES else ["examples", "fuzzing"]
)


@dataclasses.dataclass
class Live:
    url: str
    token: str


@contextlib.asynccontextmanager
async def _gateway(store: Store) -> AsyncIterator[Live]:
    async with running_gateway(make_settings(store)) as gw:
        served = await gw.http.get("/openapi.json")
        assert served.json() == orjson.loads(orjson.dumps(OPENAPI))
        # Something to find: a client with a message and its report.
        acct = await new_account(gw, "fuzzed")
        r = await gw.http.post(
            "/v1/message/sms", json=sms_body("fz-1"), headers=acct.headers()
        )
        assert r.status_code == 200, r.text
        await operator(gw)
        token, _ = await operators.issue_token(gw.gateway.db, "ops", 3600)
        yield Live(url=gw.url, token=token)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    store = Store(backend="sqlite", data_dir=tmp_path_factory.mktemp("admin") / "data")
    with served_in_thread(lambda: _gateway(store)) as value:
        yield value


def _schema() -> Any:
    schema = schemathesis.openapi.from_dict(OPENAPI).include(path_regex="^/admin/")
    schema.config.update(request_timeout=10)
    schema.config.phases.update(phases=PHASES)
    schema.config.generation.update(
        modes=["positive", "negative"],
        max_examples=examples(5),
        deterministic=True,
        database="none",
        allow_x00=True,
    )
    return schema


admin_schema = _schema()


@admin_schema.parametrize()
def test_any_admin_request_gets_a_documented_answer(case: Any, live: Live) -> None:
    response = case.call(
        base_url=live.url, headers={"Authorization": f"Bearer {live.token}"}
    )
    case.validate_response(
        response,
        checks=[
            st_checks.not_a_server_error,
            oas_checks.status_code_conformance,
            oas_checks.content_type_conformance,
            oas_checks.response_schema_conformance,
            oas_checks.missing_required_header,
            oas_checks.unsupported_method,
            oas_checks.ignored_auth,
        ],
    )
