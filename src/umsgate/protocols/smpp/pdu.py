"""SMPP 3.4 PDUs as frozen dataclasses, and their wire form.

Theory of operation
-------------------
A PDU is a 16-octet header (command_length, command_id, command_status,
sequence_number, §3.2) and a body of mandatory fields in a fixed order, then for some
PDUs optional parameters (`tlv`). ``encode(pdu)`` gives the whole PDU; ``decode(frame)``
reads one whole PDU whose length was already checked by the framer
(`session.Session`). Nothing here touches a socket or a clock.

Strings are C-Octet Strings (§3.1): octets up to a NULL, with a maximum size that
counts the NULL. They are decoded as Latin-1 so any octet round-trips; umsgate only
writes ASCII in them. Every field that overflows its maximum is refused with the
command_status §5.1.3 gives for that field (a too-long source_addr is
ESME_RINVSRCADR, a too-long password ESME_RINVPASWD, ...); a body that ends before
its mandatory fields do is ESME_RINVCMDLEN; an unknown command_id is
ESME_RINVCMDID. Decoding is strict about structure and lenient about values: any
TON, NPI, esm_class or data_coding octet is kept as it came.

Values are checked when encoded (a bad one raises `LocalProtocolError` naming the
field): the decoder only ever builds valid PDUs, so checking in the constructors
would cost every received PDU a second check for nothing.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from typing import Any, ClassVar

from umsgate.errors import LocalProtocolError
from umsgate.protocols.smpp import tlv
from umsgate.protocols.smpp.codes import (
    INTERFACE_VERSION_34,
    CommandId,
    CommandStatus,
    MessageState,
)
from umsgate.protocols.smpp.errors import InvalidPdu
from umsgate.protocols.smpp.tlv import NO_TLVS, Tlvs

HEADER = struct.Struct(">IIII")
#: The header alone: the smallest valid command_length (§3.2).
HEADER_SIZE = 16
#: Largest sequence_number (§5.1.4: 0x00000001 to 0x7FFFFFFF).
MAX_SEQUENCE = 0x7FFFFFFF
#: short_message is at most 254 octets (§5.2.21).
MAX_SHORT_MESSAGE = 254

# Maximum sizes of C-Octet String fields, NULL included (§4 tables, §5.2).
MAX_SYSTEM_ID = 16
MAX_PASSWORD = 9
MAX_SYSTEM_TYPE = 13
MAX_ADDRESS_RANGE = 41
MAX_SERVICE_TYPE = 6
MAX_ADDR = 21
MAX_TIME = 17
MAX_MESSAGE_ID = 65


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Pdu:
    """Any PDU. ``sequence`` pairs a response with its request (§5.1.4)."""

    command_id: ClassVar[CommandId]
    sequence: int

    def _body(self) -> bytes:
        return b""

    @property
    def status(self) -> int:
        """command_status: ESME_ROK for every request (§5.1.3)."""
        return CommandStatus.ROK


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Response(Pdu):
    """A response PDU; ``status`` is its command_status."""

    status: int = CommandStatus.ROK

    @property
    def ok(self) -> bool:
        return self.status == CommandStatus.ROK


# ---------------------------------------------------------------- bind (§4.1)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Bind(Pdu):
    system_id: str
    password: str = ""
    system_type: str = ""
    interface_version: int = INTERFACE_VERSION_34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""

    def _body(self) -> bytes:
        return b"".join(
            (
                _cstr(self.system_id, MAX_SYSTEM_ID, "system_id", _S.RINVSYSID),
                _cstr(self.password, MAX_PASSWORD, "password", _S.RINVPASWD),
                _cstr(self.system_type, MAX_SYSTEM_TYPE, "system_type", _S.RINVSYSTYP),
                bytes((self.interface_version, self.addr_ton, self.addr_npi)),
                _cstr(
                    self.address_range,
                    MAX_ADDRESS_RANGE,
                    "address_range",
                    _S.RINVPARLEN,
                ),
            )
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BindTransmitter(Bind):
    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSMITTER


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BindReceiver(Bind):
    command_id: ClassVar[CommandId] = CommandId.BIND_RECEIVER


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BindTransceiver(Bind):
    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSCEIVER


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BindResp(Response):
    system_id: str = ""
    tlvs: Tlvs = NO_TLVS

    def _body(self) -> bytes:
        # §4.1.2: "The body portion of the SMPP bind_transmitter_resp PDU is not
        # returned if the command_status field contains a non-zero value."
        return _id_and_tlvs(
            self, self.system_id, MAX_SYSTEM_ID, "system_id", _S.RINVSYSID, self.tlvs
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BindTransmitterResp(BindResp):
    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSMITTER_RESP


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BindReceiverResp(BindResp):
    command_id: ClassVar[CommandId] = CommandId.BIND_RECEIVER_RESP


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BindTransceiverResp(BindResp):
    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSCEIVER_RESP


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Outbind(Pdu):
    """§4.1.7: the SMSC asks a listening ESME to bind as a receiver."""

    command_id: ClassVar[CommandId] = CommandId.OUTBIND
    system_id: str
    password: str = ""

    def _body(self) -> bytes:
        return _cstr(self.system_id, MAX_SYSTEM_ID, "system_id", _S.RINVSYSID) + _cstr(
            self.password, MAX_PASSWORD, "password", _S.RINVPASWD
        )


# ------------------------------------------------- header-only PDUs (§4.2, §4.11)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Unbind(Pdu):
    command_id: ClassVar[CommandId] = CommandId.UNBIND


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UnbindResp(Response):
    command_id: ClassVar[CommandId] = CommandId.UNBIND_RESP


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EnquireLink(Pdu):
    command_id: ClassVar[CommandId] = CommandId.ENQUIRE_LINK


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EnquireLinkResp(Response):
    command_id: ClassVar[CommandId] = CommandId.ENQUIRE_LINK_RESP


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class GenericNack(Response):
    """§4.3: the answer to a PDU that could not be read; ``sequence`` may be 0."""

    command_id: ClassVar[CommandId] = CommandId.GENERIC_NACK


# ---------------------------------------------------- short messages (§4.4, §4.6)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ShortMessage(Pdu):
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: Tlvs = NO_TLVS

    def _body(self) -> bytes:
        sm = self.short_message
        if len(sm) > MAX_SHORT_MESSAGE:
            raise LocalProtocolError(
                f"short_message is {len(sm)} octets; at most {MAX_SHORT_MESSAGE} fit "
                "(use message_payload for more)",
                code=_S.RINVMSGLEN,
            )
        return b"".join(
            (
                _cstr(
                    self.service_type, MAX_SERVICE_TYPE, "service_type", _S.RINVSERTYP
                ),
                bytes((self.source_addr_ton, self.source_addr_npi)),
                _cstr(self.source_addr, MAX_ADDR, "source_addr", _S.RINVSRCADR),
                bytes((self.dest_addr_ton, self.dest_addr_npi)),
                _cstr(
                    self.destination_addr, MAX_ADDR, "destination_addr", _S.RINVDSTADR
                ),
                bytes((self.esm_class, self.protocol_id, self.priority_flag)),
                _time(
                    self.schedule_delivery_time, "schedule_delivery_time", _S.RINVSCHED
                ),
                _time(self.validity_period, "validity_period", _S.RINVEXPIRY),
                bytes(
                    (
                        self.registered_delivery,
                        self.replace_if_present_flag,
                        self.data_coding,
                        self.sm_default_msg_id,
                        len(sm),
                    )
                ),
                sm,
                tlv.encode(self.tlvs),
            )
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SubmitSm(ShortMessage):
    """§4.4.1: ESME → SMSC, one short message."""

    command_id: ClassVar[CommandId] = CommandId.SUBMIT_SM


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DeliverSm(ShortMessage):
    """§4.6.1: SMSC → ESME, a mobile-originated message or a delivery receipt."""

    command_id: ClassVar[CommandId] = CommandId.DELIVER_SM


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MessageIdResp(Response):
    message_id: str = ""
    #: Not in SMPP 3.4 (5.0 adds some); kept when a peer sends them anyway.
    tlvs: Tlvs = NO_TLVS

    #: Whether an error answer leaves the body out (§4.4.2 says so for submit_sm_resp;
    #: §4.6.2 keeps deliver_sm_resp's NULL message_id).
    _bare_on_error: ClassVar[bool] = True

    def _body(self) -> bytes:
        # §4.4.2: "The submit_sm_resp PDU Body is not returned if the command_status
        # field contains a non-zero value."
        return _id_and_tlvs(
            self,
            self.message_id,
            MAX_MESSAGE_ID,
            "message_id",
            _S.RINVMSGID,
            self.tlvs,
            bare_on_error=self._bare_on_error,
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SubmitSmResp(MessageIdResp):
    command_id: ClassVar[CommandId] = CommandId.SUBMIT_SM_RESP


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DeliverSmResp(MessageIdResp):
    """§4.6.2: message_id is unused and NULL."""

    command_id: ClassVar[CommandId] = CommandId.DELIVER_SM_RESP
    _bare_on_error: ClassVar[bool] = False


# -------------------------------------------------------------- query (§4.8)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class QuerySm(Pdu):
    command_id: ClassVar[CommandId] = CommandId.QUERY_SM
    message_id: str
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""

    def _body(self) -> bytes:
        return b"".join(
            (
                _cstr(self.message_id, MAX_MESSAGE_ID, "message_id", _S.RINVMSGID),
                bytes((self.source_addr_ton, self.source_addr_npi)),
                _cstr(self.source_addr, MAX_ADDR, "source_addr", _S.RINVSRCADR),
            )
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class QuerySmResp(Response):
    command_id: ClassVar[CommandId] = CommandId.QUERY_SM_RESP
    message_id: str = ""
    #: Absolute time format (§7.1.1) or empty while the message is not final.
    final_date: str = ""
    message_state: int = MessageState.ENROUTE
    #: The network error code of a failed delivery (§5.2.31), 0 otherwise.
    error_code: int = 0

    def _body(self) -> bytes:
        if self.status != CommandStatus.ROK and not self.message_id:
            return b""
        return b"".join(
            (
                _cstr(self.message_id, MAX_MESSAGE_ID, "message_id", _S.RINVMSGID),
                _time(self.final_date, "final_date", _S.RINVPARLEN),
                bytes((self.message_state, self.error_code)),
            )
        )


_S = CommandStatus

#: Every PDU class umsgate reads and writes, by command_id.
PDU_CLASSES: dict[int, type[Pdu]] = {
    cls.command_id: cls
    for cls in (
        BindTransmitter,
        BindTransmitterResp,
        BindReceiver,
        BindReceiverResp,
        BindTransceiver,
        BindTransceiverResp,
        Outbind,
        Unbind,
        UnbindResp,
        EnquireLink,
        EnquireLinkResp,
        GenericNack,
        SubmitSm,
        SubmitSmResp,
        DeliverSm,
        DeliverSmResp,
        QuerySm,
        QuerySmResp,
    )
}

#: Request command_id → the class of its response.
RESPONSE_CLASS: dict[int, type[Response]] = {
    CommandId.BIND_TRANSMITTER: BindTransmitterResp,
    CommandId.BIND_RECEIVER: BindReceiverResp,
    CommandId.BIND_TRANSCEIVER: BindTransceiverResp,
    CommandId.UNBIND: UnbindResp,
    CommandId.ENQUIRE_LINK: EnquireLinkResp,
    CommandId.SUBMIT_SM: SubmitSmResp,
    CommandId.DELIVER_SM: DeliverSmResp,
    CommandId.QUERY_SM: QuerySmResp,
}


#: Bind command_id → the class of its response.
BIND_RESPONSE_CLASS: dict[int, type[BindResp]] = {
    CommandId.BIND_TRANSMITTER: BindTransmitterResp,
    CommandId.BIND_RECEIVER: BindReceiverResp,
    CommandId.BIND_TRANSCEIVER: BindTransceiverResp,
}


def reply(request: Pdu, status: int = CommandStatus.ROK) -> Response:
    """The bare response to ``request`` (same sequence) with ``status``.

    Raises:
        LocalProtocolError: ``request`` is a response or outbind (nothing answers it).
    """
    cls = RESPONSE_CLASS.get(request.command_id)
    if cls is None:
        raise LocalProtocolError(f"{type(request).__name__} has no response PDU")
    return cls(sequence=request.sequence, status=status)


def error_reply(error: InvalidPdu) -> Response:
    """The answer to a PDU that failed to decode (§2.8, §4.3).

    A request whose command is known gets its own response carrying the error;
    anything else (an unknown command, a response, a broken header) gets
    generic_nack with the offending sequence_number.
    """
    cls = (
        RESPONSE_CLASS.get(error.command_id)
        if error.command_id is not None and not error.close_session
        else None
    )
    if cls is None:
        return GenericNack(sequence=error.sequence, status=error.code)
    return cls(sequence=error.sequence, status=error.code)


# ------------------------------------------------------------------ encoding


def _id_and_tlvs(
    resp: Response,
    value: str,
    size: int,
    name: str,
    status: int,
    tlvs: Tlvs,
    *,
    bare_on_error: bool = True,
) -> bytes:
    """The body of a response of one C-Octet String (an id) and TLVs: none at all
    for an error answer with neither, when ``bare_on_error``."""
    if (
        bare_on_error
        and resp.status != CommandStatus.ROK
        and not value
        and tlvs is NO_TLVS
    ):
        return b""
    return _cstr(value, size, name, status) + tlv.encode(tlvs)


def _cstr(value: str, size: int, name: str, status: int) -> bytes:
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        raise LocalProtocolError(
            f"{name} {value!r} has characters outside Latin-1", code=status
        ) from None
    if len(raw) >= size or b"\0" in raw:
        raise LocalProtocolError(
            f"{name} {value!r} does not fit a {size}-octet C-Octet String", code=status
        )
    return raw + b"\0"


def _time(value: str, name: str, status: int) -> bytes:
    # §7.1: a time is NULL or exactly 16 characters.
    if value and len(value) != MAX_TIME - 1:
        raise LocalProtocolError(
            f"{name} {value!r} must be empty or 16 characters (§7.1)", code=status
        )
    return _cstr(value, MAX_TIME, name, status)


def encode(pdu: Pdu) -> bytes:
    """The wire form of ``pdu``.

    Raises:
        LocalProtocolError: a field does not fit (``code`` names the field's
            command_status), or the sequence number is out of range.
    """
    seq = pdu.sequence
    if not 0 < seq <= MAX_SEQUENCE and not (seq == 0 and type(pdu) is GenericNack):
        raise LocalProtocolError(
            f"sequence_number {seq} is outside 1..0x7FFFFFFF (§5.1.4)"
        )
    try:
        body = pdu._body()
        return (
            HEADER.pack(HEADER_SIZE + len(body), pdu.command_id, pdu.status, seq) + body
        )
    except (ValueError, struct.error) as exc:
        # bytes((...)) and struct refuse integers outside their octets.
        raise LocalProtocolError(
            f"{type(pdu).__name__}: an integer field is out of range ({exc})"
        ) from None


# ------------------------------------------------------------------ decoding


class _Reader:
    """Reads the body fields of one PDU; errors name the field and its status."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data = data
        self.pos = pos
        self.end = end

    def cstr(self, size: int, name: str, status: int) -> str:
        data, pos, end = self.data, self.pos, self.end
        limit = pos + size
        nul = data.find(b"\0", pos, limit if limit < end else end)
        if nul < 0:
            if limit <= end:
                raise InvalidPdu(
                    f"{name} has no NULL within its {size} octets", code=status
                )
            raise InvalidPdu(
                f"the body ends inside {name}", code=CommandStatus.RINVCMDLEN
            )
        self.pos = nul + 1
        return data[pos:nul].decode("latin-1")

    def octets(self, n: int, name: str) -> bytes:
        pos = self.pos
        if pos + n > self.end:
            raise InvalidPdu(
                f"the body ends before {name}", code=CommandStatus.RINVCMDLEN
            )
        self.pos = pos + n
        return self.data[pos : pos + n]

    def rest_tlvs(self) -> Tlvs:
        return tlv.decode(self.data, self.pos, self.end)

    def done(self, name: str) -> None:
        if self.pos != self.end:
            raise InvalidPdu(
                f"{self.end - self.pos} octets follow the last field of {name}",
                code=CommandStatus.RINVCMDLEN,
            )


