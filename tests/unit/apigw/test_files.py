"""files.is_jpeg: the upload check walks the JPEG marker structure (ITU T.81 §B.1);
names and declared types are never trusted (apigw spec §4)."""

from __future__ import annotations

import random

import pytest

from tests.unit.apigw.images import jpeg, png
from umsgate import files


def test_a_real_jpeg() -> None:
    assert files.is_jpeg(jpeg())
    assert files.is_jpeg(jpeg(tag=b"another"))


@pytest.mark.parametrize("size", [1000, 70_000, files.MAX_FILE_BYTES])
def test_padded_jpegs(size: int) -> None:
    data = jpeg(size=size)
    assert len(data) == size
    assert files.is_jpeg(data)


def test_fill_bytes_between_segments() -> None:
    data = jpeg()
    assert files.is_jpeg(data[:2] + b"\xff\xff\xff" + data[2:])


def test_png_is_not_a_jpeg() -> None:
    assert not files.is_jpeg(png())


def test_text_is_not_a_jpeg() -> None:
    assert not files.is_jpeg(b"this is a text file named photo.jpg\n")


@pytest.mark.parametrize("keep", [0, 1, 2, 3, 4, 10, 20, 60, 100])
def test_truncated_jpeg(keep: int) -> None:
    data = jpeg()
    sos = data.index(b"\xff\xda")
    assert keep < sos + 4
    assert not files.is_jpeg(data[:keep])


def test_truncated_in_the_scan_header() -> None:
    data = jpeg()
    sos = data.index(b"\xff\xda")
    assert not files.is_jpeg(data[: sos + 5])  # the scan header claims 12 bytes


def test_only_the_magic_bytes() -> None:
    assert not files.is_jpeg(b"\xff\xd8\xff\xe0")
    assert not files.is_jpeg(b"\xff\xd8\xff\xd9")  # SOI, EOI, no picture


def test_broken_marker_chain() -> None:
    data = jpeg()
    # Corrupt the length of the APP0 segment so the walk lands off a marker.
    broken = data[:4] + b"\x00\x05" + data[6:]
    assert not files.is_jpeg(broken)
    # A segment length below 2 is impossible.
    assert not files.is_jpeg(data[:4] + b"\x00\x01" + data[6:])


def test_a_second_soi_is_refused() -> None:
    data = jpeg()
    assert not files.is_jpeg(data[:2] + data)


def test_random_bytes_are_not_jpegs() -> None:
    rng = random.Random(20240611)
    for _ in range(2000):
        blob = rng.randbytes(rng.randrange(0, 300))
        assert not files.is_jpeg(blob)
    # Even when they start with SOI.
    hits = sum(files.is_jpeg(b"\xff\xd8" + rng.randbytes(200)) for _ in range(2000))
    assert hits == 0


def test_file_ids_look_like_the_seeds() -> None:
    ids = {files.new_file_id() for _ in range(1000)}
    assert len(ids) == 1000
    for file_id in ids:
        assert len(file_id) == 13
        assert set(file_id) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
