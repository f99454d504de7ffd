"""Sealed secrets at rest (`umsgate.sealing`)."""

from __future__ import annotations

import pytest

from umsgate.sealing import PREFIX, Sealer, SealError, check_key, is_sealed, new_key

KEY_HEX = "ab" * 32


def test_a_sealed_value_is_not_the_value_and_opens_to_it() -> None:
    sealer = Sealer(new_key())
    stored = sealer.seal(KEY_HEX)
    assert is_sealed(stored) and stored.startswith(PREFIX)
    assert KEY_HEX not in stored
    assert sealer.open(stored) == KEY_HEX
    # A random IV: the same value seals differently each time.
    assert sealer.seal(KEY_HEX) != stored


def test_without_a_key_values_are_kept_in_clear() -> None:
    sealer = Sealer()
    assert not sealer.active
    assert sealer.seal(KEY_HEX) == KEY_HEX
    assert sealer.open(KEY_HEX) == KEY_HEX


def test_a_clear_value_stays_readable_with_a_key() -> None:
    assert Sealer(new_key()).open(KEY_HEX) == KEY_HEX


def test_a_sealed_value_needs_its_own_key() -> None:
    stored = Sealer(new_key()).seal(KEY_HEX)
    with pytest.raises(SealError, match="no secret key is configured"):
        Sealer().open(stored, what="the key of 'acme'")
    with pytest.raises(SealError, match="another key"):
        Sealer(new_key()).open(stored)


@pytest.mark.parametrize("bad", ["short", "x" * 44, new_key()[:-2]])
def test_a_malformed_key_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        check_key(bad)
    with pytest.raises(ValueError):
        Sealer(bad)