def _bind(cls: type[Bind], r: _Reader, seq: int, status: int) -> Pdu:
    system_id = r.cstr(MAX_SYSTEM_ID, "system_id", _S.RINVSYSID)
    password = r.cstr(MAX_PASSWORD, "password", _S.RINVPASWD)
    system_type = r.cstr(MAX_SYSTEM_TYPE, "system_type", _S.RINVSYSTYP)
    version, ton, npi = r.octets(3, "interface_version")
    address_range = r.cstr(MAX_ADDRESS_RANGE, "address_range", _S.RINVPARLEN)
    r.done(cls.__name__)
    return cls(
        sequence=seq,
        system_id=system_id,
        password=password,
        system_type=system_type,
        interface_version=version,
        addr_ton=ton,
        addr_npi=npi,
        address_range=address_range,
    )


def _bind_resp(cls: type[BindResp], r: _Reader, seq: int, status: int) -> Pdu:
    if r.pos == r.end:  # an error answer may leave the body out
        return cls(sequence=seq, status=status)
    system_id = r.cstr(MAX_SYSTEM_ID, "system_id", _S.RINVSYSID)
    return cls(sequence=seq, status=status, system_id=system_id, tlvs=r.rest_tlvs())


def _outbind(cls: type[Outbind], r: _Reader, seq: int, status: int) -> Pdu:
    system_id = r.cstr(MAX_SYSTEM_ID, "system_id", _S.RINVSYSID)
    password = r.cstr(MAX_PASSWORD, "password", _S.RINVPASWD)
    r.done("outbind")
    return cls(sequence=seq, system_id=system_id, password=password)


