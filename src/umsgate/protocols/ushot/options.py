"""The UShot connector's options (the ``[[connectors]]`` table of protocol ``ushot``),
validated once by ``build``; every error names the key.

Example::

    [[connectors]]
    name = "ushot"
    protocol = "ushot"
    user_id = "myid"
    password = "secret"
    version = "SAM11"            # or SAM10
    host = "link.unionmc.co.kr"  # default; ports default to the seed's 33300-33303
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any

from umsgate.domain.message import Channel
from umsgate.errors import ConfigError
from umsgate.protocols.ushot.codes import DEFAULT_BASE_PORT, DEFAULT_HOST, Port, Version

_LANE_CHANNELS = (Channel.SMS, Channel.LMS, Channel.MMS)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """Connector settings; times in seconds (defaults from spec §8)."""

    #: The ID and password UnionMC issued.
    user_id: str
    password: str
    host: str = DEFAULT_HOST
    sms_port: int = DEFAULT_BASE_PORT
    sms_report_port: int = DEFAULT_BASE_PORT + 1
    mms_port: int = DEFAULT_BASE_PORT + 2
    mms_report_port: int = DEFAULT_BASE_PORT + 3
    #: SAM11 (pushed, acknowledged results; recommended, spec §11) or SAM10 (polled).
    version: Version = Version.SAM11
    #: Channels this connector carries; SMS opens the SMS ports, LMS/MMS the MMS ports.
    channels: frozenset[Channel] = frozenset(_LANE_CHANNELS)
    #: Wait after a drop before reconnecting (seed §2-B-5: 10 s).
    reconnect_delay: float = 10.0
    #: Longest wait after refused logins (doubling from reconnect_delay; spec §8).
    login_retry_max: float = 300.0
    #: Empty send request when the send session is idle (seed: 30 s).
    send_keepalive: float = 30.0
    #: SAM11: empty 1030 when the report session is idle (seed: 30 s).
    report_keepalive: float = 30.0
    #: SAM10: result poll interval (seed: 5 s).
    poll_interval: float = 5.0
    #: How long any request may wait for its answer, and a connect for its socket.
    request_timeout: float = 30.0
    #: A session silent this long is dead (spec §8: 90 s).
    idle_timeout: float = 90.0
    #: Records per request when the login's RESP_MESG does not say (spec §6.2).
    max_count: int = 30
    #: Send records without USERCODE (the seed's stated totals, spec §6.9).
    legacy_record_layout: bool = False
    #: USERCODE of every record (customer identification code).
    usercode: str = ""
    #: URL of SMS records whose message has no ``extra["url"]`` (service type 2).
    callback_url: str = ""
    #: Messages waiting for a send session before submits get RETRY at once.
    max_queue: int = 10_000

    def port(self, port: Port) -> int:
        return {
            Port.SMS: self.sms_port,
            Port.SMS_REPORT: self.sms_report_port,
            Port.MMS: self.mms_port,
            Port.MMS_REPORT: self.mms_report_port,
        }[port]

    @property
    def ports(self) -> tuple[Port, ...]:
        """The sessions to keep open for the configured channels."""
        out: list[Port] = []
        if Channel.SMS in self.channels:
            out += [Port.SMS, Port.SMS_REPORT]
        if self.channels & {Channel.LMS, Channel.MMS}:
            out += [Port.MMS, Port.MMS_REPORT]
        return tuple(out)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object], *, where: str) -> Options:
        """Options from a connector table's keys (``base_port`` sets the four ports at
        once; an explicit port wins).

        Raises:
            ConfigError: unknown key, missing credentials, or a value of the wrong
                type or range, naming the key.
        """
        hints = typing.get_type_hints(cls)
        known = {f.name for f in dataclasses.fields(cls)}
        # Each value of its field's type (`_cast`), which a checker cannot see.
        values: dict[str, Any] = {}
        data = dict(raw)
        base = data.pop("base_port", None)
        if base is not None:
            base_port = _int(base, f"{where}: option 'base_port'")
            for port in Port:
                values[f"{port.value}_port"] = base_port + port.offset
        for key, value in data.items():
            if key not in known:
                raise ConfigError(
                    f"{where}: unknown option {key!r} "
                    f"(known: {', '.join(sorted(known | {'base_port'}))})"
                )
            values[key] = _cast(key, value, hints[key], f"{where}: option {key!r}")
        for key in ("user_id", "password"):
            if not values.get(key):
                raise ConfigError(f"{where}: option {key!r} is required")
        options = cls(**values)
        options._check(where)
        return options

    def _check(self, where: str) -> None:
        for port in Port:
            if not 0 < self.port(port) < 65536:
                raise ConfigError(
                    f"{where}: option '{port.value}_port' is not a port number"
                )
        for key in (
            "reconnect_delay",
            "send_keepalive",
            "report_keepalive",
            "poll_interval",
            "request_timeout",
            "idle_timeout",
        ):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{where}: option {key!r} must be above 0")
        if self.login_retry_max < self.reconnect_delay:
            raise ConfigError(
                f"{where}: option 'login_retry_max' must be ≥ reconnect_delay"
            )
        if not 1 <= self.max_count <= 9999:
            raise ConfigError(f"{where}: option 'max_count' must be 1..9999")
        if self.max_queue < 1:
            raise ConfigError(f"{where}: option 'max_queue' must be ≥ 1")
        if not self.channels:
            raise ConfigError(f"{where}: option 'channels' names no channel")
        for key, limit in (("user_id", 20), ("password", 20), ("usercode", 30)):
            value: str = getattr(self, key)
            try:
                size = len(value.encode("cp949"))
            except UnicodeEncodeError:
                raise ConfigError(
                    f"{where}: option {key!r} is not CP949 text"
                ) from None
            if size > limit:
                raise ConfigError(f"{where}: option {key!r} is over {limit} bytes")


def _int(value: object, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ConfigError(f"{where}: {value!r} is not an integer")


def _cast(key: str, value: object, hint: object, where: str) -> object:
    """``value`` as of the type ``hint`` (field ``key``'s)."""
    if hint is int:
        return _int(value, where)
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: {value!r} is not a number")
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "no", "0", "off"):
            return False
        raise ConfigError(f"{where}: {value!r} is not true or false")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: {value!r} is not a string")
    if hint is Version:
        text = str(value).strip().upper()
        try:
            return Version(text)
        except ValueError:
            raise ConfigError(f"{where}: {value!r} is not SAM10 or SAM11") from None
    if key == "channels":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ConfigError(f"{where}: {value!r} is not a list of channels")
        out = set()
        for item in items:
            try:
                channel = Channel(str(item).strip().upper())
            except ValueError:
                channel = None
            if channel not in _LANE_CHANNELS:
                raise ConfigError(f"{where}: {item!r} is not SMS, LMS or MMS")
            out.add(channel)
        return frozenset(out)
    raise ConfigError(f"{where}: unsupported option type")  # pragma: no cover
