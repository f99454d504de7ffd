"""Shared values of the API-Gateway connector tests."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from umsgate.domain.message import Channel, Message
from umsgate.sim.apigw import Account

NAME = "up"
ACCOUNT = Account(client_id="up-client", secret="s3cret:with:colons", key="k" * 64)
NOW = dt.datetime.now(dt.UTC)
#: A 1×1 JPEG.
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkK"
    "DA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAA"
    "AAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q=="
)


def message(mid: int, **changes: Any) -> Message:
    values: dict[str, Any] = {
        "id": mid,
        "client_id": "c1",
        "src_msg_id": f"s{mid}",
        "channel": Channel.SMS,
        "sender": "+82212345678",
        "receiver": f"+8210{mid % 100000000:08d}",
        "content": f"인증번호 {mid % 1000000:06d}",
        "created_at": NOW,
        "due_at": NOW,
        "extra": {"originCode": "123456789", "billCode": "12345"},
    }
    values.update(changes)
    return Message(**values)
