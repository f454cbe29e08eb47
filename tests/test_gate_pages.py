"""Every page of the gate, in French and in English, in the service's look (in process, a fake clock).

The communities are the sample repository's own (communities.yaml read by the pipeline, its members.json
snapshot written to the store): a French one whose owner has a name and title, a French one whose
owner has none, an English one. Each page is checked as a reader sees it: its language (chosen by the
switch, the cookie, the community, Accept-Language, else French), no text of the other language,
the owner's address nowhere, the community's title and owner where the page belongs to one, and
HTML that parses with lang, a title, one h1, a main landmark and a label on every form control.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate import i18n, identity, tokens
from gate import store as storage
from gate.csp import GATE_POLICY
from gate.mail import sign_in_message
from gate.membership import CommunityAccess
from gate.outbox import addressed_community, letter_language
from pipeline import communities as community_model
from pipeline.findings import Findings
from tests.gatekit import FakeClock, confirm, gate_in_process, publish_site

ROOT = Path(__file__).resolve().parent.parent
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
EXAMPLES = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

MEMBER = "anne@example.org"  # energie-europe (fr) only
READER = "rebecca@example.org"  # un-multilateral (en) only
NOBODY = "nobody@example.org"


def sample() -> dict[str, community_model.Community]:
    findings = Findings()
    parsed = community_model.parse((ROOT / "communities.yaml").read_bytes(), findings)
    assert not [f for f in findings if f.is_error], findings
    return parsed


OWNERS = [c.owner for c in sample().values()]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("pages")
    store = storage.open_store(base / "store")
    snapshot = community_model.membership_snapshot(sample(), None)
    communities = snapshot["communities"]
    communities["energie-europe"]["members"][MEMBER] = None
    communities["un-multilateral"]["members"][READER] = None
    # A community whose owner has no name in communities.yaml: the pages name its team instead.
    communities["afrique-developpement"].pop("owner_name")
    communities["afrique-developpement"].pop("owner_title")
    # A community with terms of use: its members accept them first (gate/terms.py).
    terms = "# Conditions d'utilisation\n\nLes télégrammes ne sont pas diffusés hors de la communauté.\n".encode()
    communities["un-multilateral"]["terms"] = storage.terms_version(terms)
    store.create(storage.terms_key("un-multilateral", storage.terms_version(terms)), terms)
    store.put(storage.MEMBERS_KEY, json.dumps(snapshot).encode(), "application/json")
    publish_site(store, "energie-europe", {"index.html": b"<html>energie</html>", "feed.xml": FEED}, "r1")  # no 404.html
    publish_site(store, "un-multilateral", {"index.html": b"<html>onu</html>"}, "r1")
    tokens.init(base / "keys")
    with gate_in_process(base / "store", base / "keys", clock=FakeClock(), login_burst=1,
                         login_refill=3600.0) as gate:
        gate.store = store
        gate.snapshot = snapshot
        yield gate


def magic_link(world, address: str, *, ttl: int = tokens.MAGIC_TTL, now: float | None = None) -> str:
    ring = tokens.load(world.keys_dir)
    token = tokens.issue(ring, tokens.MAGIC, address, issuer=world.base, audience=world.base, ttl=ttl,
                         now=world.now() if now is None else now)
    return f"/auth?token={token}"


def post_login(world, fields: dict[str, str], headers: dict[str, str]) -> object:
    world.clock.advance(3601)  # a fresh sign-in budget for this client (login_burst=1)
    return world.request("POST", "/login", headers={**FORM, **headers}, body=urlencode(fields).encode())


#: The community's Atom feed, as the build writes it (pipeline/site.py feed_xml), for the feed pages.
FEED = ('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">'
        "<id>urn:diplomatie:energie-europe</id><title>Énergie en Europe</title>"
        "<entry><id>urn:diplomatie:energie-europe:2026-BERLIN-0001</id><title>Sécurité énergétique</title>"
        '<updated>2026-11-20T00:00:00Z</updated><link rel="alternate" type="text/html" '
        'href="2026/2026-BERLIN-0001.html"/><summary>Le gaz et l\'hiver.</summary></entry></feed>\n').encode()


#: Each page: (name, the community it belongs to or None, how to get it given extra request headers).
def every_page(world, headers: dict[str, str]) -> dict[str, tuple[str | None, object]]:
    cookie = headers.get("Cookie")

    def get(path, *, session: str | None = None, **kw):
        both = "; ".join(c for c in (session, cookie) if c) or None
        return world.request("GET", path, headers={k: v for k, v in headers.items() if k != "Cookie"},
                             cookie=both, **kw)

    def post(path, fields, *, session: str | None = None):
        both = "; ".join(c for c in (session, cookie) if c) or None
        return world.request("POST", path, headers={**FORM, **{k: v for k, v in headers.items() if k != "Cookie"}},
                             cookie=both, body=urlencode(fields).encode())

    member = world.session_cookie(MEMBER, ttl=30 * 86400)  # the sign-in budget moves the clock on below
    feed_page = get("/feeds/energie-europe/", session=member)
    csrf = re.search(rb'name="csrf" value="([0-9a-f]+)"', feed_page.body).group(1).decode()
    new_feed = post("/feeds/energie-europe/", {"csrf": csrf, "action": "new"}, session=member)
    feed_url = html.unescape(re.search(rb'class="dip-address" href="([^"]+)"', new_feed.body).group(1).decode())
    browser_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    used = magic_link(world, MEMBER)
    spent = confirm(world, world.request("GET", used))
    assert spent.status == 303
    pages = {
        "sign-in": (None, get("/login")),
        "sign-in for a community": ("energie-europe", get("/login?next=/c/energie-europe/")),
        "sign-in, invalid address": (None, post_login(world, {"email": "not an address"}, headers)),
        "check your mail": (None, post_login(world, {"email": NOBODY}, headers)),
        "too many requests": (None, world.request("POST", "/login", headers={**FORM, **headers},
                                                  body=urlencode({"email": NOBODY}).encode())),
        "link confirmation": (None, get(magic_link(world, MEMBER))),
        "invitation confirmation": ("un-multilateral",
                                    get(f"/auth?token={world.invitation('un-multilateral', READER)}")),
        "link refused": (None, get("/auth?token=not-a-token")),
        "link expired": (None, get(magic_link(world, MEMBER, now=world.now() - 3600))),
        "link already used": (None, get(used)),
        "not a member": (None, get(magic_link(world, NOBODY))),
        "your communities": (None, get("/", session=member)),
        "your communities, none": (None, get("/", session=world.session_cookie("former@example.org", ttl=30 * 86400))),
        "sign-out confirmation": (None, get("/logout", session=member)),
        "signed out": (None, get("/logout")),
        "not a member of this community": ("un-multilateral", get("/c/un-multilateral/", session=member)),
        "not published yet": ("afrique-developpement",
                              get("/c/afrique-developpement/",
                                  session=world.session_cookie("x@diplomatie.gouv.fr", ttl=30 * 86400))),
        "page not found in a community": ("energie-europe", get("/c/energie-europe/nowhere", session=member)),
        "legal notice": (None, get("/legal")),
        "personal feed": ("energie-europe", feed_page),
        "personal feed, a new address": ("energie-europe", new_feed),
        "personal feed, with an address": ("energie-europe", get("/feeds/energie-europe/", session=member)),
        "feed in a browser": ("energie-europe", world.request(
            "GET", feed_url[len(world.base):], cookie=cookie,
            headers={**{k: v for k, v in headers.items() if k != "Cookie"}, "Accept": browser_accept})),
        "feed address refused": ("energie-europe", get("/feeds/energie-europe/feed.xml?key=f1.forged")),
        "terms of use": ("un-multilateral", get("/terms?c=un-multilateral&next=/c/un-multilateral/",
                                               session=world.session_cookie(READER, ttl=30 * 86400))),
        "bad request": (None, get("/login?next=%ff")),
        "cross-site request": (None, world.request("POST", "/login", body=b"email=a%40b.org",
                                                   headers={**FORM, **headers, "Origin": "https://evil.example"})),
        "not found": (None, get("/nowhere")),
        "method not allowed": (None, world.request("PUT", "/login", headers=headers)),
        "too large": (None, world.request("POST", "/login", headers={**FORM, **headers, "Content-Length": "99999"},
                                          body=b"")),
    }
    broken = b"{not json"
    world.store.put(storage.MEMBERS_KEY, broken, "application/json")
    world.refresh()
    try:
        pages["temporarily unavailable"] = (None, get("/", session=member))
    finally:
        world.store.put(storage.MEMBERS_KEY, json.dumps(world.snapshot).encode(), "application/json")
        world.refresh()
    return pages


STATUS = {"sign-in": 200, "sign-in for a community": 200, "sign-in, invalid address": 400, "check your mail": 200,
          "too many requests": 429, "link confirmation": 200, "invitation confirmation": 200, "link refused": 400,
          "link expired": 400, "link already used": 400, "not a member": 403, "your communities": 200,
          "your communities, none": 200, "sign-out confirmation": 200, "signed out": 200,
          "not a member of this community": 403, "not published yet": 404, "page not found in a community": 404,
          "legal notice": 200, "terms of use": 200, "personal feed": 200, "personal feed, a new address": 200,
          "personal feed, with an address": 200, "feed in a browser": 200, "feed address refused": 403,
          "bad request": 400, "cross-site request": 403, "not found": 404, "method not allowed": 405,
          "too large": 413, "temporarily unavailable": 503}

#: Text each language's pages show and the other's never do (outside an element marked with its own lang).
KNOWN = {
    "fr": ["Se connecter", "Vos communautés", "Aller au contenu", "Communautés du ministère", "Que faire",
           "Ce lien", "Réessayez", "Adresse électronique", "Se déconnecter", "Rouvrez", "introuvable"],
    "en": ["Sign in", "Your communities", "Skip to content", "Communities of the Ministry", "What to do next",
           "This link", "try again", "E-mail address", "Sign out", "Please", "not found", "Go to"],
}


class Page(HTMLParser):
    """What the accessibility and language checks read of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: dict[str, list[str]] = {}  # language -> visible text in it
        self.stack: list[tuple[str, str]] = []  # (tag, language)
        self.title = ""
        self.labels_for: set[str] = set()
        self.in_label = 0
        self.controls: list[tuple[dict, bool]] = []  # (attributes, inside a label)

    def language(self) -> str:
        return self.stack[-1][1] if self.stack else ""

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "label":
            self.in_label += 1
            if attributes.get("for"):
                self.labels_for.add(attributes["for"])
        if tag in ("input", "select", "textarea") and attributes.get("type") != "hidden":
            self.controls.append((attributes, self.in_label > 0))
        if tag not in ("meta", "link", "input", "br"):
            self.stack.append((tag, attributes.get("lang") or self.language()))

    def handle_endtag(self, tag):
        if tag == "label":
            self.in_label -= 1
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if self.stack and self.stack[-1][0] == "title":
            self.title += data
        self.text.setdefault(self.language(), []).append(data)


