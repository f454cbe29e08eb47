"""The gate's side of grants, in process with the injectable clock: which answers carry a grant, its
cookie, the key file at start and at each poll (rotation), and the options that bound the lifetime.
What nginx does with grants is tested through the real nginx in tests/test_nginx_grants.py."""

from __future__ import annotations

import pytest

from gate import store as storage
from gate import tokens
from gate.app import GateConfig
from tests.gatekit import gate_in_process, publish_site, write_members

DECIDE = {"X-Diplomatie-Decide": "1"}


@pytest.fixture
def setup(tmp_path):
    store = storage.open_store(tmp_path / "store")
    for community in ("presse", "business"):
        publish_site(store, community, {"index.html": f"<html>{community}</html>".encode()}, "r1")
    write_members(store, {"presse": {"members": {"a@press.org": None}}, "business": {"members": {}}})
    tokens.init(tmp_path / "keys")
    return tmp_path


def grant_of(reply) -> str:
    return reply.header("set-cookie").split(";", 1)[0].split("=", 1)[1]


def test_a_yes_sets_a_grant_for_that_community_and_session_only(setup):
    keys_file = setup / "grants" / "keys"
    with gate_in_process(setup / "store", setup / "keys", base_url="https://cables.example.org",
                         accel_redirect="/_blobs", grant_keys=str(keys_file), grant_ttl=20) as gate:
        cookie = gate.session_cookie("a@press.org")
        token = cookie.split("=", 1)[1]
        yes = gate.get("/c/presse/", cookie=cookie, headers=DECIDE)
        assert yes.status == 200 and yes.body == b"" and yes.header("x-diplomatie-release") == "r1"
        set_cookie = yes.header("set-cookie")
        assert set_cookie.startswith("__Secure-diplomatie-grant=g1.presse.")
        for flag in ("; Max-Age=20", "; Path=/c/presse/", "; HttpOnly", "; SameSite=Lax", "; Secure"):
            assert flag in set_cookie
        keys = tokens.read_grant_keys(keys_file)
        now = gate.clock()
        assert tokens.grant_problem(keys, grant_of(yes), "presse", token, now) is None
        assert tokens.grant_problem(keys, grant_of(yes), "business", token, now) == "another community"
        assert tokens.grant_problem(keys, grant_of(yes), "presse", token + "x", now) == "another session"
        assert tokens.grant_problem(keys, grant_of(yes), "presse", token, now + 20) == "expired"
        no = gate.get("/c/business/", cookie=cookie, headers=DECIDE)  # not a member
        assert no.status == 401 and no.header("set-cookie") is None and no.header("x-diplomatie-session") is None
        anonymous = gate.get("/c/presse/", headers=DECIDE)
        assert anonymous.status == 401 and anonymous.header("x-diplomatie-session") == "none"
        assert gate.get("/c/presse/", cookie=cookie).header("set-cookie") is None  # only decisions carry grants


def test_the_key_file_is_written_at_start_and_rotated_by_the_poll(setup):
    keys_file = setup / "grants" / "keys"
    with gate_in_process(setup / "store", setup / "keys", accel_redirect="/_blobs",
                         grant_keys=str(keys_file)) as gate:
        assert keys_file.stat().st_mode & 0o777 == 0o640
        first = tokens.read_grant_keys(keys_file)
        assert first.ttl == tokens.GRANT_TTL and dict(first.redirect_headers)["cache-control"] == "no-store"
        cookie = gate.session_cookie("a@press.org")
        before = grant_of(gate.get("/c/presse/", cookie=cookie, headers=DECIDE))
        gate.clock.advance(tokens.GRANT_ROTATE - 10)
        gate.refresh()
        assert tokens.read_grant_keys(keys_file) == first
        gate.clock.advance(10)
        gate.refresh()
        rotated = tokens.read_grant_keys(keys_file)
        assert rotated.current != first.current and rotated.keys[1] == first.current
        cookie = gate.session_cookie("a@press.org")  # the first one expired meanwhile
        settling = grant_of(gate.get("/c/presse/", cookie=cookie, headers=DECIDE))
        assert settling.split(".")[4] == first.current.kid  # nginx may not have read the new key yet
        gate.clock.advance(tokens.GRANT_KEY_SETTLE)
        after = grant_of(gate.get("/c/presse/", cookie=cookie, headers=DECIDE))
        assert after.split(".")[4] == rotated.current.kid and before.split(".")[4] == first.current.kid
        keys_file.unlink()  # a leaked file: deleting it rotates at once, the old keys are gone
        gate.refresh()
        fresh = tokens.read_grant_keys(keys_file)
        assert len(fresh.keys) == 1 and fresh.current.kid not in (first.current.kid, rotated.current.kid)


