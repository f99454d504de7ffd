"""Reports: what the client is told about each message's end, by webhook and by pull."""

from __future__ import annotations
