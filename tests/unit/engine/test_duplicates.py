"""Duplicate-send blocking (engine/duplicates.py): what counts as the same content."""

from __future__ import annotations

from umsgate.engine import duplicates


def test_the_content_digest_is_what_the_receiver_reads() -> None:
    row = {
        "channel": "SMS",
        "subject": "",
        "content": "hello",
        "file_ids": "[]",
        "sender": "+8221234",
        "src_msg_id": "x",
    }
    same = {**row, "sender": "+8229999", "src_msg_id": "y"}
    assert duplicates.digest(row) == duplicates.digest(same)
    for change in (
        {"channel": "LMS"},
        {"subject": "s"},
        {"content": "hello!"},
        {"file_ids": '["F1"]'},
    ):
        assert duplicates.digest(row) != duplicates.digest({**row, **change})
