"""Optional parameters (TLVs, §3.2.4 and §5.3): the typed ones umsgate uses, and the
rest kept raw so nothing a peer sends is lost.

The typed fields are the ones that carry receipts and long messages:
receipted_message_id, message_state, network_error_code, the three sar_* fields,
message_payload, user_message_reference, and sc_interface_version (bind responses).
Any other tag is kept as a `Tlv` in ``other``, in the order received; §3.2.4 asks a
receiver to ignore optional parameters it does not support, not to refuse them.

Decoding errors use the command_status values of §5.1.3: a TLV that runs past the
end of the PDU is ESME_RINVOPTPARSTREAM, a known TLV of the wrong length is
ESME_RINVPARLEN, a known TLV with a value out of its range is ESME_RINVOPTPARAMVAL.
"""

from __future__ import annotations

import dataclasses
import struct

from umsgate.errors import LocalProtocolError
from umsgate.protocols.smpp.codes import CommandStatus, MessageState, Tag
from umsgate.protocols.smpp.errors import InvalidPdu

#: receipted_message_id is a C-Octet String of at most 65 octets with its NULL
#: (§5.3.2.12).
MAX_RECEIPTED_MESSAGE_ID = 65

_TL = struct.Struct(">HH")
_U16 = struct.Struct(">H")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Tlv:
    """An optional parameter umsgate has no typed field for."""

    tag: int
    value: bytes


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NetworkErrorCode:
    """§5.3.2.31 network_error_code: which network reported the error, and its code."""

    #: 1 = ANSI-136, 2 = IS-95, 3 = GSM, 4-255 reserved.
    network_type: int
    error_code: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Tlvs:
    """The optional parameters of one PDU. ``None`` means absent."""

    #: §5.3.2.12: the SMSC message id a delivery receipt is about.
    receipted_message_id: str | None = None
    #: §5.3.2.35: the final state of the message a receipt is about.
    message_state: MessageState | None = None
    #: §5.3.2.31: the network's own error code for a failed delivery.
    network_error_code: NetworkErrorCode | None = None
    #: §5.3.2.22: reference shared by every segment of one long message.
    sar_msg_ref_num: int | None = None
    #: §5.3.2.23: how many segments the long message has.
    sar_total_segments: int | None = None
    #: §5.3.2.24: which segment this is, from 1.
    sar_segment_seqnum: int | None = None
    #: §5.3.2.32: the whole message, instead of short_message.
    message_payload: bytes | None = None
    #: §5.3.2.17: the ESME's reference for the message.
    user_message_reference: int | None = None
    #: §5.3.2.25: the SMPP version the SMSC supports (bind responses).
    sc_interface_version: int | None = None
    #: Every other TLV, raw.
    other: tuple[Tlv, ...] = ()


#: No optional parameters (shared: PDUs without TLVs all point here).
NO_TLVS = Tlvs()


def _u8(value: int, name: str) -> bytes:
    if not 0 <= value <= 0xFF:
        raise LocalProtocolError(
            f"{name} {value} is outside 0..255", code=CommandStatus.RINVOPTPARAMVAL
        )
    return bytes((value,))


def _u16(value: int, name: str) -> bytes:
    if not 0 <= value <= 0xFFFF:
        raise LocalProtocolError(
            f"{name} {value} is outside 0..65535", code=CommandStatus.RINVOPTPARAMVAL
        )
    return _U16.pack(value)


def _tlv(tag: int, value: bytes) -> bytes:
    if len(value) > 0xFFFF:
        raise LocalProtocolError(
            f"TLV 0x{tag:04X} value is {len(value)} octets; at most 65535 fit",
            code=CommandStatus.RINVPARLEN,
        )
    return _TL.pack(tag, len(value)) + value


def encode(tlvs: Tlvs) -> bytes:
    """The wire form of ``tlvs`` (empty for `NO_TLVS`).

    Raises:
        LocalProtocolError: a value does not fit its TLV.
    """
    if tlvs is NO_TLVS:
        return b""
    parts = [_integer(tlvs, tag) for tag in _LEADING_INTEGERS]
    if tlvs.message_payload is not None:
        parts.append(_tlv(Tag.MESSAGE_PAYLOAD, tlvs.message_payload))
    if tlvs.network_error_code is not None:
        nec = tlvs.network_error_code
        parts.append(
            _tlv(
                Tag.NETWORK_ERROR_CODE,
                _u8(nec.network_type, "network_type")
                + _u16(nec.error_code, "network error_code"),
            )
        )
    if tlvs.message_state is not None:
        parts.append(
            _tlv(Tag.MESSAGE_STATE, _u8(int(tlvs.message_state), "message_state"))
        )
    if tlvs.receipted_message_id is not None:
        raw = tlvs.receipted_message_id.encode("latin-1", errors="strict")
        if len(raw) >= MAX_RECEIPTED_MESSAGE_ID or b"\0" in raw:
            raise LocalProtocolError(
                f"receipted_message_id {tlvs.receipted_message_id!r} does not fit a "
                f"{MAX_RECEIPTED_MESSAGE_ID}-octet C-Octet String",
                code=CommandStatus.RINVOPTPARAMVAL,
            )
        parts.append(_tlv(Tag.RECEIPTED_MESSAGE_ID, raw + b"\0"))
    parts.append(_integer(tlvs, Tag.SC_INTERFACE_VERSION))
    for extra in tlvs.other:
        parts.append(_tlv(extra.tag, extra.value))
    return b"".join(parts)


