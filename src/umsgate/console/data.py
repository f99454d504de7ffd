"""What the console's pages and the admin API show, as JSON-ready values: the
dashboard's figures, the connectors and routes live, the webhook backlog, clients,
and messages with their timelines. Pages and API call the same functions.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from typing import Any

from umsgate import clients, targets
from umsgate.console.auth import ConsoleHost
from umsgate.domain import phone
from umsgate.domain.lifecycle import Status
from umsgate.domain.message import Channel
from umsgate.engine import breaker
from umsgate.errors import UmsgateError
from umsgate.store import console as console_queries
from umsgate.store import messages as message_store

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


async def stats(gw: ConsoleHost, *, now: float | None = None) -> dict[str, Any]:
    """The last hour per minute: accepted by channel; delivered and failed by
    channel and connector; the delivery ratio; the backlog by status; the webhook
    backlog."""
    t = time.time() if now is None else now
    last = math.floor(t / 60)
    first = last - WINDOW_MINUTES + 1
    since = first * 60.0
    async with gw.db.read() as conn:
        accepted_rows = await console_queries.accepted_per_minute(conn, since)
        final_rows = await console_queries.finals_per_minute(conn, since)
        backlog = await console_queries.backlog_by_status(conn)
        webhooks = await console_queries.webhook_backlog(
            conn, t - FAILED_WEBHOOK_WINDOW
        )
    minutes = [first + i for i in range(WINDOW_MINUTES)]
    index = {m: i for i, m in enumerate(minutes)}
    accepted: dict[str, list[int]] = {}
    for minute, channel, n in accepted_rows:
        if minute in index:
            accepted.setdefault(channel, [0] * WINDOW_MINUTES)[index[minute]] += n
    outcome: dict[str, dict[str, list[int]]] = {
        s: {} for s in ("DELIVERED", "FAILED", "EXPIRED")
    }
    by_connector: dict[str, dict[str, int]] = {}
    totals = {"DELIVERED": 0, "FAILED": 0, "EXPIRED": 0}
    for minute, status, channel, connector, n in final_rows:
        if minute not in index or status not in outcome:
            continue
        key = f"{channel}/{connector or '-'}"
        outcome[status].setdefault(key, [0] * WINDOW_MINUTES)[index[minute]] += n
        per = by_connector.setdefault(
            connector or "-", {"DELIVERED": 0, "FAILED": 0, "EXPIRED": 0}
        )
        per[status] += n
        totals[status] += n
    ended = sum(totals.values())
    pending = sum(w["pending"] for w in webhooks["clients"].values())
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
        "backlog": backlog,
        "webhooks": {
            "pending": pending,
            "failing": sum(w["failing"] for w in webhooks["clients"].values()),
            "failed": sum(w["failed"] for w in webhooks["clients"].values()),
            "oldestPendingAge": (
                None
                if webhooks["oldest_pending"] is None
                else max(0.0, t - webhooks["oldest_pending"])
            ),
        },
    }


# -- connectors and routes ----------------------------------------------------------


def connectors(gw: ConsoleHost) -> dict[str, Any]:
    """Each connector's state now (up, why, breaker, in flight, TPS, queue) and
    the routes that use them."""
    breakers = gw.router.breakers()
    configured = {c.name: c for c in gw.settings.connectors}
    out = []
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
    routes = [
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


async def webhooks(
    gw: ConsoleHost, *, client_id: str | None = None, now: float | None = None
) -> dict[str, Any]:
    t = time.time() if now is None else now
    since = t - FAILED_WEBHOOK_WINDOW
    async with gw.db.read() as conn:
        backlog = await console_queries.webhook_backlog(conn, since)
        rows = await console_queries.troubled_reports(
            conn, failed_since=since, client_id=client_id or None
        )
    return {
        "clients": [
            {"clientId": cid, **counts}
            for cid, counts in sorted(backlog["clients"].items())
        ],
        "reports": [
            {
                "id": int(r.id),
                "clientId": r.client_id,
                "umsMsgId": str(r.ums_msg_id),
                "channel": r.channel,
                "state": r.webhook_state,
                "attempts": int(r.attempts),
                "nextAt": float(r.next_at),
                "lastError": r.last_error,
                "createdAt": float(r.created_at),
            }
            for r in rows
        ],
    }


async def resend_report(gw: ConsoleHost, report_id: int) -> bool:
    async with gw.db.transaction() as conn:
        done = await console_queries.resend_report(conn, report_id, time.time())
    if done:
        gw.notifier.wake()
    return done


# -- clients ------------------------------------------------------------------------


async def client_list(gw: ConsoleHost) -> list[dict[str, Any]]:
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


def message_json(row: Any) -> dict[str, Any]:
    return {
        "umsMsgId": str(row.id),
        "clientId": row.client_id,
        "srcMsgId": row.src_msg_id,
        "kind": "fallback" if row.kind else "message",
        "parentId": None if row.parent_id is None else str(row.parent_id),
        "channel": row.channel,
        "status": row.status,
        "sender": row.sender,
        "receiver": row.receiver,
        "connector": row.connector,
        "providerMsgId": row.provider_msg_id,
        "attempts": int(row.attempts),
        "segments": int(row.segments),
        "resultCode": row.result_code,
        "rawCode": row.raw_code,
        "resultMessage": row.result_message,
        "createdAt": float(row.created_at),
        "sentAt": None if row.sent_at is None else float(row.sent_at),
        "doneAt": None if row.done_at is None else float(row.done_at),
    }


async def search_messages(gw: ConsoleHost, search: Search) -> dict[str, Any]:
    """One page of the search, newest first, with the cursor of the next one."""
    async with gw.db.read() as conn:
        rows = await console_queries.search_messages(
            conn,
            client_id=search.client_id or None,
            src_msg_id=search.src_msg_id or None,
            receiver=search.receiver or None,
            status=search.status or None,
            channel=search.channel or None,
            since=search.since,
            until=search.until,
            before_id=search.before,
            limit=search.limit + 1,
        )
    more = len(rows) > search.limit
    rows = rows[: search.limit]
    return {
        "messages": [message_json(r) for r in rows],
        "next": str(rows[-1].id) if more and rows else None,
    }


async def message_timeline(gw: ConsoleHost, message_id: int) -> dict[str, Any] | None:
    """A message with its events in order and its webhook reports; None if no
    such message."""
    async with gw.db.read() as conn:
        row = await console_queries.get_message(conn, message_id)
        if row is None:
            return None
        events = await message_store.message_events(conn, message_id)
        reports = await console_queries.message_reports(
            conn, row.client_id, message_id if not row.kind else int(row.parent_id)
        )
        fallbacks = await console_queries.fallbacks_of(conn, message_id)
    return {
        **message_json(row),
        "fallbacks": [str(f) for f in fallbacks],
        "events": [
            {
                "at": float(e.at),
                "status": e.status,
                "code": e.code,
                "detail": e.detail,
            }
            for e in events
        ],
        "reports": [
            {
                "id": int(r.id),
                "state": r.webhook_state,
                "attempts": int(r.attempts),
                "lastError": r.last_error,
                "createdAt": float(r.created_at),
                "nextAt": float(r.next_at),
            }
            for r in reports
        ],
    }
