"""Simulators and the sandbox carrier: real implementations of providers' behaviour
(outcome mix, delays, faults) for tests and for users' sandboxes."""

from __future__ import annotations
