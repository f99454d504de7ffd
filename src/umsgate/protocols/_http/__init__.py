"""Machinery shared by the HTTP providers (ToBeText, IMS SMS, AI CROSS).

Nothing here knows a provider's wire format; the codecs do. These modules own what
every HTTP connector and simulator does the same way:

* `exchange`: one request through the shared ``httpx.AsyncClient`` with a total
  deadline and a bounded answer, the classification of what went wrong (could
  the request have reached the provider? is a retry useful?), and `read_answer`,
  the parsed answer or the failure that stands for none.
* `health`: a connector's health from its recent exchanges.
* `schedule`: `Agenda`, timed jobs (polls, expiry of missing reports, simulator
  callbacks) run by one loop with bounded concurrency.
* `options`: reading a connector's ``options`` table with errors that name the key
  (timeouts and concurrency read the same way for every connector).
* `base`, `polling`: what every HTTP connector is made of (its results, and the
  provider's callbacks or DLRs read, refused and recorded the same way), and the
  polling of a message's state shared by the connectors that poll.
* `server`: a simulator's HTTP server that can go down and come back on its port,
  and the foreground loop of ``umsgate sim``; `simbase`: a simulator's lifecycle,
  fault switches and the requests it received, and the late or garbled answer of
  an app it serves behind them (the compatible faces on
  `umsgate.protocols.sandbox.facesim`, the API-Gateway's gateway in `umsgate.sim`).
* Request bodies are read by `umsgate.request_body` (limit and deadline).
* `pusher`: a simulator's callbacks to a customer URL, retried on a schedule.
"""

from __future__ import annotations
