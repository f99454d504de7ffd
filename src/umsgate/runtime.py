"""How umsgate's server processes run: uvicorn's options and the garbage
collector's tuning, shared by the gateway process, its HTTP fronts and its connector
processes (which import nothing else of the gateway's)."""

from __future__ import annotations

import gc
from collections.abc import Mapping
from typing import Any

#: How every umsgate HTTP server runs (uvicorn's options besides where it listens):
#: the fast loop and parser, no access log (the faces log what matters), 30 s for
#: requests in flight at shutdown, and no headers a client did not send trusted.
SERVER_OPTIONS: Mapping[str, Any] = {
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
