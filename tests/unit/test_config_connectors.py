"""The gateway-level keys of a ``[[connectors]]`` table: ``tps`` and ``window``."""

from __future__ import annotations

from pathlib import Path

import pytest

from umsgate import config
from umsgate.errors import ConfigError


def _load(tmp_path: Path, body: str) -> config.Settings:
    path = tmp_path / "umsgate.toml"
    path.write_text(body)
    return config.load(path, env={})


def test_tps_and_window_are_read_and_kept_out_of_the_options(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        '[[connectors]]\nname = "a"\nprotocol = "sandbox"\n'
        "tps = 100\nwindow = 20\ndelay = 0.1\n"
        '[[connectors]]\nname = "b"\nprotocol = "sandbox"\n'
        '[[connectors]]\nname = "c"\nprotocol = "sandbox"\ntps = 0\n',
    )
    a, b, c = settings.connectors
    assert (a.tps, a.window, dict(a.options)) == (100.0, 20, {"delay": 0.1})
    assert (b.tps, b.window) == (None, None)
    assert c.tps is None  # 0: no limit, as the SMPP and API-Gateway options had it
    assert a.options_with_limits("tps", "window") == {
        "delay": 0.1,
        "tps": 100.0,
        "window": 20,
    }
    assert a.options_with_limits("tps") == {"delay": 0.1, "tps": 100.0}
    assert b.options_with_limits("tps", "window") == {}


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("tps = -5", "tps"),
        ("tps = nan", "tps"),
        ("tps = inf", "tps"),
        ('tps = "fast"', "tps"),
        ("tps = true", "tps"),
        ("window = 0", "window"),
        ("window = 2.5", "window"),
        ('window = "10"', "window"),
    ],
)
def test_bad_values_are_refused_naming_the_line_and_key(
    tmp_path: Path, line: str, named: str
) -> None:
    with pytest.raises(
        ConfigError,
        match=rf"umsgate.toml, line 4: connector 'a': {named} = .* is not a valid",
    ):
        _load(tmp_path, f'[[connectors]]\nname = "a"\nprotocol = "sandbox"\n{line}\n')
