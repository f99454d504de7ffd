"""What the console's pages and the admin API show, as JSON-ready values: the
dashboard's figures, the connectors and routes live, the webhook backlog, clients,
and messages with their timelines. Pages and API call the same functions.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from typing import TypedDict

from umsgate import clients, targets
from umsgate.console.auth import ConsoleHost
from umsgate.domain import phone
from umsgate.domain.lifecycle import Status
from umsgate.domain.message import Channel
from umsgate.engine import breaker
from umsgate.errors import UmsgateError
from umsgate.store import console as console_store
from umsgate.store import lookup

#: The dashboard's window: the last hour, per minute.
WINDOW_MINUTES = 60
#: Given-up webhooks listed: those of the last day.
FAILED_WEBHOOK_WINDOW = 86400.0
#: Largest page of a message search.
MAX_PAGE = 200
STATUSES = tuple(s.value for s in Status)
CHANNELS = tuple(c.value for c in Channel)


class BadQuery(UmsgateError):
    """A search parameter is not acceptable."""


# -- dashboard ------------------------------------------------------------------------


class Totals(TypedDict):
    accepted: int
    delivered: int
    failed: int
    expired: int


class WebhookFigures(TypedDict):
    pending: int
    failing: int
    failed: int
    #: Seconds the oldest pending report has waited; None when none is pending.
    oldestPendingAge: float | None


class Stats(TypedDict):
    """The dashboard's figures. A series is a list of `WINDOW_MINUTES` counts, one
    a minute, keyed by channel (``accepted``) or ``channel/connector``."""

    now: float
    #: The start of each minute of the window, in epoch seconds.
    minutes: list[int]
    accepted: dict[str, list[int]]
    delivered: dict[str, list[int]]
    failed: dict[str, list[int]]
    expired: dict[str, list[int]]
    totals: Totals
    #: Connector → ``DELIVERED``/``FAILED``/``EXPIRED`` → count.
    byConnector: dict[str, dict[str, int]]
    deliveryRatio: float | None
    #: Status → messages in it.
    backlog: dict[str, int]
    webhooks: WebhookFigures


async def stats(gw: ConsoleHost, *, now: float | None = None) -> Stats:
    """The last hour per minute: accepted by channel; delivered and failed by
    channel and connector; the delivery ratio; the backlog by status; the webhook
    backlog."""
    t = time.time() if now is None else now
    last = math.floor(t / 60)
    first = last - WINDOW_MINUTES + 1
    since = first * 60.0
    figures = await console_store.dashboard(gw.db, since, t - FAILED_WEBHOOK_WINDOW)
    minutes = [first + i for i in range(WINDOW_MINUTES)]
    index = {m: i for i, m in enumerate(minutes)}
    accepted: dict[str, list[int]] = {}
    for a in figures.accepted:
        if a.minute in index:
            row = accepted.setdefault(a.channel, [0] * WINDOW_MINUTES)
            row[index[a.minute]] += a.count
    outcome: dict[str, dict[str, list[int]]] = {
        s: {} for s in ("DELIVERED", "FAILED", "EXPIRED")
    }
    by_connector: dict[str, dict[str, int]] = {}
    totals = {"DELIVERED": 0, "FAILED": 0, "EXPIRED": 0}
    for f in figures.finished:
        if f.minute not in index or f.status not in outcome:
            continue
        connector = f.connector or "-"
        key = f"{f.channel}/{connector}"
        row = outcome[f.status].setdefault(key, [0] * WINDOW_MINUTES)
        row[index[f.minute]] += f.count
        per = by_connector.setdefault(
            connector, {"DELIVERED": 0, "FAILED": 0, "EXPIRED": 0}
        )
        per[f.status] += f.count
        totals[f.status] += f.count
    ended = sum(totals.values())
    webhooks = figures.webhooks
    return {
        "now": t,
        "minutes": [m * 60 for m in minutes],
        "accepted": accepted,
        "delivered": outcome["DELIVERED"],
        "failed": outcome["FAILED"],
        "expired": outcome["EXPIRED"],
        "totals": {
            "accepted": sum(sum(v) for v in accepted.values()),
            "delivered": totals["DELIVERED"],
            "failed": totals["FAILED"],
            "expired": totals["EXPIRED"],
        },
        "byConnector": by_connector,
        "deliveryRatio": None if not ended else totals["DELIVERED"] / ended,
        "backlog": {b.status: b.count for b in figures.backlog},
        "webhooks": {
            "pending": sum(w.pending for w in webhooks.clients),
            "failing": sum(w.failing for w in webhooks.clients),
            "failed": sum(w.failed for w in webhooks.clients),
            "oldestPendingAge": (
                None
                if webhooks.oldest_pending is None
                else max(0.0, t - webhooks.oldest_pending)
            ),
        },
    }


# -- connectors and routes ----------------------------------------------------------


class ConnectorState(TypedDict):
    name: str
    protocol: str
    #: ``up``, ``down`` or ``degraded`` (up with its breaker not closed).
    state: str
    up: bool
    detail: str
    inFlight: int
    tps: float | None
    window: int | None
    queued: int
    refused: int
    lastRefusal: str
    #: The breaker's snapshot (`breaker.Snapshot.as_json`), if it has one.
    breaker: dict[str, object] | None


class RouteJson(TypedDict):
    name: str
    connectors: list[str]
    weights: list[int]
    channels: list[str]
    countries: list[str]
    prefixes: list[str]
    clients: list[str]


class Connectors(TypedDict):
    connectors: list[ConnectorState]
    routes: list[RouteJson]


def connectors(gw: ConsoleHost) -> Connectors:
    """Each connector's state now (up, why, breaker, in flight, TPS, queue) and
    the routes that use them."""
    breakers = gw.router.breakers()
    configured = {c.name: c for c in gw.settings.connectors}
    out: list[ConnectorState] = []
    for name, connector in gw.connectors.items():
        health = connector.health()
        snap = breakers.get(name)
        cs = configured.get(name)
        state = "up" if health.up else "down"
        if health.up and snap is not None and snap.state is not breaker.State.CLOSED:
            state = "degraded"
        out.append(
            {
                "name": name,
                "protocol": cs.protocol
                if cs
                else ("sandbox" if name == "sandbox" else "embedded"),
                "state": state,
                "up": health.up,
                "detail": health.detail,
                "inFlight": health.in_flight,
                "tps": cs.tps if cs else None,
                "window": cs.window if cs else None,
                "queued": gw.dispatcher.queued_for(name),
                "refused": health.refused,
                "lastRefusal": health.last_refusal,
                "breaker": None if snap is None else snap.as_json(),
            }
        )
    routes: list[RouteJson] = [
        {
            "name": r.name,
            "connectors": list(r.connectors),
            "weights": list(r.weights),
            "channels": list(r.channels),
            "countries": list(r.countries),
            "prefixes": list(r.prefixes),
            "clients": list(r.clients),
        }
        for r in gw.settings.routes
    ]
    return {"connectors": out, "routes": routes}


# -- webhooks -----------------------------------------------------------------------


class ClientWebhooksJson(TypedDict):
    clientId: str
    pending: int
    failing: int
    failed: int


class ReportJson(TypedDict):
    """A webhook report, as a message's timeline lists it."""

    id: int
    state: str
    attempts: int
    lastError: str
    createdAt: float
    nextAt: float


