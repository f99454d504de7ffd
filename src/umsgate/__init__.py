"""umsgate: a unified messaging gateway.

One HTTP API for SMS, LMS, MMS, RCS and KakaoTalk messages in front of many upstream
providers, each spoken in its own protocol; every accepted message is stored durably,
routed, sent, and its delivery report handed back by webhook and by pull.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
