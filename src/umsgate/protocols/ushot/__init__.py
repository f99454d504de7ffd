"""UShot (UnionMC) SMS/LMS/MMS over TCP, versions SAM10 and SAM11 (spec: specs/ushot.md,
seed 003).

Layers, bottom up, each usable on its own:

* `fields` — fixed-width CP949 fields and the KST date format;
* `codes` — command numbers, header response codes, the result-code table;
* `frames` — the SOH/STX/ETX frame and the incremental `FrameDecoder`;
* `events` / `bodies` — one frozen dataclass per command and its body codec;
* `session` — the sans-I/O state machine shared by client and server;
* `driver` — the thin asyncio layer that moves a session's bytes;
* `connector` — umsgate as a UShot customer (``build(settings, context)``);
* `simulator` — umsgate as a UShot server (``umsgate sim ushot``).
"""

from __future__ import annotations
