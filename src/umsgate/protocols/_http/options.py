"""Reading a connector's ``options`` table: typed getters whose errors name the
connector, the key, the value and what was expected, and a final check that no
unknown key was given (a misspelt key must not silently fall back to a default).

Values come from TOML (typed) or from environment strings, so numbers and booleans
are accepted in both forms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from umsgate.errors import ConfigError
from umsgate.protocols._http.exchange import Limits

#: Most requests of a kind in flight at once (each holds a pooled connection).
MAX_CONCURRENCY = 1024

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class Options:
    """Typed access to ``options``; call `finish` after the last read.

    Args:
        where: how errors name the connector (``connector 'tbt-main' (tobetext)``).
        options: the table.
    """

    def __init__(self, where: str, options: Mapping[str, object]) -> None:
        self._where = where
        self._options = dict(options)
        self._read: set[str] = set()

    def _bad(self, key: str, value: object, expected: str) -> ConfigError:
        return ConfigError(
            f"{self._where}: option {key!r} = {value!r} is not {expected}"
        )

    def _get(self, key: str) -> object:
        self._read.add(key)
        return self._options.get(key)

    def string(self, key: str, default: str | None = None) -> str:
        """A non-empty string; required when ``default`` is None."""
        value = self._get(key)
        if value is None:
            if default is None:
                raise ConfigError(
                    f"{self._where}: option {key!r} is required (a string)"
                )
            return default
        if not isinstance(value, str) or not value:
            raise self._bad(key, value, "a non-empty string")
        return value

    def optional_string(self, key: str) -> str | None:
        value = self._get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self._bad(key, value, "a string")
        return value

    def url(self, key: str, default: str | None = None) -> str:
        """An absolute http(s) URL."""
        value = self.string(key, default)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise self._bad(key, value, "an absolute http:// or https:// URL")
        return value

    def optional_url(self, key: str) -> str | None:
        if self.optional_string(key) is None:
            return None
        return self.url(key)

    def path(self, key: str, default: str) -> str:
        """A URL path starting with ``/``."""
        value = self.string(key, default)
        if not value.startswith("/") or any(ch in value for ch in "?# "):
            raise self._bad(key, value, "a path starting with '/'")
        return value

    def number(
        self,
        key: str,
        default: float,
        *,
        minimum: float = 0.0,
        maximum: float = math.inf,
    ) -> float:
        value = self._get(key)
        if value is None:
            return default
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
        if (
            number is None
            or not math.isfinite(number)
            or not minimum <= number <= maximum
        ):
            raise self._bad(key, value, f"a number in [{minimum:g}, {maximum:g}]")
        return number

    def integer(
        self, key: str, default: int, *, minimum: int = 0, maximum: int = 2**31
    ) -> int:
        value = self._get(key)
        if value is None:
            return default
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
            number = int(value)
        if number is None or not minimum <= number <= maximum:
            raise self._bad(key, value, f"an integer in [{minimum}, {maximum}]")
        return number

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise self._bad(key, value, "a boolean")

    def strings(self, key: str, default: Sequence[str]) -> tuple[str, ...]:
        """A list of strings (or one comma-separated string)."""
        value = self._get(key)
        if value is None:
            return tuple(default)
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, str) and v for v in value
        ):
            raise self._bad(key, value, "a list of non-empty strings")
        return tuple(value)

    def numbers(
        self, key: str, default: Sequence[float], *, minimum: float = 0.0
    ) -> tuple[float, ...]:
        """A non-empty list of numbers (or one comma-separated string)."""
        value = self._get(key)
        if value is None:
            return tuple(default)
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        result: list[float] = []
        if isinstance(value, list | tuple):
            for item in value:
                try:
                    number = float(item)
                except (TypeError, ValueError):
                    break
                if (
                    isinstance(item, bool)
                    or not math.isfinite(number)
                    or number < minimum
                ):
                    break
                result.append(number)
            else:
                if result:
                    return tuple(result)
        raise self._bad(key, value, f"a non-empty list of numbers ≥ {minimum:g}")

    def table(self, key: str) -> dict[str, str]:
        """A table of string keys to string values (default empty)."""
        value = self._get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str | int) and not isinstance(v, bool)
            for k, v in value.items()
        ):
            raise self._bad(key, value, "a table of strings")
        return {k: str(v) for k, v in value.items()}

    def concurrency(self, key: str = "concurrency") -> int:
        """How many requests of a kind may be in flight at once: 1 to
        `MAX_CONCURRENCY`, 16 by default."""
        return self.integer(key, 16, minimum=1, maximum=MAX_CONCURRENCY)

    def limits(self, max_body: int) -> Limits:
        """The `Limits` of a request: ``connect_timeout`` (10 s) and ``timeout``
        (30 s, the whole exchange, at least the connect timeout), answers of at most
        ``max_body`` bytes."""
        connect = self.number("connect_timeout", 10.0, minimum=0.001)
        total = self.number("timeout", 30.0, minimum=0.001)
        if connect > total:
            raise ConfigError(
                f"{self._where}: 'connect_timeout' {connect:g} > 'timeout' {total:g}"
            )
        return Limits(connect=connect, total=total, max_body=max_body)

    def finish(self) -> None:
        """Refuse keys that were never read.

        Raises:
            ConfigError: naming the unknown keys and the known ones.
        """
        unknown = sorted(set(self._options) - self._read)
        if unknown:
            raise ConfigError(
                f"{self._where}: unknown option(s) {', '.join(map(repr, unknown))} "
                f"(known: {', '.join(sorted(self._read))})"
            )
