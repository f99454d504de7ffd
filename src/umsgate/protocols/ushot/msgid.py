"""MSG_ID, the key that ties a UShot result to its message (spec §11).

A message is first sent as ``str(message.id)`` (18 digits; the 20-byte field fits it),
so a result that comes after a restart still names its message. The seed forbids
repeating a MSG_ID, and a server that has seen one may take it for a duplicate, so a
message sent again *after a result asked for a resend* (95–99) gets a new one: the id,
``-`` and one generation character (``…-1`` … ``…-9``, ``…-a`` … ``…-z``), still within
20 bytes. A message sent again because its request was never answered keeps its MSG_ID,
so a server that did take the first request sees a duplicate and does not send twice.
"""

from __future__ import annotations

#: Generation characters after the first send (one byte, so 18 digits + 2 ≤ 20).
GENERATIONS = "123456789abcdefghijklmnopqrstuvwxyz"
#: Most resends after transient results a message can have.
MAX_GENERATION = len(GENERATIONS)
#: Width of the MSG_ID field.
MSG_ID_LEN = 20


def make(message_id: int, generation: int = 0) -> str:
    """The MSG_ID of a message's ``generation``-th send after transient results.

    Raises:
        ValueError: the generation is beyond `MAX_GENERATION` or does not fit.
    """
    if message_id < 0:
        raise ValueError(f"message id {message_id} is negative")
    if not 0 <= generation <= MAX_GENERATION:
        raise ValueError(f"generation {generation} is outside 0..{MAX_GENERATION}")
    text = str(message_id)
    if generation:
        text = f"{text}-{GENERATIONS[generation - 1]}"
    if len(text) > MSG_ID_LEN:
        raise ValueError(f"MSG_ID {text!r} is over {MSG_ID_LEN} bytes")
    return text


def parse(msg_id: str) -> tuple[int, int] | None:
    """(message id, generation) of a MSG_ID this connector made; None otherwise."""
    base, sep, gen = msg_id.partition("-")
    if not base.isdigit() or not base.isascii():
        return None
    if not sep:
        return int(base), 0
    index = GENERATIONS.find(gen) if len(gen) == 1 else -1
    if index < 0:
        return None
    return int(base), index + 1
