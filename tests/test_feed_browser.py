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


def test_the_feed_is_still_atom_for_a_feed_reader(built):
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
