"""SMPP 3.4 code registries: command ids, command_status values, addressing, data
coding, esm_class bits, message states and optional-parameter tags.

Every member quotes the SMPP v3.4 specification (Issue 1.2, 12 October 1999); section
numbers in comments refer to it. Unknown values stay plain ``int`` on the wire: an
SMSC may use vendor codes (command_status 0x400–0x4FF, §5.1.3), and decoding keeps
them rather than refusing them.
"""

from __future__ import annotations

import enum


class CommandId(enum.IntEnum):
    """§5.1.2.1 command_id values. Bit 31 set marks a response."""

    #: generic_nack: the PDU could not be parsed or its command is unknown.
    GENERIC_NACK = 0x80000000
    #: bind_receiver: bind to receive messages (deliver_sm) only.
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    #: bind_transmitter: bind to submit messages only.
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    #: query_sm: ask the state of a message submitted earlier.
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    #: submit_sm: submit one short message.
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    #: deliver_sm: SMSC → ESME, a mobile-originated message or a delivery receipt.
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    #: unbind: end the session (either side).
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    #: bind_transceiver: bind to submit and receive on one session.
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    #: outbind: SMSC → ESME, asks the ESME to bind as a receiver (no response PDU).
    OUTBIND = 0x0000000B
    #: enquire_link: is the peer alive? (either side).
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015

    @property
    def is_response(self) -> bool:
        return bool(self & 0x80000000)


#: Bit 31 of command_id: set in every response (§5.1.2.1).
RESPONSE_BIT = 0x80000000


class CommandStatus(enum.IntEnum):
    """§5.1.3 command_status: the error codes of a response (0 in requests)."""

    #: No Error.
    ROK = 0x00000000
    #: Message Length is invalid.
    RINVMSGLEN = 0x00000001
    #: Command Length is invalid.
    RINVCMDLEN = 0x00000002
    #: Invalid Command ID.
    RINVCMDID = 0x00000003
    #: Incorrect BIND Status for given command.
    RINVBNDSTS = 0x00000004
    #: ESME Already in Bound State.
    RALYBND = 0x00000005
    #: Invalid Priority Flag.
    RINVPRTFLG = 0x00000006
    #: Invalid Registered Delivery Flag.
    RINVREGDLVFLG = 0x00000007
    #: System Error.
    RSYSERR = 0x00000008
    #: Invalid Source Address.
    RINVSRCADR = 0x0000000A
    #: Invalid Dest Addr.
    RINVDSTADR = 0x0000000B
    #: Message ID is invalid.
    RINVMSGID = 0x0000000C
    #: Bind Failed.
    RBINDFAIL = 0x0000000D
    #: Invalid Password.
    RINVPASWD = 0x0000000E
    #: Invalid System ID.
    RINVSYSID = 0x0000000F
    #: Cancel SM Failed.
    RCANCELFAIL = 0x00000011
    #: Replace SM Failed.
    RREPLACEFAIL = 0x00000013
    #: Message Queue Full.
    RMSGQFUL = 0x00000014
    #: Invalid Service Type.
    RINVSERTYP = 0x00000015
    #: Invalid number of destinations.
    RINVNUMDESTS = 0x00000033
    #: Invalid Distribution List name.
    RINVDLNAME = 0x00000034
    #: Destination flag is invalid (submit_multi).
    RINVDESTFLAG = 0x00000040
    #: Invalid 'submit with replace' request (i.e. submit_sm with
    #: replace_if_present_flag set).
    RINVSUBREP = 0x00000042
    #: Invalid esm_class field data.
    RINVESMCLASS = 0x00000043
    #: Cannot Submit to Distribution List.
    RCNTSUBDL = 0x00000044
    #: submit_sm or submit_multi failed.
    RSUBMITFAIL = 0x00000045
    #: Invalid Source address TON.
    RINVSRCTON = 0x00000048
    #: Invalid Source address NPI.
    RINVSRCNPI = 0x00000049
    #: Invalid Destination address TON.
    RINVDSTTON = 0x00000050
    #: Invalid Destination address NPI.
    RINVDSTNPI = 0x00000051
    #: Invalid system_type field.
    RINVSYSTYP = 0x00000053
    #: Invalid replace_if_present flag.
    RINVREPFLAG = 0x00000054
    #: Invalid number of messages.
    RINVNUMMSGS = 0x00000055
    #: Throttling error (ESME has exceeded allowed message limits).
    RTHROTTLED = 0x00000058
    #: Invalid Scheduled Delivery Time.
    RINVSCHED = 0x00000061
    #: Invalid message validity period (Expiry time).
    RINVEXPIRY = 0x00000062
    #: Predefined Message Invalid or Not Found.
    RINVDFTMSGID = 0x00000063
    #: ESME Receiver Temporary App Error Code (also written ESME_RX_T_APPNACK).
    RX_T_APPN = 0x00000064
    #: ESME Receiver Permanent App Error Code.
    RX_P_APPN = 0x00000065
    #: ESME Receiver Reject Message Error Code.
    RX_R_APPN = 0x00000066
    #: query_sm request failed.
    RQUERYFAIL = 0x00000067
    #: Error in the optional part of the PDU Body.
    RINVOPTPARSTREAM = 0x000000C0
    #: Optional Parameter not allowed.
    ROPTPARNOTALLWD = 0x000000C1
    #: Invalid Parameter Length.
    RINVPARLEN = 0x000000C2
    #: Expected Optional Parameter missing.
    RMISSINGOPTPARAM = 0x000000C3
    #: Invalid Optional Parameter Value.
    RINVOPTPARAMVAL = 0x000000C4
    #: Delivery Failure (used for data_sm_resp).
    RDELIVERYFAILURE = 0x000000FE
    #: Unknown Error.
    RUNKNOWNERR = 0x000000FF


