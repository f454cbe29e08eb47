"""Text compressed on the wire: the gate sends a file's gzip or brotli form to a client that accepts it.

The files of tests/test_gate.py's site that are large enough are stored precompressed (as `publish`
stores them). Negotiation follows the client's Accept-Encoding (q-values, ``*``, ``identity;q=0``),
each representation has its own ETag, a range is always of the file as it is, and the answer always
decompresses to exactly the file's bytes. The tests taking ``world`` run again behind the real nginx
(tests/test_nginx.py).
"""

from __future__ import annotations

import gzip

import brotli
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate import store as storage
from gate.negotiation import choose
from tests.gatekit import etag, gate_in_process, publish_site
from tests.test_gate import site, world  # noqa: F401 - the in-process gate and its store

BROWSER = "gzip, deflate, br, zstd"  # what Chromium and Firefox send
PAGES = {"/c/presse/2026/2026-BERLIN-0043/": "2026/2026-BERLIN-0043/index.html",
         "/c/presse/assets/app.js": "assets/app.js", "/c/presse/search/pages.json": "search/pages.json"}
CABLE = "/c/presse/2026/2026-BERLIN-0043/"


def entry(world, name: str) -> storage.FileEntry:  # noqa: F811
    pointer = storage.read_pointer(world.store, "presse")
    return storage.read_manifest(world.store, "presse", pointer.release).files[name]


def original(world, name: str) -> bytes:  # noqa: F811
    return world.store.get(storage.blob_key(entry(world, name).sha256))


def decoded(reply) -> bytes:
    """The body as the client reads it, after undoing the Content-Encoding it was sent with."""
    coding = reply.header("content-encoding")
    if coding is None:
        return reply.body
    return {"br": brotli.decompress, "gzip": gzip.decompress}[coding](reply.body)


def fetch(world, path: str, accept: str | bytes | None, **headers: str):  # noqa: F811
    if accept is not None:
        headers["Accept-Encoding"] = accept
    return world.get(path, cookie=world.session_cookie("a@press.org"),
                     headers={k.replace("_", "-"): v for k, v in headers.items()})


def test_a_browser_gets_brotli_that_decompresses_to_the_file(world):  # noqa: F811
    for path, name in PAGES.items():
        reply = fetch(world, path, BROWSER)
        file = entry(world, name)
        assert reply.status == 200 and reply.header("content-encoding") == "br", path
        assert brotli.decompress(reply.body) == original(world, name)
        assert len(reply.body) == file.encoded("br").size < file.size / 2
        assert reply.header("content-length") == str(len(reply.body))
        assert reply.header("content-type") == file.type
        assert reply.header("etag") == etag(file.sha256, "br")
        assert reply.header("vary") == "Cookie, Accept-Encoding"
        assert reply.header("content-security-policy")


@pytest.mark.parametrize(("accept", "coding"), [
    ("gzip", "gzip"), ("x-gzip", "gzip"), ("gzip, deflate", "gzip"), ("br;q=0, gzip", "gzip"),
    ("gzip;q=1, br;q=0.5", "gzip"), ("gzip;q=0.5, br;q=0.9", "br"), ("*", "br"), ("br, gzip", "br"),
    ("identity", None), ("", None), ("deflate, zstd", None), ("*;q=0", None), ("gzip;q=0", None),
    ("gzip;q=0.5, identity", None), ("gzip;q=2", None), ("identity;q=0", None), ("BR;Q=0.8", "br"),
])
def test_the_coding_sent_is_the_one_the_client_rates_best(world, accept, coding):  # noqa: F811
    reply = fetch(world, CABLE, accept)
    assert reply.status == 200 and reply.header("content-encoding") == coding
    assert decoded(reply) == original(world, "2026/2026-BERLIN-0043/index.html")
    assert reply.header("vary") == "Cookie, Accept-Encoding"  # identity answers too: caches must tell them apart


def test_binary_and_small_files_are_sent_as_they_are(world):  # noqa: F811
    for path, name in (("/c/presse/assets/logo.png", "assets/logo.png"), ("/c/presse/assets/main.css", "assets/main.css")):
        reply = fetch(world, path, BROWSER)
        assert reply.status == 200 and reply.header("content-encoding") is None
        assert reply.body == original(world, name) and reply.header("vary") == "Cookie"


def test_conditional_requests_compare_the_etag_of_the_representation_sent(world):  # noqa: F811
    file = entry(world, "2026/2026-BERLIN-0043/index.html")
    br_tag, plain_tag = etag(file.sha256, "br"), etag(file.sha256)
    same = fetch(world, CABLE, BROWSER, If_None_Match=br_tag)
    assert same.status == 304 and same.body == b"" and same.header("etag") == br_tag
    assert same.header("vary") == "Cookie, Accept-Encoding"
    other = fetch(world, CABLE, "gzip", If_None_Match=br_tag)  # a brotli copy says nothing of the gzip one
    assert other.status == 200 and other.header("content-encoding") == "gzip"
    assert other.header("etag") == etag(file.sha256, "gzip")
    plain = fetch(world, CABLE, BROWSER, If_None_Match=plain_tag)
    assert plain.status == 200 and plain.header("content-encoding") == "br"
    assert fetch(world, CABLE, "identity", If_None_Match=plain_tag).status == 304


def test_a_range_is_a_range_of_the_file_as_it_is(world):  # noqa: F811
    data = original(world, "search/pages.json")
    part = fetch(world, "/c/presse/search/pages.json", BROWSER, Range="bytes=100-199")
    assert part.status == 206 and part.header("content-encoding") is None
    assert part.body == data[100:200] and part.header("content-range") == f"bytes 100-199/{len(data)}"
    assert "Accept-Encoding" in part.header("vary")


