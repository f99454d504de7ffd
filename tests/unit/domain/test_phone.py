"""Phone numbers (domain/phone.py): the seed's formats, E.164 output, receivers that
can take a message, sender numbers including Korea's 15xx/16xx representative
numbers (apigw spec §2, §10)."""

from __future__ import annotations

import pytest

from umsgate.domain import phone


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("01059120601", "+821059120601"),  # the seed's sample
        ("+821012345678", "+821012345678"),
        ("010-1234-5678", "+821012345678"),
        ("010 1234 5678", "+821012345678"),
        (" 01012345678 ", "+821012345678"),
        ("0101234567", "+82101234567"),  # old 10-digit 010 numbers
        ("01112345678", "+821112345678"),
    ],
)
def test_receiver_formats(raw: str, e164: str) -> None:
    assert phone.receiver(raw) == e164
    assert phone.receiver(raw, 82) == e164


@pytest.mark.parametrize(
    "raw",
    [
        "00113515553",  # the seed's example of an invalid receiver (§10)
        "",
        "   ",
        "abc",
        "0101234",
        "010123456789012",
        "+8210",
    ],
)
def test_invalid_receivers(raw: str) -> None:
    with pytest.raises(phone.InvalidNumber):
        phone.receiver(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "010-1234-567a",  # the library would take the letter as an extension
        "010CALLME12",  # ... or as keypad digits
        "01012345678;ext=1",
        "0101234567x8",
        "０１０１２３４５６７８",  # full-width digits
        "010/1234/5678",
    ],
)
def test_only_digits_and_separators_are_numbers(raw: str) -> None:
    with pytest.raises(phone.InvalidNumber):
        phone.receiver(raw)
    with pytest.raises(phone.InvalidNumber):
        phone.sender(raw)


@pytest.mark.parametrize(
    "raw", ["010.1234.5678", "(010) 1234-5678", "+82 10-1234-5678"]
)
def test_usual_separators_are_accepted(raw: str) -> None:
    assert phone.receiver(raw) == "+821012345678"


@pytest.mark.parametrize(
    "raw",
    [
        "0212345678",  # Seoul landline
        "02-123-4567",
        "0311234567",  # Gyeonggi landline
        "051-123-4567",  # Busan landline
        "15881234",  # representative number
        "1588-1234",
        "16001234",
    ],
)
def test_landlines_and_representative_numbers_cannot_receive(raw: str) -> None:
    with pytest.raises(phone.InvalidNumber):
        phone.receiver(raw)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("01059120601", "+821059120601"),
        ("+821012345678", "+821012345678"),
        ("010-1234-5678", "+821012345678"),
        ("15881234", "+8215881234"),
        ("1588-1234", "+8215881234"),
        ("1577-1234", "+8215771234"),
        ("16001234", "+8216001234"),
        ("1644-1234", "+8216441234"),
        ("0212345678", "+82212345678"),
        ("02-123-4567", "+8221234567"),
        ("070-1234-5678", "+827012345678"),
    ],
)
def test_senders_may_be_any_valid_number(raw: str, e164: str) -> None:
    assert phone.sender(raw) == e164


@pytest.mark.parametrize("raw", ["00113515553", "", "1588", "12345", "+8200000"])
def test_invalid_senders(raw: str) -> None:
    with pytest.raises(phone.InvalidNumber):
        phone.sender(raw)


def test_unknown_country_code_is_invalid() -> None:
    with pytest.raises(phone.InvalidNumber):
        phone.receiver("01012345678", 999)


def test_national_form() -> None:
    assert phone.national("+821012345678") == "01012345678"
    assert phone.national("+8215881234") == "15881234"
    assert phone.national(phone.sender("02-123-4567")) == "021234567"


def test_max_number_chars_is_the_specs() -> None:
    assert phone.MAX_NUMBER_CHARS == 15


@pytest.mark.parametrize("value", ["²", "+8²", "+٨٢١٠١٢٣٤٥٦٧٨", "+", ""])
def test_country_of_what_is_not_ascii_digits_is_unknown(value: str) -> None:
    assert phone.country(value) == "ZZ"
