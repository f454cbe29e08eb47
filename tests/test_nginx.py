"""The gate behind the real nginx with the shipped deploy/nginx.conf (``--accel-redirect``).

The gate's own access matrix, serving tests and hostile table run again here, unchanged, through nginx:
they are imported from tests/test_gate.py and tests/test_gate_hostile.py and receive fixtures that point
at nginx instead of the gate. Then what only nginx mode has: body bytes sent by nginx (the gate sends
none), the blob location unreachable from outside, X-Forwarded-For trusted from the proxy only, and two
gate processes behind one nginx sharing nothing but the store.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path

import brotli
import pytest

from gate import store as storage
from gate import tokens
from tests.gatekit import (
    GateProcess,
    confirm,
    cookie_of,
    etag,
    free_port,
    publish_site,
    wait_for,
    write_members,
)
from tests.nginxkit import ACCEL_PREFIX, NGINX, running_nginx
from tests.test_gate import (  # noqa: F401 - collected here again, against nginx
    COMMUNITIES,
    marker,
    members,
    site,
    test_access_matrix,
    test_etag_and_conditional_requests,
    test_head_has_headers_and_length_but_no_body,
    test_invitation_for_an_expired_member_is_refused,
    test_invitation_lands_on_the_community_and_sets_a_strict_cookie,
    test_invitation_with_a_relative_next_goes_there,
    test_jwks_publishes_public_keys_only,
    test_member_removed_by_a_republish_is_cut_off_without_restart,
    test_missing_page_is_the_communitys_own_404,
    test_range_requests,
    test_security_headers_on_every_kind_of_response,
    test_serving_directories_types_and_redirects,
    test_storage_errors_answer_503_never_a_traceback_nor_other_bytes,
)
from tests.test_gate_compression import (  # noqa: F401 - collected here again, against nginx
    BROWSER,
    test_a_browser_gets_brotli_that_decompresses_to_the_file,
    test_a_range_is_a_range_of_the_file_as_it_is,
    test_binary_and_small_files_are_sent_as_they_are,
    test_conditional_requests_compare_the_etag_of_the_representation_sent,
    test_head_of_a_compressed_file_has_its_length_and_no_body,
    test_the_coding_sent_is_the_one_the_client_rates_best,
)
from tests.test_gate_hostile import (  # noqa: F401 - collected here again, against nginx
    test_gate_still_healthy_after_the_table,
    test_hostile_table_is_refused_without_content,
    test_next_is_never_an_open_redirect,
)

pytestmark = pytest.mark.nginx

#: What Chromium sends for a page (a link followed, an address typed).
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
GATE_FLAGS = ("--accel-redirect", ACCEL_PREFIX, "--trusted-proxy", "127.0.0.1")


def front(gate: GateProcess, nginx_port: int) -> GateProcess:
    """The same test client, aimed at nginx (``gate.direct`` keeps the gate's own port)."""
    proxied = copy.copy(gate)
    proxied.port = nginx_port
    proxied.direct = gate
    return proxied


def behind_nginx(base: Path, store_dir: Path, gates: int = 1, extra: tuple[str, ...] = (), report_every: float = 5,
                 deploy: Path | None = None, scheme: str = "http"):
    """Gate processes with --accel-redirect and --grant-keys (and ``extra``), and nginx in front with
    base URL = nginx's address (reporting the reads it serves on a grant every ``report_every`` s; its
    Lua module and headers file from ``deploy``, by default the repository's deploy/). ``scheme``
    "https": the gate's base URL says https (as behind a TLS terminator), so its answers carry HSTS,
    while nginx itself listens in plain HTTP here."""
    port = free_port()
    base_url = f"{scheme}://127.0.0.1:{port}"
    grant_keys = base / "grants" / "keys"
    started = [GateProcess(store_dir, base / "keys", base_url=base_url,
                           extra=(*GATE_FLAGS, "--grant-keys", str(grant_keys), *extra),
                           log=base / f"gate-{i}.log") for i in range(gates)]
    try:
        server = running_nginx(base / "nginx", [g.port for g in started], store_dir, port=port,
                               grant_keys=grant_keys, report_every=report_every, deploy=deploy)
        return started, server, port
    except Exception:
        for g in started:
            g.stop()
        raise


@contextlib.contextmanager
def world_behind_nginx(base: Path, store: storage.Store, **kw) -> Iterator[GateProcess]:
    """The test client aimed at nginx in front of the gate(s) of :func:`behind_nginx` (``kw``), with
    the store, the base folder and nginx at hand; everything stopped when the block ends."""
    gates, server, port = behind_nginx(base, base / "store", **kw)
    try:
        with server as nginx:
            proxied = front(gates[0], port)
            proxied.store, proxied.base_dir, proxied.nginx = store, base, nginx
            yield proxied
    finally:
        for g in gates:
            g.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("nginx")
    store = storage.open_store(base / "store")
    for community in COMMUNITIES:
        publish_site(store, community, site(community), "r1")
    write_members(store, members())
    tokens.init(base / "keys")
    with world_behind_nginx(base, store) as proxied:
        proxied.ring = tokens.load(base / "keys")
        yield proxied


@pytest.fixture(scope="module")
def gate(world):
    """The hostile table's fixture: the same gate behind nginx (its tokens name presse and business)."""
    return world


def test_nginx_sends_the_precompressed_blob_each_client_accepts(world):
    """One address, one cookie, three clients in a row: the cached decision never hands one client the
    coding another accepted; each body (sent by nginx) decompresses to the file."""
    cookie = world.session_cookie("a@press.org")
    file = storage.read_manifest(world.store, "presse", "r1").files["2026/2026-BERLIN-0043/index.html"]
    original = world.store.get(storage.blob_key(file.sha256))
    path = "/c/presse/2026/2026-BERLIN-0043/?probe=codings"
    for accept, coding, decode in (("identity", None, bytes), (BROWSER, "br", brotli.decompress),
                                   ("gzip", "gzip", gzip.decompress), ("identity", None, bytes)):
        reply = world.get(path, cookie=cookie, headers={"Accept-Encoding": accept})
        assert reply.status == 200 and reply.header("content-encoding") == coding, accept
        assert reply.header("last-modified") is None  # as from the gate: the blob file's time is not sent
        assert decode(reply.body) == original and reply.header("content-length") == str(len(reply.body))
        assert reply.header("vary") == "Cookie, Accept-Encoding"


def test_nginx_gzips_the_gates_own_pages_once(world):
    plain = world.get("/login", headers={"Accept-Encoding": "identity"})
    packed = world.get("/login", headers={"Accept-Encoding": BROWSER})
    assert plain.status == packed.status == 200 and plain.header("content-encoding") is None
    assert packed.header("content-encoding") == "gzip" and gzip.decompress(packed.body) == plain.body
    assert "Accept-Encoding" in packed.header("vary")
    cookie = world.session_cookie("a@press.org")  # the community's 404 page: the gate sends it, maybe compressed
    missing = world.get("/c/presse/no/such/page", cookie=cookie, headers={"Accept-Encoding": BROWSER})
    assert missing.status == 404 and b"has no such page" in {None: bytes, "gzip": gzip.decompress}[
        missing.header("content-encoding")](missing.body)


def test_bodies_come_from_nginx_and_the_gate_sends_none(world):
    cookie = world.session_cookie("a@press.org")
    files = storage.read_manifest(world.store, "presse", "r1").files
    paths = {"/c/presse/": "index.html", "/c/presse/assets/main.css": "assets/main.css",
             "/c/presse/search/search_index.json": "search/search_index.json"}
    for path, name in paths.items():
        reply = world.get(path + "?probe=accel", cookie=cookie)
        assert reply.status == 200 and marker("presse") in reply.body
        assert reply.header("last-modified") is None  # as from the gate: the blob file's time is not sent
        assert reply.header("x-accel-redirect") is None  # and the body came from nginx: the gate sends none
        assert reply.header("etag") == etag(files[name].sha256)
        assert reply.header("content-type") == files[name].type
        assert reply.header("content-security-policy") and reply.header("vary") == "Cookie"
    direct = world.direct.get("/c/presse/assets/main.css", cookie=cookie)
    assert direct.status == 200 and direct.body == b""
    assert direct.header("x-accel-redirect").startswith(f"{ACCEL_PREFIX}/")
    time.sleep(2.5)  # the gate's log is flushed by its poller
    lines = [json.loads(line) for line in world.direct.log.read_text().splitlines() if line.startswith("{")]
    served = [r for r in lines if r.get("path") in paths and r.get("status") == 200]
    assert len(served) >= len(paths) and all(r["bytes"] == 0 for r in served)


def test_blob_location_is_not_reachable_from_outside(world):
    manifest = storage.read_manifest(world.store, "presse", "r1")
    sha = manifest.files["index.html"].sha256
    for path in (f"{ACCEL_PREFIX}/{sha}", f"/c/presse/..{ACCEL_PREFIX}/{sha}", f"/c/presse/../..{ACCEL_PREFIX}/{sha}"):
        reply = world.get(path)
        assert reply.status in (302, 400, 404, 503) and b"CONTENT-OF" not in reply.body, path


def test_client_cannot_dodge_the_login_rate_limit_with_x_forwarded_for(tmp_path):
    store = storage.open_store(tmp_path / "store")
    write_members(store, members())
    tokens.init(tmp_path / "keys")
    gates, server, port = behind_nginx(tmp_path, tmp_path / "store")
    try:
        with server:
            proxied = front(gates[0], port)
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            statuses = [proxied.request("POST", "/login", body=f"email=x{i}@nowhere.org".encode(),
                                        headers={**form, "X-Forwarded-For": f"10.0.0.{i}"}).status
                        for i in range(22)]
            assert statuses[:20] == [200] * 20 and statuses[20:] == [429, 429]
    finally:
        for g in gates:
            g.stop()


def test_two_gate_processes_behind_nginx_share_only_the_store(tmp_path):
    store = storage.open_store(tmp_path / "store")
    publish_site(store, "presse", site("presse"), "r1")
    write_members(store, members())
    tokens.init(tmp_path / "keys")
    gates, server, port = behind_nginx(tmp_path, tmp_path / "store", gates=2)
    one, two = gates
    try:
        with server:
            proxied = front(one, port)
            ring = tokens.load(tmp_path / "keys")
            link = tokens.issue(ring, tokens.INVITATION, "a@press.org", issuer=proxied.base, audience=proxied.base,
                                ttl=600, community="presse")
            shown_two = two.get(f"/auth?token={link}")
            first = confirm(one, proxied.get(f"/auth?token={link}"))  # page through nginx, confirmed on one
            assert first.status == 303
            assert confirm(two, shown_two).status == 400  # spent on the other process
            assert proxied.get(f"/auth?token={link}").status == 400
            session = cookie_of(first)
            assert two.get("/c/presse/", cookie=session).status == 200  # issued by one, accepted by two
            replies = [proxied.get("/c/presse/", cookie=session) for _ in range(4)]  # both, round robin
            assert all(r.status == 200 and marker("presse") in r.body for r in replies)

            removed = proxied.session_cookie("gone@press.org")
            assert all(g.get("/c/presse/", cookie=removed).status == 200 for g in (one, two, proxied))
            write_members(store, members(removed=frozenset({"gone@press.org"})))
            started = time.monotonic()
            cut_off = (one, two, proxied, proxied, proxied)  # and nginx's cached decisions, through both
            assert wait_for(lambda: all(g.get("/c/presse/", cookie=removed).status == 403 for g in cut_off),
                            timeout=10)
            assert time.monotonic() - started <= 10
            assert proxied.get("/c/presse/", cookie=session).status == 200
    finally:
        for g in gates:
            g.stop()


def test_shipped_configuration_passes_nginx_own_check(tmp_path):
    import subprocess

    from tests.nginxkit import render

    conf = tmp_path / "nginx.conf"
    conf.write_text(render(tmp_path, free_port(), [free_port()], tmp_path / "store"))
    result = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_signed_out_session_is_refused_through_nginx_within_seconds(world):
    """A replayed cookie (without a grant: asked of the gate each time) stops at once; with a grant, within
    its lifetime (tests/test_nginx_grants.py)."""
    cookie = world.sign_in("presse", "a@press.org")
    assert world.get("/c/presse/", cookie=cookie).status == 200  # decision now cached by nginx
    home = world.get("/", cookie=cookie).body.decode()
    csrf = home.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    out = world.request("POST", "/logout", cookie=cookie, body=f"csrf={csrf}".encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": world.base})
    assert out.status == 303 and "Max-Age=0" in out.header("set-cookie")
    started = time.monotonic()
    assert wait_for(lambda: world.get("/c/presse/", cookie=cookie).status == 302, timeout=10)
    assert time.monotonic() - started <= 10


def test_gate_decisions_carry_no_body_and_a_yes_sets_a_grant(world):
    cookie = world.session_cookie("a@press.org")
    decision = world.direct.get("/c/presse/assets/main.css", cookie=cookie, headers={"X-Diplomatie-Decide": "1"})
    assert decision.status == 200 and decision.body == b"" and decision.header("x-diplomatie-blob")
    assert decision.header("x-accel-redirect") is None
    grant = decision.header("set-cookie")
    assert grant.startswith("diplomatie-grant=g1.presse.") and "; Path=/c/presse/;" in grant
    assert "HttpOnly" in grant and "SameSite=Lax" in grant
    refused = world.direct.get("/c/business/", cookie=cookie, headers={"X-Diplomatie-Decide": "1"})
    assert refused.status == 401 and refused.body == b"" and refused.header("set-cookie") is None
    assert refused.header("x-diplomatie-session") is None  # a valid session, not a member: not a sign-in
    anonymous = world.direct.get("/c/presse/", headers={"X-Diplomatie-Decide": "1"})
    assert anonymous.status == 401 and anonymous.header("x-diplomatie-session") == "none"


def test_a_community_s_feed_is_a_page_to_a_browser_and_atom_to_a_feed_reader_through_nginx(tmp_path):
    """Same address, same cookie: nginx sends it to the gate (gate/feedpage.py) whatever the Accept, so a
    browser never gets the Atom nginx could have learned for a feed reader, nor a reader the page."""
    store = storage.open_store(tmp_path / "store")
    feed = ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">'
            "<id>urn:diplomatie:presse</id><title>presse</title><entry><id>urn:diplomatie:presse:1</id>"
            "<title>Sécurité énergétique</title><updated>2026-11-21T00:00:00Z</updated>"
            '<link rel="alternate" type="text/html" href="2026/2026-BERLIN-0042/"/>'
            f"<summary>{'Résumé du télégramme. ' * 20}</summary></entry></feed>\n").encode()
    publish_site(store, "presse", {**site("presse"), "feed.xml": feed}, "r1")
    write_members(store, members())
    tokens.init(tmp_path / "keys")
    with world_behind_nginx(tmp_path, store) as proxied:
        session = proxied.session_cookie("a@press.org")
        grant = proxied.get("/c/presse/", cookie=session).header("set-cookie").split(";", 1)[0]
        assert grant.startswith("diplomatie-grant=")
        for cookie in (session, f"{session}; {grant}", session):  # without a grant, with one (nginx's own path)
            for accept in ("application/atom+xml, */*;q=0.5", BROWSER_ACCEPT, "*/*", None):
                reply = proxied.get("/c/presse/feed.xml", cookie=cookie,
                                    headers={"Accept-Encoding": "identity", **({"Accept": accept} if accept else {})})
                assert reply.status == 200 and "Accept" in reply.header("vary"), accept
                if accept == BROWSER_ACCEPT:
                    assert reply.header("content-type") == "text/html; charset=utf-8"
                    assert reply.header("cache-control") == "no-store" and reply.header("etag") is None
                    body = reply.body.decode()
                    assert '<html lang="fr"' in body and 'href="/c/presse/2026/2026-BERLIN-0042/"' in body
                    assert "Sécurité énergétique" in body
                else:
                    assert reply.body == feed and reply.header("content-type") == "application/xml", accept
                    assert reply.header("cache-control") == "private, no-cache"
        packed = proxied.get("/c/presse/feed.xml", cookie=session, headers={"Accept": BROWSER_ACCEPT,
                                                                            "Accept-Encoding": "gzip"})
        assert packed.header("content-encoding") == "gzip" and b"<!doctype html>" in gzip.decompress(packed.body)
        assert proxied.get("/c/presse/feed.xml", headers={"Accept": BROWSER_ACCEPT}).status == 302
        outsider = proxied.session_cookie("b@biz.org")
        refused = proxied.get("/c/presse/feed.xml", cookie=outsider, headers={"Accept": "*/*"})
        assert refused.status == 403 and feed not in refused.body


def test_a_community_s_feed_goes_to_the_gate_without_asking_a_decision(tmp_path):
    """nginx never learns a blob for a feed, so it sends the request on to the gate at once rather than
    asking a decision first, which would make the gate build the feed twice: the gate logs each feed
    request once, with or without a grant (the same normalised address written another way too)."""
    store = storage.open_store(tmp_path / "store")
    publish_site(store, "presse", {**site("presse"), "feed.xml": b'<?xml version="1.0"?><feed/>'}, "r1")
    write_members(store, members())
    tokens.init(tmp_path / "keys")
    with world_behind_nginx(tmp_path, store) as proxied:
        session = proxied.session_cookie("a@press.org")
        grant = proxied.get("/c/presse/", cookie=session).header("set-cookie").split(";", 1)[0]
        asked = [("/c/presse/feed.xml", session), ("/c/presse/feed.xml", f"{session}; {grant}"),
                 ("/c/presse/fe%65d.xml", f"{session}; {grant}"), ("/c/presse/feed.xml?since=1", None)]
        for address, cookie in asked:
            assert proxied.get(address, cookie=cookie).status in (200, 302), address
        assert proxied.get("/after-the-feeds").status == 404  # logged by the gate after every feed request
        for _ in range(200):
            logged = [json.loads(line) for line in proxied.direct.log.read_text().splitlines() if line.startswith("{")]
            if any(r.get("path") == "/after-the-feeds" for r in logged):
                break
            time.sleep(0.05)  # the gate writes its log every few tenths of a second
        else:
            raise AssertionError("the gate never logged the last request")
        feeds = [r for r in logged if str(r.get("path", "")).startswith("/c/presse/fe")]
        assert len(feeds) == len(asked), feeds
