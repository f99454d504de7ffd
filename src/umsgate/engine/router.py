"""Which connectors may carry a message, in order of preference.

Routes are an ordered table (first match wins) of rules on channel, receiver prefix
(E.164 digits, e.g. ``+8210``) and client, each naming an ordered list of connectors;
with no route configured every message goes to the sandbox carrier. Among a route's
connectors the first that reports itself up is chosen, the others serve as failover.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from umsgate.config import RouteSettings
from umsgate.domain.message import Message
from umsgate.types import Connector

DEFAULT_ROUTE = RouteSettings(name="default", connectors=("sandbox",))


class Router:
    def __init__(
        self, routes: Sequence[RouteSettings], connectors: Mapping[str, Connector]
    ) -> None:
        self.routes = tuple(routes) or (DEFAULT_ROUTE,)
        self.connectors = connectors

    def route_for(self, message: Message) -> RouteSettings | None:
        for route in self.routes:
            if route.channels and message.channel.value not in route.channels:
                continue
            if route.clients and message.client_id not in route.clients:
                continue
            if route.prefixes and not any(
                message.receiver.startswith(p) for p in route.prefixes
            ):
                continue
            return route
        return None

    def pick(self, message: Message) -> Connector | None:
        """The connector for ``message``: the route's first one that is up, else its
        first one (which will answer RETRY while down); None when no route matches."""
        route = self.route_for(message)
        if route is None:
            return None
        candidates = [
            self.connectors[n] for n in route.connectors if n in self.connectors
        ]
        for connector in candidates:
            if connector.health().up:
                return connector
        return candidates[0] if candidates else None