def parse(body: bytes) -> Page:
    page = Page()
    page.feed(body.decode("utf-8"))
    page.close()
    return page


def check_page(name: str, reply, lang: str) -> None:
    """One page as a reader and an assistive technology see it."""
    assert reply.header("content-type") == "text/html; charset=utf-8", name
    assert reply.header("content-security-policy") == GATE_POLICY, name
    assert reply.header("content-language") == lang, name
    page = parse(reply.body)
    html_tag = [a for t, a in page.tags if t == "html"]
    assert html_tag and html_tag[0].get("lang") == lang, (name, html_tag)
    assert page.title.strip() and identity.SERVICE_NAME in page.title, (name, page.title)
    assert [t for t, _ in page.tags].count("h1") == 1, name
    assert [t for t, _ in page.tags].count("main") == 1, name
    assert not [t for t, _ in page.tags if t in ("script", "style", "img", "iframe")], name
    assert not [a for _, a in page.tags if "style" in a or any(k.startswith("on") for k in a)], name
    stylesheets = [a["href"] for t, a in page.tags if t == "link" and a.get("rel") == "stylesheet"]
    assert stylesheets == [identity.stylesheet_href()], name
    for attributes, wrapped in page.controls:
        assert wrapped or attributes.get("id") in page.labels_for, (name, attributes)
    for tag, attributes in page.tags:
        if tag == "button":
            assert attributes.get("type") == "submit", name
    other = "en" if lang == "fr" else "fr"
    shown = " ".join(page.text.get(lang, []))
    for phrase in KNOWN[other]:
        assert phrase not in shown, (name, lang, phrase)
    switch = [a for t, a in page.tags if t == "a" and a.get("hreflang") == other and a.get("lang") == other]
    assert len(switch) == 1 and f"lang={other}" in switch[0]["href"], name
    text = reply.body.decode()
    for owner in OWNERS:
        assert owner not in text, (name, owner)
    assert "Traceback" not in text, name


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_page_in_the_language_the_reader_chose(world, lang):
    """The lang cookie (a choice made with the switch) gives every page in that language."""
    pages = every_page(world, {"Cookie": f"lang={lang}"})
    assert set(pages) == set(STATUS)
    for name, (_, reply) in pages.items():
        assert reply.status == STATUS[name], (name, reply.status, reply.body[:400])
        check_page(name, reply, lang)


