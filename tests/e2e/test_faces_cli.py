"""The compatible faces from the outside: credentials made with the ``umsgate client``
command, ``umsgate serve`` as a process, and the seeds' own sample programs pointed
at it: ToBeText's curl command, PHP's multipart form (libcurl's, which PHP uses), and
its Java class run by the JDK; IMS's JSON calls with curl."""

from __future__ import annotations

import asyncio
import json
import shutil
import string
from pathlib import Path

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.conftest import Store
from tests.e2e.conftest import cli, server
from umsgate.protocols.imsms import codec as ims_codec
from umsgate.protocols.tobetext import codec
from umsgate.testing import running_asgi, wait_for

CID, TOKEN = "C000123", "9f2c1e7a"
AGENT = "ims-demo-web-kr"

#: The seed's Java sample, with its placeholders filled in (``$``-fields) and
#: nothing else changed: ``writeBytes`` of the unencoded parameter string.
JAVA_SAMPLE = string.Template("""\
import java.io.BufferedReader; import java.io.DataOutputStream;
import java.io.InputStreamReader; import java.net.HttpURLConnection;
import java.net.URL;
public class ToBeText {
  public static void main(String[] args) throws Exception {
    ToBeText tobe = new ToBeText(); tobe.sendSMS(); }
  private void sendSMS() throws Exception {
    String USER_AGENT = "Mozilla/5.0"; String url = "$url";
    URL obj = new URL(url);
    HttpURLConnection conn = (HttpURLConnection) obj.openConnection();
    conn.setRequestMethod("POST"); conn.setRequestProperty("User-Agent", USER_AGENT);
    conn.setRequestProperty("Accept-Language", "en-US,en;q=0.5");
    StringBuffer urlParameters = new StringBuffer();
    urlParameters.append("Ckey=$ckey"); urlParameters.append("&RecvNum=$recv");
    urlParameters.append("&SendNum=$send"); urlParameters.append("&Body=$body");
    urlParameters.append("&Cid=$cid"); urlParameters.append("&token=$token");
    urlParameters.append("&callback=$callback");
    System.out.println("Request to URL : " + url);
    System.out.println("\\n\\nParameters : " + urlParameters);
    conn.setDoOutput(true);
    DataOutputStream ostream = new DataOutputStream(conn.getOutputStream());
    ostream.writeBytes(urlParameters.toString()); ostream.flush(); ostream.close();
    int responseCode = conn.getResponseCode();
    System.out.println("\\n\\nResponse Code : " + responseCode);
    BufferedReader in = new BufferedReader(
      new InputStreamReader(conn.getInputStream()));
    String inputLine; StringBuffer response = new StringBuffer();
    while ((inputLine = in.readLine()) != null) { response.append(inputLine); }
    in.close(); System.out.println("\\n\\nRespose : " + response.toString()); } }
""")


async def run(*args: str, cwd: Path | None = None) -> str:
    """A program's standard output (it must succeed within 60 s)."""
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode(errors="replace")
    return out.decode()


class Callbacks:
    def __init__(self) -> None:
        self.results: list[codec.Result] = []

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        self.results.append(
            codec.parse_callback(body, request.headers.get("content-type", ""))
        )
        return PlainTextResponse("OK")


