"""Personal feeds (gate/feeds.py): a member's feed address opens that community's feed.xml, for that
member, and nothing else; a new address replaces the old at once; it stops with the membership; forged
and garbled addresses open nothing; a browser gets the feed as a page. In process, with the gate's
clock, on a real store."""

from __future__ import annotations

import datetime as dt
import html
import html.parser as html_parser
import re
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate import store as storage
from gate import tokens
from gate.csp import GATE_POLICY
from tests.gatekit import FakeClock, gate_in_process, publish_site, write_members

MEMBER = "anne@example.org"
COLLEAGUE = "bruno@example.org"
OUTSIDER = "zoe@example.org"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
READER_ACCEPT = "application/atom+xml, application/rss+xml;q=0.9, */*;q=0.5"


def atom(community: str, titles: list[str]) -> bytes:
    entries = "".join(
        f"<entry><id>urn:diplomatie:{community}:{i}</id><title>{html.escape(t)}</title>"
        f"<updated>2026-11-2{i}T00:00:00Z</updated>"
        f'<link rel="alternate" type="text/html" href="2026/2026-BERLIN-000{i}.html"/>'
        f"<summary>Résumé {i}</summary></entry>" for i, t in enumerate(titles, 1))
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">'
            f"<id>urn:diplomatie:{community}</id><title>{community}</title>{entries}</feed>\n").encode()


FEED = atom("energie", ["Sécurité énergétique de l'Allemagne", "Prix de l'électricité"])


@pytest.fixture
def world(tmp_path):
    store = storage.open_store(tmp_path / "store")
    clock = FakeClock(dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC).timestamp())
    write_members(store, {
        "energie": {"title": "Énergie en Europe", "members": {MEMBER: "2026-12-02", COLLEAGUE: None}},
        "onu": {"title": "ONU", "language": "en", "members": {MEMBER: None}},
    })
    publish_site(store, "energie", {"index.html": b"<html>energie</html>", "feed.xml": FEED,
                                    "2026/2026-BERLIN-0001.html": b"<html>cable</html>"}, "r1")
    publish_site(store, "onu", {"index.html": b"<html>onu</html>", "feed.xml": atom("onu", ["UN"])}, "r1")
    tokens.init(tmp_path / "keys")
    with gate_in_process(tmp_path / "store", tmp_path / "keys", clock=clock) as gate:
        gate.store = store
        yield gate


def form_token(body: bytes) -> str:
    return re.search(rb'name="csrf" value="([0-9a-f]+)"', body).group(1).decode()


def ask(gate, action: str, cookie: str, community: str = "energie"):
    page = gate.get(f"/feeds/{community}/", cookie=cookie)
    assert page.status == 200, page.body[:300]
    return gate.post_form(f"/feeds/{community}/", {"csrf": form_token(page.body), "action": action}, cookie=cookie)


def new_address(gate, cookie: str, community: str = "energie") -> str:
    """Make a feed address on the member's page; the path and query of the address it shows."""
    reply = ask(gate, "new", cookie, community)
    assert reply.status == 200, reply.body[:300]
    url = html.unescape(re.search(rb'<a class="dip-address" href="([^"]+)"', reply.body).group(1).decode())
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == gate.base
    return f"{parts.path}?{parts.query}"


def read_feed(gate, address: str, accept: str = READER_ACCEPT, **kw):
    return gate.get(address, headers={"Accept": accept, **kw.pop("headers", {})}, **kw)


def test_a_member_s_address_reads_the_feed_of_that_community_with_no_cookie_and_keeps_only_a_hash(world):
    cookie = world.session_cookie(MEMBER)
    address = new_address(world, cookie)
    assert address.startswith("/feeds/energie/feed.xml?key=f1.")
    reply = read_feed(world, address)
    assert reply.status == 200 and reply.body == FEED
    assert "set-cookie" not in reply.headers
    assert "Accept" in reply.header("vary") and reply.header("cache-control") == "private, no-cache"
    # a feed reader's conditional request
    again = read_feed(world, address, headers={"If-None-Match": reply.header("etag")})
    assert again.status == 304 and "set-cookie" not in again.headers
    # the store holds the digest of the secret, never the address itself
    token = address.partition("key=")[2]
    record = world.store.get(storage.feed_key("energie", MEMBER))
    assert token.encode() not in record and token.rpartition(".")[2].encode() not in record
    assert storage.read_feed_address(world.store, "energie", storage.member_id(MEMBER)).address == MEMBER
    # the page now says an address exists, without showing it again
    page = world.get("/feeds/energie/", cookie=cookie)
    assert "depuis le 1 décembre 2026".encode() in page.body and token.encode() not in page.body


