"""Message ids (domain/ids.py): 18 digits, time-ordered, unique across node slots,
more than 1,024 in one millisecond, and never going back with the clock."""

from __future__ import annotations

import itertools
import threading

import pytest

from umsgate.domain import ids

NOW_MS = 1_718_000_000_000  # 2024-06-10


def test_ids_have_18_digits() -> None:
    gen = ids.IdGenerator(0)
    assert len(str(gen.next_id(ids.EPOCH_MS))) == 18
    assert len(str(gen.next_id(NOW_MS))) == 18
    assert len(str(ids.IdGenerator(ids.MAX_SLOT).next_id(NOW_MS))) == 18
    # 100 years after the epoch still fits.
    late = ids.EPOCH_MS + 100 * 365 * 86_400_000
    assert len(str(ids.IdGenerator(ids.MAX_SLOT).next_id(late))) == 18


def test_ids_from_the_real_clock() -> None:
    gen = ids.IdGenerator(7)
    made = [gen.next_id() for _ in range(100)]
    assert all(len(str(i)) == 18 for i in made)
    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_timestamp_round_trip() -> None:
    gen = ids.IdGenerator(5)
    assert ids.timestamp_ms(gen.next_id(NOW_MS)) == NOW_MS
    assert ids.timestamp_ms(gen.next_id(NOW_MS + 1234)) == NOW_MS + 1234


def test_monotonic_as_time_advances() -> None:
    gen = ids.IdGenerator(1)
    made = [gen.next_id(NOW_MS + t // 3) for t in range(3000)]
    assert all(a < b for a, b in itertools.pairwise(made))


def test_more_than_1024_ids_in_one_millisecond() -> None:
    gen = ids.IdGenerator(9)
    made = [gen.next_id(NOW_MS) for _ in range(5000)]
    assert len(set(made)) == 5000
    assert all(a < b for a, b in itertools.pairwise(made))
    # The first 1,024 carry the millisecond itself; the rest borrow the next ones.
    assert ids.timestamp_ms(made[1023]) == NOW_MS
    assert ids.timestamp_ms(made[1024]) == NOW_MS + 1
    # Borrowed milliseconds are not reused when the clock catches up.
    later = gen.next_id(NOW_MS + 2)
    assert later > made[-1]


def test_unique_across_slots() -> None:
    gens = [ids.IdGenerator(slot) for slot in (0, 1, 2, 128, ids.MAX_SLOT)]
    made = [g.next_id(NOW_MS) for _ in range(2000) for g in gens]
    assert len(set(made)) == len(made)


def test_clock_going_back_never_makes_a_smaller_id() -> None:
    gen = ids.IdGenerator(3)
    first = gen.next_id(NOW_MS)
    back = gen.next_id(NOW_MS - 60_000)
    further_back = gen.next_id(NOW_MS - 3_600_000)
    assert first < back < further_back
    assert ids.timestamp_ms(back) == NOW_MS
    again = gen.next_id(NOW_MS + 1)
    assert again > further_back


def test_clock_going_back_across_the_sequence_wrap() -> None:
    gen = ids.IdGenerator(3)
    made = [gen.next_id(NOW_MS) for _ in range(1024)]
    made += [gen.next_id(NOW_MS - 5) for _ in range(1024)]
    assert len(set(made)) == len(made)
    assert made == sorted(made)


def test_threads_share_a_generator_safely() -> None:
    gen = ids.IdGenerator(11)
    out: list[list[int]] = [[] for _ in range(4)]

    def work(bucket: list[int]) -> None:
        bucket.extend(gen.next_id(NOW_MS) for _ in range(2000))

    threads = [threading.Thread(target=work, args=(b,)) for b in out]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    made = [i for b in out for i in b]
    assert len(made) == 8000
    assert len(set(made)) == 8000


@pytest.mark.parametrize("slot", [-1, ids.MAX_SLOT + 1, 1000])
def test_slot_out_of_range(slot: int) -> None:
    with pytest.raises(ValueError, match="slot"):
        ids.IdGenerator(slot)
