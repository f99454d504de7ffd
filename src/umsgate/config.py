"""The settings tree: read once at start from a TOML file, then
``UMSGATE_<SECTION>_<KEY>`` environment variables, validated, and passed explicitly to
whatever needs it. Nothing else in umsgate reads ``os.environ``.

Errors name the key, the value and the type expected, and for TOML files the file
and the line (`umsgate.tomllines`). Connectors and routes are lists of tables
(``[[connectors]]``, ``[[routes]]``, see ``docs/routing.md``); a connector's ``tps``
and ``window`` are the gateway's own throttles of it (see `umsgate.engine.pacing`),
its other keys are kept in ``options`` and validated by the protocol's own ``build``
function. A connector option ``X_env = "VAR"`` or ``X_file = "PATH"``
takes the value of ``X`` from that environment variable or file, at start; such
values (and those of options named like a password, secret, token or key) are
secrets: `ConnectorSettings.redact` takes them out of any text shown.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from umsgate import sealing
from umsgate.domain import phone
from umsgate.domain.message import Channel
from umsgate.errors import ConfigError
from umsgate.tomllines import Lines


class BadValue(ConfigError, ValueError):
    """A setting's value is out of its range (raised by a section's checks, so
    that the error can say where the value came from)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _check_count(key: str, value: int, most: int | None = None) -> None:
    """Refuse a count below 1, or above ``most`` when given."""
    if most is None:
        if value < 1:
            raise BadValue(key, f"{key} must be 1 or more, not {value!r}")
    elif not 1 <= value <= most:
        raise BadValue(key, f"{key} must be 1 to {most}, not {value!r}")


def _check_seconds(
    key: str, value: float, least: float, most: float, *, above: bool = False
) -> None:
    """Refuse seconds outside [``least``, ``most``]; with ``above``, ``least``
    itself too."""
    if not (least < value if above else least <= value) or not value <= most:
        low = "(" if above else "["
        raise BadValue(
            key, f"{key} must be seconds in {low}{least:g}, {most:g}], not {value!r}"
        )


