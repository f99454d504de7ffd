"""The message lifecycle: statuses and the table of allowed transitions.

Theory of operation
-------------------
A message is ACCEPTED when the API has validated it and QUEUED in the same commit
(a reserved message stays QUEUED until its time). The dispatcher claims it (SENDING),
hands it to a connector, and records the connector's answer: SENT when the provider
acknowledged it, back to QUEUED when the try failed transiently, FAILED when it failed
permanently. A SENT message ends with the provider's report: DELIVERED or FAILED; a
report that asks for a resend (UShot 95–99) takes it back to QUEUED. A report can also
end a message that is SENDING or QUEUED: the provider took an earlier try whose answer
was late or lost, and the report is the only one it will send (a resend with the same
id is a duplicate to it). A message whose timeout passes before it is delivered ends
EXPIRED. DELIVERED, FAILED and EXPIRED are
final: nothing leaves them. Every transition is written as an event with its time.
"""

from __future__ import annotations

import enum

from umsgate.errors import UmsgateError


class Status(enum.StrEnum):
    ACCEPTED = "ACCEPTED"
    QUEUED = "QUEUED"
    SENDING = "SENDING"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"

    @property
    def final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({Status.DELIVERED, Status.FAILED, Status.EXPIRED})

#: (from, to) pairs that are allowed; anything else is an `IllegalTransition`.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.ACCEPTED: frozenset({Status.QUEUED, Status.FAILED, Status.EXPIRED}),
    # A report may end a message that waits to be sent again: its earlier try was
    # taken although the answer to it was lost (a timeout, a garbled answer).
    Status.QUEUED: frozenset(
        {Status.SENDING, Status.DELIVERED, Status.FAILED, Status.EXPIRED}
    ),
    Status.SENDING: frozenset(
        {Status.SENT, Status.QUEUED, Status.FAILED, Status.EXPIRED, Status.DELIVERED}
    ),
    Status.SENT: frozenset(
        {Status.DELIVERED, Status.FAILED, Status.EXPIRED, Status.QUEUED}
    ),
    Status.DELIVERED: frozenset(),
    Status.FAILED: frozenset(),
    Status.EXPIRED: frozenset(),
}


class IllegalTransition(UmsgateError):
    """The lifecycle does not allow this transition."""


def check(current: Status, new: Status) -> None:
    """Raise `IllegalTransition` unless ``current → new`` is in the table."""
    if new not in TRANSITIONS[current]:
        raise IllegalTransition(f"{current} → {new} is not allowed")


def allowed(current: Status, new: Status) -> bool:
    return new in TRANSITIONS[current]


def sources(new: Status) -> frozenset[Status]:
    """Every status from which ``new`` may be reached (used in guarded UPDATEs)."""
    return frozenset(s for s, targets in TRANSITIONS.items() if new in targets)


def mermaid() -> str:
    """The table as a Mermaid state diagram, for the docs."""
    lines = ["stateDiagram-v2", "    [*] --> ACCEPTED"]
    for src, targets in TRANSITIONS.items():
        for dst in sorted(targets):
            lines.append(f"    {src} --> {dst}")
    for s in sorted(_FINAL):
        lines.append(f"    {s} --> [*]")
    return "\n".join(lines)
