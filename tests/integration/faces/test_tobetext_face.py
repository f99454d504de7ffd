"""The ToBeText face of ``umsgate serve`` over real HTTP: requests shaped as the seed's
curl, PHP and Java samples, acknowledgements, status callbacks that follow what the
sandbox carrier did, Ckey idempotency, and every error code a request can trigger."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from tests.conftest import (
    Running,
    Store,
    make_settings,
    running_gateway,
    status_counts,
    webhook_states,
)
from tests.integration.faces.conftest import (
    CID,
    FORM,
    CallbackReceiver,
    ack,
    curl_body,
    encoded_body,
    java_body,
    multipart,
    send_fields,
    tobetext_client,
)
from umsgate.domain.results import ResultCode
from umsgate.protocols.tobetext.codes import CallbackCode
from umsgate.protocols.tobetext.face import callback_code
from umsgate.protocols.tobetext.send import src_msg_id
from umsgate.testing import wait_for

#: The sandbox's outcomes: invalid number, provider auth failure, expiry, the rest
#: delivered; one of each callback code 200/400/411/412.
MIX = {"2001": 0.25, "2009": 0.2, "3000": 0.2}
HEX32 = re.compile(r"[0-9a-f]{32}")


def expected_code(running: Running, ums_msg_id: int) -> ResultCode:
    """What the sandbox carrier drew for a message (its first and only attempt)."""
    sandbox: Any = running.gateway.connectors["sandbox"]
    return ResultCode(sandbox.mix.draw(f"{ums_msg_id}:1"))


async def stored_count(running: Running) -> int:
    return sum((await status_counts(running.gateway)).values())


async def test_seed_samples_reach_their_callbacks(
    store: Store, callbacks: CallbackReceiver
) -> None:
    settings = make_settings(store, sandbox={"mix": MIX, "seed": 5})
    async with running_gateway(settings) as gw:
        await tobetext_client(gw)

        async def one(i: int) -> tuple[str, str, str]:
            ckey = f"ord-{i:04d}"
            recv = f"+8210{20000000 + i}"
            if i % 3 == 0:  # curl -d '…' -d '…': raw UTF-8, not encoded
                fields = send_fields(
                    ckey, body=f"인증번호 {i:06d}", recv=recv, callback=callbacks.url
                )
                r = await gw.http.post("/sms", content=curl_body(fields), headers=FORM)
            elif i % 3 == 1:  # PHP: an array in CURLOPT_POSTFIELDS is multipart
                fields = send_fields(ckey, recv=recv, callback=callbacks.url)
                r = await gw.http.post("/sms", files=multipart(fields))
            else:  # Java: writeBytes of the unencoded string ('+' reads as a space)
                fields = send_fields(ckey, recv=recv, callback=callbacks.url)
                r = await gw.http.post(
                    "/sms",
                    content=java_body(fields),
                    headers={
                        "User-Agent": "Mozilla/5.0",
                        "Accept-Language": "en-US,en;q=0.5",
                        "Content-Type": "application/x-www-form-urlencoded",
                    },
                )
            assert r.status_code == 200, r.text
            result = ack(r)
            assert result.error_code == 200, result
            assert result.status == "SUCCESS"
            assert result.ckey == ckey
            assert HEX32.fullmatch(result.msg_id)
            assert result.recv_num == recv[1:]
            assert result.send_num == "821012341234"
            return ckey, result.msg_id, result.recv_num

        sent = {
            ckey: (msg_id, recv)
            for ckey, msg_id, recv in await asyncio.gather(*map(one, range(30)))
        }
        await wait_for(
            lambda: len(callbacks.results) >= len(sent),
            timeout=20,
            what="a callback per message",
        )
        seen: set[int] = set()
        for ckey, (msg_id, recv_digits) in sent.items():
            [callback] = callbacks.by_ckey()[ckey]
            code = callback_code(expected_code(gw, int(msg_id, 16)))
            assert callback.msg_id == msg_id
            assert callback.error_code == code
            assert callback.status == ("SUCCESS" if code == 200 else "FAIL")
            assert callback.recv_num == recv_digits
            assert callback.send_num == "821012341234"
            seen.add(callback.error_code)
        # Ids differ from run to run, and so do the draws: at least three of the four
        # codes show (all four in 99.5 % of runs).
        assert 200 in seen and len(seen) >= 3, seen
        assert {path for path, _ in callbacks.requests} == {"/recv/"}
        assert all(
            headers["content-type"].startswith("application/x-www-form-urlencoded")
            for _, headers in callbacks.requests
        )
        # The curl sample's Korean text arrived intact.
        row = await gw.gateway.message_by_src(CID, src_msg_id("ord-0003"))
        assert row is not None and row.content == "인증번호 000003"


async def test_ckey_is_idempotent(store: Store, callbacks: CallbackReceiver) -> None:
    async with running_gateway(make_settings(store)) as gw:
        await tobetext_client(gw)
        await tobetext_client(gw, "C000999", "other-token")
        fields = send_fields("ord-1", callback=callbacks.url)
        first = ack(await gw.http.post("/sms", content=encoded_body(fields)))
        assert first.error_code == 200
        repeats = await asyncio.gather(
            *(gw.http.post("/sms", content=encoded_body(fields)) for _ in range(8))
        )
        assert {ack(r).msg_id for r in repeats} == {first.msg_id}
        assert {ack(r).error_code for r in repeats} == {200}
        # The same Ckey with other parameters is a Ckey error, whatever changed.
        for changed in (
            send_fields("ord-1", body="other text", callback=callbacks.url),
            send_fields("ord-1", recv="+821099998888", callback=callbacks.url),
            send_fields("ord-1", callback=callbacks.url + "elsewhere"),
            send_fields("ord-1"),
        ):
            refused = ack(await gw.http.post("/sms", content=encoded_body(changed)))
            assert (refused.error_code, refused.status) == (2001, "FAIL")
            assert refused.ckey == "ord-1" and refused.msg_id == ""
        # Ckeys are per client; the longest Ckeys are keys of their own.
        other = ack(
            await gw.http.post(
                "/sms",
                content=encoded_body(
                    send_fields("ord-1", cid="C000999", token="other-token")
                ),
            )
        )
        assert other.error_code == 200 and other.msg_id != first.msg_id
        long_a, long_b = "a" * 63 + "1", "a" * 63 + "2"
        a1 = ack(await gw.http.post("/sms", content=encoded_body(send_fields(long_a))))
        a2 = ack(await gw.http.post("/sms", content=encoded_body(send_fields(long_a))))
        b = ack(await gw.http.post("/sms", content=encoded_body(send_fields(long_b))))
        assert a1.error_code == a2.error_code == b.error_code == 200
        assert a1.msg_id == a2.msg_id != b.msg_id
        assert await stored_count(gw) == 4
        await wait_for(
            lambda: len(callbacks.results) >= 1, what="the callback of ord-1"
        )
        # One message, one callback, however often it was asked for.
        assert [r.msg_id for r in callbacks.results] == [first.msg_id]


#: (what, fields changed from a valid request, ErrorCode).
BAD_REQUESTS: list[tuple[str, dict[str, str | None], int]] = [
    ("no Cid", {"Cid": None}, 2006),
    ("Cid with a space", {"Cid": "C 000123"}, 2006),
    ("Cid of 65 characters", {"Cid": "C" * 65}, 2006),
    ("no token", {"token": None}, 2007),
    ("empty token", {"token": ""}, 2007),
    ("token not visible ASCII", {"token": "토큰"}, 2007),
    ("wrong token", {"token": "9f2c1e7b"}, 410),
    ("unknown Cid", {"Cid": "C999999"}, 410),
    ("client without ToBeText", {"Cid": "native-only"}, 410),
    ("no Ckey", {"Ckey": None}, 2001),
    ("Ckey of 65 characters", {"Ckey": "k" * 65}, 2001),
    ("Ckey with a slash", {"Ckey": "a/b"}, 2001),
    ("Ckey with Hangul", {"Ckey": "메시지ID"}, 2001),
    ("no RecvNum", {"RecvNum": None}, 2003),
    ("RecvNum with letters", {"RecvNum": "+8210abcd1234"}, 2003),
    ("RecvNum of 7 digits", {"RecvNum": "+8210123"}, 2003),
    ("RecvNum without country code", {"RecvNum": "01012341234"}, 2002),
    ("RecvNum of an unknown country", {"RecvNum": "+99912345678"}, 2002),
    ("RecvNum not valid in Korea", {"RecvNum": "+82000012345"}, 2003),
    ("no SendNum", {"SendNum": None}, 2004),
    ("SendNum with a dash", {"SendNum": "02-1234-5678"}, 2004),
    ("SendNum that is no number", {"SendNum": "+99912345678"}, 2004),
    ("no Body", {"Body": None}, 2005),
    ("empty Body", {"Body": ""}, 2005),
    ("161 ASCII characters", {"Body": "x" * 161}, 2005),
    ("81 characters with Hangul", {"Body": "가" * 81}, 2005),
]


def _fields(changes: dict[str, str | None]) -> list[tuple[str, str]]:
    base = dict(send_fields("ord-bad", body="hello"))
    for name, value in changes.items():
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value
    return list(base.items())


async def test_every_error_code(store: Store) -> None:
    async with running_gateway(make_settings(store)) as gw:
        await tobetext_client(gw)
        await tobetext_client(gw, "slow", "slow-token", tps=1)
        from umsgate import clients

        await clients.add_client(gw.gateway.db, "native-only")
        answers = await asyncio.gather(
            *(
                gw.http.post("/sms", content=encoded_body(_fields(changes)))
                for _, changes, _ in BAD_REQUESTS
            )
        )
        for (what, _, code), r in zip(BAD_REQUESTS, answers, strict=True):
            assert r.status_code == 200, (what, r.text)
            result = ack(r)
            assert (result.error_code, result.status) == (code, "FAIL"), what
            assert result.msg_id == "", what
            assert result.error_msg, what
        # What is well-formed is echoed, as in the spec's failure example.
        r = await gw.http.post(
            "/sms", content=encoded_body(_fields({"token": "wrong-token"}))
        )
        assert ack(r).ckey == "ord-bad" and ack(r).recv_num == "821012341234"
        assert await stored_count(gw) == 0
        # Over the client's TPS: HTTP 429 and a FAIL acknowledgement; the same Ckey
        # goes through once there is room again.
        answers = [
            await gw.http.post(
                "/sms",
                content=encoded_body(
                    send_fields(f"t{i}", cid="slow", token="slow-token")
                ),
            )
            for i in range(3)
        ]
        assert answers[0].status_code == 200
        busy = [a for a in answers if a.status_code == 429]
        assert busy, [a.text for a in answers]
        assert {(ack(a).error_code, ack(a).status) for a in busy} == {(429, "FAIL")}
        assert await stored_count(gw) == 3 - len(busy)


async def test_text_decides_sms_or_lms(store: Store) -> None:
    async with running_gateway(make_settings(store)) as gw:
        await tobetext_client(gw)
        cases = {
            "ascii-90": ("x" * 90, "SMS", "cp949"),
            "ascii-160": ("x" * 160, "LMS", "cp949"),
            "hangul-45": ("가" * 45, "SMS", "cp949"),
            "hangul-80": ("가" * 80, "LMS", "cp949"),
            "emoji": ("ok 👍", "SMS", "utf-8"),
        }
        answers = await asyncio.gather(
            *(
                gw.http.post("/sms", content=encoded_body(send_fields(ckey, body=body)))
                for ckey, (body, _, _) in cases.items()
            )
        )
        assert [ack(r).error_code for r in answers] == [200] * len(cases)
        for ckey, (body, channel, charset) in cases.items():
            row = await gw.gateway.message_by_src(CID, src_msg_id(ckey))
            assert row is not None
            assert (row.state["channel"], row.state["charset"], row.content) == (
                channel,
                charset,
                body,
            ), ckey
            assert row.state["receiver"] == "+821012341234"
            assert row.state["sender"] == "+821012341234"


async def test_callback_codes_cover_every_unified_code() -> None:
    for code in ResultCode:
        mapped = callback_code(code)
        assert isinstance(mapped, CallbackCode)
        assert (mapped is CallbackCode.SUCCESS) == (code is ResultCode.DELIVERED)


@pytest.mark.parametrize("shape", ["form", "multipart"])
async def test_no_callback_url_pushes_nothing(store: Store, shape: str) -> None:
    async with running_gateway(make_settings(store)) as gw:
        await tobetext_client(gw)
        # An empty callback is none (one that is not a URL is refused with 2008:
        # test_tobetext_callback_urls.py).
        fields = send_fields("quiet", callback="")
        if shape == "form":
            r = await gw.http.post("/sms", content=encoded_body(fields))
        else:
            r = await gw.http.post("/sms", files=multipart(fields))
        assert ack(r).error_code == 200

        async def reported() -> bool:
            return (await webhook_states(gw.gateway)) == {"none": 1}

        await wait_for(reported, what="a report with nothing to push")


async def test_a_slow_or_dead_client_does_not_block(
    store: Store, callbacks: CallbackReceiver
) -> None:
    """Requests to the face do not wait for each other: a body that never ends holds
    only its own request."""
    async with running_gateway(make_settings(store)) as gw:
        await tobetext_client(gw)
        stalled = asyncio.Event()

        async def never_ends() -> Any:
            yield b"Ckey=slow&"
            await stalled.wait()

        slow = asyncio.create_task(
            gw.http.post("/sms", content=never_ends(), headers=FORM)
        )
        r = await gw.http.post(
            "/sms", content=encoded_body(send_fields("fast", callback=callbacks.url))
        )
        assert ack(r).error_code == 200
        slow.cancel()
        with pytest.raises((asyncio.CancelledError, httpx.HTTPError)):
            await slow
        stalled.set()
