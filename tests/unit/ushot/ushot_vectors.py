"""The golden vectors of specs/ushot.md §13 (tests/vectors/ushot.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS_FILE = Path(__file__).resolve().parents[2] / "vectors" / "ushot.json"


def load_vectors() -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    vectors: list[dict[str, Any]] = data["vectors"]
    return vectors


def vector(name: str) -> bytes:
    for v in load_vectors():
        if v["name"] == name:
            return bytes.fromhex(v["hex"])
    raise KeyError(name)