def _header_only(cls: type[Pdu], r: _Reader, seq: int, status: int) -> Pdu:
    r.done(cls.__name__)
    if issubclass(cls, Response):
        return cls(sequence=seq, status=status)
    return cls(sequence=seq)


def _short_message(cls: type[ShortMessage], r: _Reader, seq: int, status: int) -> Pdu:
    service_type = r.cstr(MAX_SERVICE_TYPE, "service_type", _S.RINVSERTYP)
    src_ton, src_npi = r.octets(2, "source_addr_ton")
    source_addr = r.cstr(MAX_ADDR, "source_addr", _S.RINVSRCADR)
    dst_ton, dst_npi = r.octets(2, "dest_addr_ton")
    destination_addr = r.cstr(MAX_ADDR, "destination_addr", _S.RINVDSTADR)
    esm_class, protocol_id, priority = r.octets(3, "esm_class")
    schedule = r.cstr(MAX_TIME, "schedule_delivery_time", _S.RINVSCHED)
    validity = r.cstr(MAX_TIME, "validity_period", _S.RINVEXPIRY)
    registered, replace, coding, default_id, sm_length = r.octets(
        5, "registered_delivery"
    )
    if sm_length > MAX_SHORT_MESSAGE:
        raise InvalidPdu(
            f"sm_length {sm_length} is over {MAX_SHORT_MESSAGE}",
            code=_S.RINVMSGLEN,
        )
    if r.pos + sm_length > r.end:
        raise InvalidPdu(
            f"sm_length {sm_length} runs past the end of the PDU", code=_S.RINVMSGLEN
        )
    short_message = r.data[r.pos : r.pos + sm_length]
    r.pos += sm_length
    return cls(
        sequence=seq,
        service_type=service_type,
        source_addr_ton=src_ton,
        source_addr_npi=src_npi,
        source_addr=source_addr,
        dest_addr_ton=dst_ton,
        dest_addr_npi=dst_npi,
        destination_addr=destination_addr,
        esm_class=esm_class,
        protocol_id=protocol_id,
        priority_flag=priority,
        schedule_delivery_time=schedule,
        validity_period=validity,
        registered_delivery=registered,
        replace_if_present_flag=replace,
        data_coding=coding,
        sm_default_msg_id=default_id,
        short_message=short_message,
        tlvs=r.rest_tlvs(),
    )


