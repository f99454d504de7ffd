"""SMPP 3.4: the sans-I/O codec and session, the ESME connector and the SMSC simulator.

Modules, from the wire up:

* `codes` — command ids, command_status, TON/NPI, data_coding, TLV tags, states;
* `tlv`, `pdu` — optional parameters and PDUs as frozen dataclasses, encode/decode;
* `session` — the state machine (bind, window, enquire_link, unbind) for both roles;
* `gsm`, `encoding` — GSM 03.38, UCS-2, Latin-1, KS C 5601; long-message parts;
* `receipt`, `results` — receipt texts; SMPP codes → unified result codes;
* `transport` — the asyncio driver of a session;
* `throttle`, `options`, `outbound`, `link`, `connector` — the ESME connector;
* `smsc`, `simulator` — the fake SMSC and ``umsgate sim smpp``.
"""

from __future__ import annotations
