"""The SMSC delivery receipt text (SMPP 3.4 Appendix B)::

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm
    stat:DDDDDDD err:E Text: ...

Appendix B calls the format "SMSC vendor specific" and gives this one as typical;
SMSCs differ in case, in the width of ``id`` (10 digits in the example; hex or up to
65 characters in practice), in seconds on the dates, and in whether ``Text:`` is
there. `parse` therefore reads each key wherever it is, case-insensitive, and asks
only for ``id`` and ``stat``; `render` writes the example's layout exactly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from umsgate.errors import UmsgateError

#: Longest receipt text read (a short_message is at most 254 octets, §5.2.21; a
#: receipt in message_payload may be longer, but no key is read past this).
MAX_RECEIPT_TEXT = 1024

_FIELDS = {
    "id": re.compile(r"\bid:(\S+)", re.IGNORECASE),
    "sub": re.compile(r"\bsub:(\S*)", re.IGNORECASE),
    "dlvrd": re.compile(r"\bdlvrd:(\S*)", re.IGNORECASE),
    "submit_date": re.compile(r"\bsubmit[ _]date:(\d*)", re.IGNORECASE),
    "done_date": re.compile(r"\bdone[ _]date:(\d*)", re.IGNORECASE),
    "stat": re.compile(r"\bstat:(\w+)", re.IGNORECASE),
    "err": re.compile(r"\berr:(\w*)", re.IGNORECASE),
    "text": re.compile(r"\btext:(.*)\Z", re.IGNORECASE | re.DOTALL),
}
# The common case in one match; `parse` falls back to one search per key.
_STANDARD = re.compile(
    r"id:(?P<id>\S+) sub:(?P<sub>\S*) dlvrd:(?P<dlvrd>\S*) "
    r"submit date:(?P<submit_date>\d*) done date:(?P<done_date>\d*) "
    r"stat:(?P<stat>\w+) err:(?P<err>\w*)(?: text:(?P<text>.*))?\Z",
    re.IGNORECASE | re.DOTALL,
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """The fields of a receipt text, as written (``stat`` upper-cased)."""

    id: str
    stat: str
    sub: str = "001"
    dlvrd: str = "000"
    #: YYMMDDhhmm (Appendix B); some SMSCs add seconds.
    submit_date: str = ""
    done_date: str = ""
    err: str = "000"
    text: str = ""


class NotAReceipt(UmsgateError, ValueError):
    """The text has no ``id:`` or no ``stat:``."""


def parse(text: str) -> Receipt:
    """The receipt in ``text``.

    Raises:
        NotAReceipt: ``id:`` or ``stat:`` is missing.
    """
    text = text[:MAX_RECEIPT_TEXT].strip()
    match = _STANDARD.match(text)
    if match is not None:
        values = {k: v for k, v in match.groupdict().items() if v is not None}
    else:
        values = {}
        for key, pattern in _FIELDS.items():
            found = pattern.search(text)
            if found is not None:
                values[key] = found.group(1)
    if "id" not in values or "stat" not in values:
        raise NotAReceipt(f"no id: or stat: in {text[:80]!r}")
    values["stat"] = values["stat"].upper()
    return Receipt(**values)


def render(receipt: Receipt) -> str:
    """The Appendix B text of ``receipt``."""
    return (
        f"id:{receipt.id} sub:{receipt.sub} dlvrd:{receipt.dlvrd} "
        f"submit date:{receipt.submit_date} done date:{receipt.done_date} "
        f"stat:{receipt.stat} err:{receipt.err} Text:{receipt.text}"
    )


def date(when: dt.datetime) -> str:
    """``when`` as YYMMDDhhmm (Appendix B)."""
    return when.strftime("%y%m%d%H%M")


def parse_date(value: str, tz: dt.tzinfo) -> dt.datetime | None:
    """A receipt date (YYMMDDhhmm, or with seconds) in ``tz``; None when it is not
    one."""
    # By hand: strptime costs tens of microseconds, once per receipt.
    if len(value) not in (10, 12) or not value.isdigit():
        return None
    try:
        return dt.datetime(
            2000 + int(value[0:2]),
            int(value[2:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[8:10]),
            int(value[10:12] or 0),
            tzinfo=tz,
        )
    except ValueError:
        return None
