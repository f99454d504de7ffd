"""The sandbox: what stands in for a provider without a network.

* `carrier` — the sandbox carrier, an in-process connector for every channel (the
  default route when no provider is configured).
* `mix` — the repeatable outcome mix the carrier and every protocol's simulator draw
  a message's fate from.
"""

from __future__ import annotations