@pytest.mark.parametrize(("accept", "lang"), [(None, "fr"), ("en-GB,en;q=0.9", "en"), ("de, fr;q=0.5", "fr"),
                                              ("fr;q=0.2, en;q=0.8", "en")])
def test_a_page_of_a_community_speaks_its_language_else_the_browsers(world, accept, lang):
    headers = {"Accept-Language": accept} if accept else {}
    pages = every_page(world, headers)
    languages = {"energie-europe": "fr", "afrique-developpement": "fr", "un-multilateral": "en"}
    for name, (community, reply) in pages.items():
        check_page(name, reply, languages[community] if community else lang)


def test_the_page_of_a_community_names_it_and_its_owner_never_an_address(world):
    energie = world.get("/login?next=/c/energie-europe/").body.decode()
    assert "Énergie en Europe" in energie
    assert "Communauté animée par Marc Vasseur, Ambassadeur de France en Allemagne." in energie
    assert "Pour lire « Énergie en Europe »" in energie
    team = world.get("/c/afrique-developpement/", cookie=world.session_cookie("x@diplomatie.gouv.fr")).body.decode()
    assert "Communauté animée par l&#x27;équipe de « Afrique et développement »." in team
    english = world.get(f"/auth?token={world.invitation('un-multilateral', READER)}").body.decode()
    assert "UN &amp; Multilateral Affairs" in english and "Community run by Jean-Luc Fabre, Ambassador" in english
    for text in (energie, team, english):
        assert "@diplomatie.gouv.fr" not in text


