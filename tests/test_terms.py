"""Terms of use: a member accepts a community's terms once per version, before any page of it (and no
nginx grant is issued before), through a CSRF-protected page in French or English; publish stores the
terms and names their version in members.json; members shows the acceptance; check refuses a missing file."""

from __future__ import annotations

import copy
import html
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from gate import store as storage
from gate import tokens
from pipeline.publication import write_membership
from pipeline.repository import load_communities
from tests.contentrepo import COMMUNITIES, make_repo
from tests.gatekit import confirmation_form, gate_in_process, publish_site, write_members

ANNE = "a.martin@example.org"
TERMS = "# Conditions\n\nVous ne diffusez pas les télégrammes.\nJamais.\n\n<script>alert(1)</script>\n".encode()
VERSION = storage.terms_version(TERMS)
DECIDE = {"x-diplomatie-decide": "1"}


@pytest.fixture
def world(tmp_path):
    store = storage.FolderStore(tmp_path / "store")
    publish_site(store, "energie", {"index.html": b"<p>accueil</p>", "page.html": b"<p>page</p>"}, "r1")
    write_members(store, {"energie": {"title": "Énergie", "members": {ANNE: None}}})
    snapshot = json.loads(store.get(storage.MEMBERS_KEY))
    snapshot["communities"]["energie"]["terms"] = VERSION
    store.put(storage.MEMBERS_KEY, json.dumps(snapshot).encode())
    store.create(storage.terms_key("energie", VERSION), TERMS)
    tokens.init(tmp_path / "keys")
    return tmp_path


def form_of(reply) -> dict[str, str]:
    assert 'action="/terms"' in reply.body.decode()
    return confirmation_form(reply)[0]


def post(gate, fields: dict[str, str], cookie: str):
    from urllib.parse import urlencode

    return gate.request("POST", "/terms", body=urlencode(fields).encode(), cookie=cookie,
                        headers={"content-type": "application/x-www-form-urlencoded",
                                 "origin": gate.base, "sec-fetch-site": "same-origin"})


def test_no_page_before_the_terms_are_accepted_then_once_per_version(world):
    store = storage.FolderStore(world / "store")
    with gate_in_process(world / "store", world / "keys") as gate:
        gate.refresh()
        cookie = gate.session_cookie(ANNE)
        for path in ("/c/energie/", "/c/energie/page.html"):
            reply = gate.get(path, cookie=cookie)
            assert reply.status == 302 and reply.header("location").startswith("/terms?c=energie&next=")
            assert parse_qs(urlsplit(reply.header("location")).query)["next"] == [path]
        page = gate.get("/terms?c=energie&next=/c/energie/page.html", cookie=cookie)
        body = page.body.decode()
        assert page.status == 200 and "Conditions d'utilisation de « Énergie »" in html.unescape(body)
        assert "Vous ne diffusez pas les télégrammes.<br>Jamais." in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert" not in body
        fields = form_of(page)
        assert fields["version"] == VERSION and fields["next"] == "/c/energie/page.html"

        # a forged or missing token, or another session's: refused, nothing recorded
        for bad in ("", "0" * 32, form_of(gate.get("/terms?c=energie", cookie=gate.session_cookie(ANNE)))["csrf"]):
            assert post(gate, {**fields, "csrf": bad}, cookie).status == 403
        assert list(store.list(storage.ACCEPTANCES_PREFIX)) == []

        accepted = post(gate, fields, cookie)
        assert accepted.status == 303 and accepted.header("location") == "/c/energie/page.html"
        assert store.exists(storage.acceptance_key("energie", ANNE, VERSION))
        assert gate.get("/c/energie/page.html", cookie=cookie).status == 200
        assert gate.get("/terms?c=energie", cookie=cookie).status == 302  # nothing more to accept
        # another process (no memory of it) reads the acceptance from the store
        gate.gate.terms.accepted.clear()
        assert gate.get("/c/energie/", cookie=gate.session_cookie(ANNE)).status == 200

        # a new version is asked again; a form of the old version shows the new terms
        new = TERMS + b"\nArticle 2.\n"
        store.create(storage.terms_key("energie", storage.terms_version(new)), new)
        snapshot = json.loads(store.get(storage.MEMBERS_KEY))
        snapshot["communities"]["energie"]["terms"] = storage.terms_version(new)
        store.put(storage.MEMBERS_KEY, json.dumps(snapshot).encode())
        gate.refresh()
        assert gate.get("/c/energie/", cookie=cookie).status == 302
        stale = post(gate, fields, cookie)
        assert stale.status == 200 and "Ces conditions ont changé" in html.unescape(stale.body.decode())
        assert "Article 2." in stale.body.decode()