@pytest.mark.parametrize("workers", [0, 2], ids=["one process", "two fronts"])
async def test_seed_samples_against_umsgate_serve(
    sqlite_store: Store, tmp_path: Path, workers: int
) -> None:
    """The seeds' samples; with fronts, ToBeText's sends are served by the fronts
    and IMS's passed on to the gateway process."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    made = orjson.loads(
        cli(
            sqlite_store,
            "client",
            "add",
            "--id",
            CID,
            "--tobetext-token",
            TOKEN,
            "--new-imsms-key",
            "--imsms-agent",
            f"{AGENT}=0212345678",
            "--create",
        )
    )
    assert "tobetextToken" not in made  # given, so not shown
    ims_key = made["imsmsKey"]
    callbacks = Callbacks()
    receiver = Starlette(routes=[Route("/recv/", callbacks.endpoint, methods=["POST"])])
    async with (
        running_asgi(receiver) as recv_url,
        server(sqlite_store, tmp_path, workers=workers) as srv,
    ):
        callback = recv_url + "/recv/"
        sms = srv.url + "/sms"
        acks: list[codec.Result] = []
        # curl, as the seed writes it (Korean text raw in the body).
        out = await run(
            "curl", "-s", "-X", "POST", sms,
            "-d", "Ckey=curl-1", "-d", "RecvNum=+821012341234",
            "-d", "SendNum=+821012341234", "-d", "Body=메시지본문",
            "-d", f"Cid={CID}", "-d", f"token={TOKEN}", "-d", f"callback={callback}",
        )  # fmt: skip
        acks.append(codec.parse_ack(out.encode()))
        # PHP: CURLOPT_POSTFIELDS with an array is libcurl's multipart form.
        out = await run(
            "curl", "-s", sms,
            "--form-string", "Ckey=php-1", "--form-string", "RecvNum=+821012341234",
            "--form-string", "SendNum=+821012341234",
            "--form-string", "Body=메시지본문",
            "--form-string", f"Cid={CID}", "--form-string", f"token={TOKEN}",
            "--form-string", f"callback={callback}",
        )  # fmt: skip
        acks.append(codec.parse_ack(out.encode()))
        # Java: the sample class, run by the JDK (ASCII text: writeBytes keeps only
        # the low byte of each character).
        if shutil.which("java") is not None:
            source = tmp_path / "ToBeText.java"
            source.write_text(
                JAVA_SAMPLE.substitute(
                    url=sms,
                    ckey="java-1",
                    recv="+821012341234",
                    send="+821012341234",
                    body="Your code is 123456",
                    cid=CID,
                    token=TOKEN,
                    callback=callback,
                )
            )
            out = await run("java", str(source), cwd=tmp_path)
            assert "Response Code : 200" in out
            acks.append(codec.parse_ack(out.split("Respose : ", 1)[1].encode()))
        assert [a.error_code for a in acks] == [200] * len(acks)
        assert [a.ckey for a in acks] == ["curl-1", "php-1", "java-1"][: len(acks)]
        assert {a.recv_num for a in acks} == {"821012341234"}

        # IMS with curl: send, then ask for the state until it is final.
        out = await run(
            "curl", "-s", "-X", "POST", srv.url + "/api/imsms/send",
            "-H", f"X-API-KEY: {ims_key}", "-H", "Content-Type: application/json",
            "-d", json.dumps({"sendTo": "+821012345678", "sendType": "S",
                              "message": "안녕하세요", "imsAgentId": AGENT},
                             ensure_ascii=False),
        )  # fmt: skip
        sent = ims_codec.parse_send_answer(out.encode())
        assert sent.result_cd == "000" and sent.ims_id

        async def ims_finished() -> bool:
            out = await run(
                "curl", "-s", f"{srv.url}/api/imsms/info?imsId={sent.ims_id}",
                "-H", f"X-API-KEY: {ims_key}",
            )  # fmt: skip
            data = ims_codec.parse_info_answer(out.encode()).ims_data
            return data is not None and data.message_finished and data.message_sent

        await wait_for(ims_finished, timeout=20, what="the IMS message delivered")
        await wait_for(
            lambda: len(callbacks.results) == len(acks),
            timeout=20,
            what="a status callback per ToBeText message",
        )
        by_ckey = {r.ckey: r for r in callbacks.results}
        for a in acks:
            assert by_ckey[a.ckey].msg_id == a.msg_id
            assert (by_ckey[a.ckey].error_code, by_ckey[a.ckey].status) == (
                200,
                "SUCCESS",
            )

        # A new token from the CLI replaces the old one at once.
        changed = orjson.loads(
            cli(sqlite_store, "client", "update", "--id", CID, "--new-tobetext-token")
        )
        new_token = changed["tobetextToken"]

        async def answer_with(token: str) -> int:
            out = await run(
                "curl", "-s", sms, "-d", "Ckey=after-1", "-d", "RecvNum=+821012341234",
                "-d", "SendNum=+821012341234", "-d", "Body=hi",
                "-d", f"Cid={CID}", "-d", f"token={token}",
            )  # fmt: skip
            return codec.parse_ack(out.encode()).error_code

        assert await answer_with(TOKEN) == 410
        assert await answer_with(new_token) == 200
        if workers:
            async with httpx.AsyncClient() as http:
                health = (await http.get(srv.url + "/healthz")).json()
            # Every accepted ToBeText send, and nothing of IMS's, came through.
            assert health["fronts"]["messages"] == len(acks) + 1