class TroubledReport(ReportJson):
    """A report pending with failures or given up, as the webhook page lists it."""

    clientId: str
    umsMsgId: str
    channel: str


class Webhooks(TypedDict):
    clients: list[ClientWebhooksJson]
    reports: list[TroubledReport]


async def webhooks(
    gw: ConsoleHost, *, client_id: str | None = None, now: float | None = None
) -> Webhooks:
    t = time.time() if now is None else now
    since = t - FAILED_WEBHOOK_WINDOW
    found = await console_store.webhooks(
        gw.db, failed_since=since, client_id=client_id or None
    )
    return {
        "clients": [
            {
                "clientId": c.client_id,
                "pending": c.pending,
                "failing": c.failing,
                "failed": c.failed,
            }
            for c in found.backlog.clients
        ],
        "reports": [
            {
                "id": r.id,
                "clientId": r.client_id,
                "umsMsgId": str(r.ums_msg_id),
                "channel": r.channel,
                "state": r.state,
                "attempts": r.attempts,
                "nextAt": r.next_at,
                "lastError": r.last_error,
                "createdAt": r.created_at,
            }
            for r in found.troubled
        ],
    }


async def resend_report(gw: ConsoleHost, report_id: int) -> bool:
    done = await console_store.resend_report(gw.db, report_id, time.time())
    if done:
        gw.notifier.wake()
    return done