def test_the_terms_page_in_english_and_for_strangers(world):
    with gate_in_process(world / "store", world / "keys") as gate:
        gate.refresh()
        english = gate.get("/terms?c=energie&lang=en", cookie=gate.session_cookie(ANNE))
        assert "Terms of use of “Énergie”" in english.body.decode() and "I accept these terms" in english.body.decode()
        assert gate.get("/terms?c=energie").header("location").startswith("/login?next=")
        assert gate.get("/terms?c=energie", cookie=gate.session_cookie("z@example.org")).status == 403
        assert gate.get("/terms?c=nowhere", cookie=gate.session_cookie(ANNE)).status == 403


def test_no_grant_is_issued_before_acceptance(world):
    with gate_in_process(world / "store", world / "keys", base_url="https://cables.example.org",
                         accel_redirect="/_blobs", grant_keys=str(world / "grants")) as gate:
        gate.refresh()
        cookie = gate.session_cookie(ANNE)
        no = gate.get("/c/energie/", cookie=cookie, headers=DECIDE)
        assert no.status == 401 and no.header("set-cookie") is None
        storage.write_acceptance(storage.FolderStore(world / "store"), "energie", ANNE, VERSION, gate.clock())
        yes = gate.get("/c/energie/", cookie=cookie, headers=DECIDE)
        assert yes.status == 200 and "diplomatie-grant=" in yes.header("set-cookie")


def with_terms(path: str = "terms/energie.md") -> dict:
    data = copy.deepcopy(COMMUNITIES)
    data["communities"]["energie"]["terms"] = path
    return data


def test_publish_stores_the_terms_and_members_shows_who_accepted(tmp_path):
    repo = make_repo(tmp_path / "repo", with_terms())
    repo.write("terms/energie.md", TERMS)
    store = storage.FolderStore(tmp_path / "store")
    write_membership(store, load_communities(repo.root))
    snapshot = json.loads(store.get(storage.MEMBERS_KEY))
    assert snapshot["communities"]["energie"]["terms"] == VERSION and "terms" not in snapshot["communities"]["onu"]
    assert store.get(storage.terms_key("energie", VERSION)) == TERMS
    data = json.loads(repo.run("members", "energie", "--store", str(tmp_path / "store"), "--format", "json").stdout)
    assert data["terms"] == VERSION and data["members"][0]["terms_accepted"] is None
    storage.write_acceptance(store, "energie", ANNE, VERSION, 1_800_000_000)
    data = json.loads(repo.run("members", "energie", "--store", str(tmp_path / "store"), "--format", "json").stdout)
    assert data["members"][0]["terms_accepted"] == storage.utc_text(1_800_000_000)
    text = repo.run("members", "energie", "--store", str(tmp_path / "store")).stdout
    assert f"terms accepted {storage.utc_text(1_800_000_000)}" in text


@pytest.mark.parametrize(("path", "code"), [("terms/missing.md", "E201"), ("../outside.md", "E206"),
                                            ("/etc/terms.md", "E206"), ("terms/energie.txt", "E206")])
def test_check_refuses_terms_that_are_not_a_file_of_the_repository(tmp_path, path, code):
    repo = make_repo(tmp_path / "repo", with_terms(path))
    result = repo.run("check")
    assert result.code == 1 and code in result.output and "terms" in result.output


@pytest.mark.parametrize(("language", "sentence"), [
    ("fr", "« Énergie » a des conditions d'utilisation : il vous sera demandé de les accepter à votre première connexion."),
    ("en", "“Énergie” has terms of use: you will be asked to accept them when you first sign in.")])
def test_the_invitation_says_the_community_has_terms(language, sentence):
    from gate.welcome import Welcome, invitation_message

    def texts(terms: bool) -> list[str]:
        welcome = Welcome("Énergie", "Analyses.", language=language, terms=terms)
        message = invitation_message("d@example.org", ANNE, "https://x/auth?token=t", welcome, days=14, site="https://x")
        return [html.unescape(part.get_content()) for part in message.iter_parts()]

    assert all(sentence in text for text in texts(True))
    assert not any(sentence in text for text in texts(False))
