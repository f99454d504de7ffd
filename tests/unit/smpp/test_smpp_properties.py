"""Property tests of the SMPP text codecs beside the PDU codec: receipts, GSM 03.38,
data codings, user data headers, segmentation and TLV streams.

Each reader takes any input and either answers or raises its own documented error;
each writer's output reads back to what was written.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import fuzz_settings

from umsgate.protocols.smpp import encoding, gsm, receipt, tlv
from umsgate.protocols.smpp.encoding import Encoding
from umsgate.protocols.smpp.errors import InvalidPdu

FAST = fuzz_settings(150)

_word = st.text(alphabet="0123456789ABCDEFabcdef_", min_size=1, max_size=20)
_digits = st.text(alphabet="0123456789", max_size=12)


@FAST
@given(
    st.builds(
        receipt.Receipt,
        id=_word,
        stat=st.sampled_from(["DELIVRD", "EXPIRED", "UNDELIV", "REJECTD", "ENROUTE"]),
        sub=st.text(alphabet="0123456789", max_size=3),
        dlvrd=st.text(alphabet="0123456789", max_size=3),
        submit_date=_digits,
        done_date=_digits,
        err=st.text(alphabet="0123456789abc", max_size=3),
        text=st.text(max_size=40).map(str.strip),
    )
)
def test_receipt_round_trip(value: receipt.Receipt) -> None:
    assert receipt.parse(receipt.render(value)) == value


@FAST
@given(st.text(max_size=300) | st.text(alphabet="idstaubmrex: 0123456789", max_size=80))
def test_receipt_parse_takes_any_text(text: str) -> None:
    try:
        found = receipt.parse(text)
    except receipt.NotAReceipt:
        return
    assert found.id and found.stat == found.stat.upper()


@FAST
@given(st.text(max_size=14))
def test_receipt_dates_are_dates_or_none(value: str) -> None:
    when = receipt.parse_date(value, dt.UTC)
    assert when is None or receipt.date(when) == value[:10]


@FAST
@given(st.binary(max_size=200))
def test_gsm_decode_raises_only_value_error(data: bytes) -> None:
    try:
        text = gsm.decode(data)
    except ValueError:
        text = gsm.decode(data, errors="replace")
    else:
        assert gsm.encode(text) == data or "\x1b" in data.decode("latin-1")


@FAST
@given(st.binary(max_size=200), st.integers(min_value=0, max_value=255))
def test_every_data_coding_decodes_any_octets(data: bytes, data_coding: int) -> None:
    assert isinstance(encoding.decode(data, data_coding), str)


@FAST
@given(st.binary(max_size=60))
def test_parse_udh_raises_only_value_error(data: bytes) -> None:
    try:
        concat, rest = encoding.parse_udh(data)
    except ValueError:
        return
    assert data.endswith(rest)
    assert concat is None or 0 <= concat.reference <= 0xFFFF


@FAST
@given(st.integers(0, 255), st.integers(1, 255), st.integers(1, 255), st.binary())
def test_udh_round_trip(reference: int, total: int, seqnum: int, text: bytes) -> None:
    concat, rest = encoding.parse_udh(
        encoding.udh_concat(reference, total, seqnum) + text
    )
    assert concat == encoding.Concat(reference=reference, total=total, seqnum=seqnum)
    assert rest == text


_TEXTS = {
    Encoding.GSM: st.text(
        alphabet=st.sampled_from(sorted(gsm.CHARACTERS)), max_size=700
    ),
    Encoding.LATIN1: st.text(
        alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=700
    ),
    Encoding.UCS2: st.text(
        alphabet=st.characters(exclude_categories=["Cs"]), max_size=400
    ),
    Encoding.KSC5601: st.text(alphabet="abc 123가나다똠韓", max_size=400),
}


@pytest.mark.parametrize("enc", list(Encoding))
@fuzz_settings(60)
@given(data=st.data())
def test_split_parts_join_to_the_whole_and_end_on_characters(
    enc: Encoding, data: st.DataObject
) -> None:
    text = data.draw(_TEXTS[enc])
    parts = encoding.split(text, enc)
    assert b"".join(parts) == encoding.encode(text, enc)
    if len(parts) > 1:
        limit = encoding.PART_SEPTETS if enc is Encoding.GSM else encoding.PART_OCTETS
        assert all(len(part) <= limit for part in parts)
        codings = {
            Encoding.GSM: 0x00,
            Encoding.LATIN1: 0x03,
            Encoding.UCS2: 0x08,
            Encoding.KSC5601: 0x0E,
        }
        assert "".join(encoding.decode(p, codings[enc]) for p in parts) == text
    assert encoding.count_parts(text, enc) == len(parts)


@FAST
@given(st.binary(max_size=120))
def test_tlv_decode_raises_only_invalid_pdu(data: bytes) -> None:
    try:
        found = tlv.decode(data, 0, len(data))
    except InvalidPdu:
        return
    # Whatever was read writes back to a stream that reads the same.
    again = tlv.encode(found)
    assert tlv.decode(again, 0, len(again)) == found
