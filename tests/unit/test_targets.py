"""The outbound URL policy without sockets: URLs refused when set, addresses refused
when resolved (through a fake resolver), and what allow_private changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from umsgate import targets
from umsgate.errors import TargetRefused


def resolving(table: Mapping[str, Sequence[str]]) -> targets.Resolver:
    """A resolver that answers from ``table`` (OSError for other names)."""

    async def resolve(host: str, _port: int) -> Sequence[str]:
        if host not in table:
            raise OSError(f"unknown name {host!r}")
        return table[host]

    return resolve


NAMES = resolving(
    {
        "inside.example": ["10.1.2.3"],
        "metadata.example": ["169.254.169.254"],
        "mixed.example": ["93.184.215.14", "192.168.1.5"],
        "public.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
        "loop6.example": ["::1"],
        "nothing.example": [],
    }
)
STRICT = targets.Policy(resolver=NAMES)
OPEN = targets.Policy(allow_private=True, resolver=NAMES)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.0.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not globally routable"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("93.184.215.14", None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
    ],
)
def test_refusal_names_the_kind_of_address(address: str, kind: str | None) -> None:
    assert targets.refusal(address) == kind


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("file:///etc/passwd", "must be http or https, not file://"),
        ("gopher://example.com:70/_x", "must be http or https, not gopher://"),
        ("notaurl", "must be http or https, not none"),
        ("//example.com/x", "must be http or https"),
        ("http:///reports", "no host"),
        ("https://user:pw@example.com/", "user name or password"),
        ("http://example.com:0/", "port must be 1 to 65535"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://exa mple.com/", "spaces or control characters"),
        ("http://example.com/\r\nX: 1", "spaces or control characters"),
        ("https://example.com/" + "a" * 2048, "longer than 2048"),
    ],
)
def test_urls_that_are_never_called(url: str, error: str) -> None:
    for policy in (STRICT, OPEN):
        with pytest.raises(TargetRefused, match=error):
            policy.check_literal(url)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:9000/hooks", "loopback"),
        ("http://10.0.0.1/hooks", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]:8080/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://0.0.0.0/", "unspecified"),
    ],
)
async def test_private_addresses_refused_unless_allowed(url: str, kind: str) -> None:
    with pytest.raises(TargetRefused, match=f"a {kind} address") as caught:
        STRICT.check_literal(url)
    assert "[webhook] allow_private_targets = true" in caught.value.message
    with pytest.raises(TargetRefused, match=kind):
        await STRICT.check(url)
    OPEN.check_literal(url)
    await OPEN.check(url)


async def test_names_are_judged_by_every_address_they_resolve_to() -> None:
    with pytest.raises(
        TargetRefused, match=r"inside\.example resolves to 10\.1\.2\.3, a private"
    ):
        await STRICT.check("https://inside.example/hooks")
    with pytest.raises(TargetRefused, match=r"169\.254\.169\.254, a link-local"):
        await STRICT.addresses("metadata.example", 80)
    # One private address among public ones refuses the name.
    with pytest.raises(TargetRefused, match=r"192\.168\.1\.5"):
        await STRICT.addresses("mixed.example", 443)
    with pytest.raises(TargetRefused, match="loopback"):
        await STRICT.addresses("loop6.example", 443)
    assert await STRICT.addresses("public.example", 443) == [
        "93.184.215.14",
        "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
    ]
    assert await OPEN.addresses("inside.example", 80) == ["10.1.2.3"]
    # A name written only in the URL passes `check_literal`: it is resolved later.
    STRICT.check_literal("https://inside.example/hooks")


async def test_names_that_do_not_resolve() -> None:
    # Set now, checked at each connection: a name unknown today is not refused.
    await STRICT.check("https://unknown.example/hooks")
    with pytest.raises(OSError, match="unknown name"):
        await STRICT.addresses("unknown.example", 443)
    with pytest.raises(OSError, match="no address"):
        await STRICT.addresses("nothing.example", 443)
    # An address is not resolved at all.
    assert await STRICT.addresses("93.184.215.14", 80) == ["93.184.215.14"]