def status_name(status: int) -> str:
    """``ESME_RTHROTTLED`` for a known status, ``0x00000401`` for a vendor one."""
    try:
        return "ESME_" + CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}"


class Ton(enum.IntEnum):
    """§5.2.5 Type of Number."""

    #: Unknown.
    UNKNOWN = 0
    #: International.
    INTERNATIONAL = 1
    #: National.
    NATIONAL = 2
    #: Network Specific.
    NETWORK_SPECIFIC = 3
    #: Subscriber Number.
    SUBSCRIBER = 4
    #: Alphanumeric.
    ALPHANUMERIC = 5
    #: Abbreviated.
    ABBREVIATED = 6


class Npi(enum.IntEnum):
    """§5.2.6 Numbering Plan Indicator."""

    #: Unknown.
    UNKNOWN = 0
    #: ISDN (E163/E164).
    ISDN = 1
    #: Data (X.121).
    DATA = 3
    #: Telex (F.69).
    TELEX = 4
    #: Land Mobile (E.212).
    LAND_MOBILE = 6
    #: National.
    NATIONAL = 8
    #: Private.
    PRIVATE = 9
    #: ERMES.
    ERMES = 10
    #: Internet (IP).
    INTERNET = 14
    #: WAP Client Id (to be defined by WAP Forum).
    WAP = 18


class DataCoding(enum.IntEnum):
    """§5.2.19 data_coding (the values umsgate sends or reads)."""

    #: SMSC Default Alphabet (umsgate and most SMSCs: GSM 03.38).
    DEFAULT = 0x00
    #: IA5 (CCITT T.50)/ASCII (ANSI X3.4).
    IA5 = 0x01
    #: Octet unspecified (8-bit binary).
    BINARY = 0x02
    #: Latin 1 (ISO-8859-1).
    LATIN1 = 0x03
    #: Octet unspecified (8-bit binary).
    BINARY_4 = 0x04
    #: UCS2 (ISO/IEC-10646).
    UCS2 = 0x08
    #: KS C 5601.
    KSC5601 = 0x0E


class EsmClass(enum.IntFlag):
    """§5.2.12 esm_class bits."""

    #: Bits 1-0 = 00: default SMSC mode (store and forward).
    DEFAULT = 0x00
    #: Message type bits 5-2 = 0001: SMSC Delivery Receipt (deliver_sm only).
    DELIVERY_RECEIPT = 0x04
    #: Message type bits 5-2 = 0010: SME Delivery Acknowledgement.
    DELIVERY_ACK = 0x08
    #: Message type bits 5-2 = 0100: SME Manual/User Acknowledgement.
    MANUAL_ACK = 0x10
    #: Message type bits 5-2 = 1000: Intermediate Delivery Notification.
    INTERMEDIATE_NOTIFICATION = 0x20
    #: GSM bit 6: UDHI Indicator (short_message starts with a User Data Header).
    UDHI = 0x40
    #: GSM bit 7: Set Reply Path.
    REPLY_PATH = 0x80


#: Mask of the message type bits 5-2 of esm_class (§5.2.12).
ESM_MESSAGE_TYPE_MASK = 0x3C


class RegisteredDelivery(enum.IntEnum):
    """§5.2.17 registered_delivery, bits 1-0 (SMSC Delivery Receipt)."""

    #: No SMSC Delivery Receipt requested (default).
    NONE = 0
    #: SMSC Delivery Receipt requested where final delivery outcome is delivery
    #: success or failure.
    FINAL = 1
    #: SMSC Delivery Receipt requested where the final delivery outcome is delivery
    #: failure.
    FAILURE = 2


class MessageState(enum.IntEnum):
    """§5.2.28 message_state (query_sm_resp, and the TLV of §5.3.2.35)."""

    #: The message is in enroute state.
    ENROUTE = 1
    #: Message is delivered to destination.
    DELIVERED = 2
    #: Message validity period has expired.
    EXPIRED = 3
    #: Message has been deleted.
    DELETED = 4
    #: Message is undeliverable.
    UNDELIVERABLE = 5
    #: Message is in accepted state (i.e. has been manually read on behalf of the
    #: subscriber by customer service).
    ACCEPTED = 6
    #: Message is in invalid state.
    UNKNOWN = 7
    #: Message is in a rejected state.
    REJECTED = 8

    @property
    def stat(self) -> str:
        """The 7-letter ``stat:`` word of a receipt text (Appendix B)."""
        return _STAT_WORDS[self]

    @property
    def final(self) -> bool:
        return self is not MessageState.ENROUTE


