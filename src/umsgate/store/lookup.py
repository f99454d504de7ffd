"""Looking messages up: one message with its timeline, and searches with keyset
pages, for the native API (one client's messages), the command line and operators
(any client's).

Every query here is served by an index, whatever the size of the store:

* one message: the primary key; its timeline: ``events(message_id)``; its report:
  ``reports(client_id, ums_msg_id)``; the message made as its fallback:
  ``messages(parent_id)``;
* a search of one client: ``messages(client_id, id)``, or with a receiver
  ``messages(client_id, receiver, id)``, or with a ``srcMsgId`` the unique key
  ``(client_id, src_msg_id, kind)``;
* a search across clients: the primary key in id order; with a receiver or a
  ``srcMsgId``, the same indexes probed once per client (the clients table is
  small: ``client_id IN (SELECT id FROM clients)``).

Pages are in id order, newest first. Message ids are time-ordered
(`umsgate.domain.ids`), so a time range is a range of ids and the page's key is the id
alone: a cursor is the last id of a page, and the next page is the ids below it. A
message accepted while someone pages appears on no page already read, and none is read
twice or skipped.

Filters the indexes do not lead with (status, channel) are checked on the rows the
index yields; a page ends when it holds ``limit`` rows.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses

from sqlalchemy import ColumnElement, RowMapping, Select, and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from umsgate.domain import ids
from umsgate.errors import UmsgateError
from umsgate.store.database import Database
from umsgate.store.tables import clients, events, messages, reports

#: Page size when none is asked for, and the largest one served.
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
#: The ``status`` of the events that record a webhook try (the others are message
#: statuses, `umsgate.domain.lifecycle.Status`).
WEBHOOK = "WEBHOOK"
_CURSOR_PREFIX = "m1."


class BadCursor(UmsgateError):
    """The cursor is not one this gateway gave out."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EventView:
    """One step of a message's timeline."""

    id: int
    #: Epoch seconds.
    at: float
    #: A message status (a transition), or `WEBHOOK` (a try at pushing its report).
    status: str
    #: The unified result code the step carries, if any.
    code: str | None
    #: What happened, in words: the attempt and connector, the provider's answer
    #: with its raw code, a webhook's HTTP answer.
    detail: str

    @property
    def is_webhook(self) -> bool:
        return self.status == WEBHOOK


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookView:
    """Where the push of a message's report stands."""

    #: pending, done, failed, or none (no report URL: only the report check has it).
    state: str
    attempts: int
    last_error: str
    #: The report's face ("" for the native API).
    face: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MessageView:
    """A message as an operator or its client sees it (no content)."""

    id: int
    client_id: str
    src_msg_id: str
    channel: str
    status: str
    sender: str
    receiver: str
    #: Unified result code, the provider's own code, and the words of the result.
    result_code: str | None
    raw_code: str | None
    result_message: str | None
    connector: str | None
    provider_msg_id: str | None
    carrier: str
    attempts: int
    segments: int
    #: Epoch seconds.
    created_at: float
    expires_at: float
    sent_at: float | None
    done_at: float | None
    #: The message this one is the fallback of, and the fallback made from this one.
    fallback_of: int | None
    fallback_to: int | None = None
    #: Whether this is the fallback made from another message (its ``kind``).
    is_fallback: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MessageDetail:
    """A message with its whole timeline and its report's push."""

    message: MessageView
    events: tuple[EventView, ...]
    webhook: WebhookView | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Search:
    """What to look for; every field given must match.

    Args:
        client_id: one client's messages; None: every client's (operators).
        receiver: E.164, as the store keeps it (normalise first).
        since, until: epoch seconds; ``since`` inclusive, ``until`` exclusive.
        after: the cursor of the previous page.
        before: messages older than this id only (the console's own cursor).
    """

    client_id: str | None = None
    src_msg_id: str | None = None
    receiver: str | None = None
    status: str | None = None
    channel: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = DEFAULT_LIMIT
    after: str | None = None
    before: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit is 1..{MAX_LIMIT}, not {self.limit}")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    messages: tuple[MessageView, ...]
    #: The cursor of the next page; None when this one is the last.
    next_cursor: str | None


