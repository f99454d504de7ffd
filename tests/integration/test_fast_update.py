"""The ledger's UPDATE writes only the columns that changed, so a status change
leaves the indexes of the columns it does not change alone."""

from __future__ import annotations

from pathlib import Path

from umsgate import config
from umsgate.store import messages as message_store
from umsgate.store import migrate as store_migrate
from umsgate.store.database import open_database
from umsgate.store.transactions import transaction


async def test_only_changed_columns_are_written(tmp_path: Path) -> None:
    db = open_database(config.load(env={"UMSGATE_STORE_DATA_DIR": str(tmp_path)}))
    try:
        await store_migrate.upgrade(db)
        async with transaction(db) as raw:
            await raw.executemany(
                "INSERT INTO messages (id, client_id, src_msg_id, channel, status, "
                "sender, receiver, content, charset, content_hash, created_at, "
                "due_at, expires_at, connector, provider_msg_id) "
                "VALUES (?, 'c', ?, 'SMS', 'SENT', '0212345678', '01012345678', "
                "'hi', 'utf-8', 'h', 1.0, 1.0, 9e9, 'smsc', ?)",
                [(i, f"s{i}", f"p{i}") for i in (1, 2, 3)],
            )
        statements: list[str] = []
        async with transaction(db) as raw:
            rows = await message_store.lock_messages(raw, [1, 2, 3])
            before = {
                mid: message_store.mutable_values(row) for mid, row in rows.items()
            }
            raw.sqlite.set_trace_callback(statements.append)
            rows[1].update(status="DELIVERED", done_at=5.0, result_code="1000")
            rows[2].update(status="DELIVERED", done_at=6.0, result_code="1000")
            rows[3]["attempts"] = rows[3]["attempts"]  # nothing changed
            await message_store.update_messages(raw, list(rows.values()), before)
            raw.sqlite.set_trace_callback(None)
        updates = [s for s in statements if s.startswith("UPDATE")]
        assert updates == [
            "UPDATE messages SET status = 'DELIVERED', done_at = 5.0, "
            "result_code = '1000' WHERE id = 1",
            "UPDATE messages SET status = 'DELIVERED', done_at = 6.0, "
            "result_code = '1000' WHERE id = 2",
        ]
        async with transaction(db) as raw:
            stored = await raw.fetch(
                "SELECT id, status, done_at, provider_msg_id FROM messages ORDER BY id"
            )
        assert stored == [
            (1, "DELIVERED", 5.0, "p1"),
            (2, "DELIVERED", 6.0, "p2"),
            (3, "SENT", None, "p3"),
        ]
    finally:
        await db.close()
