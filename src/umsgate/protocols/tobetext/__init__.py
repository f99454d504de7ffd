"""ToBeText Outbound SMS: codec, connector and simulator (seed 000)."""

from __future__ import annotations
