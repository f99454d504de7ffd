"""Looking messages up: one message with its timeline, and searches with keyset
pages, for the native API (one client's messages), the command line and operators
(any client's). The queries run on the database driver (`umsgate.store.driver`) in
SQL that SQLite and PostgreSQL both accept; a message, its timeline and its report
are read in one snapshot, so they agree.

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
from collections.abc import Sequence

from umsgate.domain import ids
from umsgate.errors import UmsgateError
from umsgate.store.driver import Source, Tx, Value, fetch, marks

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


#: The columns of ``messages`` a `MessageView` is made of, in the order `view`
#: reads them.
VIEW_COLUMNS = (
    "id",
    "client_id",
    "src_msg_id",
    "channel",
    "status",
    "sender",
    "receiver",
    "result_code",
    "raw_code",
    "result_message",
    "connector",
    "provider_msg_id",
    "carrier",
    "attempts",
    "segments",
    "created_at",
    "expires_at",
    "sent_at",
    "done_at",
    "parent_id",
    "kind",
)
#: The query of `VIEW_COLUMNS` (a WHERE clause follows).
SELECT_VIEW = f"SELECT {', '.join(VIEW_COLUMNS)} FROM messages"
_EVENT_COLUMNS = ("id", "at", "status", "code", "detail")
_WEBHOOK_COLUMNS = ("webhook_state", "attempts", "last_error", "face")


def _text(value: Value) -> str | None:
    return None if value is None else str(value)


def _number(value: Value) -> float | None:
    return None if value is None else float(value)


def view(row: Sequence[Value], fallback_to: int | None = None) -> MessageView:
    """The view of a row of `VIEW_COLUMNS`."""
    (
        id_,
        client_id,
        src_msg_id,
        channel,
        status,
        sender,
        receiver,
        result_code,
        raw_code,
        result_message,
        connector,
        provider_msg_id,
        carrier,
        attempts,
        segments,
        created_at,
        expires_at,
        sent_at,
        done_at,
        parent_id,
        kind,
    ) = row
    return MessageView(
        id=int(id_ or 0),
        client_id=str(client_id),
        src_msg_id=str(src_msg_id),
        channel=str(channel),
        status=str(status),
        sender=str(sender),
        receiver=str(receiver),
        result_code=_text(result_code),
        raw_code=_text(raw_code),
        result_message=_text(result_message),
        connector=_text(connector),
        provider_msg_id=_text(provider_msg_id),
        carrier=str(carrier),
        attempts=int(attempts or 0),
        segments=int(segments or 0),
        created_at=float(created_at or 0.0),
        expires_at=float(expires_at or 0.0),
        sent_at=_number(sent_at),
        done_at=_number(done_at),
        fallback_of=None if parent_id is None else int(parent_id),
        fallback_to=fallback_to,
        is_fallback=bool(kind),
    )


async def timeline(q: Source | Tx, message_id: int) -> tuple[EventView, ...]:
    """The events of a message, in order (the ``events(message_id)`` index)."""
    rows = await fetch(
        q,
        f"SELECT {', '.join(_EVENT_COLUMNS)} FROM events WHERE message_id = ?"
        " ORDER BY id",
        (message_id,),
    )
    return tuple(
        EventView(
            id=int(i or 0),
            at=float(at or 0.0),
            status=str(status),
            code=_text(code),
            detail=str(detail),
        )
        for i, at, status, code, detail in rows
    )


async def message(
    db: Source, message_id: int, *, client_id: str | None = None
) -> MessageDetail | None:
    """One message with its timeline; None when there is none with this id, or it
    is not ``client_id``'s (when given)."""
    async with db.driver.snapshot() as snap:
        return await _message(snap, message_id, client_id)


async def _message(
    snap: Tx, message_id: int, client_id: str | None
) -> MessageDetail | None:
    where = ["id = ?"]
    params: list[Value] = [message_id]
    if client_id is not None:
        where.append("client_id = ?")
        params.append(client_id)
    rows = await snap.fetch(f"{SELECT_VIEW} WHERE {' AND '.join(where)}", params)
    if not rows:
        return None
    found = view(rows[0])
    children = await snap.fetch(
        "SELECT id FROM messages WHERE parent_id = ? ORDER BY id LIMIT 1",
        (message_id,),
    )
    steps = await timeline(snap, message_id)
    # A fallback's report carries its parent's umsMsgId; the index leads with it.
    known_as: tuple[Value, ...] = (message_id,)
    if found.fallback_of:
        known_as += (found.fallback_of,)
    reports = await snap.fetch(
        f"SELECT {', '.join(_WEBHOOK_COLUMNS)} FROM reports"
        f" WHERE client_id = ? AND ums_msg_id IN ({marks(len(known_as))})"
        " AND message_id = ?"
        " ORDER BY id DESC LIMIT 1",
        (found.client_id, *known_as, message_id),
    )
    webhook = None
    if reports:
        state, attempts, last_error, face = reports[0]
        webhook = WebhookView(
            state=str(state),
            attempts=int(attempts or 0),
            last_error=str(last_error),
            face=str(face),
        )
    child = children[0][0] if children else None
    return MessageDetail(
        message=dataclasses.replace(
            found, fallback_to=None if child is None else int(child)
        ),
        events=steps,
        webhook=webhook,
    )


def search_statement(query: Search) -> tuple[str, tuple[Value, ...]]:
    """The statement of `search` and its parameters (one row more than a page:
    whether more follow).

    Raises:
        BadCursor: ``query.after`` is not a cursor of this gateway.
    """
    where: list[str] = []
    params: list[Value] = []

    def cond(sql: str, value: Value) -> None:
        where.append(sql)
        params.append(value)

    if query.client_id is not None:
        cond("client_id = ?", query.client_id)
    elif query.receiver is not None or query.src_msg_id is not None:
        # Probe the client-led indexes once per client rather than scan them all.
        where.append("client_id IN (SELECT id FROM clients)")
    if query.src_msg_id is not None:
        cond("src_msg_id = ?", query.src_msg_id)
    if query.receiver is not None:
        cond("receiver = ?", query.receiver)
    if query.status is not None:
        cond("status = ?", query.status)
    if query.channel is not None:
        cond("channel = ?", query.channel)
    if query.since is not None:
        cond("id >= ?", id_floor(query.since))
    if query.until is not None:
        cond("id < ?", id_floor(query.until))
    if query.after is not None:
        cond("id < ?", decode_cursor(query.after))
    if query.before is not None:
        cond("id < ?", query.before)
    # At most two rows (a message and its fallback): SQLite, left to itself, would
    # walk the client's id index to skip this sort instead of using the unique key;
    # an expression is no index's order.
    order = "id + 0" if query.src_msg_id is not None else "id"
    sql = SELECT_VIEW
    if where:
        sql += f" WHERE {' AND '.join(where)}"
    sql += f" ORDER BY {order} DESC LIMIT ?"
    params.append(query.limit + 1)
    return sql, tuple(params)


async def search(db: Source, query: Search) -> Page:
    """One page of the messages that match ``query``, newest first.

    Raises:
        BadCursor: ``query.after`` is not a cursor of this gateway.
    """
    sql, params = search_statement(query)
    rows = await fetch(db, sql, params)
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