def test_head_of_a_compressed_file_has_its_length_and_no_body(world):  # noqa: F811
    full = fetch(world, "/c/presse/assets/app.js", BROWSER)
    head = world.request("HEAD", "/c/presse/assets/app.js", cookie=world.session_cookie("a@press.org"),
                         headers={"Accept-Encoding": BROWSER})
    assert head.status == 200 and head.body == b"" and head.header("content-encoding") == "br"
    assert head.header("content-length") == str(len(full.body)) and head.header("etag") == full.header("etag")


# --------------------------------------------------------------------- generated Accept-Encoding values

CODINGS = ("br", "gzip", "x-gzip", "deflate", "zstd", "identity", "*", "BR", "Gzip", "compress", "b r", "")
VALID_Q = {None: 1.0, "0": 0.0, "0.0": 0.0, "0.": 0.0, "0.001": 0.001, "0.5": 0.5, "1": 1.0, "1.0": 1.0,
           "1.": 1.0, "1.000": 1.0, "0.999": 0.999}
INVALID_Q = ("0.9999", "2", "-1", "abc", "", "1.5", "0.5x", "1e0", "٠.5", ".5")
ELEMENT = st.tuples(st.sampled_from(CODINGS), st.sampled_from((*VALID_Q, *INVALID_Q)),
                    st.sampled_from(("", " ", "  ")), st.booleans())


def render(elements) -> str:
    parts = []
    for coding, q, space, upper_q in elements:
        parts.append(f"{space}{coding}{space}" + ("" if q is None else f";{space}{'Q' if upper_q else 'q'}={q}"))
    return ",".join(parts)


def expected_weights(elements) -> dict[str, float]:
    """What the client said, read independently of the gate: coding -> weight (lowest when repeated)."""
    said: dict[str, float] = {}
    for coding, q, _, _ in elements:
        name = {"x-gzip": "gzip"}.get(coding.lower(), coding.lower())
        if q in VALID_Q and name and " " not in name:
            said[name] = min(VALID_Q[q], said.get(name, 1.0))
    return said


def weight_of(said: dict[str, float], coding: str) -> float:
    """Identity unnamed (nor ``*``) weighs nothing against a coding, yet stays the fallback."""
    return said.get(coding, said.get("*", 0.0))


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(ELEMENT, max_size=6))
def test_any_accept_encoding_gets_identity_or_a_coding_it_accepted(world, elements):  # noqa: F811
    header = render(elements)
    reply = fetch(world, CABLE, header.encode())  # bytes: a header may hold any octet, "٠" (Arabic zero) too
    assert reply.status == 200
    assert decoded(reply) == original(world, "2026/2026-BERLIN-0043/index.html")
    said = expected_weights(elements)
    sent = reply.header("content-encoding")
    best = max(weight_of(said, "br"), weight_of(said, "gzip"))
    if sent is None:  # identity: no coding was acceptable, or the client rated identity higher
        assert best == 0 or weight_of(said, "identity") > best, header
    else:
        assert sent in ("br", "gzip") and weight_of(said, sent) == best > 0, header
    assert reply.header("content-length") == str(len(reply.body))


def test_no_accept_encoding_header_means_the_file_as_it_is():
    assert choose(None, ["br", "gzip"]) == "identity"
    assert choose("br", []) == "identity"


# --------------------------------------------------------------------------- in this process only


def test_a_release_published_before_compression_is_served_as_it_is(world):  # noqa: F811
    store = world.store
    old = publish_site(store, "presse", site("presse"), "r0-plain", precompressed=False)
    world.refresh()
    try:
        reply = fetch(world, CABLE, BROWSER)
        assert reply.status == 200 and reply.header("content-encoding") is None
        assert reply.header("vary") == "Cookie" and reply.body == store.get(
            storage.blob_key(old.files["2026/2026-BERLIN-0043/index.html"].sha256))
    finally:
        storage.write_pointer(store, storage.Pointer("presse", "r1", storage.utc_now()))
        world.refresh()


def test_behind_nginx_the_gate_names_the_compressed_blob_and_its_coding(world):  # noqa: F811
    file = entry(world, "2026/2026-BERLIN-0043/index.html")
    with gate_in_process(world.base_dir / "store", world.base_dir / "keys", accel_redirect="/_blobs") as gate:
        cookie = gate.session_cookie("a@press.org")
        accel = gate.get(CABLE, cookie=cookie, headers={"Accept-Encoding": BROWSER})
        assert accel.header("x-accel-redirect") == f"/_blobs/{file.encoded('br').sha256}"
        assert accel.header("content-encoding") == "br" and accel.header("etag") == etag(file.sha256, "br")
        assert accel.header("vary") == "Cookie, Accept-Encoding" and accel.body == b""
        decision = gate.get(CABLE, cookie=cookie, headers={"Accept-Encoding": "gzip", "X-Diplomatie-Decide": "1"})
        assert decision.status == 200 and decision.header("x-diplomatie-blob") == file.encoded("gzip").sha256
        assert decision.header("content-encoding") == "gzip"
        ranged = gate.get(CABLE, cookie=cookie, headers={"Accept-Encoding": BROWSER, "Range": "bytes=0-9"})
        assert ranged.header("x-accel-redirect") == f"/_blobs/{file.sha256}"  # nginx cuts the file itself
        assert ranged.header("content-encoding") is None
