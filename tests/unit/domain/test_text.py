"""Text rules (domain/text.py): charset names, byte counts in CP949 and UTF-8,
unencodable characters, and the byte limits of apigw spec §6, §7, resolution 11."""

from __future__ import annotations

import pytest

from umsgate.domain import text
from umsgate.domain.results import Invalid
from umsgate.errors import ValidationError


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        (None, "cp949"),
        ("", "cp949"),
        ("euc-kr", "cp949"),
        ("EUC-KR", "cp949"),
        ("Euc-Kr", "cp949"),
        (" euc-kr ", "cp949"),
        ("euckr", "cp949"),
        ("cp949", "cp949"),
        ("CP949", "cp949"),
        ("ks_c_5601-1987", "cp949"),
        ("KS_C_5601-1987", "cp949"),
        ("ksc5601", "cp949"),
        ("utf-8", "utf-8"),
        ("UTF-8", "utf-8"),
        ("utf8", "utf-8"),
    ],
)
def test_charset_names_and_aliases(name: str | None, codec: str) -> None:
    assert text.codec_for(name) == codec


@pytest.mark.parametrize(
    "name", ["latin-1", "ascii", "utf-16", "shift_jis", "euc-jp", "x"]
)
def test_other_charsets_are_not_allowed(name: str) -> None:
    with pytest.raises(ValidationError) as info:
        text.codec_for(name)
    assert info.value.code == Invalid.NOT_ALLOWED
    assert info.value.field == "dstCharSet"
    assert name in info.value.message


def test_ascii_counts_one_byte_per_character() -> None:
    assert text.byte_length("hello 123", "cp949", field="content") == 9
    assert text.byte_length("hello 123", "utf-8", field="content") == 9


def test_hangul_counts_two_bytes_in_cp949_three_in_utf8() -> None:
    assert text.byte_length("가나다", "cp949", field="content") == 6
    assert text.byte_length("가나다", "utf-8", field="content") == 9
    assert text.byte_length("안녕 hi", "cp949", field="content") == 7


@pytest.mark.parametrize("syllable", ["똠", "똡", "쌰", "햏", "뷁", "믜"])
def test_syllables_outside_ks_x_1001_count_two_bytes(syllable: str) -> None:
    # Plain EUC-KR has no code for these (Python's euc_kr codec spells them as an
    # 8-byte jamo sequence); CP949 gives each of the 11,172 syllables two bytes.
    assert text.codec_for("euc-kr") == "cp949"
    assert text.byte_length(syllable, text.codec_for("euc-kr"), field="content") == 2
    assert text.byte_length("김" + syllable + "순", "cp949", field="content") == 6


@pytest.mark.parametrize(
    ("sample", "bad", "position"),
    [("hi 😀", "😀", 3), ("가\u0e01", "\u0e01", 1), ("€※★\U0001f4a9", "\U0001f4a9", 3)],
)
def test_unencodable_character_is_named(sample: str, bad: str, position: int) -> None:
    with pytest.raises(ValidationError) as info:
        text.byte_length(sample, "cp949", field="content")
    err = info.value
    assert err.code == Invalid.NOT_ALLOWED
    assert err.field == "content"
    assert repr(bad) in err.message
    assert f"U+{ord(bad):04X}" in err.message
    assert f"position {position}" in err.message
    assert "content" in err.message


def test_utf8_encodes_what_cp949_cannot() -> None:
    assert text.byte_length("hi 😀", "utf-8", field="content") == 7


def test_lone_surrogate_is_refused_in_utf8() -> None:
    with pytest.raises(ValidationError) as info:
        text.byte_length("a\ud800", "utf-8", field="subject")
    assert info.value.code == Invalid.NOT_ALLOWED
    assert info.value.field == "subject"


def test_limits_are_the_specs() -> None:
    assert text.SMS_MAX_BYTES == 90
    assert text.LMS_MAX_BYTES == 2000
    assert text.SUBJECT_MAX_BYTES == 120


@pytest.mark.parametrize(
    ("content", "limit", "ok"),
    [
        ("a" * 90, text.SMS_MAX_BYTES, True),
        ("a" * 91, text.SMS_MAX_BYTES, False),
        ("가" * 45, text.SMS_MAX_BYTES, True),
        ("가" * 45 + "a", text.SMS_MAX_BYTES, False),
        ("똠" * 45, text.SMS_MAX_BYTES, True),
        ("가" * 1000, text.LMS_MAX_BYTES, True),
        ("가" * 1000 + "a", text.LMS_MAX_BYTES, False),
        ("가" * 60, text.SUBJECT_MAX_BYTES, True),
        ("가" * 60 + "a", text.SUBJECT_MAX_BYTES, False),
    ],
)
def test_check_length_at_the_limit(content: str, limit: int, ok: bool) -> None:
    if ok:
        assert text.check_length(content, "cp949", limit, field="content") == len(
            content.encode("cp949")
        )
        return
    with pytest.raises(ValidationError) as info:
        text.check_length(content, "cp949", limit, field="content")
    assert info.value.code == Invalid.TOO_LONG
    assert info.value.field == "content"
    assert f"at most {limit}" in info.value.message


def test_the_same_text_fits_in_cp949_but_not_in_utf8() -> None:
    content = "가" * 45  # 90 bytes in CP949, 135 in UTF-8
    assert text.check_length(content, "cp949", 90, field="content") == 90
    with pytest.raises(ValidationError) as info:
        text.check_length(content, "utf-8", 90, field="content")
    assert info.value.code == Invalid.TOO_LONG
    assert "135 bytes" in info.value.message


def test_check_length_reports_unencodable_before_length() -> None:
    with pytest.raises(ValidationError) as info:
        text.check_length("😀" * 100, "cp949", 90, field="content")
    assert info.value.code == Invalid.NOT_ALLOWED


@pytest.mark.parametrize(
    ("sample", "limit", "expected"),
    [
        ("가나다", 5, "가나"),
        ("가나다", 6, "가나다"),
        ("ab가", 3, "ab"),
        ("abc", 2, "ab"),
        ("", 0, ""),
    ],
)
def test_fit_bytes_never_splits_a_character(
    sample: str, limit: int, expected: str
) -> None:
    fitted = text.fit_bytes(sample, "cp949", limit)
    assert fitted == expected
    assert len(fitted.encode("cp949")) <= limit
