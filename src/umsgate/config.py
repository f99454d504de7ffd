"""The settings tree: read once at start from a TOML file, then
``UMSGATE_<SECTION>_<KEY>`` environment variables, validated, and passed explicitly to
whatever needs it. Nothing else in umsgate reads ``os.environ``.

Errors name the key, the value and the type expected, and for TOML files the file.
Connectors and routes are lists of tables (``[[connectors]]``, ``[[routes]]``); a
connector's ``tps`` and ``window`` are the gateway's own throttles of it (see
`umsgate.engine.pacing`), its other keys are kept in ``options`` and validated by the
protocol's own ``build`` function.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from umsgate.errors import ConfigError


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    #: Largest JSON body accepted (apigw spec §14: 64 KiB).
    max_body: int = 65536
    #: Public base URL of this gateway, for callbacks given to providers.
    public_url: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StoreSettings:
    #: SQLAlchemy URL; empty means SQLite in ``data_dir``.
    url: str = ""
    data_dir: str = "./data"
    #: Most messages written in one group commit.
    commit_batch: int = 1000
    #: PostgreSQL schema to use (tests give each run its own).
    schema: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AuthSettings:
    #: Token lifetime in seconds (apigw spec §14: 24 h).
    token_ttl: float = 86400.0
    #: How long a node trusts a cached client row before reading it again (seconds).
    cache_ttl: float = 2.0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    #: Messages claimed per dispatcher round.
    batch_size: int = 500
    #: Seconds between claims when there is nothing to do (wake-ups come earlier).
    poll_interval: float = 0.5
    #: Seconds between node heartbeats.
    heartbeat_interval: float = 5.0
    #: A node silent this long is dead; its claims are taken over.
    node_timeout: float = 30.0
    #: First retry delay after a transient failure, doubled each try, with jitter.
    retry_base: float = 5.0
    retry_max: float = 300.0
    #: Lifetime of a message without a client timeout (seconds): then EXPIRED.
    default_ttl: float = 86400.0
    #: Submits in flight to one connector at once.
    connector_concurrency: int = 8


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSettings:
    #: Seconds between attempts (apigw spec §11: 90 s).
    retry_interval: float = 90.0
    #: Re-sends after the first attempt (apigw spec §11: 100).
    max_retries: int = 100
    timeout: float = 10.0
    concurrency: int = 64
    batch_size: int = 500


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReportCheckSettings:
    #: Seconds a client must wait between report checks (apigw spec §12: 30 s).
    interval: float = 30.0
    #: Most ids in one report check (apigw spec §12: 1000).
    max_ids: int = 1000


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SandboxSettings:
    #: Seconds from submit to report.
    delay: float = 0.5
    #: Share of each unified result code; the rest of 1.0 is DELIVERED.
    mix: Mapping[str, float] = dataclasses.field(default_factory=dict)
    #: Seed of the outcome draw (per message id, so repeatable across restarts).
    seed: int = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorSettings:
    name: str
    protocol: str
    #: Most messages per second handed to this connector (None, or 0 in the file:
    #: no limit). A burst above it waits in the queue and drains at this rate; it is
    #: never refused.
    tps: float | None = None
    #: Most messages in flight to it at once: handed to ``submit`` and not yet
    #: answered (None: only ``engine.connector_concurrency`` chunks).
    window: int | None = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def options_with_limits(self, *keys: str) -> Mapping[str, Any]:
        """``options`` plus those of ``tps`` and ``window`` (``keys``) that are set,
        for protocols whose own sessions enforce them as well (SMPP's window and
        rate limiter)."""
        limits = {"tps": self.tps, "window": self.window}
        extra = {k: limits[k] for k in keys if limits[k] is not None}
        return {**self.options, **extra}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RouteSettings:
    name: str
    connectors: tuple[str, ...]
    channels: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    clients: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    auth: AuthSettings = AuthSettings()
    engine: EngineSettings = EngineSettings()
    webhook: WebhookSettings = WebhookSettings()
    report_check: ReportCheckSettings = ReportCheckSettings()
    sandbox: SandboxSettings = SandboxSettings()
    connectors: tuple[ConnectorSettings, ...] = ()
    routes: tuple[RouteSettings, ...] = ()

    def database_url(self) -> str:
        if self.store.url:
            return self.store.url
        path = Path(self.store.data_dir).expanduser().resolve() / "umsgate.db"
        return f"sqlite+aiosqlite:///{path}"


_SECTIONS: dict[str, type[Any]] = {
    "server": ServerSettings,
    "store": StoreSettings,
    "auth": AuthSettings,
    "engine": EngineSettings,
    "webhook": WebhookSettings,
    "report_check": ReportCheckSettings,
    "sandbox": SandboxSettings,
}


def _cast(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on"}:
            return True
        if isinstance(value, str) and value.lower() in {"0", "false", "no", "off"}:
            return False
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
    elif annotation is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif annotation is str:
        if isinstance(value, str):
            return value
    elif origin is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
    elif origin in (Mapping, dict) or annotation is Mapping:
        if isinstance(value, dict):
            return dict(value)
    elif origin in (types.UnionType, typing.Union):
        return value
    raise ConfigError(
        f"{where}: {value!r} is not a valid "
        f"{getattr(annotation, '__name__', annotation)}"
    )


def _build(cls: type[Any], data: Mapping[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(
                f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})"
            )
        kwargs[key] = _cast(value, hints[key], f"{where}.{key}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Read settings: the TOML file, then ``UMSGATE_<SECTION>_<KEY>`` variables, then
    ``overrides`` (the command line's flags).

    Raises:
        ConfigError: naming the file, key, value and the expected type.
    """
    raw: dict[str, Any] = {}
    where_file = "defaults"
    if path is not None:
        where_file = str(path)
        try:
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such configuration file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    environ = os.environ if env is None else env
    sections: dict[str, dict[str, Any]] = {}
    for name in _SECTIONS:
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{where_file}: [{name}] must be a table")
        sections[name] = dict(table)
    unknown = set(raw) - set(_SECTIONS) - {"connectors", "routes"}
    if unknown:
        raise ConfigError(f"{where_file}: unknown section(s) {sorted(unknown)}")
    for key, value in environ.items():
        if not key.startswith("UMSGATE_"):
            continue
        rest = key[len("UMSGATE_") :].lower()
        for name in _SECTIONS:
            if rest.startswith(name + "_"):
                sections[name][rest[len(name) + 1 :]] = value
                break
    for name, values in (overrides or {}).items():
        sections[name].update({k: v for k, v in values.items() if v is not None})
    built = {
        name: _build(cls, sections[name], f"{where_file} [{name}]")
        for name, cls in _SECTIONS.items()
    }
    connectors = tuple(
        _connector(c, f"{where_file} [[connectors]] #{i + 1}")
        for i, c in enumerate(raw.get("connectors", []))
    )
    names = [c.name for c in connectors]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ConfigError(f"{where_file}: connector names repeat: {sorted(dupes)}")
    routes = tuple(
        _build(RouteSettings, r, f"{where_file} [[routes]] #{i + 1}")
        for i, r in enumerate(raw.get("routes", []))
    )
    for route in routes:
        for cname in route.connectors:
            if cname not in names and cname != "sandbox":
                raise ConfigError(
                    f"{where_file}: route {route.name!r} names connector {cname!r}, "
                    f"which is not defined"
                )
    return Settings(connectors=connectors, routes=routes, **built)


def _connector(data: Any, where: str) -> ConnectorSettings:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: must be a table")
    data = dict(data)
    name = data.pop("name", None)
    protocol = data.pop("protocol", None)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: 'name' is required (a string)")
    if not isinstance(protocol, str) or not protocol:
        raise ConfigError(f"{where}: 'protocol' is required (a string)")
    tps = data.pop("tps", None)
    if tps is not None and (
        isinstance(tps, bool)
        or not isinstance(tps, int | float)
        or not 0 <= tps < math.inf
    ):
        raise ConfigError(
            f"{where}.tps: {tps!r} is not a valid rate (messages per second, "
            "0 for no limit)"
        )
    window = data.pop("window", None)
    if window is not None and (
        isinstance(window, bool) or not isinstance(window, int) or window < 1
    ):
        raise ConfigError(
            f"{where}.window: {window!r} is not a valid window (an integer of at "
            "least 1, messages in flight)"
        )
    return ConnectorSettings(
        name=name,
        protocol=protocol,
        tps=float(tps) if tps else None,
        window=window,
        options=data,
    )
