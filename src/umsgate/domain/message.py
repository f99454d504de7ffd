"""The message: what a client asked to send, as the engine and connectors see it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping

from umsgate.domain.lifecycle import Status


class Channel(enum.StrEnum):
    SMS = "SMS"
    LMS = "LMS"
    MMS = "MMS"
    RCS = "RCS"
    KKO = "KKO"

    @property
    def tps_key(self) -> str:
        """The key of the per-channel TPS table (apigw spec §14: LMS counts as MMS)."""
        return "MMS" if self is Channel.LMS else self.value


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """A stored file attached to an MMS (content loaded by the store on demand)."""

    file_id: str
    name: str
    md5: str
    size: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One message to one receiver.

    ``receiver`` and ``sender`` are E.164. ``charset`` is the codec the client's limits
    were counted in (``cp949`` or ``utf-8``). ``extra`` holds the channel-specific
    fields (RCS template, KakaoTalk buttons, ...) exactly as validated; ``fallback``
    holds the fallback request of an RCS/KKO message. A fallback message has
    ``parent_id`` set to the RCS/KKO message it replaces.
    """

    id: int
    client_id: str
    src_msg_id: str
    channel: Channel
    sender: str
    receiver: str
    content: str
    status: Status = Status.QUEUED
    subject: str = ""
    charset: str = "cp949"
    cmp_msg_id: str = ""
    file_ids: tuple[str, ...] = ()
    extra: Mapping[str, object] = dataclasses.field(default_factory=dict)
    fallback: Mapping[str, object] | None = None
    parent_id: int | None = None
    created_at: dt.datetime
    due_at: dt.datetime
    expires_at: dt.datetime | None = None
    attempts: int = 0
    connector: str | None = None
    provider_msg_id: str | None = None
    segments: int = 1

    @property
    def ums_msg_id(self) -> str:
        return str(self.id)
