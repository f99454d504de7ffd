"""docs/grafana/umsgate.json names only metrics a gateway exports, so the
dashboard does not go blank after a rename."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import Store, make_settings, running_gateway

DASHBOARD = Path(__file__).parents[3] / "docs" / "grafana" / "umsgate.json"
_SUFFIXES = ("_bucket", "_count", "_sum", "_total")


async def test_every_metric_of_the_dashboard_is_exported(sqlite_store: Store) -> None:
    dashboard = json.loads(DASHBOARD.read_text("utf-8"))
    named: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            named.update(re.findall(r"umsgate_[a-z_]+", target["expr"]))
    assert len(named) >= 10
    async with running_gateway(make_settings(sqlite_store)) as gw:
        samples = {
            sample.name
            for family in gw.gateway.metrics.registry.collect()
            for sample in family.samples
        }
        families = {f.name for f in gw.gateway.metrics.registry.collect()}
    missing = set()
    for name in named:
        base = name
        for suffix in _SUFFIXES:
            base = base.removesuffix(suffix)
        if name not in samples and base not in families:
            missing.add(name)
    assert not missing, f"the dashboard names metrics nobody exports: {missing}"
