"""Simulators composed from the gateway itself (`apigw`: umsgate's own native face in
front of its sandbox). They build the application, so they sit above it; the
sandbox carrier and the outcome mix the simulators draw from are
`umsgate.protocols.sandbox`."""

from __future__ import annotations
