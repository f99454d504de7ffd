"""ToBeText's ``POST /sms`` served by a front answers as the gateway process's own
face does, with the client and its token cached and not (then a task reads the store
and runs scrypt)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import Store
from tests.integration.faces.conftest import (
    FORM,
    XML_TYPE,
    curl_body,
    encoded_body,
    multipart,
    send_fields,
    tobetext_client,
)
from tests.integration.front.conftest import running_front


@pytest.mark.parametrize("cache_ttl", [60.0, 0.0], ids=["cached", "read"])
async def test_tobetext_answers_as_the_gateway_does(
    sqlite_store: Store, tmp_path: Path, cache_ttl: float
) -> None:
    async with (
        running_front(sqlite_store, tmp_path, auth={"cache_ttl": cache_ttl}) as run,
        httpx.AsyncClient(timeout=10) as http,
    ):
        await tobetext_client(run.running)

        def form(**fields: str) -> dict[str, object]:
            ckey = fields.pop("ckey")
            return {
                "content": encoded_body(send_fields(ckey, **fields)),
                "headers": FORM,
            }

        cases: list[dict[str, object]] = [
            form(ckey="t-1"),
            form(ckey="t-1"),
            form(ckey="t-1", body="other"),
            {
                "content": curl_body(send_fields("t-2", body="안녕하세요 " * 20)),
                "headers": FORM,
            },
            {"files": multipart(send_fields("t-3"))},
            form(ckey="t-4", token="nope"),
            form(ckey="t-5", cid=""),
            form(ckey="t-6", recv="+8299"),
            form(ckey="t-7", send="12"),
            {"content": b"Cid=x&" + b"a" * 20_000, "headers": FORM},
            {"content": b"not a form at all"},
        ]
        for case in cases:
            via_front = await http.post(run.url + "/sms", **case)  # type: ignore[arg-type]
            via_gateway = await http.post(
                run.running.url + "/sms",
                **case,  # type: ignore[arg-type]
            )
            assert via_front.status_code == via_gateway.status_code, case
            assert via_front.headers["content-type"] == XML_TYPE
            assert via_front.content == via_gateway.content, case
