"""The scrypt pool (`umsgate.hashing`): checks leave the event loop, at most
``workers`` run at once, and a queue past its limit is refused."""

from __future__ import annotations

import asyncio
import time

import pytest

from umsgate.hashing import (
    DUMMY_HASH,
    SCRYPT_N,
    HashPool,
    PoolBusy,
    hash_secret,
    verify_secret,
)


def test_hash_and_verify() -> None:
    stored = hash_secret("s3cret")
    assert stored.startswith(f"scrypt${SCRYPT_N}$")
    assert verify_secret("s3cret", stored)
    assert not verify_secret("other", stored)
    assert not verify_secret("s3cret", "not a hash")


def test_the_dummy_hash_has_the_parameters_of_real_ones() -> None:
    assert DUMMY_HASH.split("$")[:4] == hash_secret("x").split("$")[:4]
    assert not verify_secret("", DUMMY_HASH)


async def test_a_check_leaves_the_loop_free() -> None:
    pool = HashPool(1)
    stored = hash_secret("s3cret")
    ticks = 0
    stop = False

    async def ticker() -> None:
        nonlocal ticks
        while not stop:
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        started = time.perf_counter()
        async with pool.turn():
            assert await pool.verify("s3cret", stored)
        took = time.perf_counter() - started
    finally:
        stop = True
        await task
        pool.close()
    # A check on the loop would have let the ticker run at most once or twice.
    assert took > 0.005
    assert ticks >= 3, (ticks, took)
    assert pool.checks == 1


async def test_at_most_workers_run_and_a_long_queue_is_refused() -> None:
    pool = HashPool(1)
    assert pool.max_waiting >= 1
    running = 0
    most = 0
    release = asyncio.Event()

    async def hold() -> None:
        nonlocal running, most
        async with pool.turn():
            running += 1
            most = max(most, running)
            await release.wait()
            running -= 1

    tasks = [asyncio.create_task(hold()) for _ in range(pool.max_waiting + 1)]
    await asyncio.sleep(0.01)
    try:
        with pytest.raises(PoolBusy):
            async with pool.turn():
                pass
    finally:
        release.set()
        await asyncio.gather(*tasks)
        pool.close()
    assert most == 1
    # Once the queue is gone, turns are given again.
    async with pool.turn():
        pass
