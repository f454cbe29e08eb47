"""The gzip and brotli copies publish makes: which files get them, and that they are the file, always."""

from __future__ import annotations

import gzip

import brotli
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.precompress import MIN_SIZE, is_text, precompress


@pytest.mark.parametrize(("kind", "text"), [
    ("text/html; charset=utf-8", True), ("TEXT/CSS", True), ("text/javascript; charset=utf-8", True),
    ("application/json", True), ("application/xml", True), ("image/svg+xml", True),
    ("application/atom+xml", True), ("application/manifest+json", True), ("application/ld+json", True),
    ("image/png", False), ("font/woff2", False), ("application/octet-stream", False),
    ("application/gzip", False), ("image/x-icon", False), ("application/pdf", False),
])
def test_only_text_types_are_compressed(kind, text):
    assert is_text(kind) is text
    assert bool(precompress(b"<p>some text that repeats</p>\n" * 40, kind)) is text


def test_small_or_incompressible_files_get_no_copy():
    assert precompress(b"x" * (MIN_SIZE - 1), "text/plain") == {}
    already = gzip.compress(bytes(range(256)) * 20)  # a gzip'd file served as text/plain gains nothing
    assert precompress(already, "text/plain") == {}


def test_copies_are_the_same_bytes_every_time_and_brotli_first():
    data = b'{"docs": [' + b",".join(b'{"text": "%d lorem ipsum"}' % i for i in range(400)) + b"]}"
    first, second = precompress(data, "application/json"), precompress(data, "application/json")
    assert first == second and list(first) == ["br", "gzip"]
    assert first["gzip"][4:8] == b"\0\0\0\0" and not first["gzip"][3] & 0x08  # time 0, no file name


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(["énergie ", "l'électricité ", "<p>", "</p>\n", "réseau ", "0", "\u202e"]),
                min_size=0, max_size=400), st.booleans())
def test_every_copy_decompresses_to_exactly_the_file(words, large):
    data = "".join(words).encode() + (b"a" * 300_000 if large else b"")
    for coding, packed in precompress(data, "text/html; charset=utf-8").items():
        assert {"br": brotli.decompress, "gzip": gzip.decompress}[coding](packed) == data
        assert len(packed) < len(data)
