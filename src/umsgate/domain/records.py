"""The rows the rules and the reports ask the store to write, and the stored message
the faces' state queries read, as frozen values.

`umsgate.domain.transitions` makes a `FallbackRow` for a message that falls back,
`umsgate.reports.format` a `ReportRow` for a message that became final; the ledger
hands them to the store (`umsgate.store.messages.insert_fallbacks`,
`umsgate.store.reports.insert_reports`). One of each per final message at most, so
they are slotted and not validated: their fields come from a stored row.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from umsgate.domain.transitions import MessageState


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReportRow:
    """A ``reports`` row: the report of a final message and its webhook state."""

    message_id: int
    client_id: str
    #: The id the client knows (a fallback's parent's).
    ums_msg_id: int
    channel: str
    #: The channel of the client's own message (a fallback's parent's channel).
    origin_channel: str
    body: str
    created_at: float
    #: ``pending`` (to push), ``none`` (nothing to push).
    webhook_state: str
    attempts: int
    next_at: float
    last_error: str
    #: The compatible face whose format ``body`` is in ("" for the native one).
    face: str
    target_url: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FallbackRow:
    """A fallback message to insert QUEUED: the SMS, LMS or MMS that replaces an
    RCS or KakaoTalk message that did not end DELIVERED (``kind`` 1)."""

    id: int
    client_id: str
    src_msg_id: str
    kind: int
    parent_id: int
    cmp_msg_id: str
    channel: str
    status: str
    sender: str
    receiver: str
    subject: str
    content: str
    charset: str
    file_ids: str
    extra: str
    fallback: None
    content_hash: str
    created_at: float
    due_at: float
    expires_at: float
    attempts: int
    segments: int
    carrier: str


@dataclasses.dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as the faces' state queries read it
    (`umsgate.store.messages.message_by_src`): its state and its text."""

    state: MessageState
    content: str