def test_the_address_opens_nothing_but_its_community_s_feed(world):
    address = new_address(world, world.session_cookie(MEMBER))
    key = address.partition("?")[2]
    assert read_feed(world, address).status == 200
    # another community the member also reads
    assert read_feed(world, f"/feeds/onu/feed.xml?{key}").status == 403
    # any other page: the key is no session, so it is the sign-in page (or nothing at all)
    for path in ("/c/energie/feed.xml", "/c/energie/", "/c/energie/2026/2026-BERLIN-0001.html", "/feeds/energie/",
                 "/", "/preferences", "/signed-in"):
        reply = world.get(f"{path}?{key}", headers={"Accept": BROWSER_ACCEPT})
        assert reply.status in (302, 401), (path, reply.status)
        assert b"cable" not in reply.body and b"energie</html>" not in reply.body
    for path in ("/feeds/energie/index.html", "/feeds/energie/feed.xml/", "/feeds/energie/2026/2026-BERLIN-0001.html"):
        assert world.get(f"{path}?{key}").status == 404, path
    # and it is read-only
    assert world.request("POST", address).status == 405


def test_a_new_address_replaces_the_old_at_once_and_stopping_it_closes_it(world):
    cookie = world.session_cookie(MEMBER)
    first = new_address(world, cookie)
    second = new_address(world, cookie)
    assert first != second
    assert read_feed(world, first).status == 403
    assert read_feed(world, second).status == 200
    # a colleague's address is theirs: neither replaces the other
    theirs = new_address(world, world.session_cookie(COLLEAGUE))
    assert read_feed(world, second).status == 200 and read_feed(world, theirs).status == 200
    stopped = ask(world, "stop", cookie)
    assert stopped.status == 200 and b"ne fonctionne plus" in stopped.body
    assert read_feed(world, second).status == 403
    assert read_feed(world, theirs).status == 200


def test_the_address_stops_when_the_membership_ends_or_expires(world):
    address = new_address(world, world.session_cookie(MEMBER))
    theirs = new_address(world, world.session_cookie(COLLEAGUE))
    assert read_feed(world, address).status == 200
    world.clock.advance(2 * 86400)  # MEMBER's last day was 2026-12-02
    assert read_feed(world, address).status == 403
    assert read_feed(world, theirs).status == 200
    # removed from communities.yaml and published: refused from the next request after the snapshot is read
    write_members(world.store, {"energie": {"title": "Énergie en Europe", "members": {MEMBER: None}}})
    world.refresh()
    assert read_feed(world, theirs).status == 403
    assert read_feed(world, address).status == 200  # renewed, its address works again


def test_the_feed_needs_the_community_s_current_terms_accepted(world):
    address = new_address(world, world.session_cookie(MEMBER))
    terms = b"# Conditions\n"
    version = storage.terms_version(terms)
    world.store.create(storage.terms_key("energie", version), terms)
    write_members(world.store, {"energie": {"title": "Énergie en Europe", "members": {MEMBER: None},
                                            "terms": version}})
    world.refresh()
    assert read_feed(world, address).status == 403
    storage.write_acceptance(world.store, "energie", MEMBER, version, world.now())
    assert read_feed(world, address).status == 200