#: The integer TLVs written first, in this order.
_LEADING_INTEGERS = (
    Tag.USER_MESSAGE_REFERENCE,
    Tag.SAR_MSG_REF_NUM,
    Tag.SAR_TOTAL_SEGMENTS,
    Tag.SAR_SEGMENT_SEQNUM,
)


def _integer(tlvs: Tlvs, tag: Tag) -> bytes:
    """The TLV of the integer field ``tag`` names (nothing when it is absent)."""
    if tag in _U16_FIELDS:
        name, pack = _U16_FIELDS[tag], _u16
    else:
        name, pack = _U8_FIELDS[tag], _u8
    value: int | None = getattr(tlvs, name)
    return b"" if value is None else _tlv(tag, pack(value, name))


def _bad_length(tag: int, length: int, want: int) -> InvalidPdu:
    return InvalidPdu(
        f"TLV 0x{tag:04X} has length {length}; SMPP 3.4 gives it {want}",
        code=CommandStatus.RINVPARLEN,
    )


def decode(data: bytes, pos: int, end: int) -> Tlvs:
    """The optional parameters in ``data[pos:end]``.

    Raises:
        InvalidPdu: RINVOPTPARSTREAM, RINVPARLEN or RINVOPTPARAMVAL (``command_id``
            and ``sequence`` are left for the caller to fill in).
    """
    if pos == end:
        return NO_TLVS
    fields: dict[str, object] = {}
    other: list[Tlv] = []
    while pos < end:
        if end - pos < 4:
            raise InvalidPdu(
                f"{end - pos} octets after the last TLV are too few for a tag and "
                "a length",
                code=CommandStatus.RINVOPTPARSTREAM,
            )
        tag, length = _TL.unpack_from(data, pos)
        pos += 4
        if pos + length > end:
            raise InvalidPdu(
                f"TLV 0x{tag:04X} claims {length} octets; only {end - pos} remain",
                code=CommandStatus.RINVOPTPARSTREAM,
            )
        value = data[pos : pos + length]
        pos += length
        if tag == Tag.RECEIPTED_MESSAGE_ID:
            if length > MAX_RECEIPTED_MESSAGE_ID:
                raise _bad_length(tag, length, MAX_RECEIPTED_MESSAGE_ID)
            # Some SMSCs leave out the terminating NULL; read up to it if present.
            nul = value.find(b"\0")
            fields["receipted_message_id"] = (value if nul < 0 else value[:nul]).decode(
                "latin-1"
            )
        elif tag == Tag.MESSAGE_STATE:
            if length != 1:
                raise _bad_length(tag, length, 1)
            try:
                fields["message_state"] = MessageState(value[0])
            except ValueError:
                raise InvalidPdu(
                    f"message_state {value[0]} is not a state of §5.2.28",
                    code=CommandStatus.RINVOPTPARAMVAL,
                ) from None
        elif tag == Tag.NETWORK_ERROR_CODE:
            if length != 3:
                raise _bad_length(tag, length, 3)
            fields["network_error_code"] = NetworkErrorCode(
                network_type=value[0], error_code=_U16.unpack_from(value, 1)[0]
            )
        elif tag in _U16_FIELDS:
            if length != 2:
                raise _bad_length(tag, length, 2)
            fields[_U16_FIELDS[tag]] = _U16.unpack(value)[0]
        elif tag in _U8_FIELDS:
            if length != 1:
                raise _bad_length(tag, length, 1)
            fields[_U8_FIELDS[tag]] = value[0]
        elif tag == Tag.MESSAGE_PAYLOAD:
            fields["message_payload"] = bytes(value)
        else:
            other.append(Tlv(tag=tag, value=bytes(value)))
    return Tlvs(other=tuple(other), **fields)  # type: ignore[arg-type]


_U16_FIELDS: dict[int, str] = {
    Tag.SAR_MSG_REF_NUM: "sar_msg_ref_num",
    Tag.USER_MESSAGE_REFERENCE: "user_message_reference",
}
_U8_FIELDS: dict[int, str] = {
    Tag.SAR_TOTAL_SEGMENTS: "sar_total_segments",
    Tag.SAR_SEGMENT_SEQNUM: "sar_segment_seqnum",
    Tag.SC_INTERFACE_VERSION: "sc_interface_version",
}
