"""Per-community grants through the real nginx and its Lua module (deploy/diplomatie_grant.lua).

A grant lets nginx serve a member without asking the gate: what a member sees, whether nginx asked the
gate (a decision sets a fresh grant cookie, and the gate counts its requests), and how long sign-out,
removal and a new release take behind nginx. The gates here run with ``--grant-ttl 2`` so that the
bounds are measured in seconds; the measured bound is the one docs/gate.md states for the default.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import shutil
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate import store as storage
from gate import tokens
from gate.http import HSTS
from tests.gatekit import GateProcess, Reply, follow_link, free_port, publish_site, wait_for, write_members
from tests.test_nginx import world_behind_nginx

pytestmark = pytest.mark.nginx

TTL = 2  # --grant-ttl of these gates (seconds)
POLL = 2.0  # the gate's poll interval (members.json, pointers)
MAP_TTL = 2.0  # how long nginx reuses an address's blob (deploy/diplomatie_grant.lua)


def site(community: str, version: str = "r1") -> dict[str, bytes]:
    marker = f"CONTENT-OF-{community.upper()}-{version}"
    return {
        "index.html": f"<html><body>{marker} home</body></html>".encode(),
        "404.html": b"<html><body>no such page</body></html>",
        "2026/2026-BERLIN-0042/index.html": f"<html><body>{marker} cable</body></html>".encode(),
        "assets/main.css": f"/* {marker} */".encode(),
        "assets/app.js": f"// {marker}".encode(),
    }


PAGES = ("/c/{c}/", "/c/{c}/2026/2026-BERLIN-0042/", "/c/{c}/assets/main.css", "/c/{c}/assets/app.js")


def members(removed: frozenset[str] = frozenset()) -> dict[str, dict]:
    spec = {"presse": {"members": {"a@press.org": None, "both@x.org": None, "gone@press.org": None}},
            "business": {"members": {"b@biz.org": None, "both@x.org": None}}}
    for community in spec.values():
        community["members"] = {k: v for k, v in community["members"].items() if k not in removed}
    return spec


class Browser:
    """One member's cookies, kept per path as a browser does (the session on /, grants on /c/<c>/)."""

    def __init__(self, front: GateProcess, session: str) -> None:
        self.front = front
        self.session = session  # "diplomatie=<token>"
        self.grants: dict[str, str] = {}  # community -> "diplomatie-grant=<value>"
        self.asked = 0  # answers that carried a fresh grant: nginx asked the gate

    def get(self, path: str, grant: str | None = None, headers: dict[str, str] | None = None) -> Reply:
        community = path.split("/")[2]
        held = grant if grant is not None else self.grants.get(community)
        cookie = self.session + (f"; {held}" if held else "")
        reply = self.front.get(path, cookie=cookie, headers=headers or {})
        fresh = reply.header("set-cookie")
        if fresh and fresh.startswith("diplomatie-grant="):
            self.asked += 1
            self.grants[community] = fresh.split(";", 1)[0]
        return reply


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("grants")
    store = storage.open_store(base / "store")
    for community in ("presse", "business"):
        publish_site(store, community, site(community), "r1")
    write_members(store, members())
    tokens.init(base / "keys")
    with world_behind_nginx(base, store, extra=("--grant-ttl", str(TTL))) as proxied:
        yield proxied


def gate_requests(world) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in world.direct.metrics().splitlines()
               if line.startswith("diplomatie_gate_requests_total{"))


def grant_keys(world) -> tokens.GrantKeys:
    return tokens.read_grant_keys(world.base_dir / "grants" / "keys")


def marker(community: str) -> bytes:
    return f"CONTENT-OF-{community.upper()}".encode()


def test_the_grant_key_file_is_readable_by_nginx_only_through_its_group(world):
    path = world.base_dir / "grants" / "keys"
    assert path.stat().st_mode & 0o777 == 0o640
    keys = grant_keys(world)
    assert keys.ttl == TTL and keys.session_cookie == "diplomatie" and keys.grant_cookie == "diplomatie-grant"
    redirect = dict(keys.redirect_headers)
    assert redirect["cache-control"] == "no-store" and "location" not in redirect


