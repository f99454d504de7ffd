"""The outbound URL policy: which URLs the gateway may call on someone's behalf.

A client's report URL (set by an operator with ``umsgate client add/update
--report-url``) and a compatible face's callback URL (ToBeText's ``callback`` field,
given by the client with each message) make the gateway send requests where others
chose. Without a policy anyone who can set such a URL can make the gateway reach
what only it can reach: ``http://169.254.169.254/`` (a cloud's instance metadata),
``http://127.0.0.1:…`` (its own admin endpoints), a database on the private network
(server-side request forgery).

Two checks, the second being the one that counts:

* when the URL is set (`check_url`, `Policy.check_literal`, `Policy.check`):
  ``http`` or ``https``, a host, a valid port, no user name or password; a host
  that is an address (or, for `Policy.check`, a name that resolves now) must be
  allowed. The error says why in plain words.
* when a connection is made (`Policy.addresses`, called by
  `umsgate.reports.http11`): the host is resolved once, every address it
  resolves to must be allowed, and the connection is made to an address checked
  here (never to the name again, so a second resolution cannot answer something
  else). Redirects are never followed (`umsgate.reports.http11`).

An address is allowed when it is globally routable: not loopback, private,
link-local, multicast, unspecified, reserved or otherwise not global
(`refusal`); an IPv4 address mapped into IPv6 is judged as the IPv4 address. The
operator may allow the others with ``[webhook] allow_private_targets = true``
(``UMSGATE_WEBHOOK_ALLOW_PRIVATE_TARGETS``), as the tests and a local walk-through
that receive reports on 127.0.0.1 do.

The resolver is a seam (`Resolver`): tests make a name resolve to a private address
without touching ``/etc/hosts``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import SplitResult, urlsplit

from umsgate.errors import TargetRefused

#: Schemes a report or callback URL may have.
SCHEMES = frozenset({"http", "https"})
#: Longest URL accepted (a common practical limit of browsers and servers).
MAX_URL = 2048
#: What the operator sets to allow private addresses (named in refusals).
SETTING = "[webhook] allow_private_targets"

#: ``(host, port) → addresses`` (as text), all of them; raises OSError when the name
#: cannot be resolved.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


async def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from the system's resolver (``getaddrinfo``), in its
    order, without repeats."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    seen: dict[str, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


def refusal(address: str | IPAddress) -> str | None:
    """Why ``address`` may not be called when private targets are not allowed
    (``"loopback"``, ``"private"``, …), or None when it is globally routable."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # The most telling name first: 127.0.0.1 is private too, but "loopback" says more.
    for kind in (
        "unspecified",
        "loopback",
        "link_local",
        "multicast",
        "reserved",
        "private",
    ):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    if not ip.is_global:
        return "not globally routable"
    return None


def check_url(url: str) -> SplitResult:
    """``url`` split, when it may be a report or callback URL at all: ``http`` or
    ``https``, a host, a valid port, no credentials, at most `MAX_URL` characters.

    Raises:
        TargetRefused: saying what is wrong with it.
    """
    if len(url) > MAX_URL:
        raise TargetRefused(f"the URL is longer than {MAX_URL} characters")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise TargetRefused("the URL holds spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        shown = f"{scheme}://" if scheme else "none"
        raise TargetRefused(
            f"the URL's scheme must be http or https, not {shown} "
            "(an absolute URL such as https://example.com/reports)"
        )
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("the URL must not hold a user name or password")
    if port == 0:
        raise TargetRefused("the URL's port must be 1 to 65535")
    return parts


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _refused(host: str, address: str, kind: str) -> TargetRefused:
    what = address if host == address else f"{host} resolves to {address}"
    return TargetRefused(
        f"{what}, a {kind} address: the gateway does not call such addresses "
        f"unless {SETTING} = true"
    )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """The policy in force: whether private addresses are allowed, and how names
    are resolved."""

    allow_private: bool = False
    resolver: Resolver = system_resolver

    def check_literal(self, url: str) -> SplitResult:
        """`check_url`, and a host written as an address must be allowed (names
        are judged when they are resolved: `check`, `addresses`).

        Raises:
            TargetRefused: saying why.
        """
        parts = check_url(url)
        host = parts.hostname or ""
        ip = _literal(host)
        if ip is not None and not self.allow_private:
            kind = refusal(ip)
            if kind is not None:
                raise _refused(host, host, kind)
        return parts

    async def check(self, url: str) -> None:
        """`check_literal`, and every address the host resolves to now must be
        allowed (for URLs set by an operator; a name that cannot be resolved
        now passes, and is judged at each connection).

        Raises:
            TargetRefused: saying why.
        """
        parts = self.check_literal(url)
        host = parts.hostname or ""
        if self.allow_private or _literal(host) is not None:
            return
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        try:
            await self.addresses(host, port)
        except OSError:
            return

    async def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for ``host``: all it resolves to, each one
        allowed.

        Raises:
            TargetRefused: one of them is not allowed (so none is used).
            OSError: the name cannot be resolved.
        """
        ip = _literal(host)
        if ip is not None:
            found: Sequence[str] = [host]
        else:
            found = await self.resolver(host, port)
            if not found:
                raise OSError(f"{host} resolves to no address")
        checked: list[str] = []
        for address in found:
            parsed = _literal(address)
            if parsed is None:
                raise OSError(f"{host} resolved to {address!r}, not an address")
            if not self.allow_private:
                kind = refusal(parsed)
                if kind is not None:
                    raise _refused(host, address, kind)
            checked.append(str(parsed))
        return checked
