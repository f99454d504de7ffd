"""A server process's collector settings (`umsgate.runtime.tune_gc`)."""

from __future__ import annotations

import gc

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