def test_every_page_names_the_service_and_the_republic(world):
    for lang, tagline in (("fr", "Communautés du ministère de l&#x27;Europe et des Affaires étrangères"),
                          ("en", "Communities of the Ministry for Europe and Foreign Affairs")):
        text = world.get(f"/login?lang={lang}").body.decode()
        assert "République<br>française" in text and "Liberté<br>Égalité<br>Fraternité" in text
        assert "Diplomatie" in text and tagline in text
        assert '<footer class="dip-footer">' in text and '<header class="dip-header">' in text


def test_the_switch_keeps_the_page_and_the_cookie_remembers_it(world):
    french = world.get("/login?next=/c/energie-europe/")
    switch = re.search(r'<a href="([^"]+)" hreflang="en"', french.body.decode()).group(1).replace("&amp;", "&")
    assert switch == "/login?next=%2Fc%2Fenergie-europe%2F&lang=en"
    english = world.get(switch)
    assert 'lang="en"' in english.body.decode() and 'value="/c/energie-europe/"' in english.body.decode()
    remembered = english.header("set-cookie")
    assert remembered.startswith("lang=en;") and "Path=/" in remembered and "Max-Age=" in remembered
    # The cookie keeps English across pages, even on a French community's pages and a POST's answer.
    cookie = remembered.split(";", 1)[0]
    assert 'lang="en"' in world.get("/logout", cookie=cookie).body.decode()
    assert world.get("/logout", cookie=cookie).header("set-cookie") is None  # nothing new to remember
    assert 'lang="en"' in post_login(world, {"email": NOBODY}, {"Cookie": cookie}).body.decode()
    # ...until the reader switches back.
    back = world.get("/logout?lang=fr", cookie=cookie)
    assert 'lang="fr"' in back.body.decode() and back.header("set-cookie").startswith("lang=fr;")


COOKIE_VALUES = st.one_of(st.sampled_from(["en", "fr", "EN", "en-GB", "de", "", "fr;", '"en"', "en\t"]),
                          st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e, exclude_characters=";,"),
                                  max_size=20))


