"""The AI CROSS connector's options (its ``[[connectors]]`` table): every name the
seed leaves open is an option (aicross spec §4, §7), read and checked here once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from umsgate.config import ConnectorSettings
from umsgate.domain.results import ResultCode
from umsgate.errors import ConfigError
from umsgate.protocols._http.exchange import Limits
from umsgate.protocols._http.options import Options
from umsgate.protocols.aicross import codec, codes

#: Spec §6: poll at 10 s, 30 s, 60 s, then every 5 min.
DEFAULT_POLL_SCHEDULE = (10.0, 30.0, 60.0, 300.0)
#: Spec §6: give up after 24 h.
DEFAULT_POLL_GIVE_UP = 86400.0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    url: str
    token: str
    send_path: str = "/api/p5/send.json"
    result_path: str = "/api/p5/result.json"
    #: Send the token in this header instead of the form (spec §7.3).
    token_header: str | None = None
    shape: codec.Shape = codec.DEFAULT_SHAPE
    #: Field that carries the sender id, when the account needs one.
    sender_field: str | None = None
    #: Constant fields added to every send.
    extra_fields: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: Error codes meaning "this clientTag was taken before" (spec §6).
    duplicate_codes: frozenset[str] = frozenset({codes.ErrorCode.DUPLICATE_CLIENT_TAG})
    #: Error codes of the result API meaning "unknown clientTag".
    unknown_codes: frozenset[str] = frozenset({codes.ErrorCode.UNKNOWN_CLIENT_TAG})
    #: Raw error code → unified code.
    results: Mapping[str, ResultCode] = dataclasses.field(
        default_factory=lambda: dict(codes.DEFAULT_RESULTS)
    )
    max_text_chars: int = codec.DEFAULT_MAX_TEXT_CHARS
    dlr_path: str | None = None
    poll: bool = True
    poll_schedule: tuple[float, ...] = DEFAULT_POLL_SCHEDULE
    poll_give_up: float = DEFAULT_POLL_GIVE_UP
    limits: Limits = dataclasses.field(
        default_factory=lambda: Limits(max_body=codec.MAX_ANSWER_BYTES)
    )
    concurrency: int = 16
    poll_concurrency: int = 16


def _unified(where: str, key: str, value: str) -> ResultCode:
    for code in ResultCode:
        if value in (code.value, code.name):
            return code
    raise ConfigError(
        f"{where}: option 'code_map' maps {key!r} to {value!r}, "
        "which is not a unified result code (name or 4-digit value)"
    )


def read(settings: ConnectorSettings) -> Config:
    """The connector's configuration from its ``[[connectors]]`` options.

    Options: ``url``, ``token`` (required); ``send_path``, ``result_path``;
    ``token_header``; the field names ``token_field``, ``to_field``, ``text_field``,
    ``client_tag_field``, ``sender_field``; ``extra_fields`` (table); the JSON paths
    ``status_path``, ``error_code_path``, ``message_path``, ``client_tag_path``,
    ``carrier_path``, ``done_at_path``; the status literals ``accepted_values``,
    ``error_values``, ``delivered_values``, ``failed_values``,
    ``delivering_values``; ``duplicate_codes``, ``unknown_codes``; ``code_map``
    (table raw code → unified name or value, over the placeholder table);
    ``max_text_chars`` (670); ``dlr`` (true) and ``dlr_path`` (default
    ``/callbacks/aicross/<name>``); ``poll`` (true), ``poll_schedule``,
    ``poll_give_up``; ``connect_timeout``, ``timeout``; ``concurrency``,
    ``poll_concurrency``.

    Raises:
        ConfigError: naming the option that cannot be used.
    """
    where = f"connector {settings.name!r} (aicross)"
    options = Options(where, settings.options)
    d = codec.DEFAULT_SHAPE

    def values(key: str, default: frozenset[str]) -> frozenset[str]:
        return frozenset(options.strings(key, sorted(default)))

    shape = codec.Shape(
        token_field=options.string("token_field", d.token_field),
        to_field=options.string("to_field", d.to_field),
        text_field=options.string("text_field", d.text_field),
        client_tag_field=options.string("client_tag_field", d.client_tag_field),
        status_path=options.string("status_path", d.status_path),
        error_code_path=options.string("error_code_path", d.error_code_path),
        message_path=options.string("message_path", d.message_path),
        client_tag_path=options.string("client_tag_path", d.client_tag_path),
        carrier_path=options.string("carrier_path", d.carrier_path),
        done_at_path=options.string("done_at_path", d.done_at_path),
        accepted_values=values("accepted_values", d.accepted_values),
        error_values=values("error_values", d.error_values),
        delivered_values=values("delivered_values", d.delivered_values),
        failed_values=values("failed_values", d.failed_values),
        delivering_values=values("delivering_values", d.delivering_values),
    )
    groups = {
        "delivered_values": shape.delivered_values,
        "failed_values": shape.failed_values,
        "delivering_values": shape.delivering_values,
        "error_values": shape.error_values,
    }
    names = list(groups)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    pairs.append(("accepted_values", "error_values"))
    groups["accepted_values"] = shape.accepted_values
    for a, b in pairs:
        shared = sorted(groups[a] & groups[b])
        if shared:
            raise ConfigError(f"{where}: options {a!r} and {b!r} share {shared}")
    results = dict(codes.DEFAULT_RESULTS)
    for key, value in options.table("code_map").items():
        results[key] = _unified(where, key, value)
    dlr_path = options.path("dlr_path", f"/callbacks/aicross/{settings.name}")
    limits = options.limits(codec.MAX_ANSWER_BYTES)
    dlr = options.boolean("dlr", True)
    poll = options.boolean("poll", True)
    if not dlr and not poll:
        raise ConfigError(f"{where}: with 'dlr' and 'poll' off no result would come")
    config = Config(
        url=options.url("url"),
        token=options.string("token"),
        send_path=options.path("send_path", "/api/p5/send.json"),
        result_path=options.path("result_path", "/api/p5/result.json"),
        token_header=options.optional_string("token_header"),
        shape=shape,
        sender_field=options.optional_string("sender_field"),
        extra_fields=options.table("extra_fields"),
        duplicate_codes=frozenset(
            options.strings("duplicate_codes", [codes.ErrorCode.DUPLICATE_CLIENT_TAG])
        ),
        unknown_codes=frozenset(
            options.strings("unknown_codes", [codes.ErrorCode.UNKNOWN_CLIENT_TAG])
        ),
        results=results,
        max_text_chars=options.integer(
            "max_text_chars", codec.DEFAULT_MAX_TEXT_CHARS, minimum=1, maximum=100_000
        ),
        dlr_path=dlr_path if dlr else None,
        poll=poll,
        poll_schedule=options.numbers(
            "poll_schedule", DEFAULT_POLL_SCHEDULE, minimum=0.001
        ),
        poll_give_up=options.number(
            "poll_give_up", DEFAULT_POLL_GIVE_UP, minimum=0.001
        ),
        limits=limits,
        concurrency=options.concurrency(),
        poll_concurrency=options.concurrency("poll_concurrency"),
    )
    options.finish()
    return config