def test_a_browser_gets_the_feed_as_a_page_in_the_service_s_look(world):
    address = new_address(world, world.session_cookie(MEMBER))
    reply = read_feed(world, address, accept=BROWSER_ACCEPT)
    assert reply.status == 200 and reply.header("content-type") == "text/html; charset=utf-8"
    assert reply.header("content-security-policy") == GATE_POLICY and "set-cookie" not in reply.headers
    body = reply.body.decode()
    assert "Flux des derniers télégrammes" in body and "Sécurité énergétique de l&#x27;Allemagne" in body
    assert 'href="/c/energie/2026/2026-BERLIN-0001.html"' in body and 'lang="fr"' in body
    # the member's own page lists them too
    page = world.get("/feeds/energie/", cookie=world.session_cookie(MEMBER)).body.decode()
    assert "Prix de l&#x27;électricité" in page


def test_the_page_is_for_signed_in_members_of_the_community_with_the_page_s_own_form(world):
    assert world.get("/feeds/energie/").header("location") == "/login?next=/feeds/energie/"
    assert world.get("/feeds/energie/", cookie=world.session_cookie(OUTSIDER)).status == 403
    assert world.get("/feeds/nowhere/", cookie=world.session_cookie(MEMBER)).status == 403
    cookie = world.session_cookie(MEMBER)
    forged = world.post_form("/feeds/energie/", {"csrf": "0" * 32, "action": "new"}, cookie=cookie)
    assert forged.status == 403
    assert not world.store.exists(storage.feed_key("energie", MEMBER))
    other_site = world.post_form("/feeds/energie/", {"csrf": form_token(world.get("/feeds/energie/", cookie=cookie).body),
                                                     "action": "new"}, cookie=cookie,
                                 headers={"Origin": "https://evil.example"})
    assert other_site.status == 403 and not world.store.exists(storage.feed_key("energie", MEMBER))


# -- forged and garbled addresses ---------------------------------------------------------------

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/%é\x00 "


def variants(token: str, other_member: str):
    """The class of tokens that must open nothing: one character changed, cut, lengthened, fields
    swapped or re-encoded, another member's id with this secret, random text."""
    member, secret = token.split(".")[1:]
    return st.one_of(
        st.tuples(st.integers(0, len(token) - 1), st.sampled_from(ALPHABET)).filter(
            lambda v: token[v[0]] != v[1]).map(lambda v: token[:v[0]] + v[1] + token[v[0] + 1:]),
        st.integers(0, len(token) - 1).map(lambda n: token[:n]),
        st.text(ALPHABET, min_size=1, max_size=4).map(lambda extra: token + extra),
        st.just(f"f1.{secret}.{member}"),
        st.just(f"f2.{member}.{secret}"),
        st.just(f"f1.{tokens.b64url(bytes.fromhex(other_member))}.{secret}"),
        st.just(f"f1.{member}.{secret}="),
        st.text(ALPHABET, max_size=100),
    )


@pytest.fixture
def issued(world):
    address = new_address(world, world.session_cookie(MEMBER))
    new_address(world, world.session_cookie(COLLEAGUE))
    return world, address.partition("key=")[2]


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_forged_and_garbled_addresses_open_nothing(issued, data):
    world, token = issued
    forged = data.draw(variants(token, storage.member_id(COLLEAGUE)))
    if forged == token:
        return
    reply = world.get("/feeds/energie/feed.xml", headers={"Accept": READER_ACCEPT}) if not forged else \
        world.request("GET", "/feeds/energie/feed.xml?" + _query(forged), headers={"Accept": READER_ACCEPT})
    assert reply.status in (400, 403), (forged, reply.status)
    assert FEED not in reply.body and "set-cookie" not in reply.headers
    # the real one still works (nothing the forgeries did changed it)
    assert world.get("/feeds/energie/feed.xml?" + _query(token), headers={"Accept": READER_ACCEPT}).status == 200


def _query(token: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"key": token})


def test_a_record_that_does_not_read_or_names_another_member_opens_nothing(world):
    address = new_address(world, world.session_cookie(MEMBER))
    key = storage.feed_key("energie", MEMBER)
    good = world.store.get(key)
    for broken in (b"{not json", good.replace(b'"format": 1', b'"format": 2'),
                   good.replace(MEMBER.encode(), COLLEAGUE.encode()),  # another member's address under this key
                   good.replace(b'"community": "energie"', b'"community": "onu"'),
                   good.replace(b'"at": "', b'"at": "yesterday'), b"[]"):
        world.store.put(key, broken, "application/json")
        assert read_feed(world, address).status == 403, broken
    world.store.put(key, good, "application/json")
    assert read_feed(world, address).status == 200


