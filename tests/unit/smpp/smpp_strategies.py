"""Hypothesis strategies for every SMPP PDU umsgate reads and writes."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from umsgate.protocols.smpp import pdu as pdus
from umsgate.protocols.smpp.codes import MessageState, Tag
from umsgate.protocols.smpp.tlv import NetworkErrorCode, Tlv, Tlvs

_KNOWN_TAGS = {int(t) for t in Tag}
sequences = st.integers(min_value=1, max_value=pdus.MAX_SEQUENCE)
statuses = st.integers(min_value=0, max_value=0xFFFFFFFF)
octets = st.integers(min_value=0, max_value=255)


def cstrings(size: int) -> st.SearchStrategy[str]:
    """Strings that fit a C-Octet String of ``size`` (Latin-1, no NULL)."""
    return st.text(
        alphabet=st.characters(min_codepoint=1, max_codepoint=255), max_size=size - 1
    )


times = st.one_of(
    st.just(""),
    st.from_regex(r"\A[0-9]{12}[0-9][0-4][0-9][+\-R]\Z"),
)

tlvs = st.builds(
    Tlvs,
    receipted_message_id=st.none() | cstrings(65),
    message_state=st.none() | st.sampled_from(list(MessageState)),
    network_error_code=st.none()
    | st.builds(
        NetworkErrorCode,
        network_type=octets,
        error_code=st.integers(min_value=0, max_value=0xFFFF),
    ),
    sar_msg_ref_num=st.none() | st.integers(min_value=0, max_value=0xFFFF),
    sar_total_segments=st.none() | octets,
    sar_segment_seqnum=st.none() | octets,
    message_payload=st.none() | st.binary(max_size=600),
    user_message_reference=st.none() | st.integers(min_value=0, max_value=0xFFFF),
    sc_interface_version=st.none() | octets,
    other=st.lists(
        st.builds(
            Tlv,
            tag=st.integers(min_value=0, max_value=0xFFFF).filter(
                lambda t: t not in _KNOWN_TAGS
            ),
            value=st.binary(max_size=40),
        ),
        max_size=3,
    ).map(tuple),
)


def _bind(cls: type[pdus.Bind]) -> st.SearchStrategy[pdus.Pdu]:
    return st.builds(
        cls,
        sequence=sequences,
        system_id=cstrings(pdus.MAX_SYSTEM_ID),
        password=cstrings(pdus.MAX_PASSWORD),
        system_type=cstrings(pdus.MAX_SYSTEM_TYPE),
        interface_version=octets,
        addr_ton=octets,
        addr_npi=octets,
        address_range=cstrings(pdus.MAX_ADDRESS_RANGE),
    )


def _bind_resp(cls: type[pdus.BindResp]) -> st.SearchStrategy[pdus.Pdu]:
    ok = st.builds(
        cls, sequence=sequences, status=st.just(0), system_id=cstrings(16), tlvs=tlvs
    )
    refused = st.builds(cls, sequence=sequences, status=statuses.filter(bool))
    return ok | refused


def _short_message(cls: type[pdus.ShortMessage]) -> st.SearchStrategy[pdus.Pdu]:
    kwargs: dict[str, Any] = {
        "sequence": sequences,
        "service_type": cstrings(pdus.MAX_SERVICE_TYPE),
        "source_addr_ton": octets,
        "source_addr_npi": octets,
        "source_addr": cstrings(pdus.MAX_ADDR),
        "dest_addr_ton": octets,
        "dest_addr_npi": octets,
        "destination_addr": cstrings(pdus.MAX_ADDR),
        "esm_class": octets,
        "protocol_id": octets,
        "priority_flag": octets,
        "schedule_delivery_time": times,
        "validity_period": times,
        "registered_delivery": octets,
        "replace_if_present_flag": octets,
        "data_coding": octets,
        "sm_default_msg_id": octets,
        "short_message": st.binary(max_size=pdus.MAX_SHORT_MESSAGE),
        "tlvs": tlvs,
    }
    return st.builds(cls, **kwargs)


def _message_id_resp(cls: type[pdus.MessageIdResp]) -> st.SearchStrategy[pdus.Pdu]:
    return st.builds(
        cls,
        sequence=sequences,
        status=statuses,
        message_id=cstrings(pdus.MAX_MESSAGE_ID).filter(bool),
        tlvs=tlvs,
    ) | st.builds(cls, sequence=sequences, status=st.just(0))


SHORT_MESSAGES: st.SearchStrategy[pdus.Pdu] = _short_message(
    pdus.SubmitSm
) | _short_message(pdus.DeliverSm)

PDUS: st.SearchStrategy[pdus.Pdu] = st.one_of(
    _bind(pdus.BindTransmitter),
    _bind(pdus.BindReceiver),
    _bind(pdus.BindTransceiver),
    _bind_resp(pdus.BindTransmitterResp),
    _bind_resp(pdus.BindReceiverResp),
    _bind_resp(pdus.BindTransceiverResp),
    st.builds(
        pdus.Outbind,
        sequence=sequences,
        system_id=cstrings(pdus.MAX_SYSTEM_ID),
        password=cstrings(pdus.MAX_PASSWORD),
    ),
    st.builds(pdus.Unbind, sequence=sequences),
    st.builds(pdus.UnbindResp, sequence=sequences, status=statuses),
    st.builds(pdus.EnquireLink, sequence=sequences),
    st.builds(pdus.EnquireLinkResp, sequence=sequences, status=statuses),
    st.builds(pdus.GenericNack, sequence=st.just(0) | sequences, status=statuses),
    _short_message(pdus.SubmitSm),
    _short_message(pdus.DeliverSm),
    _message_id_resp(pdus.SubmitSmResp),
    _message_id_resp(pdus.DeliverSmResp),
    st.builds(
        pdus.QuerySm,
        sequence=sequences,
        message_id=cstrings(pdus.MAX_MESSAGE_ID),
        source_addr_ton=octets,
        source_addr_npi=octets,
        source_addr=cstrings(pdus.MAX_ADDR),
    ),
    st.builds(
        pdus.QuerySmResp,
        sequence=sequences,
        status=st.just(0),
        message_id=cstrings(pdus.MAX_MESSAGE_ID),
        final_date=times,
        message_state=octets,
        error_code=octets,
    ),
)
