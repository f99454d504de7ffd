"""The gateway process's fronts: started after the gateway, started again when one
dies, stopped before the gateway stops (so their last sends are still committed)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Sequence

log = logging.getLogger("umsgate.front")

#: A front that ran this long before it died is started again at once.
STEADY = 60.0
#: Longest wait before starting a front that keeps dying.
MAX_BACKOFF = 30.0


class Fronts:
    def __init__(
        self, count: int, command: Sequence[str], *, stop_timeout: float = 35.0
    ):
        """Args:
        count: how many fronts to run.
        command: the argv of one front.
        stop_timeout: how long a front may take to finish its requests on stop.
        """
        self._count = count
        self._command = list(command)
        self._stop_timeout = stop_timeout
        self._procs: dict[int, asyncio.subprocess.Process] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        #: Fronts started again after they died (for /healthz and tests).
        self.restarts = 0

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs.values() if p.returncode is None]

    def start(self) -> None:
        for index in range(self._count):
            self._tasks.append(
                asyncio.create_task(self._keep(index), name=f"front-{index}")
            )

    async def _keep(self, index: int) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            started = time.monotonic()
            # A session of its own: a terminal's Ctrl-C reaches this process only,
            # which stops the fronts in order (they would exit first otherwise, and
            # be started again).
            try:
                proc = await asyncio.create_subprocess_exec(
                    *self._command, start_new_session=True
                )
            except OSError as exc:
                backoff = min(MAX_BACKOFF, max(1.0, backoff * 2))
                log.error(
                    "front %d cannot be started (%s); trying again in %.0f s",
                    index,
                    exc,
                    backoff,
                    extra={"event": "front_died"},
                )
                await asyncio.sleep(backoff)
                continue
            self._procs[index] = proc
            if self._stopping.is_set():  # stop() came while it was starting
                proc.send_signal(signal.SIGTERM)
            code = await proc.wait()
            if self._stopping.is_set():
                return
            ran = time.monotonic() - started
            backoff = 0.0 if ran >= STEADY else min(MAX_BACKOFF, max(1.0, backoff * 2))
            log.error(
                "front %d (pid %d) exited with %s after %.1f s; starting it again%s",
                index,
                proc.pid,
                code,
                ran,
                f" in {backoff:.0f} s" if backoff else "",
                extra={"event": "front_died"},
            )
            self.restarts += 1
            await asyncio.sleep(backoff)

    async def stop(self) -> None:
        """SIGTERM every front, wait for them to finish, SIGKILL what is left."""
        self._stopping.set()
        for proc in self._procs.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        waits = [p.wait() for p in self._procs.values()]
        if waits:
            done = asyncio.gather(*waits)
            try:
                await asyncio.wait_for(done, self._stop_timeout)
            except TimeoutError:
                for proc in self._procs.values():
                    if proc.returncode is None:
                        with contextlib.suppress(ProcessLookupError):
                            proc.kill()
                await asyncio.gather(*(p.wait() for p in self._procs.values()))
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)
