"""The API-Gateway protocol (seed 002): umsgate's native API, and a connector to
another such gateway."""

from __future__ import annotations
