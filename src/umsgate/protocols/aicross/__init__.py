"""AI CROSS 絶対リーチ!SMS HTTPS API, the documented shape: codec, connector and
simulator (seed 004)."""

from __future__ import annotations