# -- clients ------------------------------------------------------------------------


async def client_list(gw: ConsoleHost) -> list[clients.ClientJson]:
    return await clients.list_clients(gw.db)


TPS_KEYS = ("SMS", "MMS", "RCS", "KKO")
#: Latest time a search may name (epoch seconds, the year 2286): message ids hold
#: their creation time, and a later one is no id at all.
MAX_EPOCH = 9_999_999_999
#: Largest TPS an operator may set for one channel of a client.
MAX_TPS = 1_000_000


def check_tps(tps: object) -> dict[str, int]:
    """Raises:
    BadQuery: ``tps`` is not an object of channel → whole number 1..`MAX_TPS`.
    """
    if not isinstance(tps, Mapping):
        raise BadQuery(f"tps is an object of {', '.join(TPS_KEYS)} to a whole number")
    out = {}
    for key, value in tps.items():
        if key not in TPS_KEYS:
            raise BadQuery(f"TPS keys are {', '.join(TPS_KEYS)}, not {key!r}")
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadQuery(f"TPS of {key} must be a whole number")
        if not 1 <= value <= MAX_TPS:
            raise BadQuery(f"TPS of {key} must be 1..{MAX_TPS}")
        out[key] = value
    return out


async def check_report_url(gw: ConsoleHost, url: str) -> str:
    """A report URL an operator set, checked as ``umsgate client`` checks one: the
    outbound URL policy (`umsgate.targets`; http(s), a host, no private
    address unless ``webhook.allow_private_targets``)."""
    if not url:
        return url
    policy = targets.Policy(
        allow_private=gw.settings.webhook.allow_private_targets,
        resolver=targets.system_resolver,
    )
    try:
        await policy.check(url)
    except UmsgateError as exc:
        raise BadQuery(f"report URL {url!r}: {exc}") from None
    return url


async def add_client(
    gw: ConsoleHost, client_id: str, tps: Mapping[str, int], report_url: str
) -> clients.Credentials:
    """A new client, with the default TPS of the channels ``tps`` leaves out.

    Raises:
        BadQuery: the report URL is refused (see `check_report_url`).
        UmsgateError: the client id is taken or not acceptable.
    """
    report_url = await check_report_url(gw, report_url)
    return await clients.add_client(
        gw.db, client_id, tps={**clients.DEFAULT_TPS, **tps}, report_url=report_url
    )


# -- messages -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Search:
    """A message search across clients (the console's form, the API's query)."""

    client_id: str = ""
    src_msg_id: str = ""
    receiver: str = ""
    status: str = ""
    channel: str = ""
    since: float | None = None
    until: float | None = None
    before: int | None = None
    limit: int = 50

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Search:
        def text(name: str, most: int) -> str:
            value = params.get(name, "").strip()
            if len(value) > most or not value.isprintable():
                raise BadQuery(f"{name} is at most {most} printable characters")
            return value

        def number(name: str) -> float | None:
            value = params.get(name, "").strip()
            if not value:
                return None
            try:
                when = float(value)
            except ValueError:
                raise BadQuery(f"{name} is a time in epoch seconds") from None
            if not 0 <= when <= MAX_EPOCH:  # also NaN
                raise BadQuery(f"{name} is a time in epoch seconds, 0..{MAX_EPOCH}")
            return when

        status = text("status", 10).upper()
        if status and status not in STATUSES:
            raise BadQuery(f"status is one of {', '.join(STATUSES)}")
        channel = text("channel", 3).upper()
        if channel and channel not in CHANNELS:
            raise BadQuery(f"channel is one of {', '.join(CHANNELS)}")
        before = text("before", 20)
        if before and not before.isdigit():
            raise BadQuery("before is a umsMsgId")
        limit_text = text("limit", 4) or "50"
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
            raise BadQuery(f"limit is 1..{MAX_PAGE}")
        receiver = text("receiver", 20)
        if receiver:
            # Stored in E.164; a national number (Korean by default) is converted.
            try:
                receiver = phone.receiver(receiver)
            except phone.InvalidNumber:
                raise BadQuery(f"{receiver!r} is not a receiver number") from None
        return cls(
            client_id=text("clientId", 64),
            src_msg_id=text("srcMsgId", 40),
            receiver=receiver,
            status=status,
            channel=channel,
            since=number("since"),
            until=number("until"),
            before=int(before) if before else None,
            limit=int(limit_text),
        )


