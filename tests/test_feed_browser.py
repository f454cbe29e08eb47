"""A community's Atom feed opened in real headless Chromium by a signed-in member reads as a page, and
stays the Atom feed a feed reader reads.

Real sites (built from a content repository) are published to a store and served by a real gate
process (gate/feedpage.py). A member's browser opening ``/c/<community>/feed.xml`` gets the page: in
the community's language, with the gate's stylesheet, under the gate's Content-Security-Policy (a
refusal would show in the console), nothing asked of another host, each cable linked to its page on
the site. axe-core finds no violation on it at desktop and phone sizes. Screenshots go to
test-artifacts/."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as etree
from pathlib import Path

import httpx
import pytest
from contentrepo import make_repo
from test_build import build

from gate import store as storage
from gate import tokens
from pipeline.audit import read_code
from pipeline.publish import content_type
from tests.accessibility import audit_pages, readable
from tests.browser import browser, screenshot  # noqa: F401 - the fixture
from tests.gatekit import publish_site, running_gate, write_members

pytestmark = pytest.mark.browser

ATOM = "{http://www.w3.org/2005/Atom}"
MEMBER = "anne@example.org"
SIZES = {"desktop": {"width": 1280, "height": 800}, "mobile": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """energie (French) publishes two cables, onu (English) one."""
    root = tmp_path_factory.mktemp("content")
    repo = make_repo(root)
    repo.cable("2026-BERLIN-0001", title="Sécurité énergétique allemande", date=dt.date(2026, 3, 14),
               summary="Les réserves de gaz tiennent.")
    repo.cable("2026-BERLIN-0002", title="L'hydrogène & le réseau <nord>", date=dt.date(2026, 2, 1))
    repo.cable("2026-NEW-YORK-ONU-0001", title="Security Council reform", date=dt.date(2026, 1, 20),
               subjects=["onu"], language="en")
    for cable_id in ("2026-BERLIN-0001", "2026-BERLIN-0002"):
        repo.approve(cable_id, "energie")
    repo.approve("2026-NEW-YORK-ONU-0001", "onu")
    out = tmp_path_factory.mktemp("site")
    build(root, out)
    return out


@pytest.fixture(scope="module")
def gate(built, tmp_path_factory):
    """The built sites published as the pipeline publishes them, behind a real gate process."""
    base = tmp_path_factory.mktemp("feed-browser")
    store = storage.open_store(base / "store")
    write_members(store, {"energie": {"title": "Énergie en Europe", "members": {MEMBER: None}},
                          "onu": {"title": "UN", "language": "en", "members": {MEMBER: None}}})
    for community in ("energie", "onu"):
        site = built / community
        code = read_code(site)
        files = {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}
        publish_site(store, community, files, "r1", tuple(code.scripts), tuple(code.styles))
    tokens.init(base / "keys")
    with running_gate(base / "store", base / "keys") as running:
        yield running


def feed_entries(out: Path, community: str) -> list[tuple[str, str]]:
    """(title, link) of each entry of the feed, read as Atom."""
    root = etree.parse(out / community / "feed.xml").getroot()
    return [(e.findtext(f"{ATOM}title"), e.find(f"{ATOM}link").get("href")) for e in root.iter(f"{ATOM}entry")]


def signed_in(context, gate) -> None:
    name, _, value = gate.session_cookie(MEMBER).partition("=")
    context.add_cookies([{"name": name, "value": value, "url": gate.base}])


def test_the_feed_is_still_atom_for_a_feed_reader(built, gate):
    data = (built / "energie/feed.xml").read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<feed ')
    root = etree.fromstring(data)
    assert root.tag == f"{ATOM}feed"
    for key in ("id", "title", "updated"):
        assert root.findtext(f"{ATOM}{key}")
    entries = list(root.iter(f"{ATOM}entry"))
    assert len(entries) == 2
    for entry in entries:
        assert entry.findtext(f"{ATOM}id") and entry.findtext(f"{ATOM}title") and entry.findtext(f"{ATOM}updated")
        assert entry.find(f"{ATOM}link").get("rel") == "alternate"
    assert content_type("feed.xml") == "application/xml"
    # what a feed reader is sent (it names the feed's types, or */*): these very bytes
    reply = httpx.get(f"{gate.base}/c/energie/feed.xml", headers={"Accept": "application/atom+xml, */*;q=0.1",
                                                                   "Cookie": gate.session_cookie(MEMBER)})
    assert reply.status_code == 200 and reply.content == data and "Accept" in reply.headers["vary"]


@pytest.mark.parametrize(("community", "lang", "heading"), [("energie", "fr", "Flux des derniers télégrammes"),
                                                            ("onu", "en", "Feed of the latest cables")])
def test_a_member_opening_the_feed_in_a_browser_reads_a_page_in_the_community_s_language(
        built, gate, browser, community, lang, heading):  # noqa: F811
    context = browser.new_context(viewport=SIZES["mobile"])
    signed_in(context, gate)
    page = context.new_page()
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    page.on("response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None)
    try:
        reply = page.goto(f"{gate.base}/c/{community}/feed.xml")
        assert reply.status == 200 and reply.headers["content-type"] == "text/html; charset=utf-8"
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.lang") == lang
        assert page.locator("main h1").inner_text() == heading
        assert any("/_gate/diplomatie.css?v=" in url for url in requests), requests
        assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith("system-ui")
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES["mobile"]["width"]
        # every cable of the feed, by its title as text, linked to its page on the site
        entries = feed_entries(built, community)
        links = page.locator("ul.dip-list a")
        assert links.count() == len(entries)
        for i, (title, _) in enumerate(entries):
            assert links.nth(i).inner_text() == title
            assert links.nth(i).get_attribute("href").startswith(f"/c/{community}/2026/")
        screenshot(page, f"gate-feed-page-{lang}-mobile")  # for docs/screenshots
        page.set_viewport_size(SIZES["desktop"])
        screenshot(page, f"gate-feed-page-{lang}-desktop")
        with page.expect_navigation():
            links.first.click()
        assert page.url.startswith(f"{gate.base}/c/{community}/2026/")
        assert entries[0][0] in page.locator("article h1, main h1").first.inner_text()
        assert all(url.startswith(gate.base) for url in requests), requests  # nothing from elsewhere
        assert not problems, problems
    finally:
        context.close()


def test_the_feed_page_passes_axe_at_desktop_and_phone_sizes(gate, browser):  # noqa: F811
    pages = {f"{community} feed page": f"{gate.base}/c/{community}/feed.xml" for community in ("energie", "onu")}

    def load(page, name):
        signed_in(page.context, gate)
        assert page.goto(pages[name]).headers["content-type"] == "text/html; charset=utf-8"

    audit = audit_pages(browser, pages, load)  # desktop and phone sizes
    assert audit.pages == tuple(pages) and len(audit.rules) > 50
    assert not audit.violations, readable(audit.violations)
