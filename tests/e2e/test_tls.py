"""``umsgate serve --tls-cert/--tls-key``: HTTPS on the public port with a
certificate made for the test, from the gateway process itself (``--workers 0``)
and from its fronts; plain HTTP is not answered there, and bad files are a
configuration error (exit code 2)."""

from __future__ import annotations

import contextlib
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from tests.conftest import Store
from tests.e2e.conftest import FAST_ENV, free_port


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def cert_files(ca: trustme.CA, where: Path) -> tuple[Path, Path]:
    issued = ca.issue_cert("127.0.0.1", "localhost")
    cert, key = where / "cert.pem", where / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    for extra in issued.cert_chain_pems[1:]:
        extra.write_to_path(str(cert), append=True)
    issued.private_key_pem.write_to_path(str(key))
    return cert, key


@contextlib.contextmanager
def serving(
    store: Store, tmp_path: Path, port: int, workers: int, *tls: str
) -> Iterator[subprocess.Popen[bytes]]:
    log = open(tmp_path / f"serve-{workers}.log", "ab")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "umsgate",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            *store.cli_args(),
            *tls,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **FAST_ENV, **store.env()},
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def ready(url: str, context: ssl.SSLContext, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "umsgate serve exited"
        with contextlib.suppress(httpx.HTTPError):
            if (
                httpx.get(url + "/healthz", verify=context, timeout=1).status_code
                == 200
            ):
                return
        time.sleep(0.1)
    raise TimeoutError("umsgate serve did not answer over HTTPS")


@pytest.mark.parametrize("workers", [0, 1])
def test_https_on_the_public_port(
    sqlite_store: Store, tmp_path: Path, ca: trustme.CA, workers: int
) -> None:
    cert, key = cert_files(ca, tmp_path)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    port = free_port()
    tls = ("--tls-cert", str(cert), "--tls-key", str(key))
    with serving(sqlite_store, tmp_path, port, workers, *tls) as proc:
        url = f"https://127.0.0.1:{port}"
        ready(url, trusting, proc)
        with httpx.Client(base_url=url, verify=trusting, timeout=5) as http:
            # A native request goes the whole way (through a front with --workers).
            r = http.post(
                "/v1/auth/token",
                json={"clientId": "nobody", "clientSecret": "x", "clientKey": "y"},
            )
            assert r.status_code == 401, r.text
        # The certificate is checked: a client without the CA refuses it.
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/healthz", timeout=5)
        # Plain HTTP gets no HTTP answer.
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)


def test_bad_tls_files_are_a_configuration_error(
    sqlite_store: Store, tmp_path: Path, ca: trustme.CA
) -> None:
    cert, key = cert_files(ca, tmp_path)
    other = ca.issue_cert("elsewhere.example")
    wrong_key = tmp_path / "other-key.pem"
    other.private_key_pem.write_to_path(str(wrong_key))
    for args, expected in (
        (("--tls-cert", str(cert)), "give tls_cert and tls_key together"),
        (("--tls-cert", str(cert), "--tls-key", str(tmp_path / "nope.pem")), "no such"),
        (("--tls-cert", str(cert), "--tls-key", str(wrong_key)), "cannot be used"),
    ):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "umsgate",
                "serve",
                "--port",
                str(free_port()),
                "--workers",
                "0",
                *sqlite_store.cli_args(),
                *args,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, **FAST_ENV},
            timeout=60,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert "configuration error" in done.stderr and expected in done.stderr
        assert "Traceback" not in done.stderr
    assert key.exists()