class MessageJson(TypedDict):
    umsMsgId: str
    clientId: str
    srcMsgId: str
    #: ``message``, or ``fallback`` for one made from ``parentId``.
    kind: str
    parentId: str | None
    channel: str
    status: str
    sender: str
    receiver: str
    connector: str | None
    providerMsgId: str | None
    attempts: int
    segments: int
    resultCode: str | None
    rawCode: str | None
    resultMessage: str | None
    createdAt: float
    sentAt: float | None
    doneAt: float | None


def message_json(m: lookup.MessageView) -> MessageJson:
    return {
        "umsMsgId": str(m.id),
        "clientId": m.client_id,
        "srcMsgId": m.src_msg_id,
        "kind": "fallback" if m.is_fallback else "message",
        "parentId": None if m.fallback_of is None else str(m.fallback_of),
        "channel": m.channel,
        "status": m.status,
        "sender": m.sender,
        "receiver": m.receiver,
        "connector": m.connector,
        "providerMsgId": m.provider_msg_id,
        "attempts": m.attempts,
        "segments": m.segments,
        "resultCode": m.result_code,
        "rawCode": m.raw_code,
        "resultMessage": m.result_message,
        "createdAt": m.created_at,
        "sentAt": m.sent_at,
        "doneAt": m.done_at,
    }


class MessagePage(TypedDict):
    messages: list[MessageJson]
    #: The ``before`` of the next page; None on the last one.
    next: str | None


async def search_messages(gw: ConsoleHost, search: Search) -> MessagePage:
    """One page of the search, newest first, with the cursor of the next one."""
    page = await lookup.search(
        gw.db,
        lookup.Search(
            client_id=search.client_id or None,
            src_msg_id=search.src_msg_id or None,
            receiver=search.receiver or None,
            status=search.status or None,
            channel=search.channel or None,
            since=search.since,
            until=search.until,
            before=search.before,
            limit=search.limit,
        ),
    )
    rows = page.messages
    return {
        "messages": [message_json(r) for r in rows],
        "next": str(rows[-1].id) if page.next_cursor is not None else None,
    }


class EventJson(TypedDict):
    at: float
    status: str
    code: str | None
    detail: str


class MessageStory(MessageJson):
    """A message with the ids of its fallbacks, its events and its reports."""

    fallbacks: list[str]
    events: list[EventJson]
    reports: list[ReportJson]


async def message_timeline(gw: ConsoleHost, message_id: int) -> MessageStory | None:
    """A message with its events in order and its webhook reports; None if no
    such message."""
    found = await console_store.story(gw.db, message_id)
    if found is None:
        return None
    return {
        **message_json(found.message),
        "fallbacks": [str(f) for f in found.fallbacks],
        "events": [
            {"at": e.at, "status": e.status, "code": e.code, "detail": e.detail}
            for e in found.events
        ],
        "reports": [
            {
                "id": r.id,
                "state": r.state,
                "attempts": r.attempts,
                "lastError": r.last_error,
                "createdAt": r.created_at,
                "nextAt": r.next_at,
            }
            for r in found.reports
        ],
    }
