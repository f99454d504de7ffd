"""Where tables and keys sit in a TOML text, so that configuration errors can name
the line: `tomllib` returns values without positions.

`Lines` scans the text once. It follows just enough of TOML (v1.0 §Keys, §Table,
§Array of Tables, the four string kinds, arrays and inline tables spanning lines,
comments) to tell a table header or a key at the start of a statement from the same
characters inside a string, a comment or a value. It runs on text that `tomllib`
has already accepted; on anything it cannot follow it knows fewer lines, never
raises.
"""

from __future__ import annotations

#: A table: its dotted name, and for an array of tables the 0-based index of the
#: element (None for a plain table; the root table is ``((), None)``).
Table = tuple[tuple[str, ...], int | None]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class Lines:
    """Line numbers (1-based) of the headers and keys of one TOML text."""

    def __init__(self, text: str) -> None:
        self._headers: dict[Table, int] = {}
        self._keys: dict[tuple[Table, tuple[str, ...]], int] = {}
        try:
            _Scanner(text, self._headers, self._keys).run()
        except (IndexError, ValueError):
            pass  # keep what was found before the text stopped making sense

    def table(self, name: str, index: int | None = None) -> int | None:
        """The line of ``[name]``, or of the ``index``-th ``[[name]]``."""
        return self._headers.get(((name,), index))

    def key(self, table: str | None, key: str, index: int | None = None) -> int | None:
        """The line of ``key`` in table ``table`` (None: the root), in its
        ``index``-th element for an array of tables; else the line of the table
        itself; else the line of a dotted or inline ``table = …`` at the root."""
        if table is None:
            return self._keys.get((((), None), (key,)))
        where: Table = ((table,), index)
        found = self._keys.get((where, (key,)))
        if found is not None:
            return found
        header = self._headers.get(where)
        if header is not None:
            return header
        if index is None:
            root: Table = ((), None)
            return self._keys.get((root, (table, key))) or self._keys.get(
                (root, (table,))
            )
        return None


class _Scanner:
    def __init__(
        self,
        text: str,
        headers: dict[Table, int],
        keys: dict[tuple[Table, tuple[str, ...]], int],
    ) -> None:
        self.text = text
        self.i = 0
        self.line = 1
        self.headers = headers
        self.keys = keys
        self.current: Table = ((), None)
        self.arrays: dict[tuple[str, ...], int] = {}

    def run(self) -> None:
        text = self.text
        while self.i < len(text):
            c = text[self.i]
            if c == "\n":
                self.line += 1
                self.i += 1
            elif c in " \t\r":
                self.i += 1
            elif c == "#":
                self._comment()
            elif c == "[":
                self._header()
            else:
                self._key_value()

    # -- statements --------------------------------------------------------------------

    def _header(self) -> None:
        text = self.text
        array = text.startswith("[[", self.i)
        line = self.line
        self.i += 2 if array else 1
        name = self._key_path("]")
        self.i += 2 if array else 1  # the closing bracket(s)
        if array:
            index = self.arrays.get(name, 0)
            self.arrays[name] = index + 1
            self.current = (name, index)
        else:
            self.current = (name, None)
        self.headers.setdefault(self.current, line)

    def _key_value(self) -> None:
        line = self.line
        path = self._key_path("=")
        self.i += 1  # the "="
        self.keys.setdefault((self.current, path), line)
        self._value()

    def _key_path(self, end: str) -> tuple[str, ...]:
        """A dotted key up to ``end`` (not consumed)."""
        text = self.text
        parts: list[str] = []
        while True:
            self._blanks()
            c = text[self.i]
            if c == '"':
                parts.append(self._basic_string())
            elif c == "'":
                parts.append(self._literal_string())
            else:
                start = self.i
                while text[self.i] in _BARE:
                    self.i += 1
                if self.i == start:
                    raise ValueError("not a key")
                parts.append(text[start : self.i])
            self._blanks()
            c = text[self.i]
            if c == ".":
                self.i += 1
                continue
            if text.startswith(end, self.i):
                return tuple(parts)
            raise ValueError("not a key")

    def _value(self) -> None:
        """Skip one value: up to the end of its line, past any string, array or
        inline table that goes on over several lines."""
        text = self.text
        depth = 0
        while self.i < len(text):
            c = text[self.i]
            if text.startswith('"""', self.i):
                self._multiline('"""')
            elif text.startswith("'''", self.i):
                self._multiline("'''")
            elif c == '"':
                self._basic_string()
            elif c == "'":
                self._literal_string()
            elif c in "[{":
                depth += 1
                self.i += 1
            elif c in "]}":
                depth -= 1
                self.i += 1
            elif c == "#":
                self._comment()
            elif c == "\n":
                if depth <= 0:
                    return
                self.line += 1
                self.i += 1
            else:
                self.i += 1

    # -- lexemes -----------------------------------------------------------------------

    def _blanks(self) -> None:
        while self.text[self.i] in " \t":
            self.i += 1

    def _comment(self) -> None:
        end = self.text.find("\n", self.i)
        self.i = len(self.text) if end < 0 else end

    def _basic_string(self) -> str:
        text = self.text
        self.i += 1
        out: list[str] = []
        while text[self.i] != '"':
            if text[self.i] == "\n":
                raise ValueError("newline in a string")
            if text[self.i] == "\\":
                out.append(text[self.i : self.i + 2])
                self.i += 2
                continue
            out.append(text[self.i])
            self.i += 1
        self.i += 1
        return "".join(out)

    def _literal_string(self) -> str:
        text = self.text
        end = text.index("'", self.i + 1)
        value = text[self.i + 1 : end]
        if "\n" in value:
            raise ValueError("newline in a string")
        self.i = end + 1
        return value

    def _multiline(self, quote: str) -> None:
        text = self.text
        i = self.i + 3
        while True:
            end = text.index(quote, i)
            if quote == '"""' and _escaped(text, end):
                i = end + 1
                continue
            break
        # A closing delimiter may be preceded by one or two quotes of the content.
        while text.startswith(quote[0], end + 3):
            end += 1
        self.line += text.count("\n", self.i, end)
        self.i = end + 3


def _escaped(text: str, at: int) -> bool:
    """Whether the character at ``at`` follows an odd number of backslashes."""
    n = 0
    while at - n - 1 >= 0 and text[at - n - 1] == "\\":
        n += 1
    return n % 2 == 1