@EXAMPLES
@given(COOKIE_VALUES, st.sampled_from(["", "?lang=", "?lang=EN", "?lang=de", "?lang=en&lang=fr", "?lang=%00"]))
def test_a_language_cookie_or_switch_is_exactly_fr_or_en(world, value, query):
    reply = world.get(f"/login{query}", cookie=f"lang={value}")
    assert reply.status in (200, 400)
    lang = parse(reply.body).tags[0][1]["lang"]
    asked = {"?lang=en&lang=fr": "fr"}.get(query)  # the last one given counts; "EN", "de", "": not a language
    assert lang == (asked or (value if value in ("fr", "en") else "fr"))
    assert (reply.header("set-cookie") or "lang=fr;").split(";")[0] in ("lang=fr", "lang=en")


ACCEPT = st.one_of(
    st.text(max_size=80),
    st.lists(st.tuples(st.sampled_from(["fr", "en", "en-US", "fr-CA", "de", "*", "x-klingon", "", "é"]),
                       st.sampled_from(["", ";q=1", ";q=0", ";q=0.5", ";q=2", ";q=abc", ";level=1", ";q=0.1234"])),
             max_size=5).map(lambda items: ",".join(a + b for a, b in items)),
)


@EXAMPLES
@given(ACCEPT, st.sampled_from(["/login", "/nowhere", "/logout", "/auth?token=x", "/c/energie-europe/"]))
def test_any_accept_language_gives_a_french_or_english_page_never_an_error(world, header, path):
    reply = world.get(path, headers={"Accept-Language": header.encode("utf-8")})  # any bytes, as sent
    assert reply.status < 500
    if reply.status != 302:
        assert parse(reply.body).tags[0][1]["lang"] in i18n.LANGUAGES


def test_the_stylesheet_is_served_as_css_cached_immutable_under_its_version(world):
    href = identity.stylesheet_href()
    reply = world.get(href)
    assert reply.status == 200 and reply.header("content-type") == "text/css; charset=utf-8"
    assert reply.header("cache-control") == "public, max-age=31536000, immutable"
    # The identity the sites share (identity.css), then the gate pages' own rules, as one stylesheet.
    assert reply.body == identity.IDENTITY_STYLESHEET_FILE.read_bytes() + b"\n" + identity.STYLESHEET_FILE.read_bytes()
    assert reply.header("x-content-type-options") == "nosniff"
    unversioned = world.get(identity.STYLESHEET_PATH)
    assert unversioned.status == 200 and "immutable" not in unversioned.header("cache-control")
    again = world.get(href, headers={"If-None-Match": reply.header("etag")})
    assert again.status == 304 and again.body == b""
    assert world.request("POST", href).status == 405


def test_the_stylesheet_fetches_nothing_and_keeps_the_colours_readable():
    css = identity.stylesheet()[0].decode("utf-8")
    assert "url(" not in css and "@import" not in css and "@font-face" not in css
    assert "#000091" in css

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    def contrast(a: str, b: str) -> float:
        high, low = sorted((luminance(a), luminance(b)), reverse=True)
        return (high + 0.05) / (low + 0.05)

    variables = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", css))
    for text in ("bleu-france", "bleu-france-hover", "texte", "texte-doux", "erreur", "succes"):
        for background in ("fond", "fond-doux"):
            assert contrast(variables[text], variables[background]) >= 4.5, (text, background)
    assert contrast("#ffffff", variables["bleu-france"]) >= 4.5  # button text


# -- the sign-in e-mail --------------------------------------------------------------------------


ENERGIE = CommunityAccess("energie-europe", "Énergie en Europe", "fr", owner_name="Marc Vasseur",
                          owner_title="Ambassadeur de France en Allemagne")
ONU = CommunityAccess("un-multilateral", "UN & Multilateral Affairs", "en")


@pytest.mark.parametrize(("community", "lang", "subject", "greeting", "owner"), [
    (ENERGIE, "fr", "Votre lien de connexion — Énergie en Europe", "Bonjour,",
     "Communauté animée par Marc Vasseur, Ambassadeur de France en Allemagne."),
    (ONU, "en", "Your sign-in link — UN & Multilateral Affairs", "Hello,",
     "Community run by the team of “UN & Multilateral Affairs”."),
    (None, "fr", "Votre lien de connexion à Diplomatie", "Bonjour,", None),
])
def test_the_sign_in_email_speaks_the_communitys_language_in_text_and_html(community, lang, subject, greeting, owner):
    link = "https://cables.example.org/auth?token=abc.def.ghi"
    raw = sign_in_message("cables@example.org", "anne@example.org", link, 15, "https://cables.example.org",
                          language=lang, community=community).as_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == subject
    assert message["From"] == "Diplomatie <cables@example.org>" and message["To"] == "anne@example.org"
    assert message["Content-Language"] == lang
    text = message.get_body(("plain",)).get_content()
    page = message.get_body(("html",)).get_content()
    assert greeting in text and link in text and (owner is None or owner in text)
    assert f'<html lang="{lang}">' in page and f'href="{link}"' in page
    assert "République<br>française" in page and "#000091" in page
    assert "<img" not in page and "<link" not in page and "<script" not in page
    assert set(re.findall(r'(?:href|src)="([^"]+)"', page)) == {link}  # nothing fetched, one link
    other = KNOWN["en" if lang == "fr" else "fr"]
    assert not [phrase for phrase in other if phrase in text]


