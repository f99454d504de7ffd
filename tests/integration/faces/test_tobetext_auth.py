"""ToBeText tokens are scrypt hashes too (issue 16): checked in the gateway's
bounded pool, off the event loop, and a Cid that has no token (or is no client)
costs the same check against a dummy hash, so that the answer's time does not tell
which Cids exist."""

from __future__ import annotations

import statistics
import time

from tests.conftest import Store, make_settings, running_gateway
from tests.integration.faces.conftest import (
    CID,
    FORM,
    ack,
    encoded_body,
    send_fields,
    tobetext_client,
)
from umsgate.protocols.tobetext.codes import AckCode


async def test_unknown_cids_cost_a_check_like_wrong_tokens(
    sqlite_store: Store,
) -> None:
    async with running_gateway(make_settings(sqlite_store)) as gw:
        await tobetext_client(gw)
        pool = gw.gateway.directory.hashes
        times: dict[str, list[float]] = {"known": [], "unknown": []}
        for n in range(4):
            for kind, cid in (("known", CID), ("unknown", f"C-nobody-{n}")):
                checks = pool.checks
                fields = send_fields(f"k-{kind}-{n}", cid=cid, token=f"wrong-{n}")
                started = time.perf_counter()
                r = await gw.http.post(
                    "/sms", content=encoded_body(fields), headers=FORM
                )
                times[kind].append(time.perf_counter() - started)
                assert ack(r).error_code == AckCode.AUTH_FAILED
                assert pool.checks == checks + 1, kind
        # The right token still passes (checked once, then remembered).
        fields = send_fields("k-ok")
        r = await gw.http.post("/sms", content=encoded_body(fields), headers=FORM)
        assert ack(r).error_code == AckCode.SUCCESS
    known, unknown = (statistics.median(times[k]) for k in ("known", "unknown"))
    assert unknown >= known * 0.5, (known, unknown)
