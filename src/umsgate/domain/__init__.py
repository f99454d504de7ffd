"""Pure values and rules of the gateway: no I/O, no clock reads, no logging."""

from __future__ import annotations
