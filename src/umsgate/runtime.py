"""How umsgate's server processes run: uvicorn's options, the garbage collector's
tuning, the deadlines and caps of their HTTP ports (`Limits`, enforced by the fronts'
`umsgate.front.listener` and by `umsgate.deadlines` for the ports uvicorn serves),
and the header a front names a passed-on request's client in (`PEER_HEADER`); shared
by the gateway process, its HTTP fronts and its connector processes (which import
nothing else of the gateway's but the settings)."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import dataclasses
import gc
import os
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from umsgate.config import ServerSettings


class ServerOptions(TypedDict):
    """Keyword arguments of `uvicorn.run` that `SERVER_OPTIONS` sets."""

    log_level: str
    access_log: bool
    loop: str
    #: A protocol's name, or its class (`umsgate.deadlines.guarded`).
    http: str | type[asyncio.Protocol]
    timeout_graceful_shutdown: int
    proxy_headers: bool
    server_header: bool


#: How every umsgate HTTP server runs (uvicorn's options besides where it listens):
#: the fast loop and parser, no access log (the faces log what matters), 30 s for
#: requests in flight at shutdown, and no headers a client did not send trusted.
SERVER_OPTIONS: ServerOptions = {
    "log_level": "warning",
    "access_log": False,
    "loop": "uvloop",
    "http": "httptools",
    "timeout_graceful_shutdown": 30,
    "proxy_headers": False,
    "server_header": False,
}

#: Objects allocated (net) between two young-generation collections of a server
#: process (CPython's default is 700). Every message allocates hundreds of short-lived
#: objects, and on `bench/e2e.py` the default made the gateway process collect over
#: 500 times for 20,000 messages, 0.2 s of its 7 s; few of them are cycles.
GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """For a server process, once it is set up: what was loaded so far (modules,
    settings, the application) is moved out of the collector's sight, and young
    collections run less often (`GC_YOUNG_THRESHOLD`)."""
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


#: Most malloc arenas of a server process (glibc's ``M_ARENA_MAX``). glibc gives
#: each thread that meets a busy arena one of its own, up to eight per core, and
#: keeps what they hold: the gateway process's SQLite threads (the committing writer,
#: the readers, the checkpoint) kept 13 MiB of its 124 MiB peak on `bench/e2e.py`
#: at 100,000 messages (``MALLOC_ARENA_MAX=1`` took them off, at 411 against 402 µs
#: of CPU per message: within one tree's spread from run to run).
MALLOC_ARENAS = 2
#: glibc's ``mallopt`` parameter number of ``M_ARENA_MAX``.
_M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas of this process at ``arenas`` (before it starts
    its threads); whether it could (False on a C library other than glibc, or when
    ``MALLOC_ARENA_MAX`` in the environment already says)."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas))


def tune_process() -> None:
    """What a server process does once it is set up and before it serves: its
    collector's settings (`tune_gc`) and its malloc arenas (`limit_malloc_arenas`)."""
    tune_gc()
    limit_malloc_arenas()


#: Largest request head (request line and headers). h11 and uvicorn's h11 server
#: stop at 16 KiB and answer 431 (RFC 6585 §5); no client of the APIs sends more
#: than a few hundred bytes of headers.
MAX_HEAD = 16 * 1024
#: How long a connection being closed discards what the client still sends, so that
#: the client reads our last answer before the close (Apache's lingering close
#: gives it 2 s).
LINGER = 2.0
#: A refused address is logged at most once in this many seconds.
REFUSAL_LOG_INTERVAL = 60.0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """A front's deadlines and caps (``[server]`` settings; docs/operations.md)."""

    #: A request's head must be complete this many seconds after its first byte
    #: (and a new connection's first request must begin within it).
    header_timeout: float
    #: A request's body must be complete this many seconds after its head.
    body_timeout: float
    #: A connection with no request for this many seconds after its last answer is
    #: closed.
    keepalive_timeout: float
    #: Connections one client address may hold to one front; more are closed at
    #: once.
    max_connections_per_client: int

    @classmethod
    def of(cls, server: ServerSettings) -> Limits:
        return cls(
            header_timeout=server.header_timeout,
            body_timeout=server.body_timeout,
            keepalive_timeout=server.keepalive_timeout,
            max_connections_per_client=server.max_connections_per_client,
        )


#: The client's address, which the front adds to a request it passes on (the
#: gateway sees only its Unix socket); one a client sent is dropped. The gateway
#: reads it only from requests that came over that socket.
PEER_HEADER = "x-umsgate-peer"