# -- the community's own feed (/c/<community>/feed.xml, with a session) ----------------------------

READER_ACCEPTS = (READER_ACCEPT, "application/atom+xml", "*/*", "application/xml, text/html;q=0.5", None)


def site_feed(gate, accept: str | None, cookie: str | None = None, **headers):
    return gate.get("/c/energie/feed.xml", headers={**({"Accept": accept} if accept else {}), **headers},
                    cookie=cookie)


def test_a_browser_gets_the_community_s_feed_as_a_page_and_a_feed_reader_the_same_atom_bytes(world):
    cookie = world.session_cookie(MEMBER)
    page = site_feed(world, BROWSER_ACCEPT, cookie)
    assert page.status == 200 and page.header("content-type") == "text/html; charset=utf-8"
    assert page.header("content-security-policy") == GATE_POLICY
    assert "Accept" in page.header("vary") and page.header("cache-control") == "no-store" and "etag" not in page.headers
    body = page.body.decode()
    assert "Flux des derniers télégrammes" in body and "Énergie en Europe" in body and '<html lang="fr"' in body
    assert '<a href="/c/energie/2026/2026-BERLIN-0001.html">Sécurité énergétique de l&#x27;Allemagne</a>' in body
    assert "Prix de l&#x27;électricité" in body and "Résumé 1" in body
    assert '<time datetime="2026-11-21">21 novembre 2026</time>' in body
    assert '<a href="/feeds/energie/">Obtenir une adresse de flux personnelle</a>' in body
    for accept in READER_ACCEPTS:
        feed = site_feed(world, accept, cookie)
        assert feed.status == 200 and feed.body == FEED, accept
        assert feed.header("content-type") == "application/xml" and "Accept" in feed.header("vary"), accept
        assert feed.header("etag") and feed.header("cache-control") == "private, no-cache"
    # a feed reader's conditional request; a browser holding the feed's ETag still gets the page
    etag = site_feed(world, READER_ACCEPT, cookie).header("etag")
    assert site_feed(world, READER_ACCEPT, cookie, **{"If-None-Match": etag}).status == 304
    again = site_feed(world, BROWSER_ACCEPT, cookie, **{"If-None-Match": etag})
    assert again.status == 200 and again.body.startswith(b"<!doctype html>")


def test_the_page_of_an_english_community_s_feed_reads_in_english(world):
    page = world.get("/c/onu/feed.xml", headers={"Accept": BROWSER_ACCEPT}, cookie=world.session_cookie(MEMBER))
    body = page.body.decode()
    assert page.status == 200 and '<html lang="en"' in body and "Feed of the latest cables" in body
    assert '<a href="/feeds/onu/">Get a personal feed address</a>' in body and ">UN</a>" in body


def test_the_community_s_feed_needs_a_session_and_a_membership_whatever_it_accepts(world):
    for accept in (BROWSER_ACCEPT, *READER_ACCEPTS):
        reply = site_feed(world, accept)
        assert reply.status == 302 and reply.header("location") == "/login?next=/c/energie/feed.xml", accept
        assert FEED not in reply.body and b"Allemagne" not in reply.body
        refused = site_feed(world, accept, world.session_cookie(OUTSIDER))
        assert refused.status == 403 and b"Allemagne" not in refused.body, accept


#: What a cable's title or summary may hold that must stay text on the page.
HOSTILE = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "' onmouseover='x", "</a><a href=//evil.example>",
           "<style>*{display:none}</style>", "&lt;b&gt;", "javascript:alert(1)", "<!--", "]]>", "{community}", "%s")
#: Where an entry's link may point: on the site (kept as a path of it) or anywhere else (dropped).
ON_SITE = ("2026/2026-BERLIN-0001.html", "https://gate.example/c/energie/2026/2026-BERLIN-0002.html",
           "/c/energie/2026/x.html?a=1#top", "2026/caf%C3%A9.html")
