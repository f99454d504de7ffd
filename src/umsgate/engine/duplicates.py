"""Duplicate-send blocking (the seeds' codes 74 and 84: "the same receiver and the
same message", off unless enabled): a client with a ``dup_window`` of W seconds has a
message refused when the same receiver got the same content from it, under another
srcMsgId, less than W seconds before.

Theory of operation
-------------------
The acceptor calls `screen` inside its group-commit transaction with the messages
that batch inserted (a repeat of a srcMsgId is not among them: it is answered with the
original message, never refused). "The same content" is a digest of what the
receiver reads: channel, subject, text and files (`digest`); the sender number and
the client's ids do not count.

The check is made in the database, so that it holds across the concurrent requests
of one batch, across batches and across nodes: ``send_guards`` keeps, per (client,
receiver, digest), when the last message was accepted. Within a batch the first
message of a key is the candidate and later ones with other srcMsgIds are refused
at once; the candidates then take their guards with one upsert that succeeds only
where the stored guard is older than the window (`store.messages.take_send_guards`). On
PostgreSQL the upsert's row lock makes a second node taking the same key wait for
the first one's commit and then see its guard; on SQLite the single writer orders
them. A refused message's row is deleted in the same transaction, so nothing of it is
stored and its srcMsgId stays free.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from umsgate.domain.results import Invalid
from umsgate.engine.accept import Submission
from umsgate.errors import ValidationError
from umsgate.store import messages as message_store
from umsgate.store.transactions import Transaction

Key = tuple[str, str, str]


def digest(row: Mapping[str, Any]) -> str:
    """Digest of what the receiver of a ``messages`` row reads."""
    doc = [row["channel"], row["subject"], row["content"], row["file_ids"]]
    return hashlib.sha256(orjson.dumps(doc)).hexdigest()


def refusal(window: float) -> ValidationError:
    return ValidationError(
        Invalid.DUPLICATE,
        "duplicate send blocked: the same receiver and content were accepted "
        f"less than {window:g} s ago",
        field="content",
    )


async def screen(
    tx: Transaction,
    fresh: Sequence[tuple[Submission, Mapping[str, Any]]],
    now: float,
) -> dict[int, ValidationError]:
    """Refuse the duplicates among messages just inserted in the open transaction
    (deleting their rows); message id → its refusal."""
    candidates: dict[Key, tuple[Mapping[str, Any], float]] = {}
    refused: dict[int, ValidationError] = {}
    for sub, row in fresh:
        window = sub.dup_window
        if window <= 0:
            continue
        key = (row["client_id"], row["receiver"], digest(row))
        if key in candidates:
            refused[row["id"]] = refusal(window)
        else:
            candidates[key] = (row, window)
    if candidates:
        guards = [
            (*key, row["src_msg_id"], now, now + window)
            for key, (row, window) in sorted(candidates.items())
        ]
        taken = await message_store.take_send_guards(tx, guards)
        for key, (row, window) in candidates.items():
            if key not in taken:
                refused[row["id"]] = refusal(window)
    if refused:
        await message_store.delete_messages(tx, sorted(refused))
    return refused
