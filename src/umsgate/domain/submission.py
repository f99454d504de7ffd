"""What a face hands the acceptor (`Submission`) and what it hears back
(`Accepted`): values of the front processes and of the gateway process alike.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Submission:
    """A validated message: every ``messages`` column but id, created_at and status."""

    row: dict[str, Any]
    #: The client's duplicate window in seconds (0: duplicates are not blocked).
    dup_window: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return (self.row["client_id"], self.row["src_msg_id"])


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    id: int
    created_at: float
    repeated: bool