OFF_SITE = ("https://evil.example/", "//evil.example/x", "javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
            "../onu/2026/x.html", "/c/onu/x.html", "/c/energie/../onu/x.html", "%2e%2e/onu/x.html", "2026/%2E./../onu/x",
            "..\\onu\\x.html", "2026/..%5C..%5Conu", "/c/energie/.%2e/onu", "/c/energie/x%0a.html", "/c/energievil/x.html",
            "vbscript:x", "/c/energie/./x.html")
#: Text around them, without white space (the feed's reader joins runs of white space into one).
XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Co", "Zs", "Zl", "Zp")), max_size=20)


class _Elements(html_parser.HTMLParser):
    """Every element of a page (tag and attributes), and the text of each link of the feed's list."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.in_list = False
        self.texts: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "ul" and "dip-list" in (dict(attrs).get("class") or ""):
            self.in_list = True
        if self.in_list and tag == "li":
            self.texts.append("")
        if self.in_list and tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag):
        if tag == "ul":
            self.in_list = False

    def handle_data(self, data):
        if self.in_list and self.texts:
            self.texts[-1] += data


def feed_of(entries: list[tuple[str, str, str]]) -> bytes:
    items = "".join(
        f"<entry><id>urn:diplomatie:energie:{i}</id><title>{html.escape(t)}</title><updated>2026-11-2{i}T00:00:00Z</updated>"
        f'<link rel="alternate" type="text/html" href="{html.escape(href)}"/>'
        f"<summary>{html.escape(s)}</summary></entry>" for i, (t, s, href) in enumerate(entries, 1))
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">'
            f"<id>urn:diplomatie:energie</id><title>energie</title>{items}</feed>\n").encode()


def hostile_text():
    return st.tuples(XML_TEXT, st.sampled_from(HOSTILE), XML_TEXT).map("".join)


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(entries=st.lists(st.tuples(hostile_text(), hostile_text(), st.sampled_from(ON_SITE + OFF_SITE)),
                        min_size=1, max_size=3))
def test_the_page_shows_hostile_titles_and_summaries_as_text_and_links_only_into_the_site(world, entries):
    data = feed_of(entries)
    world.releases = getattr(world, "releases", 1) + 1
    publish_site(world.store, "energie", {"index.html": b"<html>energie</html>", "feed.xml": data},
                 f"r{world.releases}")
    world.refresh()
    cookie = world.session_cookie(MEMBER)
    assert site_feed(world, READER_ACCEPT, cookie).body == data
    page = site_feed(world, BROWSER_ACCEPT, cookie)
    assert page.status == 200 and page.header("content-security-policy") == GATE_POLICY
    parsed = _Elements()
    parsed.feed(page.body.decode())
    assert not [t for t, _ in parsed.tags if t in ("script", "style", "img", "iframe", "object", "embed", "base")]
    assert not [a for _, attrs in parsed.tags for a in attrs if a.startswith("on") or a == "style"]
    # every address on the page is a path of this gate; those of the entries stay in the community's site
    addresses = [v for _, attrs in parsed.tags for k, v in attrs.items()
                 if k in ("href", "src", "action") and v and v != "data:," and not v.startswith("#")]  # no icon; skip link
    assert all(not urlsplit(a).scheme and not urlsplit(a).netloc and a.startswith("/") for a in addresses), addresses
    assert len(parsed.links) == sum(href in ON_SITE for _, _, href in entries), (entries, parsed.links)
    for link in parsed.links:
        segments = link.replace("\\", "/").lower().replace("%2e", ".").split("/")
        assert link.startswith("/c/energie/") and "." not in segments and ".." not in segments, link
    # each entry reads as its title, date and summary: the same text, never markup
    assert len(parsed.texts) == len(entries)
    for (title, summary, _), text in zip(entries, parsed.texts, strict=True):
        assert text.startswith(title.strip()) and text.endswith(summary.strip() if summary.strip() != title.strip() else "")
