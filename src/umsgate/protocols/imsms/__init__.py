"""IMS SMS API v1.0: codec, connector and simulator (seed 001)."""

from __future__ import annotations
