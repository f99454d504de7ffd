"""Channel fallback through ``umsgate serve``: RCS and KakaoTalk go to an upstream
API-Gateway (its simulator, over real HTTP) whose carrier cannot deliver them
(``2010`` for every message); with fallback requested, the gateway sends the SMS or
LMS fallback through its sandbox, both reports reach the client's webhook, and the
report check of the fallback URLs returns them (apigw spec §12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Receiver, Store
from tests.e2e.conftest import FAST_ENV, Server, add_client, free_port, token
from tests.e2e.test_http_providers_load import APIGW_CLIENT, gateway_config
from tests.integration.native.support import check_report, kko_body, rcs_body
from umsgate.sim.apigw import Account, ApiGatewaySimulator
from umsgate.testing import wait_for

#: The gateway's reports can be checked at once (the seed's rule is 30 s).
ENV = {**FAST_ENV, "UMSGATE_REPORT_CHECK_INTERVAL": "0"}
EACH = 5


def settings_file(path: Path, gw_url: str, sim_url: str) -> Path:
    """RCS and KakaoTalk to the upstream connector ``p``, the rest to the sandbox."""
    gateway_config(
        path,
        gw_url,
        "apigw",
        {
            "url": sim_url,
            "client_id": APIGW_CLIENT[0],
            "client_secret": APIGW_CLIENT[1],
            "client_key": APIGW_CLIENT[2],
            "signing_secret": APIGW_CLIENT[1],
            "connect_timeout": 2.0,
        },
    )
    text = path.read_text().replace(
        'name = "all"\nconnectors = ["p"]',
        'name = "rich"\nchannels = ["RCS", "KKO"]\nconnectors = ["p"]\n\n'
        '[[routes]]\nname = "rest"\nconnectors = ["sandbox"]',
    )
    assert 'channels = ["RCS", "KKO"]' in text
    path.write_text(text)
    return path


async def test_rcs_and_kko_fall_back_to_sms_and_lms(
    sqlite_store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    gw_port = free_port()
    gw_url = f"http://127.0.0.1:{gw_port}"
    client_id, secret, key = APIGW_CLIENT
    sim = ApiGatewaySimulator(
        accounts=[Account(client_id=client_id, secret=secret, key=key)],
        report_url=f"{gw_url}/callbacks/apigw/p",
        mix={"2010": 1.0},  # the carrier supports neither RCS nor KakaoTalk
        delay=0.1,
        tps=100_000,
        webhook_retry_interval=0.5,
    )
    await sim.start()
    try:
        config = settings_file(tmp_path / "umsgate.toml", gw_url, sim.url)
        srv = Server(sqlite_store, gw_port, tmp_path / "serve.log", ENV, config)
        creds = add_client(sqlite_store, "shop", receiver.url)
        await srv.start()
        try:
            await run(srv, creds, receiver)
        finally:
            srv.stop()
    finally:
        await sim.close()
    # The upstream got every RCS and KakaoTalk message, and nothing else.
    sent = sorted(r.path for r in sim.received if r.path.startswith("/v1/message/"))
    assert sent == ["/v1/message/kko"] * EACH + ["/v1/message/rcs"] * (EACH + 1)


async def run(srv: Server, creds: dict[str, str], receiver: Receiver) -> None:
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        headers = {
            "Authorization": f"Bearer {await token(http, srv.url, creds)}",
            "agencyId": "standard",
            "agencyKey": "agencyKey",
            "billCode": "12345",
        }

        async def send(path: str, body: dict[str, Any]) -> str:
            r = await http.post(path, json=body, headers=headers)
            assert r.status_code == 200, r.text
            ums: str = r.json()["umsMsgId"]
            return ums

        lms = {"type": "LMS", "subject": "대체", "content": "대체 발송 본문"}
        rcs = [
            await send("/v1/message/rcs", rcs_body(f"r{i}", receiver=f"0101000{i:04d}"))
            for i in range(EACH)
        ]
        kko = [
            await send(
                "/v1/message/kko",
                kko_body(
                    f"k{i}",
                    cmpMsgId=f"c{i}",
                    receiver=f"0102000{i:04d}",
                    usedFallback=True,
                    fallback=lms,
                ),
            )
            for i in range(EACH)
        ]
        alone = await send("/v1/message/rcs", rcs_body("r-alone", usedFallback=False))

        def pushed() -> bool:
            got = receiver.by_id()
            return all(len(got.get(u, [])) == 2 for u in rcs + kko) and alone in got

        await wait_for(pushed, timeout=30, what="both reports of each message")
        by = {(r["umsMsgId"], r["channel"]): r for r in receiver.reports}
        assert len(receiver.reports) == 2 * 2 * EACH + 1  # each report pushed once
        for i, ums in enumerate(rcs):
            assert by[(ums, "RCS")]["resultCode"] == "2010"
            check_report(by[(ums, "SMS")], channel="SMS", src=f"r{i}", ums=ums)
        for i, ums in enumerate(kko):
            assert by[(ums, "KKO")]["resultCode"] == "2010"
            assert by[(ums, "KKO")]["cmpMsgId"] == f"c{i}"
            check_report(by[(ums, "LMS")], channel="LMS", src=f"k{i}", ums=ums)
            assert by[(ums, "LMS")]["cmpMsgId"] == f"c{i}"
        assert [r["channel"] for r in receiver.by_id()[alone]] == ["RCS"]

        async def check(url: str, ids: list[str]) -> list[tuple[str, str]]:
            r = await http.post(f"/v1/agent/rpt/{url}", json=ids, headers=headers)
            assert r.status_code == 200, r.text
            for report in r.json():  # the very bodies that were pushed
                assert report == by[(report["umsMsgId"], report["channel"])]
            return sorted((x["umsMsgId"], x["channel"]) for x in r.json())

        every = [*rcs, *kko, alone]
        assert await check("rcs", every) == sorted(
            [(u, c) for u in rcs for c in ("RCS", "SMS")] + [(alone, "RCS")]
        )
        assert await check("kko", every) == sorted(
            (u, c) for u in kko for c in ("KKO", "LMS")
        )
        assert await check("sms", every) == sorted((u, "SMS") for u in rcs)
        assert await check("mms", every) == sorted((u, "LMS") for u in kko)
