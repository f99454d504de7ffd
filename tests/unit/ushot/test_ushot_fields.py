"""Fixed-width CP949 fields: padding, limits in bytes, never a cut Korean character."""

from __future__ import annotations

import datetime as dt

import pytest

from umsgate.errors import RemoteProtocolError
from umsgate.protocols.ushot import bodies, fields
from umsgate.protocols.ushot.events import LmsRecord, SmsRecord
from umsgate.protocols.ushot.fields import FieldError


def test_text_is_left_aligned_and_space_padded() -> None:
    assert fields.encode_text("SAM11", 6, "VERSION") == b"SAM11 "
    assert fields.encode_text("", 5, "RESP_CODE") == b"     "


def test_counts_are_zero_padded() -> None:
    assert fields.encode_number(40, 8, "LENGTH") == b"00000040"
    with pytest.raises(FieldError, match="LENGTH"):
        fields.encode_number(10**8, 8, "LENGTH")
    with pytest.raises(FieldError):
        fields.encode_number(-1, 4, "COUNT")


def test_hangul_counts_two_bytes_each() -> None:
    assert fields.encode_text("가나", 4, "MSG") == "가나".encode("cp949")
    # CP949 holds every modern syllable, plain EUC-KR does not ("똠").
    assert len(fields.encode_text("똠", 2, "MSG")) == 2


def test_a_value_that_does_not_fit_is_an_error_never_a_cut() -> None:
    # Three syllables need 6 bytes: a 5-byte field must refuse, not keep 2.5 of them.
    with pytest.raises(FieldError) as info:
        fields.encode_text("가나다", 5, "MSG", content=True)
    assert info.value.field == "MSG"
    assert info.value.code == "60"
    with pytest.raises(FieldError) as info2:
        fields.encode_text("0101234567890", 12, "RECEIVER")
    assert info2.value.code == "3"


def test_a_character_cp949_cannot_hold_is_an_error() -> None:
    with pytest.raises(FieldError, match="U\\+1F600") as info:
        fields.encode_text("hi 😀", 100, "MSG")
    assert info.value.field == "MSG"
    assert not info.value.close_session


def test_decoding_strips_trailing_spaces_and_nuls_only() -> None:
    assert fields.decode_text(b"  ab \x00\x00  ", "X") == "  ab"
    assert fields.decode_text("한글".encode("cp949") + b"   ", "X") == "한글"


def test_numbers_accept_zero_or_space_padding_on_either_side() -> None:
    for raw in (b"00000040", b"40      ", b"      40"):
        assert fields.decode_number(raw, "LENGTH") == 40
    assert fields.decode_number(b"    ", "COUNT") == 0
    with pytest.raises(RemoteProtocolError) as info:
        fields.decode_number(b"00x1", "COUNT")
    assert info.value.code == "11001"


def test_bytes_that_are_not_cp949_are_a_remote_error() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        fields.decode_text(b"\xff\xfe\xfd", "MSG")
    assert info.value.code == "11001"
    assert "MSG" in str(info.value)


def test_free_text_fields_replace_what_is_not_cp949() -> None:
    assert fields.decode_loose(b"OK \xff ") == "OK \ufffd"


def test_dates_are_kst() -> None:
    when = dt.datetime(2009, 1, 1, 0, 30, tzinfo=dt.UTC)
    assert fields.format_date(when) == "2009-01-01 09:30:00"
    assert fields.parse_date("2009-01-01 09:30:00") == when
    with pytest.raises(ValueError):
        fields.format_date(dt.datetime(2009, 1, 1))  # naive: zone unknown
    for bad in ("2009-01-01", "2009-13-01 00:00:00", "2009-01-01T09:30:00"):
        with pytest.raises(ValueError):
            fields.parse_date(bad)


def sms(**changes: str) -> SmsRecord:
    values = {"grp_id": "g", "msg_id": "1", "receiver": "01012345678", "msg": "hi"}
    return SmsRecord(**{**values, **changes})


def test_sms_record_limits_are_bytes() -> None:
    assert len(bodies.encode_sms_record(sms(msg="가" * 50))) == 314
    with pytest.raises(FieldError) as info:
        bodies.encode_sms_record(sms(msg="가" * 50 + "a"))
    assert info.value.field == "MSG" and info.value.code == "60"
    assert len(bodies.encode_sms_record(sms(), legacy=True)) == 284


@pytest.mark.parametrize("field", ["grp_id", "msg_id", "receiver", "msg"])
def test_required_record_fields_must_not_be_blank(field: str) -> None:
    with pytest.raises(FieldError):
        bodies.encode_sms_record(sms(**{field: ""}))


def test_dates_in_records_must_have_the_wire_format() -> None:
    bodies.encode_sms_record(sms(timeout_dt="2009-01-01 21:00:00"))
    with pytest.raises(FieldError) as info:
        bodies.encode_sms_record(sms(reserve_dt="tomorrow"))
    assert info.value.field == "RESERVE_DT"


def test_lms_records_fixed_and_variable() -> None:
    record = LmsRecord(grp_id="g", msg_id="1", receiver="01012345678", msg="가" * 1000)
    assert len(bodies.encode_lms_record(record, variable=False)) == 2254
    assert len(bodies.encode_lms_record(record, variable=False, legacy=True)) == 2224
    variable = bodies.encode_lms_record(record, variable=True)
    assert variable[:4] == b"2000"
    assert len(variable) == 258 + 2000
    big = LmsRecord(grp_id="g", msg_id="1", receiver="01012345678", msg="a" * 3001)
    with pytest.raises(FieldError) as info:
        bodies.encode_lms_record(big, variable=True)
    assert info.value.code == "60"
    with pytest.raises(FieldError):
        bodies.encode_lms_record(
            LmsRecord(grp_id="g", msg_id="1", receiver="01012345678", msg="a" * 2001),
            variable=False,
        )
