"""The sandbox carrier: an in-process connector for every channel.

It accepts every message at once and reports it ``delay`` seconds later with an
outcome drawn from the configured mix (unified codes; the rest is DELIVERED). The draw
depends only on (seed, message id, attempt), so a test run repeats exactly, and a
message whose report is pending when the gateway stops gets the same outcome when the
gateway resumes it. It is the default route when no provider is configured, so a
newcomer's gateway completes messages with no provider account.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Mapping, Sequence

from umsgate.config import ConnectorSettings, SandboxSettings
from umsgate.domain.message import Message
from umsgate.domain.results import ResultCode
from umsgate.errors import ConfigError
from umsgate.protocols.sandbox.mix import OutcomeMix
from umsgate.types import Health, Outcome, ProviderReport, ReportSink, SubmitResult

log = logging.getLogger("umsgate.protocols.sandbox.carrier")

#: Reports handed to the sink at once.
REPORT_BATCH = 1000
CARRIERS = ("SKT", "KTF", "LGT")


class SandboxCarrier:
    def __init__(self, settings: SandboxSettings, *, name: str = "sandbox") -> None:
        self.name = name
        self.delay = settings.delay
        for code in settings.mix:
            try:
                ResultCode(code)
            except ValueError:
                raise ConfigError(
                    f"sandbox.mix: {code!r} is not a unified result code "
                    f"(see docs/result-codes.md)"
                ) from None
        self.mix = OutcomeMix(
            dict(settings.mix), default=ResultCode.DELIVERED.value, seed=settings.seed
        )
        self._due: list[tuple[float, int, int, str]] = []
        self._sink: ReportSink | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.submitted = 0

    async def start(self, sink: ReportSink) -> None:
        self._sink = sink
        self._task = asyncio.create_task(
            self._report_loop(), name=f"{self.name}-reports"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def health(self) -> Health:
        return Health(up=True, in_flight=len(self._due))

    def outcome(self, message: Message) -> ResultCode:
        return ResultCode(self.mix.draw(f"{message.id}:{message.attempts}"))

    async def submit(self, messages: Sequence[Message]) -> Sequence[SubmitResult]:
        self._schedule(messages)
        self.submitted += len(messages)
        return [
            SubmitResult(
                message_id=m.id, outcome=Outcome.ACCEPTED, provider_msg_id=f"SB{m.id}"
            )
            for m in messages
        ]

    async def resume(self, messages: Sequence[Message]) -> None:
        self._schedule(messages)

    def _schedule(self, messages: Sequence[Message]) -> None:
        due = time.monotonic() + self.delay
        for m in messages:
            heapq.heappush(self._due, (due, m.id, m.attempts, self.outcome(m).value))
        self._wake.set()

    async def _report_loop(self) -> None:
        assert self._sink is not None
        while True:
            now = time.monotonic()
            batch: list[ProviderReport] = []
            while self._due and self._due[0][0] <= now and len(batch) < REPORT_BATCH:
                _, mid, _, code = heapq.heappop(self._due)
                batch.append(
                    ProviderReport(
                        connector=self.name,
                        message_id=mid,
                        code=ResultCode(code),
                        raw_code=code,
                        detail=ResultCode(code).description,
                        carrier=CARRIERS[mid % len(CARRIERS)],
                    )
                )
            if batch:
                try:
                    await self._sink.report_many(batch)
                except Exception:
                    log.exception(
                        "sandbox reports not recorded; trying again",
                        extra={"event": "sandbox_report_error"},
                    )
                    for r in batch:
                        assert r.message_id is not None
                        heapq.heappush(
                            self._due,
                            (time.monotonic() + 1.0, r.message_id, 0, r.code.value),
                        )
                    await asyncio.sleep(1.0)
                continue
            self._wake.clear()
            timeout = (self._due[0][0] - now) if self._due else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)


def build(settings: ConnectorSettings, context: object) -> SandboxCarrier:
    """A sandbox connector from a ``[[connectors]]`` table (``delay``, ``seed``,
    ``mix`` as in the ``[sandbox]`` section)."""
    opts = dict(settings.options)
    delay = opts.pop("delay", 0.5)
    seed = opts.pop("seed", 0)
    mix = opts.pop("mix", {})
    try:
        if not isinstance(delay, str | int | float):
            raise TypeError(f"delay {delay!r} is not a number")
        if not isinstance(seed, str | int | float):
            raise TypeError(f"seed {seed!r} is not a number")
        if not isinstance(mix, Mapping):
            raise TypeError("mix is a table of status to share")
        sandbox = SandboxSettings(
            delay=float(delay),
            seed=int(seed),
            mix={str(k): float(v) for k, v in mix.items()},
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"connector {settings.name!r}: {exc}") from None
    if opts:
        raise ConfigError(
            f"connector {settings.name!r}: unknown option(s) {sorted(opts)}"
        )
    return SandboxCarrier(sandbox, name=settings.name)