def test_the_email_is_about_the_community_the_member_was_going_to():
    both = [ENERGIE, ONU]
    assert addressed_community(both, "/c/un-multilateral/2026/x/") is ONU
    assert addressed_community(both, None) is None
    assert addressed_community(both, "/c/elsewhere/") is None
    assert addressed_community([ONU], None) is ONU
    assert letter_language(both, None) == "fr"
    assert letter_language([ONU, CommunityAccess("b", "B", "en")], None) == "en"
    assert letter_language(both, ONU) == "en"


def test_a_member_of_an_english_community_gets_an_english_email(world):
    before = len(world.mailed_links())
    reply = post_login(world, {"email": READER}, {"Accept-Language": "fr"})
    assert reply.status == 200 and 'lang="fr"' in reply.body.decode()  # the page: the browser's language
    sent = world.mailed_links()[before:]
    assert [to for to, _ in sent] == [READER]


# -- the snapshot the pages read -----------------------------------------------------------------


def test_communities_yaml_owner_name_and_title_reach_the_snapshot_and_refuse_an_address():
    snapshot = community_model.membership_snapshot(sample(), None)["communities"]
    assert snapshot["energie-europe"]["owner_name"] == "Marc Vasseur"
    assert snapshot["un-multilateral"]["owner_title"].startswith("Ambassador")
    assert all("owner" not in entry for entry in snapshot.values())
    text = (ROOT / "communities.yaml").read_text(encoding="utf-8").replace(
        "owner_name: Marc Vasseur", "owner_name: marc.vasseur@diplomatie.gouv.fr", 1)
    findings = Findings()
    community_model.parse(text.encode(), findings)
    assert [(f.code, f.line) for f in findings if f.is_error] == [("E206", 16)]


@pytest.mark.parametrize("value", ["a@b.org", "x" * 201, "line\nbreak", 42, ["list"], None])
def test_the_gate_ignores_an_owner_label_that_is_not_a_short_line_of_text(value):
    from gate.membership import Snapshot

    data = {"format": 1, "communities": {"c": {"title": "C", "language": "en", "owner_name": value,
                                               "owner_title": value, "members": {}}}}
    access = Snapshot.from_json(json.dumps(data).encode()).communities["c"]
    assert access.owner_name == access.owner_title == ""


def test_the_owner_label_and_language_are_read_from_the_snapshot():
    from gate.membership import Snapshot

    data = {"format": 1, "communities": {
        "c": {"title": "C", "language": "en", "owner_name": "Claire", "owner_title": "Ambassadrice", "members": {}},
        "d": {"title": "D", "language": "de", "members": {}}}}
    parsed = Snapshot.from_json(json.dumps(data).encode()).communities
    assert (parsed["c"].language, parsed["c"].owner_name, parsed["c"].owner_title) == ("en", "Claire", "Ambassadrice")
    assert parsed["d"].language == "fr"  # not one of ours: the default


def test_today_is_before_the_sample_members_expire():
    """The world adds its own members without expiry, so the sample's dates never matter here."""
    assert dt.date.today().year >= 2026


def test_the_operator_names_the_service(tmp_path):
    storage.open_store(tmp_path / "store")
    tokens.init(tmp_path / "keys")
    with gate_in_process(tmp_path / "store", tmp_path / "keys", service_name="Câbles",
                         service_tagline="Réseau diplomatique") as gate:
        for lang, title in (("fr", "Se connecter"), ("en", "Sign in")):
            text = gate.get(f"/login?lang={lang}").body.decode()
            assert f"<title>{title} — Câbles — Réseau diplomatique</title>" in text
            assert "Diplomatie" not in text.replace("diplomatie.css", "")