def encode_cursor(message_id: int) -> str:
    raw = f"{message_id}".encode()
    return _CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor stands for.

    Raises:
        BadCursor: not a cursor of `encode_cursor`.
    """
    if not cursor.startswith(_CURSOR_PREFIX) or len(cursor) > 64:
        raise BadCursor("the cursor is not one this gateway gave out")
    body = cursor[len(_CURSOR_PREFIX) :]
    try:
        text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("the cursor is not one this gateway gave out") from None
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise BadCursor("the cursor is not one this gateway gave out")
    return int(text)


def id_floor(epoch: float) -> int:
    """The smallest message id made at or after ``epoch`` (seconds)."""
    ms = max(0, int(epoch * 1000) - ids.EPOCH_MS)
    return ids.OFFSET + (ms << (ids.SLOT_BITS + ids.SEQ_BITS))


VIEW_COLUMNS = (
    messages.c.id,
    messages.c.client_id,
    messages.c.src_msg_id,
    messages.c.channel,
    messages.c.status,
    messages.c.sender,
    messages.c.receiver,
    messages.c.result_code,
    messages.c.raw_code,
    messages.c.result_message,
    messages.c.connector,
    messages.c.provider_msg_id,
    messages.c.carrier,
    messages.c.attempts,
    messages.c.segments,
    messages.c.created_at,
    messages.c.expires_at,
    messages.c.sent_at,
    messages.c.done_at,
    messages.c.parent_id,
    messages.c.kind,
)


def view(row: RowMapping, fallback_to: int | None = None) -> MessageView:
    """The view of a row of `VIEW_COLUMNS`."""
    return MessageView(
        id=int(row["id"]),
        client_id=row["client_id"],
        src_msg_id=row["src_msg_id"],
        channel=row["channel"],
        status=row["status"],
        sender=row["sender"],
        receiver=row["receiver"],
        result_code=row["result_code"],
        raw_code=row["raw_code"],
        result_message=row["result_message"],
        connector=row["connector"],
        provider_msg_id=row["provider_msg_id"],
        carrier=row["carrier"],
        attempts=int(row["attempts"]),
        segments=int(row["segments"]),
        created_at=float(row["created_at"]),
        expires_at=float(row["expires_at"]),
        sent_at=None if row["sent_at"] is None else float(row["sent_at"]),
        done_at=None if row["done_at"] is None else float(row["done_at"]),
        fallback_of=None if row["parent_id"] is None else int(row["parent_id"]),
        fallback_to=fallback_to,
        is_fallback=bool(row["kind"]),
    )


async def timeline(conn: AsyncConnection, message_id: int) -> tuple[EventView, ...]:
    """The events of a message, in order (the ``events(message_id)`` index)."""
    columns = (
        events.c.id,
        events.c.at,
        events.c.status,
        events.c.code,
        events.c.detail,
    )
    stmt = select(*columns).where(events.c.message_id == message_id)
    result = await conn.execute(stmt.order_by(events.c.id))
    return tuple(
        EventView(id=int(i), at=float(at), status=status, code=code, detail=detail)
        for i, at, status, code, detail in result.all()
    )


async def message(
    db: Database, message_id: int, *, client_id: str | None = None
) -> MessageDetail | None:
    """One message with its timeline; None when there is none with this id, or it
    is not ``client_id``'s (when given)."""
    async with db.read() as conn:
        return await _message(conn, message_id, client_id)


async def _message(
    conn: AsyncConnection, message_id: int, client_id: str | None
) -> MessageDetail | None:
    cond: ColumnElement[bool] = messages.c.id == message_id
    if client_id is not None:
        cond = and_(cond, messages.c.client_id == client_id)
    row = (await conn.execute(select(*VIEW_COLUMNS).where(cond))).mappings().first()
    if row is None:
        return None
    child = (
        await conn.execute(
            select(messages.c.id)
            .where(messages.c.parent_id == message_id)
            .order_by(messages.c.id)
            .limit(1)
        )
    ).scalar()
    steps = await timeline(conn, message_id)
    # A fallback's report carries its parent's umsMsgId; the index leads with it.
    known_as = [message_id] + ([int(row["parent_id"])] if row["parent_id"] else [])
    report = (
        (
            await conn.execute(
                select(
                    reports.c.webhook_state,
                    reports.c.attempts,
                    reports.c.last_error,
                    reports.c.face,
                )
                .where(
                    reports.c.client_id == row["client_id"],
                    reports.c.ums_msg_id.in_(known_as),
                    reports.c.message_id == message_id,
                )
                .order_by(reports.c.id.desc())
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    return MessageDetail(
        message=view(row, None if child is None else int(child)),
        events=steps,
        webhook=None
        if report is None
        else WebhookView(
            state=report["webhook_state"],
            attempts=int(report["attempts"]),
            last_error=report["last_error"],
            face=report["face"],
        ),
    )


def search_statement(query: Search) -> Select[tuple[object, ...]]:
    """The statement of `search` (one row more than a page: whether more follow)."""
    conds: list[ColumnElement[bool]] = []
    if query.client_id is not None:
        conds.append(messages.c.client_id == query.client_id)
    elif query.receiver is not None or query.src_msg_id is not None:
        # Probe the client-led indexes once per client rather than scan them all.
        conds.append(messages.c.client_id.in_(select(clients.c.id).scalar_subquery()))
    if query.src_msg_id is not None:
        conds.append(messages.c.src_msg_id == query.src_msg_id)
    if query.receiver is not None:
        conds.append(messages.c.receiver == query.receiver)
    if query.status is not None:
        conds.append(messages.c.status == query.status)
    if query.channel is not None:
        conds.append(messages.c.channel == query.channel)
    if query.since is not None:
        conds.append(messages.c.id >= id_floor(query.since))
    if query.until is not None:
        conds.append(messages.c.id < id_floor(query.until))
    if query.after is not None:
        conds.append(messages.c.id < decode_cursor(query.after))
    if query.before is not None:
        conds.append(messages.c.id < query.before)
    order: ColumnElement[int] = messages.c.id
    if query.src_msg_id is not None:
        # At most two rows (a message and its fallback): SQLite, left to itself,
        # would walk the client's id index to skip this sort instead of using the
        # unique key; an expression is no index's order.
        order = messages.c.id + 0
    return (
        select(*VIEW_COLUMNS)
        .where(*conds)
        .order_by(order.desc())
        .limit(query.limit + 1)
    )


async def search(db: Database, query: Search) -> Page:
    """One page of the messages that match ``query``, newest first.

    Raises:
        BadCursor: ``query.after`` is not a cursor of this gateway.
    """
    statement = search_statement(query)
    async with db.read() as conn:
        rows = (await conn.execute(statement)).mappings().all()
    more = len(rows) > query.limit
    views = tuple(view(r) for r in rows[: query.limit])
    return Page(
        messages=views,
        next_cursor=encode_cursor(views[-1].id) if more and views else None,
    )


def webhook_event(
    message_id: int, at: float, attempt: int, outcome: str
) -> tuple[int, float, str, str | None, str]:
    """The event row of one webhook try: (message_id, at, status, code, detail)."""
    return (message_id, at, WEBHOOK, None, f"try {attempt}: {outcome}"[:500])
