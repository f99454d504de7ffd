"""A server process's collector settings (`umsgate.runtime.tune_gc`) and malloc
arenas (`umsgate.runtime.limit_malloc_arenas`)."""

from __future__ import annotations

import gc

import pytest

from umsgate import runtime
from umsgate.runtime import GC_YOUNG_THRESHOLD, tune_gc


def test_tune_gc_freezes_setup_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        gc.unfreeze()
        tune_gc()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, before[1], before[2])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_malloc_arenas_are_capped_on_glibc_unless_the_environment_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import platform

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert runtime.limit_malloc_arenas() is False  # the operator's word stands
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    glibc = platform.libc_ver()[0] == "glibc"
    assert runtime.limit_malloc_arenas() is glibc