def test_a_gate_that_cannot_write_its_grant_key_file_does_not_start(setup):
    blocker = setup / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(tokens.KeysError, match="grant key file"), \
            gate_in_process(setup / "store", setup / "keys", accel_redirect="/_blobs", grant_keys=str(blocker / "keys")):
        pass


@pytest.mark.parametrize("options, message", [
    ({"grant_ttl": 0, "accel_redirect": "/_blobs"}, "grant-ttl"),
    ({"grant_ttl": tokens.MAX_GRANT_TTL + 1, "accel_redirect": "/_blobs"}, "grant-ttl"),
    ({"grant_keys": "/tmp/k"}, "needs --accel-redirect"),
])
def test_grant_options_that_would_break_the_bound_are_refused(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        GateConfig(store=str(tmp_path), keys=str(tmp_path), base_url="https://cables.example.org", **options)


def test_a_yes_sets_the_sessions_seal_and_a_signed_in_member_without_one_is_sent_back(setup):
    keys_file = setup / "grants" / "keys"
    with gate_in_process(setup / "store", setup / "keys", base_url="https://cables.example.org",
                         accel_redirect="/_blobs", grant_keys=str(keys_file)) as gate:
        cookie = gate.session_cookie("a@press.org")
        token = cookie.split("=", 1)[1]
        yes = gate.get("/c/presse/", cookie=cookie, headers=DECIDE)
        seal_cookie = yes.header("set-cookie").split(", ")[1]
        assert seal_cookie.startswith("__Secure-diplomatie-seal=s1.")
        for flag in (f"; Max-Age={tokens.SESSION_TTL}", "; Path=/c/;", "; HttpOnly", "; SameSite=Lax", "; Secure"):
            assert flag in seal_cookie
        keys = tokens.read_grant_keys(keys_file)
        seal = seal_cookie.split(";", 1)[0].split("=", 1)[1]
        assert tokens.seal_problem(keys, seal, token) is None
        assert tokens.seal_problem(keys, seal, token[:-1] + ("A" if token[-1] != "A" else "B")) == "bad MAC"
        no = gate.get("/c/business/", cookie=cookie, headers=DECIDE)  # not a member: no grant, no seal
        assert no.status == 401 and no.header("set-cookie") is None
        bounced = gate.get("/login?next=/c/presse/", cookie=cookie)  # nginx found no valid seal
        assert bounced.status == 302 and bounced.header("location") == "/c/presse/"
        assert bounced.header("set-cookie").startswith("__Secure-diplomatie-seal=s1.")
        assert gate.get("/login?next=/", cookie=cookie).status == 200  # not a community's page: the form
        assert gate.get("/login?next=/c/presse/").status == 200  # no session: the form
    with gate_in_process(setup / "store", setup / "keys", accel_redirect="/_blobs") as plain:  # no grants
        assert plain.get("/login?next=/c/presse/", cookie=plain.session_cookie("a@press.org")).status == 200


def test_the_headers_file_nginx_reads_is_the_one_the_gate_writes():
    """deploy/diplomatie_headers.conf (the headers nginx adds itself to the files it serves on a grant)
    is generated from the gate's own definitions; regenerate it when they change."""
    from gate.grants import NGINX_HEADERS_FILE, nginx_headers_conf
    from tests.gatekit import ROOT

    assert (ROOT / NGINX_HEADERS_FILE).read_text() == nginx_headers_conf(), (
        f"{NGINX_HEADERS_FILE} is not the gate's: run python -m gate.grants > {NGINX_HEADERS_FILE}")


def test_the_file_headers_nginx_adds_are_those_the_gate_gives_every_file():
    """deploy/diplomatie_file_headers.conf (what location /c/ adds to each file it serves, on a 304 too)
    is generated from the gate's own definition: the Cache-Control of every file's answer."""
    from gate.blobs import FILE_CACHE_CONTROL
    from gate.grants import NGINX_FILE_HEADERS_FILE, nginx_file_headers_conf
    from tests.gatekit import ROOT

    assert (ROOT / NGINX_FILE_HEADERS_FILE).read_text() == nginx_file_headers_conf(), (
        f"{NGINX_FILE_HEADERS_FILE} is not the gate's: run python -m gate.grants files > {NGINX_FILE_HEADERS_FILE}")
    assert f'add_header Cache-Control "{FILE_CACHE_CONTROL}" always;' in nginx_file_headers_conf().splitlines()
