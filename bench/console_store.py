"""The console on a large store: fills a store with N messages (default 1,000,000),
then times the console's queries on it: message search by receiver and by
srcMsgId across clients, one message's timeline, and the dashboard's figures.
Each must answer in under 200 ms (issue 15).

    .venv/bin/python bench/console_store.py                 # SQLite in a temp dir
    .venv/bin/python bench/console_store.py --data-dir DIR  # keep (reuse) the store
    .venv/bin/python bench/console_store.py --db postgresql://…

The store gets a realistic spread: 40 clients of very different sizes, messages
evenly over 30 days (the last hour holds its share, 1/720), SMS,
LMS, MMS, KakaoTalk and RCS, mostly delivered, some failed or expired, those of
the last 30 s still on their way; 200,000 receivers (so one receiver has several
messages); three events each; a webhook report for the clients with a report
URL, some pending or failed. Rows go in with executemany in transactions of 50,000.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
import types
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from sqlalchemy import insert

from umsgate import config
from umsgate.console import data
from umsgate.domain.ids import EPOCH_MS, OFFSET, SEQ_BITS, SLOT_BITS
from umsgate.store import migrate
from umsgate.store.database import Database, open_database
from umsgate.store.tables import clients, events, messages, reports

BATCH = 50_000
DAYS = 30
CLIENTS = 40
RECEIVERS = 200_000
#: What each query must stay under (seconds).
BUDGET = 0.200
CHANNELS = (("SMS", 70), ("LMS", 15), ("MMS", 5), ("KKO", 7), ("RCS", 3))
CONNECTORS = {
    "SMS": ("smsc1", "smsc2"),
    "LMS": ("apigw1", "smsc2"),
    "MMS": ("apigw1",),
    "KKO": ("aicross1",),
    "RCS": ("apigw1",),
}
FINALS = (("DELIVERED", 88), ("FAILED", 9), ("EXPIRED", 3))


def _weighted(pairs: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _id(ms: int, seq: int) -> int:
    return OFFSET + (((ms - EPOCH_MS) << (SLOT_BITS + SEQ_BITS)) | (seq & 1023))


def rows(count: int, now: float, seed: int = 15) -> Iterator[dict[str, Any]]:
    """``count`` message rows, oldest first, ending at ``now``."""
    rnd = random.Random(seed)
    client_ids = [f"client{i:02d}" for i in range(CLIENTS)]
    # Zipf-like sizes: the largest client sends a third of everything.
    weights = [1 / (i + 1) for i in range(CLIENTS)]
    channels, channel_w = _weighted(CHANNELS)
    finals, final_w = _weighted(FINALS)
    start = now - DAYS * 86400
    span = now - start
    counters = dict.fromkeys(client_ids, 0)
    last_ms = 0
    seq = 0
    for i in range(count):
        t = start + span * (i + rnd.random()) / count
        ms = int(t * 1000)
        if ms <= last_ms:
            ms = last_ms
            seq += 1
        else:
            seq = 0
        last_ms = ms
        client = rnd.choices(client_ids, weights)[0]
        counters[client] += 1
        channel = rnd.choices(channels, channel_w)[0]
        connector = rnd.choice(CONNECTORS[channel])
        age = now - t
        if age < 30:
            status, sent, done = rnd.choice(("QUEUED", "SENT")), t + 1, None
        else:
            status = rnd.choices(finals, final_w)[0]
            sent, done = t + rnd.random() * 2, t + 2 + rnd.random() * 20
        receiver = f"+8210{rnd.randrange(RECEIVERS) + 20_000_000:08d}"
        yield {
            "id": _id(ms, seq),
            "client_id": client,
            "src_msg_id": f"{client}-{counters[client]}",
            "kind": 0,
            "channel": channel,
            "status": status,
            "sender": "+8215881234",
            "receiver": receiver,
            "content": "주문하신 상품이 발송되었습니다.",
            "charset": "euc-kr",
            "content_hash": "0" * 64,
            "created_at": t,
            "due_at": t,
            "expires_at": t + 86400,
            "attempts": 1,
            "connector": connector,
            "provider_msg_id": f"p{i}",
            "sent_at": sent,
            "done_at": done,
            "result_code": "1000" if status == "DELIVERED" else "3008",
            "segments": 1,
        }


async def fill(db: Database, count: int, now: float) -> float:
    """Write ``count`` messages with their events and reports; the seconds taken."""
    began = time.perf_counter()
    async with db.transaction() as conn:
        await conn.execute(
            insert(clients),
            [
                {
                    "id": f"client{i:02d}",
                    "secret_hash": "x",
                    "key_hash": "x",
                    "signing_key": "x",
                    "report_url": "http://example.com/r" if i % 2 else "",
                    "tps": '{"SMS": 100}',
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(CLIENTS)
            ],
        )
    rnd = random.Random(7)
    batch: list[dict[str, Any]] = []
    written = 0

    async def flush() -> None:
        ev: list[dict[str, Any]] = []
        rep: list[dict[str, Any]] = []
        for m in batch:
            ev.append(
                {"message_id": m["id"], "at": m["created_at"], "status": "QUEUED"}
            )
            if m["sent_at"] is not None:
                ev.append({"message_id": m["id"], "at": m["sent_at"], "status": "SENT"})
            if m["done_at"] is not None:
                ev.append(
                    {"message_id": m["id"], "at": m["done_at"], "status": m["status"]}
                )
                if int(m["client_id"][-2:]) % 2:
                    roll = rnd.random()
                    state = (
                        "pending"
                        if roll < 0.002
                        else "failed"
                        if roll < 0.007
                        else "done"
                    )
                    rep.append(
                        {
                            "message_id": m["id"],
                            "client_id": m["client_id"],
                            "ums_msg_id": m["id"],
                            "channel": m["channel"],
                            "origin_channel": m["channel"],
                            "body": "{}",
                            "created_at": m["done_at"],
                            "webhook_state": state,
                            "attempts": 0 if state == "done" else 3,
                            "next_at": m["done_at"] + 60,
                            "last_error": "" if state == "done" else "HTTP 503",
                        }
                    )
        async with db.transaction() as conn:
            await conn.execute(insert(messages), batch)
            await conn.execute(insert(events), ev)
            if rep:
                await conn.execute(insert(reports), rep)

    for row in rows(count, now):
        batch.append(row)
        if len(batch) >= BATCH:
            await flush()
            written += len(batch)
            batch.clear()
            print(f"  {written:,} messages", flush=True)
    if batch:
        await flush()
    return time.perf_counter() - began


async def timed(
    name: str, work: Callable[[], Awaitable[Any]], runs: int
) -> tuple[str, float, float]:
    await work()  # warm the cache once, as a console in use is
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await work()
        times.append(time.perf_counter() - t0)
    return name, statistics.median(times), max(times)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--data-dir", help="SQLite store directory (kept)")
    parser.add_argument("--db", help="database URL (PostgreSQL)")
    parser.add_argument("--schema", default="", help="PostgreSQL schema to use")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="umsgate-console-bench-")
    settings = config.load(
        None,
        env={},
        overrides={
            "store": {"data_dir": data_dir, "url": args.db, "schema": args.schema}
        },
    )
    db = open_database(settings)
    await migrate.upgrade(db)
    now = time.time()
    async with db.read() as conn:
        have = (await conn.exec_driver_sql("SELECT count(*) FROM messages")).scalar()
    if not have:
        print(f"filling {args.messages:,} messages into {settings.database_url()}")
        took = await fill(db, args.messages, now)
        print(f"filled in {took:.1f} s ({args.messages / took:,.0f} messages/s)")
        if db.is_sqlite:
            async with db.transaction() as conn:
                await conn.exec_driver_sql("ANALYZE")
        else:
            async with db.engine.connect() as c:
                await (
                    await c.execution_options(isolation_level="AUTOCOMMIT")
                ).exec_driver_sql("ANALYZE")
    async with db.read() as conn:
        probe = (
            await conn.exec_driver_sql(
                "SELECT id, receiver, src_msg_id FROM messages "
                "ORDER BY id DESC LIMIT 1 OFFSET 5000"
            )
        ).first()
        assert probe is not None
    gw = types.SimpleNamespace(db=db)  # what the console's queries use of a gateway
    checks = [
        (
            "search by receiver (all clients)",
            lambda: data.search_messages(
                gw,
                data.Search.parse({"receiver": probe.receiver}),  # type: ignore[arg-type]
            ),
        ),
        (
            "search by srcMsgId (all clients)",
            lambda: data.search_messages(
                gw,
                data.Search.parse({"srcMsgId": probe.src_msg_id}),  # type: ignore[arg-type]
            ),
        ),
        (
            "search, newest 50 (no filter)",
            lambda: data.search_messages(gw, data.Search.parse({"all": "1"})),  # type: ignore[arg-type]
        ),
        ("one message's timeline", lambda: data.message_timeline(gw, int(probe.id))),  # type: ignore[arg-type]
        ("dashboard (stats)", lambda: data.stats(gw)),  # type: ignore[arg-type]
        ("webhooks page", lambda: data.webhooks(gw)),  # type: ignore[arg-type]
    ]
    results = [await timed(name, work, args.runs) for name, work in checks]
    found = await data.search_messages(
        gw, data.Search.parse({"receiver": probe.receiver})
    )  # type: ignore[arg-type]
    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, "
        f"{'SQLite' if db.is_sqlite else 'PostgreSQL'}, {args.messages:,} messages "
        f"(the receiver searched has {len(found['messages'])})"
    )
    print(f"{'query':40} {'median ms':>10} {'max ms':>8}  under 200 ms")
    failed = False
    for name, median, most in results:
        ok = most < BUDGET
        failed |= not ok
        verdict = "yes" if ok else "NO"
        print(f"{name:40} {median * 1000:10.1f} {most * 1000:8.1f}  {verdict}")
    await db.close()
    if not args.data_dir:
        shutil.rmtree(data_dir)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    asyncio.run(main())
