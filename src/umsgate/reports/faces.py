"""Reports of messages that came in by a compatible face (ToBeText, IMS): their body,
where they go, and how they are pushed.

A face marks its messages with ``extra["face"]`` (the face's name) and keeps whatever
its report needs in ``extra`` too (a callback URL, the client's own id). When such a
message becomes final, the ledger asks the face for the report (`ReportFace.render`):
the body in the face's own format and the URL it goes to. The row is written with the
face's name, and the notifier pushes it with the face's `PushRule` instead of the
native webhook rules (no signature, the face's content type, success rule and
retries). A face without a `PushRule`, or a report without a URL, is stored with
nothing to push. Faces are handed in by the composition root (``app.py``), so this
package never imports a protocol. Messages of the native API carry no face and are
reported exactly as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Protocol

import orjson

from umsgate.domain.results import ResultCode
from umsgate.domain.transitions import MessageState

#: The key of ``extra`` that names a message's face.
FACE_KEY = "face"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FaceReport:
    """A face's report of one final message."""

    #: The body as the face's client receives it.
    body: str
    #: Where it is POSTed; "" when there is nowhere to push it.
    target_url: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PushRule:
    """How a face's reports are pushed."""

    content_type: str
    #: Attempts in all, the first included.
    attempts: int
    #: Seconds between attempts.
    interval: float
    #: Seconds an attempt may take.
    timeout: float
    #: Whether an answer counts as received: (HTTP status, the answer's first bytes).
    accepts: Callable[[int, bytes], bool]

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.interval < 0 or self.timeout <= 0:
            raise ValueError(f"bad push rule {self}")


class ReportFace(Protocol):
    """What a face gives the ledger and the notifier."""

    @property
    def name(self) -> str:
        """The value of ``extra["face"]`` on its messages (≤ 16 characters)."""
        ...

    @property
    def push(self) -> PushRule | None:
        """How its reports are pushed; None: they are only stored."""
        ...

    def render(
        self,
        row: MessageState,
        code: ResultCode,
        *,
        extra: Mapping[str, object],
        from_carrier: bool,
    ) -> FaceReport:
        """The report of a message that just became final with ``code``.

        Args:
            row: the message's state columns (``store.messages.STATE_COLUMNS``),
                final values.
            extra: its ``extra`` column, decoded.
            from_carrier: whether the code came from the provider's report.
        """
        ...


def face_of(row: MessageState) -> tuple[str, dict[str, object]] | None:
    """(face name, decoded ``extra``) of a face's message; None for a native one."""
    raw = row.get("extra")
    # Most messages are native: skip decoding unless the key can be there at all.
    if not raw or f'"{FACE_KEY}"' not in raw:
        return None
    try:
        extra = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(extra, dict):
        return None
    name = extra.get(FACE_KEY)
    if not isinstance(name, str) or not name:
        return None
    return name, extra