def test_a_member_browses_on_a_grant_and_the_gate_is_asked_once_per_lifetime(world):
    first = Browser(world, world.session_cookie("a@press.org"))
    for page in PAGES:  # nginx learns each address's blob from the gate's yes
        assert marker("presse") in first.get(page.format(c="presse")).body
    second = Browser(world, world.session_cookie("both@x.org"))
    before, started = gate_requests(world), time.monotonic()
    replies = [second.get(page.format(c="presse")) for _ in range(5) for page in PAGES]
    elapsed = time.monotonic() - started
    assert all(r.status == 200 and marker("presse") in r.body for r in replies)
    assert replies[1].header("content-type").startswith("text/html") and replies[1].header("etag")
    assert replies[1].header("content-security-policy") and replies[1].header("vary") == "Cookie"
    if elapsed < 1:  # within one grant lifetime (and the map's 2 s): the gate answered once, for the grant
        assert second.asked == 1 and gate_requests(world) - before == 1
    else:  # a loaded machine: still once per lifetime at most
        assert second.asked <= 1 + elapsed / (TTL - 1)


def test_a_returning_browser_revalidates_with_nginx_alone(world):
    browser = Browser(world, world.session_cookie("a@press.org"))
    started = time.monotonic()
    first = browser.get("/c/presse/assets/app.js")
    etag = first.header("etag")
    before = gate_requests(world)
    again = browser.front.get("/c/presse/assets/app.js", cookie=f"{browser.session}; {browser.grants['presse']}",
                              headers={"If-None-Match": f'W/"x", {etag}'})
    assert again.status == 304 and again.body == b"" and again.header("etag") == etag
    assert again.header("content-type") is None and again.header("content-security-policy")
    changed = browser.front.get("/c/presse/assets/app.js", cookie=f"{browser.session}; {browser.grants['presse']}",
                                headers={"If-None-Match": '"other"'})
    assert changed.status == 200 and changed.body == first.body
    if time.monotonic() - started < MAP_TTL - 0.5:  # nginx still knew the address: the gate was not asked
        assert gate_requests(world) == before


def test_a_grant_for_one_community_opens_nothing_of_another(world):
    b_member = Browser(world, world.session_cookie("b@biz.org"))
    for page in PAGES:  # nginx knows business's addresses now
        assert marker("business") in b_member.get(page.format(c="business")).body
    a_member = Browser(world, world.session_cookie("a@press.org"))
    assert a_member.get("/c/presse/").status == 200
    presse_grant = a_member.grants["presse"]
    for page in PAGES:
        reply = a_member.get(page.format(c="business"), grant=presse_grant)
        assert reply.status == 403 and marker("business") not in reply.body
        reply = a_member.get(page.format(c="business"), grant=b_member.grants["business"])  # stolen grant
        assert reply.status == 403 and marker("business") not in reply.body  # bound to b's session
    assert a_member.asked == 1


def test_a_grant_of_another_community_or_expired_or_tampered_asks_the_gate(world):
    both = Browser(world, world.session_cookie("both@x.org"))
    assert both.get("/c/presse/").status == 200 and both.get("/c/business/").status == 200
    keys = grant_keys(world)
    token = both.session.split(";", 1)[0].split("=", 1)[1]
    now = time.time()
    wrong = {
        "another community's": both.grants["business"],
        "expired": "diplomatie-grant=" + tokens.issue_grant(keys, "presse", token, now - 3 * TTL),
        "far-future": "diplomatie-grant=" + tokens.issue_grant(dataclasses.replace(keys, ttl=60), "presse", token,
                                                               now + 3600),
        "tampered": both.grants["presse"][:-2] + ("AA" if not both.grants["presse"].endswith("AA") else "BB"),
    }
    for why, grant in wrong.items():
        asked = both.asked
        reply = both.get("/c/presse/", grant=grant)
        assert reply.status == 200 and marker("presse") in reply.body, why
        assert both.asked == asked + 1, f"{why} grant was accepted by nginx"
    stranger = Browser(world, "diplomatie=not-a-session")
    for why, grant in wrong.items():  # no valid session: refused whatever the grant
        reply = stranger.get("/c/presse/", grant=grant)
        assert reply.status == 302 and reply.header("location") == "/login?next=/c/presse/", why
        assert marker("presse") not in reply.body


def test_refusals_of_forged_cookies_are_answered_by_nginx(world):
    """Garbage is refused by Lua; so is a well-shaped forgery, which has no seal the gate made."""
    before = gate_requests(world)
    for cookie in ("diplomatie=garbage", "diplomatie=a.b.c", "other=1", None):
        reply = world.get("/c/presse/assets/main.css", cookie=cookie)
        assert reply.status == 302 and reply.header("location") == "/login?next=/c/presse/assets/main.css"
        assert reply.header("cache-control") == "no-store" and reply.header("x-frame-options") == "DENY"
        assert reply.header("content-security-policy") and reply.body == b""
    assert gate_requests(world) == before
    other_ring = tokens.init(world.base_dir / "forger-keys")
    forged = tokens.issue(other_ring, tokens.SESSION, "a@press.org", issuer=world.base, audience=world.base, ttl=600)
    for page in PAGES:
        reply = world.get(page.format(c="presse"), cookie=f"diplomatie={forged}")
        assert reply.status == 302 and marker("presse") not in reply.body
    assert gate_requests(world) == before  # no seal: nginx never asks the gate about it


