"""A repeatable draw of outcomes from a weighted mix.

Every simulator and the sandbox carrier decide a message's fate with this: the draw is
a pure function of (seed, key), so a message keeps its outcome across restarts and
repeated runs, whatever order messages arrive in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


class OutcomeMix:
    """Weights per outcome; whatever the weights leave of 1.0 goes to ``default``.

    Args:
        weights: outcome → share (0..1). Shares must add up to at most 1.
        default: the outcome of the remaining share (the success code).
        seed: changes every draw.
    """

    def __init__(
        self, weights: Mapping[str, float], *, default: str, seed: int = 0
    ) -> None:
        total = sum(weights.values())
        if any(w < 0 for w in weights.values()) or total > 1.0 + 1e-9:
            raise ValueError(
                f"outcome shares must be ≥ 0 and add up to ≤ 1, got {dict(weights)}"
            )
        self.default = default
        self.seed = seed
        self._bounds: list[tuple[float, str]] = []
        acc = 0.0
        for outcome, share in weights.items():
            if share > 0:
                acc += share
                self._bounds.append((acc, outcome))

    def draw(self, key: str | int) -> str:
        digest = hashlib.blake2b(f"{self.seed}:{key}".encode(), digest_size=8).digest()
        point = int.from_bytes(digest, "big") / 2**64
        for bound, outcome in self._bounds:
            if point < bound:
                return outcome
        return self.default

    @classmethod
    def parse(cls, text: str, *, default: str, seed: int = 0) -> OutcomeMix:
        """From ``"CODE=SHARE,CODE=SHARE"`` (the simulators' ``--mix`` option).

        Raises:
            ValueError: a part is not ``CODE=SHARE`` or the shares are out of range.
        """
        weights: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            code, sep, share = part.partition("=")
            if not sep:
                raise ValueError(f"mix part {part!r} is not CODE=SHARE")
            weights[code.strip()] = float(share)
        return cls(weights, default=default, seed=seed)
