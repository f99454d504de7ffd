"""GSM 03.38, the encoding choice, and long messages cut into parts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from umsgate.protocols.smpp import encoding, gsm
from umsgate.protocols.smpp.encoding import Encoding

KOREAN = "안녕하세요 고객님, 주문하신 상품이 오늘 발송되었습니다. 감사합니다!"


def test_gsm_basic_and_extension() -> None:
    assert gsm.encode("@£$") == b"\x00\x01\x02"
    assert gsm.encode("A€[") == b"A\x1be\x1b<"
    assert gsm.decode(b"A\x1be\x1b<") == "A€["
    assert gsm.fits("Ünïcode? no") is False  # ï is not in the table
    assert gsm.fits("Grüße aus Köln {ok}")
    with pytest.raises(ValueError, match="U\\+D55C"):
        gsm.encode("한")


def test_gsm_decode_errors() -> None:
    with pytest.raises(ValueError):
        gsm.decode(b"\x80")
    with pytest.raises(ValueError):
        gsm.decode(b"\x1b\x01")
    assert gsm.decode(b"a\x80\x1b", errors="replace") == "a\ufffd\ufffd"


@given(st.text(alphabet=st.sampled_from(sorted(gsm.CHARACTERS)), max_size=300))
def test_gsm_round_trip(text: str) -> None:
    assert gsm.decode(gsm.encode(text)) == text


def test_choose() -> None:
    assert encoding.choose("Hello {world}", korean=True) is Encoding.GSM
    assert encoding.choose(KOREAN, korean=True) is Encoding.KSC5601
    assert encoding.choose(KOREAN, korean=False) is Encoding.UCS2
    # Korean with a character cp949 lacks: UCS-2 even when Korean is allowed.
    assert encoding.choose(KOREAN + "😀", korean=True) is Encoding.UCS2


def test_single_part_limits() -> None:
    assert len(encoding.split("a" * 160, Encoding.GSM)) == 1
    assert len(encoding.split("a" * 161, Encoding.GSM)) == 2
    assert len(encoding.split("€" * 80, Encoding.GSM)) == 1  # 160 septets
    assert len(encoding.split("가" * 70, Encoding.UCS2)) == 1
    assert len(encoding.split("가" * 71, Encoding.UCS2)) == 2
    assert len(encoding.split("가" * 70, Encoding.KSC5601)) == 1
    assert len(encoding.split("é" * 140, Encoding.LATIN1)) == 1


def test_three_part_gsm_message() -> None:
    text = ("GSM text with an escape € at the edges. " * 12)[:400]
    parts = encoding.split(text, Encoding.GSM)
    assert len(parts) == 3
    assert all(len(p) <= encoding.PART_SEPTETS for p in parts)
    assert "".join(gsm.decode(p) for p in parts) == text


def test_gsm_escape_pair_never_split() -> None:
    text = "a" * 152 + "€" + "b" * 10  # the escape would be the 153rd septet
    first, second = encoding.split(text, Encoding.GSM)
    assert first == b"a" * 152
    assert second.startswith(b"\x1be")


@pytest.mark.parametrize("enc", [Encoding.KSC5601, Encoding.UCS2])
def test_three_part_korean_message(enc: Encoding) -> None:
    text = (KOREAN * 4)[: 67 * 2 + 40] if enc is Encoding.UCS2 else (KOREAN * 6)[:190]
    parts = encoding.split(text, enc)
    assert len(parts) == 3
    assert all(len(p) <= encoding.PART_OCTETS for p in parts)
    codec = "cp949" if enc is Encoding.KSC5601 else "utf-16-be"
    # Every part decodes on its own: no character cut in two.
    assert "".join(p.decode(codec) for p in parts) == text


def test_mixed_ascii_korean_parts_end_on_whole_characters() -> None:
    text = "a" + "가" * 200
    parts = encoding.split(text, Encoding.KSC5601)
    for part in parts:
        part.decode("cp949")
    assert len(parts[0]) == 133  # 1 + 66 × 2: the next syllable would make 135


def test_surrogate_pairs_never_split() -> None:
    text = "a" * 66 + "😀" + "b" * 10
    parts = encoding.split(text, Encoding.UCS2)
    assert "".join(p.decode("utf-16-be") for p in parts) == text
    assert len(parts[0]) == 132


def test_too_many_parts() -> None:
    with pytest.raises(encoding.TooLong):
        encoding.split("가" * 67 * 256, Encoding.UCS2)


def test_udh() -> None:
    header = encoding.udh_concat(0x1AB, 3, 2)
    assert header == bytes((5, 0, 3, 0xAB, 3, 2))
    concat, rest = encoding.parse_udh(header + b"text")
    assert concat == encoding.Concat(reference=0xAB, total=3, seqnum=2)
    assert rest == b"text"
    concat16, _ = encoding.parse_udh(bytes((6, 8, 4, 0x12, 0x34, 2, 1)))
    assert concat16 == encoding.Concat(reference=0x1234, total=2, seqnum=1)
    with pytest.raises(ValueError):
        encoding.parse_udh(bytes((9, 0, 3)))


def test_decode_by_data_coding() -> None:
    assert encoding.decode("€x".encode("utf-16-be"), 8) == "€x"
    assert encoding.decode("한글".encode("cp949"), 0x0E) == "한글"
    assert encoding.decode(b"\x1be", 0) == "€"
    assert encoding.decode(b"\xe9", 3) == "é"
    assert encoding.decode(b"\xff\xfe", 0x04) == "ÿþ"