def sign_out(world, cookie: str) -> Reply:
    home = world.get("/", cookie=cookie).body.decode()
    csrf = home.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return world.request("POST", "/logout", cookie=cookie, body=f"csrf={csrf}".encode(),
                         headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": world.base})


def refused_within(browser: Browser, path: str, refused: int, bound: float) -> float:
    """Seconds until ``path`` is refused (``refused`` status) to the browser's cookies and last grant."""
    grant = browser.grants[path.split("/")[2]]
    started = time.monotonic()
    assert wait_for(lambda: browser.get(path, grant=grant).status == refused, timeout=bound + 3, interval=0.1)
    return time.monotonic() - started


def test_sign_out_takes_effect_behind_nginx_within_the_grant_lifetime(world):
    cookie = world.sign_in("presse", "a@press.org")
    browser = Browser(world, cookie)
    for page in PAGES:
        assert browser.get(page.format(c="presse")).status == 200
    assert sign_out(world, cookie).status == 303
    waited = refused_within(browser, "/c/presse/assets/main.css", 302, TTL)
    print(f"sign-out refused behind nginx after {waited:.2f} s (grant lifetime {TTL} s)")
    assert waited <= TTL + 0.5, waited


def test_sign_out_clears_the_grant_cookies(world):
    cookie = world.sign_in("presse", "a@press.org")
    home = world.get("/", cookie=cookie).body.decode()
    csrf = home.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", world.port, timeout=15)
    conn.request("POST", "/logout", body=f"csrf={csrf}", headers={
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded", "Origin": world.base})
    cookies = conn.getresponse().headers.get_all("set-cookie")
    conn.close()
    assert any(c.startswith("diplomatie=;") for c in cookies)
    for community in ("presse", "business"):
        assert any(c.startswith("diplomatie-grant=; Max-Age=0; Path=/c/" + community + "/;") for c in cookies)
    assert any(c.startswith("diplomatie-seal=; Max-Age=0; Path=/c/;") for c in cookies)


def test_sign_in_sets_the_session_and_its_seal(world):
    token = world.invitation("presse", "a@press.org")
    reply = follow_link(world, f"/auth?token={token}")
    session, seal = [c.split(";", 1)[0] for c in reply.header("set-cookie").split(", ")]
    assert session.startswith("diplomatie=") and seal.startswith("diplomatie-seal=s1.")
    assert tokens.seal_problem(grant_keys(world), seal.split("=", 1)[1], session.split("=", 1)[1]) is None
    page = world.get("/c/presse/", cookie=f"{session}; {seal}")  # what the browser sends next
    assert page.status == 200 and marker("presse") in page.body


def test_removal_takes_effect_behind_nginx_within_the_grant_lifetime_and_a_poll(world):
    browser = Browser(world, world.session_cookie("gone@press.org"))
    for page in PAGES:
        assert browser.get(page.format(c="presse")).status == 200
    write_members(world.store, members(removed=frozenset({"gone@press.org"})))
    try:
        waited = refused_within(browser, "/c/presse/assets/main.css", 403, TTL + POLL)
        print(f"removal refused behind nginx after {waited:.2f} s (grant lifetime {TTL} s, poll {POLL} s)")
        assert waited <= TTL + POLL + 0.5, waited
    finally:
        write_members(world.store, members())


def test_a_new_release_is_served_within_the_map_lifetime_and_a_poll(world):
    browser = Browser(world, world.session_cookie("b@biz.org"))
    assert b"-r1 home" in browser.get("/c/business/").body
    publish_site(world.store, "business", site("business", "r2"), "r2")
    started = time.monotonic()
    assert wait_for(lambda: b"-r2 home" in browser.get("/c/business/").body, timeout=MAP_TTL + POLL + 3,
                    interval=0.1)
    assert time.monotonic() - started <= MAP_TTL + POLL + 0.5


# -- tampered grants, generated ------------------------------------------------------------------


def _mutations(grant: str) -> st.SearchStrategy[str]:
    raw = grant.encode()
    flips = st.tuples(st.integers(0, len(raw) - 1), st.integers(0, 7)).map(
        lambda p: bytes(b ^ (1 << p[1]) if i == p[0] else b for i, b in enumerate(raw)).decode("latin-1"))
    cuts = st.integers(0, len(grant) - 1).map(lambda n: grant[:n])
    parts = grant.split(".")

    def with_part(index: int, value: str) -> str:
        return ".".join(parts[:index] + [value] + parts[index + 1:])

    swapped = st.sampled_from(["business", "presse2", "PRESSE", "", "presse/"]).map(lambda c: with_part(1, c))
    expiries = st.integers(-10**6, 10**9).map(lambda d: with_part(2, str(int(parts[2]) + d if d else 0)))
    return st.one_of(flips, cuts, swapped, expiries)


def test_generated_tampered_grants_are_refused_by_the_reference_check(world):
    keys = grant_keys(world)
    token = "x.y.z"
    grant = tokens.issue_grant(keys, "presse", token, time.time())
    assert tokens.grant_problem(keys, grant, "presse", token, time.time()) is None

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(_mutations(grant))
    def check(variant: str) -> None:
        if variant != grant:
            assert tokens.grant_problem(keys, variant, "presse", token, time.time()) is not None

    check()


def test_generated_tampered_grants_are_refused_by_nginx(world):
    both = Browser(world, world.session_cookie("both@x.org"))
    assert both.get("/c/presse/").status == 200
    grant_value = both.grants["presse"].split("=", 1)[1]
    stranger = Browser(world, world.session_cookie("b@biz.org"))  # a valid session, not of presse

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(_mutations(grant_value))
    def check(variant: str) -> None:
        if variant == grant_value or not variant.isprintable() or ";" in variant or not variant.isascii():
            return  # not a cookie value a browser would send
        asked = both.asked
        reply = both.get("/c/presse/", grant=f"diplomatie-grant={variant}")
        assert reply.status == 200 and both.asked == asked + 1  # nginx refused it: the gate was asked
        reply = stranger.get("/c/presse/", grant=f"diplomatie-grant={variant}")
        assert reply.status == 403 and marker("presse") not in reply.body

    check()


def test_grant_keys_file_is_kept_fresh_rotated_and_rewritten_for_new_settings(tmp_path):
    path = tmp_path / "grants" / "keys"
    wanted = tokens.GrantKeys("diplomatie", "diplomatie-grant", 30, False, (), (("cache-control", "no-store"),))
    first = tokens.ensure_grant_keys(path, wanted, 1000)
    assert path.stat().st_mode & 0o777 == 0o640 and len(first.keys) == 1
    assert tokens.ensure_grant_keys(path, wanted, 1000 + tokens.GRANT_ROTATE - 1) == first
    rotated = tokens.ensure_grant_keys(path, wanted, 1000 + tokens.GRANT_ROTATE)
    assert rotated.current != first.current and rotated.keys[1] == first.current  # old grants still verify
    grant = tokens.issue_grant(first, "presse", "s", 1000 + tokens.GRANT_ROTATE)
    assert tokens.grant_problem(rotated, grant, "presse", "s", 1000 + tokens.GRANT_ROTATE) is None
    shorter = tokens.ensure_grant_keys(path, tokens.GrantKeys("diplomatie", "diplomatie-grant", 5, False, ()),
                                       1000 + tokens.GRANT_ROTATE)
    assert shorter.ttl == 5 and shorter.current != rotated.current
    path.write_text("nonsense\n")
    assert tokens.ensure_grant_keys(path, wanted, 5000).ttl == 30  # a bad file is replaced, not trusted
    with pytest.raises(tokens.KeysError):
        tokens.GrantKeys.from_text("diplomatie-grant-keys 2\ncookies a b c\nttl 600\nsecure 0\n", "x")


def test_grant_parts_are_unpadded_standard_base64_as_nginx_computes_them():
    """ngx.encode_base64(…, true) is standard base64 without padding, not base64url."""
    ref = tokens.session_reference("token")
    assert "=" not in ref and len(ref) == 27
    assert base64.b64decode(ref + "=") == hashlib.sha1(b"token").digest()  # noqa: S324


def test_a_blob_missing_from_the_store_answers_the_fault_without_the_files_headers(world):
    """Lua sets the file's headers before nginx looks for the blob: the fault's answer carries none of them."""
    publish_site(world.store, "fault", {"index.html": b"<html>CONTENT-OF-FAULT</html>"}, "r1")
    manifest = storage.read_manifest(world.store, "fault", "r1")
    world.store.delete([storage.blob_key(manifest.files["index.html"].sha256)])
    spec = members()
    spec["fault"] = {"members": {"a@press.org": None}}
    write_members(world.store, spec)
    cookie = world.session_cookie("a@press.org")
    try:
        assert wait_for(lambda: world.get("/c/fault/", cookie=cookie).status == 503, timeout=POLL + 3, interval=0.1)
        reply = world.get("/c/fault/", cookie=cookie)
        assert reply.header("content-type") == "text/plain" and reply.header("retry-after") == "30"
        assert reply.header("etag") is None and reply.header("vary") is None
        assert reply.header("content-security-policy") == "default-src 'none'; frame-ancestors 'none'"
        assert reply.header("cache-control") == "no-store" and b"cannot be read" in reply.body
    finally:
        write_members(world.store, members())


# -- the headers of a file: the gate's, whoever sends them ---------------------------------------

#: Headers of the connection, not of the file: nginx and the gate each send their own.
TRANSPORT = {"server", "date", "content-length", "connection", "keep-alive", "accept-ranges", "set-cookie"}


def file_headers(reply: Reply) -> dict[str, str]:
    """A reply's headers but the connection's (a header sent twice reads "v, v": never the gate's)."""
    return {k: v for k, v in reply.headers.items() if k not in TRANSPORT and k != "x-accel-redirect"}


def test_files_served_on_a_grant_carry_exactly_the_gates_headers(world):
    """Every way nginx answers on a grant (the first decision, a grant checked in Lua, the admitted
    Cookie header in the rewrite phase, and a 304) sends exactly the headers the gate sends for the
    same file and request: the ones nginx adds itself from deploy/diplomatie_headers.conf included."""
    assert_the_gates_headers_on_every_answer(world)


def test_over_https_every_answer_on_a_grant_carries_the_gates_hsts(tmp_path):
    """A gate whose address is https sends Strict-Transport-Security; nginx, which carries it from the
    gate's decision in a variable, sends it on every answer on a grant, 304s included, as the gate does."""
    store = storage.open_store(tmp_path / "store")
    publish_site(store, "presse", site("presse"), "r1")
    write_members(store, members())
    tokens.init(tmp_path / "keys")
    with world_behind_nginx(tmp_path, store, extra=("--grant-ttl", str(TTL)), scheme="https") as secure:
        assert secure.direct.get("/c/presse/assets/main.css", cookie=secure.session_cookie("a@press.org")).header(
            "strict-transport-security") == HSTS[1]
        assert_the_gates_headers_on_every_answer(secure, hsts=HSTS[1])


def assert_the_gates_headers_on_every_answer(world, hsts: str | None = None) -> None:
    """The gate's own answer for each page, then nginx's in every way it answers on a grant: the same
    headers (``hsts``: the Strict-Transport-Security value every one of them must carry, or none)."""
    browser = Browser(world, world.session_cookie("a@press.org"))
    for page in (p.format(c="presse") for p in PAGES):
        gate_200 = world.direct.get(page, cookie=browser.session)
        assert gate_200.status == 200 and gate_200.header("x-accel-redirect")
        replies = [browser.get(page) for _ in range(3)]  # decided by the gate, by Lua, by the known header
        cookie = f"{browser.session}; {browser.grants['presse']}"
        revalidated = [world.get(page, cookie=cookie, headers={"If-None-Match": gate_200.header("etag")})
                       for _ in range(2)]
        gate_304 = world.direct.get(page, cookie=browser.session, headers={"If-None-Match": gate_200.header("etag")})
        assert gate_304.status == 304
        for reply in replies:
            assert reply.status == 200 and file_headers(reply) == file_headers(gate_200), page
        for reply in revalidated:
            assert reply.status == 304 and file_headers(reply) == file_headers(gate_304), page
            assert reply.header("content-length") is None and reply.body == b""
        for reply in (gate_200, gate_304, *replies, *revalidated):
            assert reply.header("strict-transport-security") == hsts, page


def nginx_not_modified(if_none_match: str, etag: str) -> bool:
    """nginx's own comparison (ngx_http_test_if_match, weak), which its not-modified filter applies to
    the ETag Lua sets, on the value as nginx reads it (spaces at either end dropped): "*" alone, or, from
    the start or after a comma and any spaces, tabs and commas, an optional W/, the tag, then spaces or
    tabs and a comma or the end."""
    value, at = if_none_match.strip(" "), 0
    if value == "*":
        return True
    while at < len(value):
        if len(value) - at > 2 and value.startswith("W/", at):
            at += 2
        if len(etag) > len(value) - at:
            return False
        if value.startswith(etag, at):
            at += len(etag)
            while at < len(value) and value[at] in " \t":
                at += 1
            if at == len(value) or value[at] == ",":
                return True
        while at < len(value) and value[at] != ",":
            at += 1
        while at < len(value) and value[at] in " \t,":
            at += 1
    return False


#: If-None-Match as clients write it and as they should not, {e} standing for the file's tag: lists of
#: tags, the file's among them or not, weak or not, cut or extended, among spaces, tabs and commas, "*".
IF_NONE_MATCH = st.lists(st.tuples(st.sampled_from(["", " ", "\t", " \t "]),
                                   st.sampled_from(["{e}", "W/{e}", "{cut}", "{e}x", "{tail}", "w/{e}", "W/W/{e}",
                                                    '"other"', f'"{"0" * 64}"', "*", "W/", "", "{upper}"]),
                                   st.sampled_from(["", " ", "\t", " \t "])).map("".join),
                         min_size=1, max_size=4).map(",".join)


def test_generated_revalidations_are_answered_as_nginx_compares_and_never_with_an_empty_file(world):
    """The usual request's 304 is decided in Lua and made by nginx from no file: for any If-None-Match,
    nginx answers 304 exactly when its own comparison says so, and then only when the gate would too,
    with the gate's headers; otherwise the whole file with the gate's headers."""
    browser = Browser(world, world.session_cookie("a@press.org"))
    pages = [p.format(c="presse") for p in PAGES]
    known: dict[str, tuple[Reply, Reply]] = {}
    for page in pages:
        gate_200 = world.direct.get(page, cookie=browser.session)
        whole = [browser.get(page) for _ in range(3)][-1]  # decided by the gate, by Lua, by the known header
        assert whole.status == 200 and whole.body and gate_200.header("etag")
        known[page] = gate_200, whole

    @settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(pages), IF_NONE_MATCH)
    def check(page: str, template: str) -> None:
        gate_200, whole = known[page]
        etag = gate_200.header("etag")
        if_none_match = template.format(e=etag, cut=etag[:-1], tail=etag[1:], upper=etag.upper())
        reply = browser.get(page, headers={"If-None-Match": if_none_match})  # its grant renewed as it expires
        gates = world.direct.get(page, cookie=browser.session, headers={"If-None-Match": if_none_match})
        if nginx_not_modified(if_none_match, etag):
            assert reply.status == gates.status == 304, if_none_match
            assert reply.body == b"" and file_headers(reply) == file_headers(gates)
            assert reply.header("content-length") is None and reply.header("content-type") is None
        else:
            assert reply.status == 200 and reply.body == whole.body, if_none_match
            assert file_headers(reply) == file_headers(gate_200)

    check()


@pytest.mark.parametrize("other", [{"If-Modified-Since": "Thu, 01 Jan 2099 00:00:00 GMT"},
                                   {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"},
                                   {"If-Unmodified-Since": "Thu, 01 Jan 2099 00:00:00 GMT"},
                                   {"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"},
                                   {"If-Match": '"other"'}, {"If-Match": "*"}])
def test_other_preconditions_never_get_an_empty_file_and_a_revalidation_is_answered_as_the_gate_does(world, other):
    """The gate sends no Last-Modified, so browsers send no dates, nor If-Match on a page. A client that
    does: beside an If-None-Match naming the file, the usual request's 304, as the gate answers (it
    looks at If-None-Match first, RFC 9110 13.2.2); without it, the whole file or @decide's answer
    (nginx reads If-Match and If-Unmodified-Since against the file there: 200 or 412), never an empty
    200 and never a Content-Length on a 304."""
    browser = Browser(world, world.session_cookie("a@press.org"))
    page = "/c/presse/assets/main.css"
    whole = [browser.get(page) for _ in range(3)][-1]
    cookie = f"{browser.session}; {browser.grants['presse']}"
    revalidation = {"If-None-Match": whole.header("etag"), **other}
    gate_304 = world.direct.get(page, cookie=browser.session, headers=revalidation)
    reply = world.get(page, cookie=cookie, headers=revalidation)
    assert reply.status == gate_304.status == 304, reply.status
    assert file_headers(reply) == file_headers(gate_304) and reply.header("content-length") is None
    reply = world.get(page, cookie=cookie, headers=other)
    assert reply.status in (200, 412), reply.status
    if reply.status == 200:
        assert reply.body == whole.body and file_headers(reply) == file_headers(whole)


def test_the_redirect_nginx_sends_carries_exactly_the_gates_headers(world):
    """nginx adds the fixed headers to its sign-in redirect itself: each once, as the gate sends them."""
    ours = world.get("/c/presse/assets/main.css", cookie="diplomatie=garbage")
    gates = world.direct.get("/c/presse/assets/main.css", cookie="diplomatie=garbage")
    assert ours.status == gates.status == 302
    assert file_headers(ours) == file_headers(gates)


def _behind_nginx_with_edited(tmp_path, name: str, edit):
    """nginx (with the gate of presse's r1 and its members) started from a copy of deploy/ whose file
    ``name`` is ``edit(its text)``: the world of :func:`tests.test_nginx.world_behind_nginx`."""
    from tests.nginxkit import DEPLOY

    deploy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, deploy)
    (deploy / name).write_text(edit((deploy / name).read_text()))
    store = storage.open_store(tmp_path / "store")
    publish_site(store, "presse", site("presse"), "r1")
    write_members(store, members())
    tokens.init(tmp_path / "keys")
    return world_behind_nginx(tmp_path, store, extra=("--grant-ttl", str(TTL)), deploy=deploy)


@pytest.mark.parametrize("changed", ['add_header X-Frame-Options "SAMEORIGIN" always;\n',
                                     'add_header Permissions-Policy "camera=()" always;\n'])
def test_a_headers_file_that_is_not_the_gates_costs_speed_never_a_header(tmp_path, changed):
    """nginx started with a deploy/diplomatie_headers.conf the gate does not match (a value changed,
    a header the gate does not send): the gate answers every file and every sign-in itself, with its
    own headers, and nothing of that file is ever sent."""
    with _behind_nginx_with_edited(tmp_path, "diplomatie_headers.conf", lambda text: text.replace(
            'add_header X-Frame-Options "DENY" always;\n', "") + changed) as proxied:
        browser = Browser(proxied, proxied.session_cookie("a@press.org"))
        for page in (p.format(c="presse") for p in PAGES):
            gate_200 = proxied.direct.get(page, cookie=browser.session)
            for _ in range(3):
                reply = browser.get(page)
                assert reply.status == 200 and marker("presse") in reply.body
                assert file_headers(reply) == file_headers(gate_200), page
        refused = proxied.get("/c/presse/", cookie="diplomatie=garbage")
        assert refused.status == 302 and file_headers(refused) == file_headers(
            proxied.direct.get("/c/presse/", cookie="diplomatie=garbage"))
        assert "not those of diplomatie_headers.conf" in proxied.nginx.error_log()


def test_a_file_headers_file_that_is_not_the_gates_costs_speed_never_a_header(tmp_path):
    """nginx started with a deploy/diplomatie_file_headers.conf whose Cache-Control is not the one the
    gate gives its files: location /c/ serves nothing (it would add that value), @decide serves every
    file with the gate's own headers, and the error log says which file to regenerate."""
    with _behind_nginx_with_edited(tmp_path, "diplomatie_file_headers.conf", lambda text: text.replace(
            '"private, no-cache"', '"public, max-age=600"')) as proxied:
        browser = Browser(proxied, proxied.session_cookie("a@press.org"))
        for page in (p.format(c="presse") for p in PAGES):
            gate_200 = proxied.direct.get(page, cookie=browser.session)
            replies = [browser.get(page) for _ in range(3)]
            for reply in replies:
                assert reply.status == 200 and reply.header("cache-control") == "private, no-cache", page
                assert file_headers(reply) == file_headers(gate_200), page
            again = browser.get(page, headers={"If-None-Match": gate_200.header("etag")})
            assert again.status == 304 and again.header("cache-control") == "private, no-cache", page
        assert "not that of diplomatie_file_headers.conf" in proxied.nginx.error_log()


@pytest.mark.parametrize("name", ["diplomatie_headers.conf", "diplomatie_file_headers.conf"])
def test_a_malformed_headers_file_stops_nginx_at_start(tmp_path, name):
    """Only the lines the gate writes are read: anything else (here a header set from a variable) stops
    nginx's start rather than be half-understood."""
    from tests.nginxkit import DEPLOY, Nginx

    deploy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, deploy)
    with (deploy / name).open("a") as file:
        file.write("add_header X-Extra $http_x_extra always;\n")
    (tmp_path / "store").mkdir()
    with pytest.raises(RuntimeError, match="not a header line the gate writes"):
        Nginx(tmp_path / "nginx", [free_port()], tmp_path / "store", deploy=deploy).stop()


# -- forged sessions and seals, generated --------------------------------------------------------


def _forged_sessions(world) -> st.SearchStrategy[str]:
    """Session tokens the gate never issued: signed with another key, or a real one altered."""
    forger = tokens.init(world.base_dir / "forger-keys-generated", force=True)
    real = world.session_cookie("a@press.org").split(";", 1)[0].split("=", 1)[1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    signed_elsewhere = st.emails().map(lambda e: tokens.issue(forger, tokens.SESSION, e.lower(), issuer=world.base,
                                                              audience=world.base, ttl=600))
    altered = st.tuples(st.integers(0, len(real) - 1), st.sampled_from(alphabet)).map(
        lambda p: real[:p[0]] + p[1] + real[p[0] + 1:]).filter(lambda t: t != real)
    return st.one_of(signed_elsewhere, altered)


def _seal_for(world, keys: tokens.GrantKeys) -> st.SearchStrategy[str | None]:
    """What a forger may put beside a forged session: nothing, a real seal of another session, a seal
    under a made-up key, or a real session's seal altered."""
    other = world.session_cookie("b@biz.org").split("; ", 1)[1].split("=", 1)[1]
    made_up = tokens.GrantKeys(keys.session_cookie, keys.grant_cookie, keys.ttl, keys.secure,
                               (tokens.new_grant_key(time.time()),), seal_cookie=keys.seal_cookie)
    return st.one_of(st.none(), st.just(other), st.text(st.sampled_from("s1.abcdef0123456789+/"), max_size=45),
                     st.integers(0, len(other) - 1).map(lambda n: other[:n] + ("A" if other[n] != "A" else "B")
                                                        + other[n + 1:]),
                     st.builds(lambda: tokens.issue_seal(made_up, "anything", time.time())))


def test_generated_forged_sessions_are_refused_by_nginx_without_asking_the_gate(world):
    """Every forged session, whatever seal it carries, gets the gate's own sign-in redirect from nginx."""
    keys = grant_keys(world)
    before = gate_requests(world)
    forged_seals: list[str] = []

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(_forged_sessions(world), _seal_for(world, keys), st.sampled_from(PAGES))
    def check(session: str, seal: str | None, page: str) -> None:
        path = page.format(c="presse")
        cookie = f"diplomatie={session}" + (f"; {keys.seal_cookie}={seal}" if seal else "")
        if seal:
            forged_seals.append(seal)
        reply = world.get(path, cookie=cookie)
        assert reply.status == 302 and reply.header("location") == f"/login?next={path}"
        assert reply.body == b"" and reply.header("cache-control") == "no-store"

    check()
    assert forged_seals  # the generated cases did carry seals
    assert gate_requests(world) == before  # not one of them reached the gate


def test_a_sealed_session_without_a_grant_is_asked_about_and_served(world):
    """The legitimate side: a session with its seal and no grant gets the page (the gate is asked once)."""
    before = gate_requests(world)
    browser = Browser(world, world.session_cookie("a@press.org"))
    reply = browser.get("/c/presse/assets/app.js")
    assert reply.status == 200 and marker("presse") in reply.body and browser.asked == 1
    assert gate_requests(world) - before == 1


def test_a_session_without_its_seal_is_sent_back_with_one_by_the_sign_in_page(world):
    """A valid session whose seal is missing (issued before seals, or its key rotated out): nginx sends
    it to sign in, and the sign-in page sends it straight back with a fresh seal, once."""
    session = world.session_cookie("a@press.org").split(";", 1)[0]
    refused = world.get("/c/presse/assets/app.js", cookie=session)
    assert refused.status == 302 and refused.header("location") == "/login?next=/c/presse/assets/app.js"
    back = world.get(refused.header("location"), cookie=session)
    assert back.status == 302 and back.header("location") == "/c/presse/assets/app.js"
    seal = back.header("set-cookie").split(", ")[0].split(";", 1)[0]
    assert seal.startswith("diplomatie-seal=") and "Path=/c/" in back.header("set-cookie")
    reply = world.get("/c/presse/assets/app.js", cookie=f"{session}; {seal}")
    assert reply.status == 200 and marker("presse") in reply.body
    guarded = world.get(refused.header("location"), cookie=f"{session}; diplomatie-seal-sent=1")
    assert guarded.status == 200 and b"<form" in guarded.body  # refused again right away: no loop
    forged = world.get(refused.header("location"), cookie="diplomatie=" + "x" * 40)
    assert forged.status == 200 and b"<form" in forged.body  # no valid session: the sign-in page


def test_generated_tampered_seals_are_refused_by_the_reference_check(world):
    keys = grant_keys(world)
    token = world.session_cookie("a@press.org").split(";", 1)[0].split("=", 1)[1]
    seal = tokens.issue_seal(keys, token, time.time())
    assert tokens.seal_problem(keys, seal, token) is None and len(seal) == tokens.SEAL_LENGTH
    assert tokens.seal_problem(keys, seal, token[:-1] + ("A" if token[-1] != "A" else "B")) is not None

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.tuples(st.integers(0, len(seal) - 1), st.integers(0, 7)), st.integers(0, len(seal)))
    def check(flip: tuple[int, int], cut: int) -> None:
        raw = bytearray(seal.encode())
        raw[flip[0]] ^= 1 << flip[1]
        for variant in (raw.decode("latin-1"), seal[:cut]):
            if variant != seal:
                assert tokens.seal_problem(keys, variant, token) is not None

    check()
