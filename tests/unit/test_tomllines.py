"""Line numbers of tables and keys in TOML text, where strings, comments and
multi-line values hold the same characters as headers and keys."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from umsgate.tomllines import Lines

TRICKY = '''\
# [[routes]] in a comment is not a table
title = """
[[routes]]
name = "in a multi-line string"
"""
literal = \'\'\'
[engine]
\'\'\'
escaped = "quote \\" [[routes]] and more"

[engine]
batch_size = 5
"quoted key" = 1
'dotted'.key = 2

[[connectors]]
name = "a"  # [[connectors]]
password_env = "X"

[[routes]]
name = "r1"
connectors = [
  "a", # [[routes]]
  "b",
  { name = "c" },
]
weights = [3, 1]

  [[ routes ]]
name = 'r2'
channels = ["SMS"]
text = """ends with quotes"""""
after = 1
'''


def test_the_text_is_valid_toml() -> None:
    assert len(tomllib.loads(TRICKY)["routes"]) == 2


def test_headers_and_keys_ignore_strings_and_comments() -> None:
    lines = Lines(TRICKY)
    assert lines.table("engine") == 11
    assert lines.key("engine", "batch_size") == 12
    assert lines.key("engine", "quoted key") == 13
    assert lines.table("connectors", 0) == 16
    assert lines.key("connectors", "password_env", 0) == 18
    assert lines.table("routes", 0) == 20
    assert lines.key("routes", "connectors", 0) == 22
    assert lines.key("routes", "weights", 0) == 27
    assert lines.table("routes", 1) == 29
    assert lines.key("routes", "channels", 1) == 31
    assert lines.key("routes", "after", 1) == 33
    assert lines.table("routes", 2) is None
    assert lines.key(None, "title") == 2
    assert lines.key(None, "escaped") == 9


def test_a_missing_key_falls_back_to_its_table() -> None:
    lines = Lines(TRICKY)
    assert lines.key("routes", "countries", 1) == 29
    assert lines.key("engine", "nothing") == 11


def test_dotted_and_inline_sections_at_the_root() -> None:
    text = "engine.batch_size = 3\nsandbox = { delay = 1 }\n"
    tomllib.loads(text)
    lines = Lines(text)
    assert lines.key("engine", "batch_size") == 1
    assert lines.key("sandbox", "delay") == 2


def test_windows_line_ends() -> None:
    text = TRICKY.replace("\n", "\r\n")
    tomllib.loads(text)
    lines = Lines(text)
    assert lines.key("routes", "weights", 0) == 27
    assert lines.table("routes", 1) == 29


@pytest.mark.parametrize("text", ["[broken\n", 'a = "open\n', "= 1\n", "[[x]]\n[["])
def test_text_it_cannot_follow_gives_fewer_lines_not_an_error(text: str) -> None:
    Lines(text)


_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
#: Characters that look like TOML structure when they appear in values.
_tricky = st.text(alphabet="ab #[]{}=,'\"\n.\\", max_size=20)
_values = st.one_of(
    st.integers(),
    _tricky,
    st.lists(_tricky, max_size=3),
)


@given(
    st.lists(
        st.dictionaries(_names, _values, min_size=1, max_size=4),
        min_size=1,
        max_size=4,
    )
)
def test_every_key_of_generated_arrays_of_tables(
    tables: list[dict[str, object]],
) -> None:
    """Generated ``[[routes]]`` tables, with values that hold newlines, brackets and
    quotes: each key is found on the line it was written on."""
    out: list[str] = []
    where: dict[tuple[int, str], int] = {}
    for i, table in enumerate(tables):
        out.append("[[routes]]")
        for key, value in table.items():
            where[(i, key)] = "\n".join(out).count("\n") + 2
            out.append(f"{key} = {_toml(value)}")
        out.append("")
    text = "\n".join(out)
    assert tomllib.loads(text)["routes"] == tables
    lines = Lines(text)
    for (i, key), line in where.items():
        assert lines.key("routes", key, i) == line


def _toml(value: object) -> str:
    if isinstance(value, str):
        if "\n" in value and "'''" not in value and not value.endswith("'"):
            return "'''\n" + value + "'''"
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[\n  " + ",\n  ".join(_toml(v) for v in value) + "\n]"
    return str(value)
