"""Golden PDUs (tests/vectors/smpp.json): decoding gives the fields, encoding the fields
gives the bytes, and smpplib, an independent implementation, reads the same bytes
the same way."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from smpplib import client as smpplib_client  # type: ignore[import-untyped]
from smpplib import smpp as smpplib_smpp

from umsgate.protocols.smpp import pdu as pdus
from umsgate.protocols.smpp.codes import MessageState
from umsgate.protocols.smpp.tlv import NetworkErrorCode, Tlvs

VECTORS = json.loads(
    (pathlib.Path(__file__).parents[2] / "vectors" / "smpp.json").read_text("utf-8")
)["vectors"]


def _value(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"hex"}:
        return bytes.fromhex(value["hex"])
    return value


def build(vector: dict[str, Any]) -> pdus.Pdu:
    fields = {k: _value(v) for k, v in vector["fields"].items()}
    if "tlvs" in fields:
        tlvs = {k: _value(v) for k, v in fields["tlvs"].items()}
        if "network_error_code" in tlvs:
            tlvs["network_error_code"] = NetworkErrorCode(**tlvs["network_error_code"])
        if "message_state" in tlvs:
            tlvs["message_state"] = MessageState(tlvs["message_state"])
        fields["tlvs"] = Tlvs(**tlvs)
    cls: type[pdus.Pdu] = getattr(pdus, vector["pdu"])
    return cls(**fields)


IDS = [v["name"] for v in VECTORS]


def test_every_pdu_class_has_a_vector() -> None:
    covered = {v["pdu"] for v in VECTORS}
    assert covered == {cls.__name__ for cls in pdus.PDU_CLASSES.values()}


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_decode(vector: dict[str, Any]) -> None:
    assert pdus.decode(bytes.fromhex(vector["hex"])) == build(vector)


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_encode(vector: dict[str, Any]) -> None:
    assert pdus.encode(build(vector)).hex() == vector["hex"]


SMPPLIB_NAMES = {
    "Outbind": None,  # smpplib 2.2.4 does not know outbind
}


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_smpplib_reads_the_same(vector: dict[str, Any]) -> None:
    if vector["pdu"] in SMPPLIB_NAMES:
        pytest.skip("smpplib has no such PDU")
    expected = build(vector)
    # smpplib's parser takes a client for its sequence numbers; nothing connects.
    client = smpplib_client.Client("127.0.0.1", 9, allow_unknown_opt_params=True)
    theirs = smpplib_smpp.parse_pdu(
        bytes.fromhex(vector["hex"]), client=client, allow_unknown_opt_params=True
    )
    assert theirs.command == expected.command_id.name.lower()
    assert theirs.sequence == expected.sequence
    assert theirs.status == expected.status
    for name in (
        "system_id",
        "password",
        "source_addr",
        "destination_addr",
        "message_id",
    ):
        if hasattr(expected, name) and getattr(theirs, name, None) is not None:
            assert getattr(theirs, name).decode("latin-1") == getattr(expected, name)
    if isinstance(expected, pdus.ShortMessage):
        assert (theirs.short_message or b"") == expected.short_message
        assert theirs.data_coding == expected.data_coding
        assert theirs.esm_class == expected.esm_class
        tlvs = expected.tlvs
        if tlvs.receipted_message_id is not None:
            assert theirs.receipted_message_id.decode() == tlvs.receipted_message_id
        if tlvs.message_state is not None:
            assert theirs.message_state == tlvs.message_state
        if tlvs.sar_msg_ref_num is not None:
            assert theirs.sar_msg_ref_num == tlvs.sar_msg_ref_num
            assert theirs.sar_segment_seqnum == tlvs.sar_segment_seqnum
        if tlvs.message_payload is not None:
            assert theirs.message_payload == tlvs.message_payload


def test_spec_example_keeps_its_interface_version_quirk() -> None:
    # The SMPP 3.4 example PDU carries interface_version 0x00 although §5.2.4 asks
    # for 0x34; a reader must take it as it is.
    spec = next(v for v in VECTORS if "example" in v["name"])
    decoded = pdus.decode(bytes.fromhex(spec["hex"]))
    assert isinstance(decoded, pdus.BindTransmitter)
    assert decoded.interface_version == 0