_STAT_WORDS: dict[MessageState, str] = {
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
}

#: ``stat:`` word of a receipt → message_state (Appendix B, Table B-2).
STATE_BY_STAT: dict[str, MessageState] = {w: s for s, w in _STAT_WORDS.items()}


class Tag(enum.IntEnum):
    """§5.3.2 optional parameter (TLV) tags."""

    #: dest_addr_subunit (Integer 1).
    DEST_ADDR_SUBUNIT = 0x0005
    #: dest_network_type (Integer 1).
    DEST_NETWORK_TYPE = 0x0006
    #: dest_bearer_type (Integer 1).
    DEST_BEARER_TYPE = 0x0007
    #: dest_telematics_id (Integer 2).
    DEST_TELEMATICS_ID = 0x0008
    #: source_addr_subunit (Integer 1).
    SOURCE_ADDR_SUBUNIT = 0x000D
    #: source_network_type (Integer 1).
    SOURCE_NETWORK_TYPE = 0x000E
    #: source_bearer_type (Integer 1).
    SOURCE_BEARER_TYPE = 0x000F
    #: source_telematics_id (Integer 1).
    SOURCE_TELEMATICS_ID = 0x0010
    #: qos_time_to_live (Integer 4).
    QOS_TIME_TO_LIVE = 0x0017
    #: payload_type (Integer 1).
    PAYLOAD_TYPE = 0x0019
    #: additional_status_info_text (C-Octet String, max 256).
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D
    #: receipted_message_id (C-Octet String, max 65): the SMSC id a receipt is for.
    RECEIPTED_MESSAGE_ID = 0x001E
    #: ms_msg_wait_facilities (Bit mask 1).
    MS_MSG_WAIT_FACILITIES = 0x0030
    #: privacy_indicator (Integer 1).
    PRIVACY_INDICATOR = 0x0201
    #: source_subaddress (Octet String 2-23).
    SOURCE_SUBADDRESS = 0x0202
    #: dest_subaddress (Octet String 2-23).
    DEST_SUBADDRESS = 0x0203
    #: user_message_reference (Integer 2): the ESME's own reference.
    USER_MESSAGE_REFERENCE = 0x0204
    #: user_response_code (Integer 1).
    USER_RESPONSE_CODE = 0x0205
    #: source_port (Integer 2).
    SOURCE_PORT = 0x020A
    #: destination_port (Integer 2).
    DESTINATION_PORT = 0x020B
    #: sar_msg_ref_num (Integer 2): reference of a concatenated message.
    SAR_MSG_REF_NUM = 0x020C
    #: language_indicator (Integer 1).
    LANGUAGE_INDICATOR = 0x020D
    #: sar_total_segments (Integer 1).
    SAR_TOTAL_SEGMENTS = 0x020E
    #: sar_segment_seqnum (Integer 1), 1-based.
    SAR_SEGMENT_SEQNUM = 0x020F
    #: sc_interface_version (Integer 1), in bind responses.
    SC_INTERFACE_VERSION = 0x0210
    #: callback_num_pres_ind (Bit mask 1).
    CALLBACK_NUM_PRES_IND = 0x0302
    #: callback_num_atag (Octet String, max 65).
    CALLBACK_NUM_ATAG = 0x0303
    #: number_of_messages (Integer 1).
    NUMBER_OF_MESSAGES = 0x0304
    #: callback_num (Octet String 4-19).
    CALLBACK_NUM = 0x0381
    #: dpf_result (Integer 1).
    DPF_RESULT = 0x0420
    #: set_dpf (Integer 1).
    SET_DPF = 0x0421
    #: ms_availability_status (Integer 1).
    MS_AVAILABILITY_STATUS = 0x0422
    #: network_error_code (Octet String 3): network type, then a 2-octet error code.
    NETWORK_ERROR_CODE = 0x0423
    #: message_payload (Octet String, up to 64K): the text instead of short_message.
    MESSAGE_PAYLOAD = 0x0424
    #: delivery_failure_reason (Integer 1).
    DELIVERY_FAILURE_REASON = 0x0425
    #: more_messages_to_send (Integer 1).
    MORE_MESSAGES_TO_SEND = 0x0426
    #: message_state (Integer 1), in receipts.
    MESSAGE_STATE = 0x0427
    #: ussd_service_op (Octet String 1).
    USSD_SERVICE_OP = 0x0501
    #: display_time (Integer 1).
    DISPLAY_TIME = 0x1201
    #: sms_signal (Integer 2).
    SMS_SIGNAL = 0x1203
    #: ms_validity (Integer 1).
    MS_VALIDITY = 0x1204
    #: alert_on_message_delivery (zero length).
    ALERT_ON_MESSAGE_DELIVERY = 0x130C
    #: its_reply_type (Integer 1).
    ITS_REPLY_TYPE = 0x1380
    #: its_session_info (Octet String 2).
    ITS_SESSION_INFO = 0x1383


#: interface_version of SMPP 3.4 (§5.2.4).
INTERFACE_VERSION_34 = 0x34
