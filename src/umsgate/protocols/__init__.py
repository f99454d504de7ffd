"""Provider protocols: one package per protocol, each with its sans-I/O codec, its
session, its connector (umsgate as the provider's client) and its face or simulator
(umsgate as the provider's server).

`registry.build_connector` turns a ``[[connectors]]`` table into a `Connector`.
"""

from __future__ import annotations