#: Longest of the fronts' deadlines: an hour (a longer one is no deadline).
MAX_SERVER_TIMEOUT = 3600.0
#: Longest grace period of a rotated webhook key: 30 days.
MAX_KEY_GRACE = 30 * 86400.0
#: Most connections per client address and front: a file descriptor each, and a
#: front's soft limit is often 1,024 to 65,536.
MAX_CONNECTIONS_PER_CLIENT = 65536


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    #: Largest JSON body accepted (apigw spec §14: 64 KiB).
    max_body: int = 65536
    #: Public base URL of this gateway, for callbacks given to providers.
    public_url: str = ""
    #: HTTP front processes (0: this process serves HTTP itself). Fronts parse,
    #: authenticate and validate the native sends, and hand them to this process,
    #: which keeps the store's writes, the TPS buckets and the connectors. In a
    #: settings file, the environment or on the command line, ``"auto"`` (the
    #: default there) is `auto_workers` of this machine's cores.
    workers: int = 0
    # The deadlines and cap of the public port (`umsgate.runtime.Limits`):
    # the fronts' own, and with ``workers = 0`` the gateway process's
    # (`umsgate.deadlines`).
    #: Seconds from a request's first byte to the end of its head (and from a
    #: connection's opening to its first request): a client trickling its headers
    #: is closed (slowloris).
    header_timeout: float = 10.0
    #: Seconds from the end of a request's head to the end of its body (the
    #: providers' 30 s request timeout).
    body_timeout: float = 30.0
    #: Seconds a kept-alive connection may stay without a request (uvicorn's 5 s).
    keepalive_timeout: float = 5.0
    #: Connections one client address may hold to each front (or, with
    #: ``workers = 0``, to this process); more are closed. Behind a proxy every
    #: connection comes from the proxy's address: raise it to the proxy's pool.
    max_connections_per_client: int = 256
    #: TLS on the public port, for deployments without a proxy: a PEM certificate
    #: (chain) file and its private key file (`umsgate.tls`); both or neither.
    tls_cert: str = ""
    tls_key: str = ""

    def __post_init__(self) -> None:
        if bool(self.tls_cert) != bool(self.tls_key):
            missing = "tls_key" if self.tls_cert else "tls_cert"
            raise BadValue(missing, "give tls_cert and tls_key together")
        for name in ("header_timeout", "body_timeout", "keepalive_timeout"):
            _check_seconds(name, getattr(self, name), 0, MAX_SERVER_TIMEOUT, above=True)
        _check_count(
            "max_connections_per_client",
            self.max_connections_per_client,
            MAX_CONNECTIONS_PER_CLIENT,
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StoreSettings:
    #: SQLAlchemy URL; empty means SQLite in ``data_dir``.
    url: str = ""
    data_dir: str = "./data"
    #: Most messages written in one group commit.
    commit_batch: int = 1000
    #: PostgreSQL schema to use (tests give each run its own).
    schema: str = ""


#: Most threads checking scrypt hashes: each keeps a core busy while it works.
MAX_HASH_WORKERS = 64
#: Longest lockout after failed token requests: a day.
MAX_LOCKOUT = 86400.0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AuthSettings:
    #: Token lifetime in seconds (apigw spec §14: 24 h).
    token_ttl: float = 86400.0
    #: How long a node trusts a cached client row before reading it again (seconds).
    cache_ttl: float = 2.0
    #: Threads that check scrypt secrets (token requests, ToBeText tokens), off the
    #: event loop; each takes a core while it works (`umsgate.hashing`).
    hash_workers: int = 1
    #: The failed token request in a row, for one client id, that locks it out
    #: for 1 s; each further failure doubles the lockout (`umsgate.lockout`).
    failures_before_lockout: int = 5
    #: The same for one remote address (honest clients may share one behind a NAT).
    address_failures_before_lockout: int = 20
    #: The longest lockout (seconds).
    lockout_max_seconds: float = 300.0
    #: Client ids, and addresses, whose failures are remembered (each; the least
    #: recently failed are forgotten first).
    lockout_keys: int = 10_000

    def __post_init__(self) -> None:
        _check_count("hash_workers", self.hash_workers, MAX_HASH_WORKERS)
        for name in ("failures_before_lockout", "address_failures_before_lockout"):
            _check_count(name, getattr(self, name))
        _check_seconds("lockout_max_seconds", self.lockout_max_seconds, 1, MAX_LOCKOUT)
        _check_count("lockout_keys", self.lockout_keys)


#: The environment variable that holds the key sealing secrets at rest.
SECRET_KEY_ENV = "UMSGATE_SECRET_KEY"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SecuritySettings:
    #: A file holding the key that encrypts the webhook signing keys in the store
    #: (`umsgate.sealing`; ``umsgate secret-key --out FILE`` makes one, mode 0600).
    #: Relative to the settings file. ``UMSGATE_SECRET_KEY`` gives the key itself.
    key_file: str = ""
    #: Seconds a client's previous webhook signing key still signs reports, beside
    #: the new one, after ``umsgate client rotate-webhook-key``.
    webhook_key_grace: float = 86400.0
    #: The key itself, from ``UMSGATE_SECRET_KEY`` or ``key_file`` ("" for none):
    #: never from the settings file, never shown.
    secret_key: str = dataclasses.field(default="", repr=False)

    def __post_init__(self) -> None:
        _check_seconds("webhook_key_grace", self.webhook_key_grace, 0, MAX_KEY_GRACE)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleSettings:
    """The operator console (`umsgate.console`) and its admin API."""

    #: A console session unused this long ends (seconds; 30 min, OWASP's guidance
    #: for an administrative application).
    session_idle: float = 1800.0
    #: A console session ends this long after the login however it is used
    #: (seconds; 12 h, one working shift).
    session_max: float = 43200.0
    #: Failed logins of one username or one address allowed before each further
    #: try must wait (1 s, doubled per failure, at most `login_backoff_max`).
    login_free_failures: int = 3
    login_backoff_max: float = 300.0


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
    #: A SENT message with no report this many seconds after its submit ends
    #: EXPIRED (reported); a report that comes later changes nothing.
    report_timeout: float = 86400.0
    #: A provider report that matched no message for this many seconds is dropped
    #: (counted in ``umsgate_reports_unmatched`` and ``/healthz``, logged with its
    #: id): a submit is recorded moments after the provider took it.
    unmatched_report_ttl: float = 600.0


#: Most reports in one webhook POST (the report check's own limit, apigw spec §12).
MAX_REPORTS_PER_POST = 1000


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSettings:
    #: Seconds between attempts (apigw spec §11: 90 s).
    retry_interval: float = 90.0
    #: Re-sends after the first attempt (apigw spec §11: 100).
    max_retries: int = 100
    timeout: float = 10.0
    concurrency: int = 64
    batch_size: int = 500
    #: Most native reports of one client in one POST, as a JSON array (apigw spec
    #: §11: receivers accept an array); 1 sends every report as its own object.
    reports_per_post: int = 1
    #: Let report and callback URLs reach loopback, private, link-local and other
    #: addresses that are not globally routable (`umsgate.targets`; for a
    #: gateway whose clients receive reports on its own network, or tests on
    #: 127.0.0.1). Off: such a URL is refused when set and when called.
    allow_private_targets: bool = False

    def __post_init__(self) -> None:
        _check_count("reports_per_post", self.reports_per_post, MAX_REPORTS_PER_POST)


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
class Origin:
    """Where a table of the settings file is: the file, the line of its header and
    the lines of its keys."""

    file: str
    line: int | None = None
    keys: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def at(self, key: str | None = None) -> str:
        """``FILE, line N`` of ``key`` (or of the table when the key has no line)."""
        line = self.keys.get(key, self.line) if key is not None else self.line
        return f"{self.file}, line {line}" if line else self.file


#: Option names whose values are secrets even when written in the file.
_SECRET_WORDS = ("password", "secret", "token", "key")


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
    #: The protocol's own keys; never shown (they hold credentials).
    options: Mapping[str, object] = dataclasses.field(default_factory=dict, repr=False)
    #: Options whose values are secrets: from ``X_env``/``X_file``, or named so.
    secrets: frozenset[str] = frozenset()
    #: Run the connector in a process of its own, next to the gateway process
    #: (`umsgate.hosting`): its sessions and codec then use another core. In a
    #: settings file, ``"auto"`` (the default there) is `auto_own_process`.
    own_process: bool = False
    origin: Origin | None = dataclasses.field(default=None, compare=False)

    def options_with_limits(self, *keys: str) -> Mapping[str, object]:
        """``options`` plus those of ``tps`` and ``window`` (``keys``) that are set,
        for protocols whose own sessions enforce them as well (SMPP's window and
        rate limiter)."""
        limits = {"tps": self.tps, "window": self.window}
        extra = {k: limits[k] for k in keys if limits[k] is not None}
        return {**self.options, **extra}

    def secret_values(self) -> list[str]:
        """The secret option values, longest first."""
        names = set(self.secrets) | {
            k for k in self.options if any(w in k.lower() for w in _SECRET_WORDS)
        }
        values = {
            v for k, v in self.options.items() if k in names and isinstance(v, str)
        }
        return sorted((v for v in values if v), key=len, reverse=True)

    def redact(self, text: str) -> str:
        """``text`` with every secret value (as written or as repr'd) replaced."""
        for value in self.secret_values():
            text = text.replace(value, "***")
            escaped = repr(value)[1:-1]
            if escaped != value:
                text = text.replace(escaped, "***")
        return text

    def at(self, key: str | None = None) -> str:
        """Where this connector (or its option ``key``) is written."""
        if self.origin is None:
            return f"connector {self.name!r}"
        return f"{self.origin.at(key)}: connector {self.name!r}"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RouteSettings:
    """One ``[[routes]]`` table (see ``docs/routing.md``); every rule given must
    match, an empty rule matches anything."""

    name: str
    #: Failover order; adjacent connectors with a weight share one rank.
    connectors: tuple[str, ...]
    #: Weight of each connector in order (missing or 0: a rank of its own).
    weights: tuple[int, ...] = ()
    channels: tuple[str, ...] = ()
    #: ISO 3166-1 alpha-2 regions of the receiver (``KR``, ``JP``).
    countries: tuple[str, ...] = ()
    #: E.164 prefixes of the receiver (``+8210``).
    prefixes: tuple[str, ...] = ()
    clients: tuple[str, ...] = ()
    #: Exact sender (callback) numbers, E.164.
    senders: tuple[str, ...] = ()
    #: E.164 prefixes of the sender (``+8215``).
    sender_prefixes: tuple[str, ...] = ()
    origin: Origin | None = dataclasses.field(default=None, compare=False, repr=False)

    def weight(self, index: int) -> int:
        return self.weights[index] if index < len(self.weights) else 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BreakerSettings:
    """When a connector's circuit breaker (`umsgate.engine.breaker`) opens and how it
    comes back (the ``[breaker]`` settings)."""

    #: Transient failures in the window that open the breaker...
    threshold: int = 5
    #: ...when they are at least this share of the window's answers.
    ratio: float = 0.5
    #: Seconds of answers the breaker looks at.
    window: float = 10.0
    #: Seconds an opened breaker waits before it probes.
    cooldown: float = 5.0
    #: Longest cool-down (it doubles after each failed probe).
    cooldown_max: float = 60.0
    #: Probe messages that must succeed to close it (and most in flight at once).
    probes: int = 3
    #: Seconds a probe may stay unanswered before its slot goes to another message
    #: (a probe that never went out must not keep the breaker half-open).
    probe_timeout: float = 150.0

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise BadValue("threshold", "threshold must be at least 1")
        if not 0.0 < self.ratio <= 1.0:
            raise BadValue("ratio", "ratio must be in (0, 1]")
        for name in ("window", "cooldown", "probe_timeout"):
            if getattr(self, name) <= 0:
                raise BadValue(name, f"{name} must be positive")
        if self.cooldown_max < self.cooldown:
            raise BadValue("cooldown_max", "cooldown_max must be at least cooldown")
        if self.probes < 1:
            raise BadValue("probes", "probes must be at least 1")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    auth: AuthSettings = AuthSettings()
    console: ConsoleSettings = ConsoleSettings()
    engine: EngineSettings = EngineSettings()
    webhook: WebhookSettings = WebhookSettings()
    report_check: ReportCheckSettings = ReportCheckSettings()
    sandbox: SandboxSettings = SandboxSettings()
    breaker: BreakerSettings = dataclasses.field(default_factory=BreakerSettings)
    security: SecuritySettings = SecuritySettings()
    connectors: tuple[ConnectorSettings, ...] = ()
    routes: tuple[RouteSettings, ...] = ()

    def database_url(self) -> str:
        if self.store.url:
            return self.store.url
        path = Path(self.store.data_dir).expanduser().resolve() / "umsgate.db"
        return f"sqlite+aiosqlite:///{path}"


#: Protocols whose connector runs in a process of its own by default (``own_process
#: = "auto"``) on a machine of several cores: those that may (no callback, no file)
#: and do enough per message to take a core's share (SMPP's sessions and codec).
OWN_PROCESS_BY_DEFAULT = frozenset({"smpp"})


def auto_workers(cores: int | None = None) -> int:
    """The HTTP front processes ``workers = "auto"`` means: none on one core, then
    one per two cores, at most four (the gateway process keeps a core, a connector
    process may take another; on two cores one front is as fast as two)."""
    cores = cores or os.cpu_count() or 1
    return 0 if cores < 2 else min(4, max(1, cores // 2))


def auto_own_process(protocol: str, cores: int | None = None) -> bool:
    """What ``own_process = "auto"`` means for a connector of ``protocol``."""
    cores = cores or os.cpu_count() or 1
    return cores >= 2 and protocol in OWN_PROCESS_BY_DEFAULT


if TYPE_CHECKING:
    from _typeshed import DataclassInstance

#: A settings dataclass.
_D = TypeVar("_D", bound="DataclassInstance")

_SECTIONS: dict[str, type[DataclassInstance]] = {
    "server": ServerSettings,
    "store": StoreSettings,
    "auth": AuthSettings,
    "console": ConsoleSettings,
    "engine": EngineSettings,
    "webhook": WebhookSettings,
    "report_check": ReportCheckSettings,
    "sandbox": SandboxSettings,
    "breaker": BreakerSettings,
    "security": SecuritySettings,
}


def _cast(value: object, annotation: object, where: str) -> object:
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


def _build(
    cls: type[_D], data: Mapping[str, object], where: Callable[[str | None], str]
) -> _D:
    """``cls`` from ``data``; ``where(key)`` names a key's place (None: the table)."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(
                f"{where(key)}: unknown key {key!r} (known: {', '.join(sorted(known))})"
            )
        kwargs[key] = _cast(value, hints[key], where(key))
    try:
        return cls(**kwargs)
    except BadValue as exc:
        raise ConfigError(f"{where(exc.key)}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where(None)}: {exc}") from None


@dataclasses.dataclass(slots=True)
class _Source:
    """The settings file being read, for error messages."""

    file: str
    lines: Lines
    directory: Path

    def origin(self, table: str, index: int, data: Mapping[str, object]) -> Origin:
        line = self.lines.table(table, index) or self.lines.key(None, table)
        keys = {
            k: n for k in data if (n := self.lines.key(table, k, index)) is not None
        }
        return Origin(file=self.file, line=line, keys=keys)

    def at(self, table: str | None, key: str | None = None) -> str:
        if table is None:
            line = self.lines.key(None, key) if key is not None else None
            return f"{self.file}, line {line}" if line else self.file
        if key is None:
            line = self.lines.table(table) or self.lines.key(None, table)
        else:
            line = self.lines.key(table, key)
        return f"{self.file}, line {line}" if line else self.file


def load(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, object]] | None = None,
) -> Settings:
    """Read settings: the TOML file, then ``UMSGATE_<SECTION>_<KEY>`` variables, then
    ``overrides`` (the command line's flags).

    Raises:
        ConfigError: naming the file and line (or the variable), the key, the value
            and what was expected.
    """
    raw: dict[str, object] = {}
    source = _Source(file="defaults", lines=Lines(""), directory=Path.cwd())
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such configuration file") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
        try:
            text = data.decode("utf-8")
            raw = tomllib.loads(text)
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text (TOML must be)") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        source = _Source(
            file=str(path),
            lines=Lines(text),
            directory=Path(path).expanduser().resolve().parent,
        )
    environ = os.environ if env is None else env
    sections: dict[str, dict[str, object]] = {}
    #: (section, key) → where a value that did not come from the file came from.
    elsewhere: dict[tuple[str, str], str] = {}
    for name in _SECTIONS:
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{source.at(None, name)}: [{name}] must be a table")
        sections[name] = dict(table)
    for name in raw:
        if name not in _SECTIONS and name not in ("connectors", "routes"):
            raise ConfigError(
                f"{source.at(name)}: unknown section [{name}] "
                f"(known: {', '.join([*_SECTIONS, 'connectors', 'routes'])})"
            )
    for key, value in environ.items():
        if not key.startswith("UMSGATE_"):
            continue
        rest = key[len("UMSGATE_") :].lower()
        for name in _SECTIONS:
            if rest.startswith(name + "_"):
                sections[name][rest[len(name) + 1 :]] = value
                elsewhere[(name, rest[len(name) + 1 :])] = key
                break
    if "secret_key" in sections["security"]:
        where = elsewhere.get(("security", "secret_key")) or source.at(
            "security", "secret_key"
        )
        raise ConfigError(
            f"{where}: the secret key is given in {SECRET_KEY_ENV} or in the file "
            "named by [security] key_file, not as a setting"
        )
    for name, values in (overrides or {}).items():
        given = {k: v for k, v in values.items() if v is not None}
        sections[name].update(given)
        elsewhere.update({(name, k): f"[{name}] {k} (command line)" for k in given})
    workers = sections["server"].setdefault("workers", "auto")
    if isinstance(workers, str) and workers.strip().lower() == "auto":
        sections["server"]["workers"] = auto_workers()

    def where_in(name: str) -> Callable[[str | None], str]:
        def where(key: str | None) -> str:
            if key is None:
                return f"{source.at(name)}: [{name}]"
            if (name, key) in elsewhere:
                return elsewhere[(name, key)]
            return f"{source.at(name, key)}: [{name}] {key}"

        return where

    # Each section is of its own type, as `Settings` has it.
    built: dict[str, Any] = {
        name: _build(cls, sections[name], where_in(name))
        for name, cls in _SECTIONS.items()
    }
    built["security"] = _secret_key(
        built["security"], environ, source, where_in("security")
    )
    connectors = tuple(
        _connector(c, source, i, environ)
        for i, c in enumerate(_tables(raw, "connectors", source))
    )
    seen: set[str] = set()
    for c in connectors:
        if c.name in seen:
            raise ConfigError(f"{c.at('name')}: the name is used twice")
        seen.add(c.name)
    routes = tuple(
        _route(r, source, i, seen | {"sandbox"})
        for i, r in enumerate(_tables(raw, "routes", source))
    )
    names: set[str] = set()
    for route in routes:
        if route.name in names:
            where = route.origin.at("name") if route.origin else source.file
            raise ConfigError(f"{where}: route {route.name!r}: the name is used twice")
        names.add(route.name)
    return Settings(connectors=connectors, routes=routes, **built)


def _secret_key(
    security: SecuritySettings,
    environ: Mapping[str, str],
    source: _Source,
    where: Callable[[str | None], str],
) -> SecuritySettings:
    """``security`` with the key of ``UMSGATE_SECRET_KEY`` or ``key_file`` (read
    now; it must not be readable by other users), checked."""
    key, origin = security.secret_key, "[security] secret_key"
    given = environ.get(SECRET_KEY_ENV, "")
    if given:
        key, origin = given.strip(), SECRET_KEY_ENV
    if security.key_file:
        at = where("key_file")
        if given:
            raise ConfigError(
                f"{at}: give the secret key once: {SECRET_KEY_ENV} or key_file"
            )
        file = Path(security.key_file).expanduser()
        if not file.is_absolute():
            file = source.directory / file
        try:
            mode = file.stat().st_mode
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise ConfigError(f"{at}: {str(file)!r}: {reason}") from None
        if mode & 0o077:
            raise ConfigError(
                f"{at}: {str(file)!r} can be read by other users (mode "
                f"{mode & 0o777:04o}); make it 0600 (chmod 600)"
            )
        key, origin = text.strip(), f"{at}: {str(file)!r}"
    if key:
        try:
            sealing.check_key(key)
        except ValueError as exc:
            raise ConfigError(f"{origin}: {exc}") from None
    return dataclasses.replace(security, secret_key=key)


def _tables(raw: Mapping[str, object], name: str, source: _Source) -> list[object]:
    tables = raw.get(name, [])
    if not isinstance(tables, list):
        raise ConfigError(
            f"{source.at(None, name)}: {name} must be tables ([[{name}]])"
        )
    return tables


def _connector(
    data: object, source: _Source, index: int, environ: Mapping[str, str]
) -> ConnectorSettings:
    if not isinstance(data, dict):
        line = source.at(None, "connectors")
        raise ConfigError(f"{line}: [[connectors]] #{index + 1} must be a table")
    origin = source.origin("connectors", index, data)
    data = dict(data)
    name = data.pop("name", None)
    protocol = data.pop("protocol", None)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(
            f"{origin.at('name')}: [[connectors]] #{index + 1}: "
            f"'name' is required (a non-empty string)"
        )
    where = f"connector {name!r}"
    if not isinstance(protocol, str) or not protocol:
        raise ConfigError(
            f"{origin.at('protocol')}: {where}: 'protocol' is required (a string)"
        )
    tps = data.pop("tps", None)
    if tps is not None and (
        isinstance(tps, bool)
        or not isinstance(tps, int | float)
        or not 0 <= tps < math.inf
    ):
        raise ConfigError(
            f"{origin.at('tps')}: {where}: tps = {tps!r} is not a valid rate "
            "(messages per second, 0 for no limit)"
        )
    window = data.pop("window", None)
    if window is not None and (
        isinstance(window, bool) or not isinstance(window, int) or window < 1
    ):
        raise ConfigError(
            f"{origin.at('window')}: {where}: window = {window!r} is not a valid "
            "window (an integer of at least 1, messages in flight)"
        )
    own_process = data.pop("own_process", "auto")
    if own_process == "auto":
        own_process = auto_own_process(protocol)
    if not isinstance(own_process, bool):
        raise ConfigError(
            f"{origin.at('own_process')}: {where}: own_process = {own_process!r} "
            'must be true, false or "auto"'
        )
    secrets: set[str] = set()
    options = {k: v for k, v in data.items() if not k.endswith(("_env", "_file"))}
    for key, value in data.items():
        base, kind = _secret_source(key)
        if kind is None:
            continue
        at = f"{origin.at(key)}: {where}"
        if base in options or base in secrets:
            raise ConfigError(
                f"{at}: give {base!r} once: as a value, {base}_env or {base}_file"
            )
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{at}: {key!r} must be a non-empty string")
        if kind == "env":
            if value not in environ:
                raise ConfigError(
                    f"{at}: the environment variable {value!r} ({key}) is not set"
                )
            options[base] = environ[value]
        else:
            file = Path(value).expanduser()
            if not file.is_absolute():
                file = source.directory / file
            try:
                secret = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or "not UTF-8 text"
                raise ConfigError(f"{at}: {key} {str(file)!r}: {reason}") from None
            options[base] = secret.removesuffix("\n").removesuffix("\r")
        secrets.add(base)
    # An option taken from X_env / X_file is written on that key's line.
    lines = {_secret_source(k)[0]: n for k, n in origin.keys.items()}
    origin = dataclasses.replace(origin, keys={**lines, **origin.keys})
    return ConnectorSettings(
        name=name,
        protocol=protocol,
        tps=float(tps) if tps else None,
        window=window,
        options=options,
        secrets=frozenset(secrets),
        own_process=own_process,
        origin=origin,
    )


def _secret_source(key: str) -> tuple[str, str | None]:
    """``password_env`` → (``password``, ``env``); other keys → (key, None)."""
    for suffix in ("env", "file"):
        if key.endswith("_" + suffix) and len(key) > len(suffix) + 1:
            return key[: -len(suffix) - 1], suffix
    return key, None


_ROUTE_KEYS = (
    "name",
    "connectors",
    "weights",
    "channels",
    "countries",
    "prefixes",
    "clients",
    "senders",
    "sender_prefixes",
)
#: An E.164 prefix: ``+`` and 1 to 15 digits.
_PREFIX = re.compile(r"\+[0-9]{1,15}")


def _route(
    data: object, source: _Source, index: int, defined: set[str]
) -> RouteSettings:
    if not isinstance(data, dict):
        line = source.at(None, "routes")
        raise ConfigError(f"{line}: [[routes]] #{index + 1} must be a table")
    origin = source.origin("routes", index, data)
    name = data.get("name")
    label = f"route {name!r}" if isinstance(name, str) else f"[[routes]] #{index + 1}"

    def bad(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{origin.at(key)}: {label}: {key!r} {problem}")

    for key in data:
        if key not in _ROUTE_KEYS:
            raise bad(key, f"is not a route key (known: {', '.join(_ROUTE_KEYS)})")
    if not isinstance(name, str) or not name.strip():
        raise bad("name", "is required (a non-empty string)")

    def strings(key: str) -> list[str]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(
            isinstance(v, str) and v.strip() for v in value
        ):
            raise bad(key, f"must be a list of non-empty strings, not {value!r}")
        return [v.strip() for v in value]

    if "connectors" not in data:
        raise bad("connectors", "is required (the connectors in failover order)")
    connectors = strings("connectors")
    if not connectors:
        raise bad("connectors", "must name at least one connector")
    for cname in connectors:
        if cname not in defined:
            raise bad("connectors", f"names {cname!r}, which is not defined")
        if connectors.count(cname) > 1:
            raise bad("connectors", f"names {cname!r} twice")
    weights = data.get("weights", [])
    if not isinstance(weights, list) or not all(
        isinstance(w, int) and not isinstance(w, bool) and w >= 0 for w in weights
    ):
        raise bad("weights", f"must be a list of integers ≥ 0, not {weights!r}")
    if len(weights) > len(connectors):
        raise bad(
            "weights",
            f"has {len(weights)} weights for {len(connectors)} connectors",
        )
    channels = [c.upper() for c in strings("channels")]
    for channel in channels:
        if channel not in Channel.__members__:
            raise bad("channels", f"names {channel!r} (channels: {', '.join(Channel)})")
    countries = [c.upper() for c in strings("countries")]
    for code in countries:
        if not phone.is_region(code):
            raise bad("countries", f"names {code!r}, not an ISO 3166 region code")
    prefixes = strings("prefixes")
    sender_prefixes = strings("sender_prefixes")
    for key, values in (("prefixes", prefixes), ("sender_prefixes", sender_prefixes)):
        for prefix in values:
            if not _PREFIX.fullmatch(prefix):
                raise bad(key, f"has {prefix!r}: an E.164 prefix is + and digits")
    senders: list[str] = []
    for number in strings("senders"):
        try:
            senders.append(phone.sender(number))
        except phone.InvalidNumber:
            raise bad("senders", f"has {number!r}, not a valid number") from None
    return RouteSettings(
        name=name.strip(),
        connectors=tuple(connectors),
        weights=tuple(weights),
        channels=tuple(channels),
        countries=tuple(countries),
        prefixes=tuple(prefixes),
        clients=tuple(strings("clients")),
        senders=tuple(senders),
        sender_prefixes=tuple(sender_prefixes),
        origin=origin,
    )
