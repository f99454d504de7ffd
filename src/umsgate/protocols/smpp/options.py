"""The options of an SMPP connector (``[[connectors]]`` with ``protocol = "smpp"``),
validated once; every error names the connector, the key, the value and what was
expected.

=====================  =============  ===============================================
key                    default        meaning
=====================  =============  ===============================================
host, port             (req.), 2775   the SMSC
system_id, password    (req.), ""     bind credentials (≤ 15 and ≤ 8 characters)
system_type            ""             bind system_type (≤ 12 characters)
bind                   transceiver    or ``transmitter+receiver`` (two sessions)
window                 10             outstanding submits per session
receipt_window         1000           deliver_sm the SMSC may have unanswered per
                                      session; beyond it the connector stops
                                      reading the socket until it answers one
                                      (never an error to the SMSC)
enquire_link_interval  30.0           seconds of silence before an enquire_link
response_timeout       10.0           seconds a request waits for its response
connect_timeout        10.0           seconds for the TCP connect
reconnect_initial      1.0            first reconnect delay, doubled per failure
reconnect_max          60.0           longest reconnect delay
tps                    0 (none)       messages per second on this route
throttle_hold          1.0            seconds a lowered rate holds after a refusal
throttle_retries       20             re-submits of one part after throttling
service_type           ""             submit_sm service_type
source_ton/_npi        1, 1           sender TON/NPI (TON 1: international digits;
                                      5: as written; other: national digits)
dest_ton/_npi          1, 1           receiver TON/NPI (the same rule)
data_coding            auto           or gsm, latin1, ucs2, ksc5601 (always that)
gsm_data_coding        0              data_coding sent with GSM text
korean                 ucs2           ``ksc5601``: Korean text goes as 0x0E (cp949)
long_message           udh            or ``sar`` (TLVs) or ``payload`` (one PDU)
validity               true           send the message's expiry as validity_period
retry_statuses         []             more command_status values to treat as
                                      transient (vendor codes)
receipt_timezone       UTC            zone of the dates in receipt texts (IANA)
=====================  =============  ===============================================
"""

from __future__ import annotations

import dataclasses
import zoneinfo
from collections.abc import Mapping
from typing import Any

from umsgate.errors import ConfigError
from umsgate.protocols.smpp import pdu as pdus
from umsgate.protocols.smpp.encoding import Encoding


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SmppOptions:
    host: str
    port: int = 2775
    system_id: str
    password: str = ""
    system_type: str = ""
    #: "transceiver" or "transmitter+receiver".
    bind: str = "transceiver"
    window: int = 10
    receipt_window: int = 1000
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0
    connect_timeout: float = 10.0
    reconnect_initial: float = 1.0
    reconnect_max: float = 60.0
    #: None: no limit of our own.
    tps: float | None = None
    throttle_hold: float = 1.0
    throttle_retries: int = 20
    service_type: str = ""
    source_ton: int = 1
    source_npi: int = 1
    dest_ton: int = 1
    dest_npi: int = 1
    #: None: choose per message.
    data_coding: Encoding | None = None
    gsm_data_coding: int = 0
    korean: Encoding = Encoding.UCS2
    long_message: str = "udh"
    validity: bool = True
    retry_statuses: frozenset[int] = frozenset()
    receipt_timezone: str = "UTC"

    @property
    def transceiver(self) -> bool:
        return self.bind == "transceiver"


_BIND_MODES = ("transceiver", "transmitter+receiver")
_LONG_MODES = ("udh", "sar", "payload")


