"""The gate over HTTP, in process (its ASGI interface, a fake clock) and a store written through gate.store.

The access matrix (every community × every kind of visitor), serving (index, types, ETag, ranges,
404 pages, security headers), storage failures, links confirmed then spent, logout, key rotation; and
end to end against the real server: one-time links across processes, both server interfaces.
"""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from gate import store as storage
from gate import tokens
from tests.gatekit import (
    FakeClock,
    confirm,
    confirmation_form,
    cookie_of,
    day,
    etag,
    follow_link,
    gate_in_process,
    publish_site,
    running_gate,
    write_members,
)

COMMUNITIES = ("presse", "business")


def site(community: str) -> dict[str, bytes]:
    marker = f"CONTENT-OF-{community.upper()}"
    return {
        "index.html": f"<html><head><title>{community}</title></head><body>{marker} home</body></html>".encode(),
        "404.html": f"<html><body>{community} has no such page</body></html>".encode(),
        "2026/2026-BERLIN-0042/index.html": f"<html><body>{marker} cable</body></html>".encode(),
        "assets/main.css": f"/* {marker} */ body {{ color: black }}".encode(),
        "search/search_index.json": json.dumps({"docs": [{"text": marker}]}).encode(),
        **compressible(community),
    }


def compressible(community: str) -> dict[str, bytes]:
    """Files large enough to be stored precompressed (gzip, brotli), and one that is not text."""
    marker = f"CONTENT-OF-{community.upper()}"
    paras = "".join(f"<p>{marker} paragraph {i}: l'électricité, énergie, réseau {i * 7919 % 1000}.</p>\n"
                    for i in range(60))
    return {
        "2026/2026-BERLIN-0043/index.html": f"<html><body><h1>{marker}</h1>\n{paras}</body></html>\n".encode(),
        "assets/app.js": "".join(f"function f{i}(x) {{ return x * {i} + '{marker}'; }}\n"
                                 for i in range(80)).encode(),
        "search/pages.json": json.dumps({"docs": [{"location": f"2026/{i}/", "text": f"{marker} {i} " * 20}
                                                  for i in range(100)]}).encode(),
        "assets/logo.png": b"".join(hashlib.sha256(f"{community}{i}".encode()).digest() for i in range(64)),
    }


def members(removed: frozenset[str] = frozenset()) -> dict[str, dict]:
    spec = {
        "presse": {"members": {"a@press.org": None, "old@press.org": day(-1), "today@press.org": day(0),
                               "gone@press.org": day(30)},
                   "domains": ["diplomatie.gouv.fr"]},
        "business": {"members": {"b@biz.org": day(365), "old@biz.org": day(-3), "today@biz.org": day(0),
                                 "gone@biz.org": None},
                     "domains": ["economie.gouv.fr"]},
    }
    for community in spec.values():
        community["members"] = {k: v for k, v in community["members"].items() if k not in removed}
    return spec