def _message_id_resp(
    cls: type[MessageIdResp], r: _Reader, seq: int, status: int
) -> Pdu:
    if r.pos == r.end:  # §4.4.2: no body with an error status
        return cls(sequence=seq, status=status)
    message_id = r.cstr(MAX_MESSAGE_ID, "message_id", _S.RINVMSGID)
    return cls(sequence=seq, status=status, message_id=message_id, tlvs=r.rest_tlvs())


def _query_sm(cls: type[QuerySm], r: _Reader, seq: int, status: int) -> Pdu:
    message_id = r.cstr(MAX_MESSAGE_ID, "message_id", _S.RINVMSGID)
    ton, npi = r.octets(2, "source_addr_ton")
    source_addr = r.cstr(MAX_ADDR, "source_addr", _S.RINVSRCADR)
    r.done("query_sm")
    return cls(
        sequence=seq,
        message_id=message_id,
        source_addr_ton=ton,
        source_addr_npi=npi,
        source_addr=source_addr,
    )


def _query_sm_resp(cls: type[QuerySmResp], r: _Reader, seq: int, status: int) -> Pdu:
    if r.pos == r.end:
        return cls(sequence=seq, status=status)
    message_id = r.cstr(MAX_MESSAGE_ID, "message_id", _S.RINVMSGID)
    final_date = r.cstr(MAX_TIME, "final_date", _S.RINVPARLEN)
    state, error = r.octets(2, "message_state")
    r.done("query_sm_resp")
    return cls(
        sequence=seq,
        status=status,
        message_id=message_id,
        final_date=final_date,
        message_state=state,
        error_code=error,
    )


