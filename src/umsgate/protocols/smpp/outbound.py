"""From a gateway `Message` to the submit_sm PDUs that carry it. Pure: no I/O.

A message goes as one submit_sm when its text fits one SMS, else in parts according
to the connector's ``long_message`` mode:

* ``udh``: each part carries the 6-octet concatenation header in short_message with
  the UDHI bit of esm_class (8-bit reference, TS 23.040 §9.2.3.24.1);
* ``sar``: each part carries sar_msg_ref_num / sar_total_segments /
  sar_segment_seqnum TLVs (16-bit reference, §5.3.2.22-24) and the SMSC adds the
  header;
* ``payload``: one submit_sm with the whole text in message_payload (§5.3.2.32),
  counted as the parts the SMSC will cut it into.

Every submit_sm asks for a final receipt (registered_delivery 1). An LMS's subject,
which SMS has no field for, goes first on its own line.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools

from umsgate.domain import phone
from umsgate.domain.message import Channel, Message
from umsgate.domain.results import ResultCode
from umsgate.errors import UmsgateError
from umsgate.protocols.smpp import encoding
from umsgate.protocols.smpp import pdu as pdus
from umsgate.protocols.smpp.codes import EsmClass, RegisteredDelivery, Ton
from umsgate.protocols.smpp.encoding import Encoding
from umsgate.protocols.smpp.link import PduFactory
from umsgate.protocols.smpp.options import SmppOptions
from umsgate.protocols.smpp.tlv import NO_TLVS, Tlvs

#: Channels an SMSC carries (LMS as concatenated SMS).
CHANNELS = frozenset({Channel.SMS, Channel.LMS})

#: Builds the submit_sm of one part once the session gives it a sequence number.
PartFactory = PduFactory[pdus.SubmitSm]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """The submit_sm PDUs of one message, in order, waiting for sequence numbers."""

    parts: tuple[PartFactory, ...]
    #: Parts the handset gets (more than ``len(parts)`` in payload mode).
    segments: int
    encoding: Encoding


class Refused(UmsgateError):
    """The message cannot go over SMPP as it is."""

    def __init__(self, code: ResultCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@functools.lru_cache(maxsize=phone.CACHED_NUMBERS)
def address(e164: str, ton: int) -> str:
    """How a number is written for ``ton``: international digits for TON 1, as
    written for alphanumeric (TON 5), national digits otherwise.

    Raises:
        ValueError: the number cannot be parsed for its national form.
    """
    if not e164:
        return ""
    if ton == Ton.INTERNATIONAL:
        return e164.lstrip("+")
    if ton == Ton.ALPHANUMERIC:
        return e164
    try:
        return phone.national(e164)
    except Exception as exc:  # phonenumbers raises its own NumberParseException
        raise ValueError(f"{e164!r} is not a number: {exc}") from None


def validity_period(expires_at: dt.datetime) -> str:
    """``expires_at`` in the absolute time format of §7.1.1, in UTC."""
    return expires_at.astimezone(dt.UTC).strftime("%y%m%d%H%M%S") + "000+"


def plan(
    message: Message, options: SmppOptions, *, reference: int, now: dt.datetime
) -> Plan:
    """The submit_sm PDUs for ``message``.

    Args:
        reference: this message's concatenation reference (any int; masked to 8
            bits for UDH, 16 for SAR).
        now: the current time (aware), to check the expiry against.

    Raises:
        Refused: an unsupported channel, a number that cannot be written, a text
            the chosen encoding cannot carry or that needs over 255 parts, or an
            expiry already past.
    """
    if message.channel not in CHANNELS:
        raise Refused(
            ResultCode.UNSUPPORTED, f"SMPP carries SMS and LMS, not {message.channel}"
        )
    try:
        destination = address(message.receiver, options.dest_ton)
    except ValueError as exc:
        raise Refused(ResultCode.INVALID_NUMBER, str(exc)) from None
    try:
        source = address(message.sender, options.source_ton)
    except ValueError as exc:
        raise Refused(ResultCode.SENDER_NOT_REGISTERED, str(exc)) from None
    if len(destination) >= pdus.MAX_ADDR:
        raise Refused(
            ResultCode.INVALID_NUMBER, f"receiver {destination!r} is too long"
        )
    if len(source) >= pdus.MAX_ADDR:
        raise Refused(
            ResultCode.SENDER_NOT_REGISTERED, f"sender {source!r} is too long"
        )
    validity = ""
    if options.validity and message.expires_at is not None:
        if message.expires_at <= now:
            raise Refused(ResultCode.EXPIRED, "the message expired before it was sent")
        validity = validity_period(message.expires_at)
    text = (
        f"{message.subject}\n{message.content}" if message.subject else message.content
    )
    chosen = options.data_coding or encoding.choose(
        text, korean=options.korean is Encoding.KSC5601
    )
    try:
        parts = encoding.split(text, chosen)
    except encoding.TooLong as exc:
        raise Refused(ResultCode.CONTENT_REJECTED, str(exc)) from None
    except ValueError as exc:
        raise Refused(
            ResultCode.CONTENT_REJECTED, f"the text cannot be sent as {chosen}: {exc}"
        ) from None
    data_coding = (
        options.gsm_data_coding
        if chosen is Encoding.GSM
        else encoding.DATA_CODING[chosen]
    )
    base = functools.partial(
        pdus.SubmitSm,
        service_type=options.service_type,
        source_addr_ton=options.source_ton,
        source_addr_npi=options.source_npi,
        source_addr=source,
        dest_addr_ton=options.dest_ton,
        dest_addr_npi=options.dest_npi,
        destination_addr=destination,
        validity_period=validity,
        registered_delivery=RegisteredDelivery.FINAL,
        data_coding=data_coding,
    )
    total = len(parts)
    if total == 1:
        factories: tuple[PartFactory, ...] = (
            functools.partial(base, short_message=parts[0], tlvs=NO_TLVS),
        )
    elif options.long_message == "payload":
        factories = (
            functools.partial(
                base, short_message=b"", tlvs=Tlvs(message_payload=b"".join(parts))
            ),
        )
    elif options.long_message == "sar":
        ref = reference & 0xFFFF
        factories = tuple(
            functools.partial(
                base,
                short_message=part,
                tlvs=Tlvs(
                    sar_msg_ref_num=ref, sar_total_segments=total, sar_segment_seqnum=i
                ),
            )
            for i, part in enumerate(parts, 1)
        )
    else:
        ref = reference & 0xFF
        factories = tuple(
            functools.partial(
                base,
                esm_class=EsmClass.UDHI,
                short_message=encoding.udh_concat(ref, total, i) + part,
                tlvs=NO_TLVS,
            )
            for i, part in enumerate(parts, 1)
        )
    return Plan(parts=factories, segments=total, encoding=chosen)
