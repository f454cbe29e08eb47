"""A built community site in real headless Chromium: it renders, reads on a phone, and searches."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest
from test_build import CANARY_ENERGIE, build, sample_repo

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")]


@pytest.fixture(scope="module")
def served_site(tmp_path_factory):
    """The sample's sites, served over HTTP on 127.0.0.1 (search runs in a web worker: not from file://)."""
    root = tmp_path_factory.mktemp("content")
    sample_repo(root)
    out = tmp_path_factory.mktemp("site")
    build(root, out)
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield chromium
        chromium.close()


def test_cable_page_renders_on_a_phone_and_search_finds_it(served_site, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{served_site}/energie/2026/2026-BERLIN-0001.html", wait_until="networkidle")
    assert page.title() == "Sécurité énergétique allemande - Énergie en Europe"
    assert page.locator(".dip-banner").first.is_visible()
    assert page.locator(".dip-banner").first.inner_text() == "NON CLASSIFIÉ"
    assert page.locator("h1").inner_text() == "Sécurité énergétique allemande"
    assert page.locator(".dip-logout").is_visible()
    # Nothing wider than the phone's screen: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "build-cable-page-phone.png"))

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{served_site}/energie/index.html", wait_until="networkidle")
    page.locator("#dip-search-q").click()
    page.keyboard.type("hibou", delay=30)  # the theme searches on key events
    result = page.locator(".dip-search__results li").first
    result.wait_for(timeout=10_000)
    assert "Sécurité énergétique allemande" in page.locator(".dip-search__results").inner_text()
    page.screenshot(path=str(ARTIFACTS / "build-search-desktop.png"))
    assert CANARY_ENERGIE.split()[1] == "hibou"
    assert all(url.startswith(served_site) or url.startswith("data:") for url in requests), requests
    page.close()


def test_french_search_finds_words_after_an_elided_article(served_site, browser):
    """« l'électricité » is indexed as « électricité »: the apostrophe separates words in search."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{served_site}/energie/index.html", wait_until="networkidle")
    page.locator("#dip-search-q").click()
    page.keyboard.type("électricité", delay=30)
    page.locator(".dip-search__results li").first.wait_for(timeout=10_000)
    assert "Marché européen de l'électricité" in page.locator(".dip-search__results").inner_text()
    page.close()