def parse(name: str, raw: Mapping[str, object]) -> SmppOptions:
    """``raw`` (a connector's ``options``) checked and typed.

    Raises:
        ConfigError: an unknown key, a missing required one, or a bad value; the
            message names the connector and the key.
    """
    known = {f.name for f in dataclasses.fields(SmppOptions)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(
            f"connector {name!r}: unknown option(s) {sorted(unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )
    where = f"connector {name!r}"
    values: dict[str, Any] = {}

    def bad(key: str, expected: str) -> ConfigError:
        return ConfigError(f"{where}: option {key!r} = {raw[key]!r} is not {expected}")

    def text(key: str, *, limit: int | None = None, required: bool = False) -> None:
        if key not in raw:
            if required:
                raise ConfigError(f"{where}: option {key!r} is required")
            return
        value = raw[key]
        if not isinstance(value, str) or (required and not value):
            raise bad(key, "a non-empty string" if required else "a string")
        if limit is not None and len(value) >= limit:
            raise bad(key, f"at most {limit - 1} characters")
        values[key] = value

    def number(key: str, *, kind: type, low: float, high: float | None = None) -> None:
        if key not in raw:
            return
        value = raw[key]
        if isinstance(value, str):
            try:
                value = kind(value)
            except ValueError:
                raise bad(key, f"a {kind.__name__}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad(key, f"a {kind.__name__}")
        if kind is int and not float(value).is_integer():
            raise bad(key, "an integer")
        if value < low or (high is not None and value > high):
            span = f"≥ {low}" if high is None else f"in {low}..{high}"
            raise bad(key, f"a number {span}")
        values[key] = kind(value)

    def choice(key: str, allowed: tuple[str, ...]) -> str | None:
        if key not in raw:
            return None
        value = raw[key]
        if not isinstance(value, str) or value.lower() not in allowed:
            raise bad(key, f"one of {', '.join(allowed)}")
        return value.lower()

    text("host", required=True)
    number("port", kind=int, low=1, high=65535)
    text("system_id", limit=pdus.MAX_SYSTEM_ID, required=True)
    text("password", limit=pdus.MAX_PASSWORD)
    text("system_type", limit=pdus.MAX_SYSTEM_TYPE)
    text("service_type", limit=pdus.MAX_SERVICE_TYPE)
    if (mode := choice("bind", _BIND_MODES)) is not None:
        values["bind"] = mode
    number("window", kind=int, low=1, high=10_000)
    number("receipt_window", kind=int, low=1, high=100_000)
    number("enquire_link_interval", kind=float, low=0.01)
    number("response_timeout", kind=float, low=0.01)
    number("connect_timeout", kind=float, low=0.01)
    number("reconnect_initial", kind=float, low=0.001)
    number("reconnect_max", kind=float, low=0.001)
    number("tps", kind=float, low=0)
    if values.get("tps") == 0:
        values["tps"] = None
    number("throttle_hold", kind=float, low=0.01)
    number("throttle_retries", kind=int, low=0, high=1000)
    for key in ("source_ton", "source_npi", "dest_ton", "dest_npi"):
        number(key, kind=int, low=0, high=255)
    coding = choice("data_coding", ("auto", *(e.value for e in Encoding)))
    if coding is not None:
        values["data_coding"] = None if coding == "auto" else Encoding(coding)
    number("gsm_data_coding", kind=int, low=0, high=255)
    korean = choice("korean", (Encoding.UCS2.value, Encoding.KSC5601.value))
    if korean is not None:
        values["korean"] = Encoding(korean)
    if (long_mode := choice("long_message", _LONG_MODES)) is not None:
        values["long_message"] = long_mode
    if "validity" in raw:
        if not isinstance(raw["validity"], bool):
            raise bad("validity", "true or false")
        values["validity"] = raw["validity"]
    if "retry_statuses" in raw:
        statuses = raw["retry_statuses"]
        if not isinstance(statuses, list | tuple) or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= 0xFFFFFFFF
            for s in statuses
        ):
            raise bad("retry_statuses", "a list of command_status integers")
        values["retry_statuses"] = frozenset(statuses)
    if "receipt_timezone" in raw:
        zone = raw["receipt_timezone"]
        if not isinstance(zone, str):
            raise bad("receipt_timezone", "an IANA time zone name")
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            raise bad("receipt_timezone", "an IANA time zone name") from None
        values["receipt_timezone"] = zone
    options = SmppOptions(**values)
    if options.reconnect_max < options.reconnect_initial:
        raise ConfigError(
            f"{where}: reconnect_max {options.reconnect_max} is below "
            f"reconnect_initial {options.reconnect_initial}"
        )
    return options
