"""Message lookup in the native API: ``GET /v1/messages/{umsMsgId}`` (a message with
its timeline) and ``GET /v1/messages`` (a search, a page at a time).

A client sees its own messages only: another client's id is answered as one that
does not exist (404, ``40400``). Refusals are the API's own JSON
(``resultCode``/``resultMessage``); see ``docs/api.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypedDict

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from umsgate.domain import phone
from umsgate.domain.lifecycle import Status
from umsgate.domain.message import Channel
from umsgate.domain.results import Invalid
from umsgate.errors import ValidationError
from umsgate.ports import NativeHost
from umsgate.protocols.apigw import codec
from umsgate.protocols.apigw.codes import Code
from umsgate.protocols.apigw.face import (
    JSON,
    MAX_STORED_ID,
    answer,
    authenticate,
    invalid,
)
from umsgate.store import lookup

#: The query parameters of the search, and the longest value of each (a receiver
#: as the sends take it; srcMsgId as the store keeps it).
SEARCH_PARAMS = {
    "srcMsgId": 40,
    "receiver": 20,
    "status": 10,
    "channel": 3,
    "from": 40,
    "to": 40,
    "limit": 5,
    "cursor": 64,
}


def _time(epoch: float | None) -> str | None:
    return None if epoch is None else codec.iso_time(epoch)


class MessageJson(TypedDict):
    """A message as the API shows it; times ISO 8601 (`codec.iso_time`)."""

    umsMsgId: str
    srcMsgId: str
    channel: str
    status: str
    callback: str
    receiver: str
    resultCode: str | None
    rawCode: str | None
    resultMessage: str | None
    connector: str | None
    providerMsgId: str | None
    carrier: str
    attempts: int
    segments: int
    createdAt: str | None
    sentAt: str | None
    doneAt: str | None
    expiresAt: str | None
    fallbackOf: str | None
    fallbackTo: str | None


class WebhookJson(TypedDict):
    state: str
    attempts: int
    lastError: str


class EventJson(TypedDict):
    at: str
    type: Literal["webhook", "status"]
    status: str | None
    code: str | None
    detail: str


class DetailJson(MessageJson):
    """A message with its timeline and its report's push."""

    webhook: WebhookJson | None
    events: list[EventJson]


def message_json(view: lookup.MessageView) -> MessageJson:
    """A message as the API shows it."""
    return {
        "umsMsgId": str(view.id),
        "srcMsgId": view.src_msg_id,
        "channel": view.channel,
        "status": view.status,
        "callback": view.sender,
        "receiver": view.receiver,
        "resultCode": view.result_code,
        "rawCode": view.raw_code,
        "resultMessage": view.result_message,
        "connector": view.connector,
        "providerMsgId": view.provider_msg_id,
        "carrier": view.carrier,
        "attempts": view.attempts,
        "segments": view.segments,
        "createdAt": _time(view.created_at),
        "sentAt": _time(view.sent_at),
        "doneAt": _time(view.done_at),
        "expiresAt": _time(view.expires_at),
        "fallbackOf": None if view.fallback_of is None else str(view.fallback_of),
        "fallbackTo": None if view.fallback_to is None else str(view.fallback_to),
    }


def detail_json(detail: lookup.MessageDetail) -> DetailJson:
    webhook = detail.webhook
    return {
        **message_json(detail.message),
        "webhook": None
        if webhook is None
        else {
            "state": webhook.state,
            "attempts": webhook.attempts,
            "lastError": webhook.last_error,
        },
        "events": [
            {
                "at": codec.iso_time(e.at),
                "type": "webhook" if e.is_webhook else "status",
                "status": None if e.is_webhook else e.status,
                "code": e.code,
                "detail": e.detail,
            }
            for e in detail.events
        ],
    }


def _gateway(request: Request) -> NativeHost:
    gateway: NativeHost = request.app.state.gateway
    return gateway


async def show(request: Request) -> Response:
    client = await authenticate(request)
    if isinstance(client, JSON):
        return client
    raw = request.path_params["ums_msg_id"]
    not_found = answer(Code.NOT_FOUND, f"no message {raw!r}")
    # Ids are opaque (resolution 36): one that cannot be a stored id matches nothing.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19):
        return not_found
    message_id = int(raw)
    if message_id > MAX_STORED_ID:
        return not_found
    detail = await lookup.message(_gateway(request).db, message_id, client_id=client.id)
    if detail is None:
        return not_found
    return JSON(detail_json(detail))


def parse_search(params: Mapping[str, str], client_id: str) -> lookup.Search:
    """The search a query string asks for.

    Raises:
        ValidationError: an unknown parameter or a value out of its range, naming it.
    """
    for name in params:
        if name not in SEARCH_PARAMS:
            raise ValidationError(
                Invalid.NOT_ALLOWED,
                f"unknown parameter {name!r} (known: {', '.join(SEARCH_PARAMS)})",
            )
    values: dict[str, str] = {}
    for name, longest in SEARCH_PARAMS.items():
        value = params.get(name)
        if value is None or value == "":
            continue
        if len(value) > longest:
            raise ValidationError(
                Invalid.TOO_LONG, f"{name} is longer than {longest} characters"
            )
        values[name] = value
    limit = lookup.DEFAULT_LIMIT
    if "limit" in values:
        text = values["limit"]
        if not text.isascii() or not text.isdigit():
            raise ValidationError(
                Invalid.MALFORMED, f"limit must be a number, not {text!r}"
            )
        limit = int(text)
        if not 1 <= limit <= lookup.MAX_LIMIT:
            raise ValidationError(
                Invalid.NOT_ALLOWED,
                f"limit is 1..{lookup.MAX_LIMIT}, not {limit}",
            )
    receiver = None
    if "receiver" in values:
        try:
            receiver = phone.receiver(values["receiver"])
        except phone.InvalidNumber:
            raise ValidationError(
                Invalid.BAD_RECEIVER,
                f"receiver {values['receiver']!r} is not a valid number",
            ) from None
    status = values.get("status")
    if status is not None and status not in Status.__members__:
        raise ValidationError(
            Invalid.NOT_ALLOWED,
            f"status is one of {', '.join(Status)}, not {status!r}",
        )
    channel = values.get("channel")
    if channel is not None and channel not in Channel.__members__:
        raise ValidationError(
            Invalid.NOT_ALLOWED,
            f"channel is one of {', '.join(Channel)}, not {channel!r}",
        )
    since = codec.parse_time(values.get("from"), "from")
    until = codec.parse_time(values.get("to"), "to")
    cursor = values.get("cursor")
    if cursor is not None:
        try:
            lookup.decode_cursor(cursor)
        except lookup.BadCursor as exc:
            raise ValidationError(Invalid.MALFORMED, f"cursor: {exc}") from None
    return lookup.Search(
        client_id=client_id,
        src_msg_id=values.get("srcMsgId"),
        receiver=receiver,
        status=status,
        channel=channel,
        since=since,
        until=until,
        limit=limit,
        after=cursor,
    )


async def search(request: Request) -> Response:
    client = await authenticate(request)
    if isinstance(client, JSON):
        return client
    try:
        query = parse_search(request.query_params, client.id)
    except ValidationError as exc:
        return invalid(exc)
    page = await lookup.search(_gateway(request).db, query)
    return JSON(
        {
            "messages": [message_json(m) for m in page.messages],
            "nextCursor": page.next_cursor,
        }
    )


routes = [
    Route("/v1/messages", search, methods=["GET"]),
    Route("/v1/messages/{ums_msg_id}", show, methods=["GET"]),
]