VISITORS = {  # community -> role -> address
    "presse": {"member": "a@press.org", "other": "b@biz.org", "expired": "old@press.org",
               "last-day": "today@press.org", "removed": "gone@press.org", "domain": "agent@diplomatie.gouv.fr"},
    "business": {"member": "b@biz.org", "other": "a@press.org", "expired": "old@biz.org",
                 "last-day": "today@biz.org", "removed": "gone@biz.org", "domain": "agent@economie.gouv.fr"},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("gate")
    store = storage.open_store(base / "store")
    for community in COMMUNITIES:
        publish_site(store, community, site(community), "r1")
    write_members(store, members())
    tokens.init(base / "keys")
    with gate_in_process(base / "store", base / "keys", metrics_token="m" * 32) as gate:
        gate.store = store
        gate.base_dir = base
        yield gate


def marker(community: str) -> bytes:
    return f"CONTENT-OF-{community.upper()}".encode()


@pytest.mark.parametrize("community", COMMUNITIES)
def test_access_matrix(world, community):
    page = f"/c/{community}/2026/2026-BERLIN-0042/"
    roles = VISITORS[community]

    def status(role):
        return world.get(page, cookie=world.session_cookie(roles[role]))

    for role in ("member", "last-day", "domain", "removed"):
        reply = status(role)
        assert reply.status == 200, role
        assert marker(community) in reply.body
    for role in ("other", "expired"):
        reply = status(role)
        assert reply.status == 403, role
        assert marker(community) not in reply.body
        assert b"CONTENT-OF" not in reply.body
    anonymous = world.get(page)
    assert anonymous.status == 302
    assert anonymous.header("location") == f"/login?next={page}"
    assert b"CONTENT-OF" not in anonymous.body


def test_member_removed_by_a_republish_is_cut_off_without_restart(world):
    cookies = {c: world.session_cookie(VISITORS[c]["removed"]) for c in COMMUNITIES}
    for community in COMMUNITIES:
        assert world.get(f"/c/{community}/", cookie=cookies[community]).status == 200
    write_members(world.store, members(removed=frozenset({"gone@press.org", "gone@biz.org"})))
    try:
        for community in COMMUNITIES:
            assert world.settle(lambda c=community: world.get(f"/c/{c}/", cookie=cookies[c]).status == 403)
        # still in force for everyone else
        assert world.get("/c/presse/", cookie=world.session_cookie("a@press.org")).status == 200
    finally:
        write_members(world.store, members())
        assert world.settle(lambda: world.get("/c/presse/", cookie=cookies["presse"]).status == 200)


def test_opening_a_link_spends_nothing_until_the_visitor_confirms(world):
    token = world.invitation("presse", "a@press.org")
    for method in ("HEAD", "GET", "GET"):  # a mail scanner, then the person (twice)
        shown = world.request(method, f"/auth?token={token}")
        assert shown.status == 200 and "diplomatie=" not in (shown.header("set-cookie") or "")
    assert "Continuer en tant que a@press.org" in shown.body.decode()
    # The page is in the community's language (French); the switch (?lang=en) gives it in English.
    assert "Continue as a@press.org" in world.request("GET", f"/auth?token={token}&lang=en").body.decode()
    assert "SameSite=Strict" in shown.header("set-cookie")
    assert confirm(world, shown).status == 303


def test_a_confirmation_without_the_pages_token_is_refused(world):
    """Login CSRF: another site posts its own link to /auth; without this browser's token it spends nothing."""
    token = world.invitation("presse", "a@press.org")
    bare = world.post_form("/auth", {"token": token})
    assert bare.status == 403 and not bare.header("set-cookie")
    shown = world.get(f"/auth?token={token}")
    other_browser = world.get(f"/auth?token={world.invitation('presse', 'a@press.org')}")
    fields, _ = confirmation_form(shown)
    forged = world.post_form("/auth", fields, cookie=cookie_of(other_browser))  # someone else's cookie
    assert forged.status == 403 and not forged.header("set-cookie")
    cross = world.post_form("/auth", fields, cookie=cookie_of(shown), headers={"Origin": "https://evil.example"})
    assert cross.status == 403
    assert confirm(world, shown).status == 303  # the link was not spent by any of the above


def test_invitation_lands_on_the_community_and_sets_a_strict_cookie(world):
    token = world.invitation("presse", "a@press.org")
    reply = follow_link(world, f"/auth?token={token}")
    assert reply.status == 303 and reply.header("location") == "/c/presse/"
    set_cookie = reply.header("set-cookie")
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Path=/" in set_cookie
    assert f"Max-Age={tokens.SESSION_TTL}" in set_cookie
    assert "Secure" not in set_cookie  # --insecure-dev on localhost only
    home = world.get("/c/presse/", cookie=cookie_of(reply))
    assert home.status == 200 and marker("presse") in home.body
    listing = world.get("/", cookie=cookie_of(reply))
    assert listing.status == 200 and b'href="/c/presse/"' in listing.body and b"/c/business/" not in listing.body
    # a second use of the same link is refused, from its page and from a replayed confirmation
    again = world.get(f"/auth?token={token}")
    assert again.status == 400 and not again.header("set-cookie")


def test_invitation_with_a_relative_next_goes_there(world):
    token = world.invitation("presse", "a@press.org")
    reply = follow_link(world, f"/auth?token={token}&next=/c/presse/2026/2026-BERLIN-0042/")
    assert reply.header("location") == "/c/presse/2026/2026-BERLIN-0042/"


def test_invitation_for_an_expired_member_is_refused(world):
    token = world.invitation("presse", "old@press.org")
    reply = world.get(f"/auth?token={token}")
    assert reply.status == 403 and not reply.header("set-cookie")


def test_serving_directories_types_and_redirects(world):
    cookie = world.session_cookie("a@press.org")
    assert world.get("/c/presse", cookie=cookie).header("location") == "/c/presse/"
    cable = world.get("/c/presse/2026/2026-BERLIN-0042", cookie=cookie)
    assert cable.status == 301 and cable.header("location") == "/c/presse/2026/2026-BERLIN-0042/"
    index = world.get("/c/presse/", cookie=cookie)
    assert index.header("content-type").startswith("text/html")
    assert index.header("cache-control") == "private, no-cache"
    assert index.header("vary") == "Cookie"
    assert world.get("/c/presse/index.html", cookie=cookie).body == index.body
    assert world.get("/c/presse/assets/main.css", cookie=cookie).header("content-type").startswith("text/css")
    search = world.get("/c/presse/search/search_index.json", cookie=cookie)
    assert search.header("content-type").startswith("application/json")


def test_etag_and_conditional_requests(world):
    cookie = world.session_cookie("a@press.org")
    first = world.get("/c/presse/assets/main.css", cookie=cookie)
    tag = first.header("etag")
    assert tag == etag(storage.read_manifest(world.store, "presse", "r1").files["assets/main.css"].sha256)
    again = world.get("/c/presse/assets/main.css", cookie=cookie, headers={"If-None-Match": tag})
    assert again.status == 304 and again.body == b"" and again.header("etag") == tag
    assert again.header("content-length") is None  # a 304's would have to be the 200's (RFC 9110, 8.6)
    other = world.get("/c/presse/assets/main.css", cookie=cookie, headers={"If-None-Match": '"nope"'})
    assert other.status == 200 and other.body == first.body


def test_range_requests(world):
    cookie = world.session_cookie("a@press.org")
    full = world.get("/c/presse/assets/main.css", cookie=cookie).body
    part = world.get("/c/presse/assets/main.css", cookie=cookie, headers={"Range": "bytes=3-9"})
    assert part.status == 206 and part.body == full[3:10]
    assert part.header("content-range") == f"bytes 3-9/{len(full)}"
    tail = world.get("/c/presse/assets/main.css", cookie=cookie, headers={"Range": "bytes=-5"})
    assert tail.status == 206 and tail.body == full[-5:]
    beyond = world.get("/c/presse/assets/main.css", cookie=cookie, headers={"Range": f"bytes={len(full)}-"})
    assert beyond.status == 416 and beyond.header("content-range") == f"bytes */{len(full)}" and beyond.body == b""
    stale = world.get("/c/presse/assets/main.css", cookie=cookie,
                      headers={"Range": "bytes=0-3", "If-Range": '"old"'})
    assert stale.status == 200 and stale.body == full


def test_missing_page_is_the_communitys_own_404(world):
    reply = world.get("/c/business/2026/nothing-here.html", cookie=world.session_cookie("b@biz.org"))
    assert reply.status == 404
    assert reply.body == site("business")["404.html"]


def test_security_headers_on_every_kind_of_response(world):
    cookie = world.session_cookie("a@press.org")
    replies = [
        world.get("/c/presse/", cookie=cookie),  # 200 page
        world.get("/c/presse/assets/main.css", cookie=cookie),  # 200 asset
        world.get("/c/presse/x", cookie=cookie),  # 404 of the community
        world.get("/c/business/", cookie=cookie),  # 403
        world.get("/c/presse/"),  # 302 to login
        world.get("/c/presse/%2e%2e/business/"),  # 400
        world.get("/login"),
        world.get("/nowhere"),
        world.get("/healthz"),
        world.get("/.well-known/jwks.json"),
    ]
    for reply in replies:
        csp = reply.header("content-security-policy") or ""
        assert "frame-ancestors 'none'" in csp, reply
        assert "default-src 'self'" in csp or "default-src 'none'" in csp
        assert reply.header("x-content-type-options") == "nosniff"
        assert reply.header("referrer-policy") == "no-referrer"
        assert reply.status != 500


def test_jwks_publishes_public_keys_only(world):
    jwks = json.loads(world.get("/.well-known/jwks.json").body)
    assert [k["kid"] for k in jwks["keys"]] == [tokens.load(world.keys_dir).current]
    assert all("d" not in k for k in jwks["keys"])


def test_healthz_and_metrics_behind_a_bearer_token(world):
    assert world.get("/healthz").body == b"ok\n"
    world.get("/c/presse/", cookie=world.session_cookie("a@press.org"))
    assert world.get("/metrics").status == 404
    assert world.get("/metrics", headers={"Authorization": "Bearer " + "x" * 32}).status == 404
    text = world.get("/metrics", headers={"Authorization": "Bearer " + "m" * 32}).body.decode()
    assert 'diplomatie_gate_requests_total{pid=' in text and 'status="200"' in text
    assert "diplomatie_gate_request_seconds_bucket" in text
    assert 'diplomatie_gate_blob_cache_total{pid=' in text and 'result="hit"' in text


def test_one_json_log_line_per_request_without_tokens(world):
    cookie = world.session_cookie("a@press.org")
    world.get("/c/presse/assets/main.css?probe=log", cookie=cookie)
    world.gate.log.flush()  # what the poller does every poll_interval
    lines = [json.loads(line) for line in world.logs.getvalue().splitlines() if line.startswith("{")]
    served = [r for r in lines if r.get("path") == "/c/presse/assets/main.css" and r.get("status") == 200]
    assert served
    record = served[-1]
    assert record["subject"] == "a@press.org" and record["community"] == "presse"
    assert record["bytes"] > 0 and record["latency_ms"] >= 0 and record["time"].endswith("Z")
    token = cookie.split("=", 1)[1]
    assert token not in world.logs.getvalue()


def test_logout_needs_the_csrf_token_and_revokes_the_session(world):
    cookie = world.sign_in("presse", "a@press.org")
    home = world.get("/", cookie=cookie).body.decode()
    csrf = home.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert world.request("POST", "/logout", cookie=cookie, headers=form, body=b"csrf=wrong").status == 403
    cross = world.request("POST", "/logout", cookie=cookie, body=f"csrf={csrf}".encode(),
                          headers={**form, "Origin": "https://evil.example"})
    assert cross.status == 403
    confirm = world.get("/logout", cookie=cookie)  # the sites' sign-out link: a confirmation form
    assert confirm.status == 200 and f'value="{csrf}"'.encode() in confirm.body and not confirm.header("set-cookie")
    signed_out = world.get("/logout")  # no session: the "signed out" page, with the way back in
    assert signed_out.status == 200 and b'href="/login"' in signed_out.body
    assert world.request("PUT", "/logout", cookie=cookie).status == 405
    assert world.get("/c/presse/", cookie=cookie).status == 200
    out = world.request("POST", "/logout", cookie=cookie, headers={**form, "Origin": world.base},
                        body=f"csrf={csrf}".encode())
    assert out.status == 303 and out.header("location") == "/logout"
    assert "Max-Age=0" in out.header("set-cookie")
    # the old cookie value no longer works, even if replayed
    assert world.get("/c/presse/", cookie=cookie).status == 302


def test_storage_errors_answer_503_never_a_traceback_nor_other_bytes(world):
    store = world.store
    publish_site(store, "broken", {"index.html": b"<html>CONTENT-OF-BROKEN</html>"}, "r1")
    manifest = storage.read_manifest(store, "broken", "r1")
    store.delete([storage.blob_key(manifest.files["index.html"].sha256)])
    spec = members()
    spec["broken"] = {"members": {"a@press.org": None}}
    write_members(store, spec)
    cookie = world.session_cookie("a@press.org")
    try:
        assert world.settle(lambda: world.get("/c/broken/", cookie=cookie).status == 503)
        reply = world.get("/c/broken/", cookie=cookie)
        assert b"Traceback" not in reply.body and b"CONTENT-OF" not in reply.body
        assert reply.header("retry-after")
        assert world.get("/c/presse/", cookie=cookie).status == 200  # other communities unaffected
    finally:
        write_members(store, members())
        world.settle(lambda: True)


def test_one_time_link_is_refused_by_a_second_gate_process(world):
    """Two processes behind one address share only the store: a link spent on one fails on the other."""
    ring = tokens.load(world.keys_dir)
    with running_gate(world.base_dir / "store", world.keys_dir) as one, \
            running_gate(world.base_dir / "store", world.keys_dir, base_url=one.base) as other:
        token = tokens.issue(ring, tokens.INVITATION, "a@press.org", issuer=one.base, audience=one.base,
                             ttl=600, community="presse")
        shown_one = one.get(f"/auth?token={token}")
        shown_other = other.get(f"/auth?token={token}")
        first = confirm(other, shown_one)  # the page of one process, confirmed on the other
        assert first.status == 303
        assert confirm(one, shown_other).status == 400
        assert one.get(f"/auth?token={token}").status == 400
        # and a session issued by one is accepted by the other
        assert one.get("/c/presse/", cookie=cookie_of(first)).status == 200


def test_key_rotation_keeps_old_sessions_during_grace_only(tmp_path):
    store = storage.open_store(tmp_path / "store")
    publish_site(store, "presse", site("presse"), "r1")
    write_members(store, members())
    clock = FakeClock()
    tokens.init(tmp_path / "keys", now=clock())
    with gate_in_process(tmp_path / "store", tmp_path / "keys", clock=clock) as gate:
        old = gate.session_cookie("a@press.org")
        assert gate.get("/c/presse/", cookie=old).status == 200
        time.sleep(0.01)  # a new mtime for the key file, which the poller watches
        ring = tokens.rotate(tmp_path / "keys", now=clock(), grace=60)
        gate.refresh()
        assert len(json.loads(gate.get("/.well-known/jwks.json").body)["keys"]) == 2
        new = gate.session_cookie("a@press.org")
        assert gate.get("/c/presse/", cookie=new).status == 200
        clock.advance(30)
        assert gate.get("/c/presse/", cookie=old).status == 200  # grace period
        clock.advance(31)
        gate.refresh()
        assert gate.get("/c/presse/", cookie=old).status == 302  # retired key: no session
        assert gate.get("/c/presse/", cookie=new).status == 200
        assert [k["kid"] for k in json.loads(gate.get("/.well-known/jwks.json").body)["keys"]] == [ring.current]


def test_head_has_headers_and_length_but_no_body(world):
    cookie = world.session_cookie("a@press.org")
    full = world.get("/c/presse/assets/main.css", cookie=cookie)
    head = world.request("HEAD", "/c/presse/assets/main.css", cookie=cookie)
    assert head.status == 200 and head.body == b""
    assert head.header("content-length") == str(len(full.body))
    assert head.header("etag") == full.header("etag")


def invitation(gate) -> str:
    ring = tokens.load(gate.keys_dir)
    return tokens.issue(ring, tokens.INVITATION, "a@press.org", issuer=gate.base, audience=gate.base, ttl=600,
                        community="presse")


def test_metrics_are_served_on_their_own_address_not_the_public_port(world):
    with running_gate(world.base_dir / "store", world.keys_dir) as gate:
        gate.get("/c/presse/", cookie=gate.session_cookie("a@press.org"))
        assert gate.get("/metrics").status == 404
        text = gate.metrics()
        assert 'diplomatie_gate_requests_total{pid=' in text and 'status="200"' in text


def test_asgi_interface_behaves_the_same(tmp_path):
    store = storage.open_store(tmp_path / "store")
    publish_site(store, "presse", site("presse"), "r1")
    write_members(store, members())
    tokens.init(tmp_path / "keys")
    with running_gate(tmp_path / "store", tmp_path / "keys", extra=("--interface", "asgi")) as gate:
        assert gate.get("/c/presse/").status == 302
        euro = gate.get(f"/auth?token={invitation(gate)}&next=/%E2%82%AC")
        assert euro.status == 200
        assert confirm(gate, euro).header("location") == "/%E2%82%AC"  # Unicode in next, ASCII on the wire
        invalid = invitation(gate)
        assert gate.get(f"/auth?token={invalid}&next=/%FF").status == 400  # not UTF-8
        assert confirm(gate, gate.get(f"/auth?token={invalid}")).status == 303  # and not spent
        cookie = gate.sign_in("presse", "a@press.org")
        page = gate.get("/c/presse/2026/2026-BERLIN-0042/", cookie=cookie)
        assert page.status == 200 and marker("presse") in page.body
        assert gate.get("/c/business/", cookie=cookie).status == 403
        assert gate.get("/c/presse/%2e%2e/business/", cookie=cookie).status == 400
        head = gate.request("HEAD", "/c/presse/assets/main.css", cookie=cookie)
        assert head.status == 200 and head.body == b"" and int(head.header("content-length")) > 0
        part = gate.get("/c/presse/assets/main.css", cookie=cookie, headers={"Range": "bytes=0-1"})
        assert part.status == 206 and len(part.body) == 2
