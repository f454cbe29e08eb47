"""A site's Atom feed opened in a browser reads as a page, and stays the Atom feed a feed reader reads.

The built sites are served to real headless Chromium as the gate serves them: each file with the
content type publication records (pipeline/publish.py) and the release's Content-Security-Policy
(gate/csp.py ``site_policy`` from the theme's hashes the build recorded) with the gate's security
headers; the gate's stylesheet at its own address. Nothing else answers, so a request off the site
would show."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as etree
from pathlib import Path

import pytest
from contentrepo import make_repo
from test_build import build

from gate import identity
from gate.csp import site_policy
from pipeline import site
from pipeline.audit import read_code
from pipeline.publish import content_type
from tests.browser import browser, screenshot  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser

BASE = "http://localhost:8000"
ATOM = "{http://www.w3.org/2005/Atom}"
#: The headers the gate adds to every answer (gate/state.py).
SECURITY = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}
#: What Chromium itself puts in a transformed page to warn that XSLT is deprecated: an element with an
#: inline style and handler, which the sites' policy refuses (so it is never shown). Not the page's own.
BROWSER_BANNER = "xslt-warning-banner"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """energie (French) publishes two cables, onu (English) one."""
    root = tmp_path_factory.mktemp("content")
    repo = make_repo(root)
    repo.cable("2026-BERLIN-0001", title="Sécurité énergétique allemande", date=dt.date(2026, 3, 14),
               summary="Les réserves de gaz tiennent.")
    repo.cable("2026-BERLIN-0002", title="L'hydrogène & le réseau nord", date=dt.date(2026, 2, 1))
    repo.cable("2026-NEW-YORK-ONU-0001", title="Security Council reform", date=dt.date(2026, 1, 20),
               subjects=["onu"], language="en")
    for cable_id in ("2026-BERLIN-0001", "2026-BERLIN-0002"):
        repo.approve(cable_id, "energie")
    repo.approve("2026-NEW-YORK-ONU-0001", "onu")
    out = tmp_path_factory.mktemp("site")
    build(root, out)
    return out


def serve(context, out: Path, requests: list[str]) -> None:
    policies = {}

    def answer(route):
        url = route.request.url
        requests.append(url)
        path = url[len(BASE):].split("?")[0].split("#")[0] if url.startswith(BASE) else ""
        if path == identity.STYLESHEET_PATH:
            route.fulfill(status=200, body=identity.stylesheet()[0], headers={"content-type": "text/css; charset=utf-8", **SECURITY})
            return
        community, _, rel = path.removeprefix("/c/").partition("/")
        file = out / community / rel
        if path.startswith("/c/") and rel and file.is_file() and out in file.resolve().parents:
            if community not in policies:
                code = read_code(out / community)
                policies[community] = site_policy(tuple(code.scripts), tuple(code.styles))
            route.fulfill(status=200, body=file.read_bytes(),
                          headers={"content-type": content_type(rel), "content-security-policy": policies[community],
                                   **SECURITY})
        else:
            route.fulfill(status=404, body=b"", content_type="text/plain")
    context.route("**/*", answer)


def feed_entries(out: Path, community: str) -> list[tuple[str, str]]:
    """(title, link) of each entry of the feed, read as Atom."""
    root = etree.parse(out / community / "feed.xml").getroot()
    return [(e.findtext(f"{ATOM}title"), e.find(f"{ATOM}link").get("href")) for e in root.iter(f"{ATOM}entry")]


def open_feed(browser, out: Path, community: str, *, from_home: str | None = None):  # noqa: F811
    context = browser.new_context()
    requests: list[str] = []
    refused: list[str] = []
    serve(context, out, requests)
    page = context.new_page()
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    if from_home:
        page.goto(f"{BASE}/c/{community}/index.html")
        with page.expect_navigation():
            page.get_by_role("link", name=from_home).click()
    else:
        page.goto(f"{BASE}/c/{community}/feed.xml")
    page.locator("main h1").wait_for(state="visible", timeout=15_000)
    return context, page, requests, refused


def test_the_feed_opened_from_the_home_page_shows_its_cables_as_a_page(browser, built):  # noqa: F811
    context, page, requests, refused = open_feed(browser, built, "energie", from_home="Flux Atom des derniers télégrammes")
    try:
        banner = page.evaluate(f"document.querySelector('{BROWSER_BANNER}') !== null")
        assert page.url == f"{BASE}/c/energie/feed.xml"
        assert page.locator("main h1").inner_text() == "Énergie en Europe — Flux Atom"
        assert page.title() == "Énergie en Europe — Flux Atom"
        assert page.locator("html").get_attribute("lang") == "fr"
        entries = page.locator("main ul.dip-list li > a")
        # Every entry of the feed, in its order, each a link to its cable's page; titles as text.
        assert [(a.inner_text(), a.get_attribute("href")) for a in entries.all()] == feed_entries(built, "energie")
        assert entries.first.inner_text() == "Sécurité énergétique allemande"
        assert "L'hydrogène & le réseau nord" in page.locator("main").inner_text()
        assert page.locator("main time").first.inner_text() == "14 mars 2026"
        assert "Les réserves de gaz tiennent." in page.locator("main").inner_text()
        # The service's look: the state's header block, shown by the gate's stylesheet (in capitals).
        assert page.locator(".dip-marianne").inner_text().startswith("RÉPUBLIQUE\nFRANÇAISE")
        assert page.evaluate("getComputedStyle(document.querySelector('.dip-main')).maxWidth") != "none"
        # Where a feed reader gets an address it can use, and the way back.
        assert page.get_by_role("link", name="Obtenir une adresse de flux personnelle").get_attribute("href") == "/feeds/energie/"
        screenshot(page, "feed-in-a-browser")
        with page.expect_navigation():
            entries.first.click()
        assert page.url == f"{BASE}/c/energie/2026/2026-BERLIN-0001.html"
        # Nothing asked of another host; nothing of the page's own refused by the policy.
        assert all(url.startswith(BASE) or url.startswith("data:") for url in requests), requests
        if refused:  # only Chromium's own deprecation banner, never shown
            assert banner
            assert all("inline style" in r or "inline event handler" in r for r in refused), refused
    finally:
        context.close()


def test_the_feed_of_an_english_site_reads_in_english(browser, built):  # noqa: F811
    context, page, _, refused = open_feed(browser, built, "onu")
    try:
        assert page.locator("main h1").inner_text() == "United Nations — Atom feed"
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("main ul.dip-list li > a").all_inner_texts() == ["Security Council reform"]
        assert page.locator("main time").first.inner_text() == "January 20, 2026"
        assert page.get_by_role("link", name="Get a personal feed address").get_attribute("href") == "/feeds/onu/"
    finally:
        context.close()


def test_the_page_the_stylesheet_makes_has_no_code_and_no_inline_style(built):
    """The transformed page runs under the site's policy: it must need nothing the policy refuses."""
    xsl = (built / "energie" / site.FEED_STYLESHEET).read_text(encoding="utf-8")
    root = etree.fromstring(xsl.encode("utf-8"))
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        assert tag.rpartition("}")[2] not in ("script", "style", "iframe", "object", "embed", "form"), tag
        assert not [k for k in element.attrib if k.lower().startswith("on") or k == "style"], (tag, element.attrib)
    links = [e.get("href") for e in root.iter("link")]
    assert links == [identity.stylesheet_href(), "data:,"]


def test_the_feed_is_still_atom_for_a_feed_reader(built):
    data = (built / "energie/feed.xml").read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<?xml-stylesheet type="text/xsl" href="feed.xsl"?>\n')
    root = etree.fromstring(data)
    assert root.tag == f"{ATOM}feed"
    for key in ("id", "title", "updated"):
        assert root.findtext(f"{ATOM}{key}")
    entries = list(root.iter(f"{ATOM}entry"))
    assert len(entries) == 2
    for entry in entries:
        assert entry.findtext(f"{ATOM}id") and entry.findtext(f"{ATOM}title") and entry.findtext(f"{ATOM}updated")
        assert entry.find(f"{ATOM}link").get("rel") == "alternate"
    assert content_type("feed.xsl") == "application/xml" and content_type("feed.xml") == "application/xml"
