"""A connector's health, judged from its recent exchanges with the provider.

The connector is *up* until ``threshold`` exchanges in a row have failed for a
transport or server reason (a refused connection, a timeout, a 5xx); one success
brings it back. Business refusals (a bad number) are answers, not failures, and do
not count. Cheap and synchronous, as `Connector.health` must be.

It also counts the reports the connector refused to its provider (a callback
answered with an error: the provider sends it again, or gives up), shown in
``/healthz`` under ``reports.refused``.
"""

from __future__ import annotations

from umsgate.types import Health

#: Failures in a row after which a connector reports itself down.
DEFAULT_THRESHOLD = 3


class HealthMeter:
    """Counts consecutive failures and requests in flight."""

    def __init__(self, *, threshold: int = DEFAULT_THRESHOLD) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be ≥ 1, got {threshold}")
        self.threshold = threshold
        self.in_flight = 0
        self.consecutive_failures = 0
        self.last_failure = ""
        self.successes = 0
        self.failures = 0
        #: Reports refused to the provider since the start, and why the last was.
        self.refused = 0
        self.last_refusal = ""

    def succeeded(self) -> None:
        self.successes += 1
        self.consecutive_failures = 0

    def failed(self, detail: str) -> None:
        self.failures += 1
        self.consecutive_failures += 1
        self.last_failure = detail

    def refused_report(self, why: str) -> None:
        self.refused += 1
        self.last_refusal = why[:200]

    def health(self) -> Health:
        up = self.consecutive_failures < self.threshold
        if up and not self.consecutive_failures:
            detail = "ok"
        else:
            detail = (
                f"{self.consecutive_failures} failure(s) in a row; last: "
                f"{self.last_failure}"
            )
        return Health(
            up=up,
            detail=detail,
            in_flight=self.in_flight,
            refused=self.refused,
            last_refusal=self.last_refusal,
        )
