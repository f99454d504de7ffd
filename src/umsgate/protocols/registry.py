"""From connector settings to a running `Connector`.

Each protocol package exposes ``build(settings, context) -> Connector`` in its
``connector`` module; the table below names them, so a protocol's code is imported only
when a connector of that protocol is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, NoReturn, Protocol, cast

from umsgate.clock import SystemClock
from umsgate.config import ConnectorSettings, Settings
from umsgate.errors import ConfigError
from umsgate.types import Clock, Connector

if TYPE_CHECKING:
    # Only for the types: a connector process (SMPP, sandbox) loads neither.
    import httpx
    from starlette.requests import Request
    from starlette.responses import Response

#: protocol name → module holding its ``build``.
PROTOCOLS: dict[str, str] = {
    "sandbox": "umsgate.protocols.sandbox.carrier",
    "ushot": "umsgate.protocols.ushot.connector",
    "smpp": "umsgate.protocols.smpp.connector",
    "tobetext": "umsgate.protocols.tobetext.connector",
    "imsms": "umsgate.protocols.imsms.connector",
    "apigw": "umsgate.protocols.apigw.connector",
    "aicross": "umsgate.protocols.aicross.connector",
}

#: Protocols whose sessions hold a connector's ``window`` themselves, per PDU (an
#: SMPP window counts outstanding submit_sm of a session): the dispatcher does not
#: count it again in whole chunks.
OWN_WINDOW: frozenset[str] = frozenset({"smpp"})


#: Protocols whose connectors make HTTP requests with the gateway's shared client
#: (`ConnectorContext.http`); without one of them the gateway does not make it.
USES_HTTP: frozenset[str] = frozenset({"tobetext", "imsms", "apigw", "aicross"})


#: Protocols whose connector may run in a process of its own (``own_process``):
#: those that need neither the gateway's store (MMS files) nor its HTTP server
#: (provider callbacks).
OWN_PROCESS: frozenset[str] = frozenset({"smpp", "sandbox"})


class FileSource(Protocol):
    async def load(self, file_id: str) -> tuple[str, bytes]:
        """Name and content of a stored file (MMS attachments)."""
        ...


Endpoint = Callable[["Request"], Awaitable["Response"]]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorContext:
    """What the gateway lends a connector."""

    #: The shared HTTP client (connection pooling, timeouts).
    http: httpx.AsyncClient
    #: Reads MMS files from the store.
    files: FileSource
    #: Adds an HTTP route to the gateway's server (for provider callbacks).
    add_route: Callable[[str, Endpoint, Sequence[str]], None]
    #: This gateway's public base URL (for callback URLs given to providers).
    public_url: str
    clock: Clock


def build_connector(
    settings: ConnectorSettings, context: ConnectorContext
) -> Connector:
    """Build the connector a ``[[connectors]]`` table describes.

    Raises:
        ConfigError: unknown protocol, or options the protocol refuses.
    """
    try:
        module_name = PROTOCOLS[settings.protocol]
    except KeyError:
        raise ConfigError(
            f"{settings.at('protocol')}: unknown protocol {settings.protocol!r} "
            f"(known: {', '.join(sorted(PROTOCOLS))})"
        ) from None
    if settings.own_process and settings.protocol not in OWN_PROCESS:
        raise ConfigError(
            f"{settings.at('own_process')}: a {settings.protocol} connector "
            "cannot run in its own process (only "
            f"{', '.join(sorted(OWN_PROCESS))})"
        )
    module = importlib.import_module(module_name)
    try:
        connector: Connector = module.build(settings, context)
    except ConfigError as exc:
        raise ConfigError(_placed(settings, exc.message)) from None
    return connector


#: How the protocols' option errors name the option.
_OPTION = re.compile(r"option(?:\(s\))? \[?'([^']+)'")


def _placed(settings: ConnectorSettings, message: str) -> str:
    """A protocol's error about ``settings``, with the file and line of the option
    it names and without any secret value."""
    if settings.origin is None:
        return settings.redact(message)
    found = _OPTION.search(message)
    where = settings.origin.at(found.group(1) if found else None)
    return settings.redact(f"{where}: {message}")


def check_connectors(settings: Settings) -> list[str]:
    """Build every configured connector without starting it (no connection is
    made), so that a bad option stops ``serve`` or ``routes check`` before
    anything runs; the names of the connectors built.

    Raises:
        ConfigError: the first connector that cannot be built, with its line.
    """

    async def build_all() -> list[str]:
        async with contextlib.AsyncExitStack() as stack:
            http: httpx.AsyncClient = cast("httpx.AsyncClient", NoHttp())
            if any(cs.protocol in USES_HTTP for cs in settings.connectors):
                import httpx  # only then: see `USES_HTTP`

                http = await stack.enter_async_context(httpx.AsyncClient())
            context = ConnectorContext(
                http=http,
                files=NoFiles(),
                add_route=lambda _path, _endpoint, _methods: None,
                public_url=settings.server.public_url
                or f"http://{settings.server.host}:{settings.server.port}",
                clock=SystemClock(),
            )
            return [build_connector(cs, context).name for cs in settings.connectors]

    return asyncio.run(build_all())


class NoFiles:
    """A `FileSource` for connectors that load no file: while checking settings,
    and in a connector process (whose protocols need none)."""

    async def load(self, file_id: str) -> tuple[str, bytes]:
        raise LookupError(file_id)


class NoHttp:
    """Stands for the HTTP client where no protocol that makes HTTP requests runs
    (a connector process, `OWN_PROCESS`; a gateway without `USES_HTTP` connectors):
    any use of it is a bug, said at once."""

    def __getattr__(self, name: str) -> NoReturn:
        raise RuntimeError(
            f"no HTTP client here: no protocol configured makes HTTP requests (.{name})"
        )
