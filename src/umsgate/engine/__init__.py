"""The engine: accepting messages (group commit), dispatching them to connectors,
and recording every outcome and report as a lifecycle transition."""

from __future__ import annotations