_DECODERS: dict[type[Pdu], Callable[[Any, _Reader, int, int], Pdu]] = {
    BindTransmitter: _bind,
    BindReceiver: _bind,
    BindTransceiver: _bind,
    BindTransmitterResp: _bind_resp,
    BindReceiverResp: _bind_resp,
    BindTransceiverResp: _bind_resp,
    Outbind: _outbind,
    Unbind: _header_only,
    UnbindResp: _header_only,
    EnquireLink: _header_only,
    EnquireLinkResp: _header_only,
    GenericNack: _header_only,
    SubmitSm: _short_message,
    DeliverSm: _short_message,
    SubmitSmResp: _message_id_resp,
    DeliverSmResp: _message_id_resp,
    QuerySm: _query_sm,
    QuerySmResp: _query_sm_resp,
}
_DECODER_BY_ID = {cls.command_id: (cls, fn) for cls, fn in _DECODERS.items()}


def decode(frame: bytes) -> Pdu:
    """The PDU in ``frame``, one whole PDU whose command_length is ``len(frame)``.

    Raises:
        InvalidPdu: with the command_status that names the fault, and the
            command_id and sequence_number of the offending PDU.
    """
    length, command_id, status, seq = HEADER.unpack_from(frame)
    if length != len(frame) or length < HEADER_SIZE:
        raise InvalidPdu(
            f"command_length {length} does not match the {len(frame)} octets framed",
            code=CommandStatus.RINVCMDLEN,
            command_id=command_id,
            sequence=seq,
            close_session=True,
        )
    entry = _DECODER_BY_ID.get(command_id)
    if entry is None:
        raise InvalidPdu(
            f"command_id 0x{command_id:08X} is not one umsgate serves",
            code=CommandStatus.RINVCMDID,
            command_id=command_id,
            sequence=seq,
        )
    cls, fn = entry
    try:
        return fn(cls, _Reader(frame, HEADER_SIZE, length), seq, status)
    except InvalidPdu as exc:
        exc.command_id = command_id
        exc.sequence = seq
        raise
