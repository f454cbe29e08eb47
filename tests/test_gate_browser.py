"""End to end in real headless Chromium: invitation link -> community home -> search -> cable -> refused.

The sites are real mkdocs-material builds (search plugin included), published through gate.store, so
this also checks that mkdocs-material works under the gate's Content-Security-Policy.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gate import store as storage
from gate import tokens
from pipeline.invitations import invitation_url
from tests.browser import browser, screenshot  # noqa: F401 - the fixture
from tests.gatekit import publish_folder, running_gate, write_members

pytestmark = pytest.mark.browser

WORD = "zanzibarique"


def build_site(folder: Path, title: str, pages: dict[str, str], language: str = "fr") -> Path:
    """A small mkdocs-material site, built with the real mkdocs (French: the search worker imports lunr.fr)."""
    (folder / "docs").mkdir(parents=True)
    (folder / "mkdocs.yml").write_text(
        f"site_name: {title}\ntheme:\n  name: material\n  language: {language}\n  font: false\n"
        f"plugins:\n  - search:\n      lang: {language}\n", encoding="utf-8")
    for name, text in pages.items():
        path = folder / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-d", "site"], cwd=folder, check=True,
                   env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, capture_output=True)
    return folder / "site"


def publish_press_site(base: Path, store: storage.Store) -> None:
    """The press community's site both browser tests read: a home page and two cables, one holding WORD."""
    presse = build_site(base / "presse", "Presse", {
        "index.md": "# Presse\n\nCables shared with the press.\n",
        "2026/2026-BERLIN-0042.md": f"# 2026-BERLIN-0042\n\nL'exposition {WORD} ouvre à Berlin.\n",
        "2026/2026-PARIS-0007.md": "# 2026-PARIS-0007\n\nUn télégramme ordinaire sur le commerce.\n",
    })
    publish_folder(store, "presse", presse, "r1", hashes=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser")
    store = storage.open_store(base / "store")
    business = build_site(base / "business", "Business", {"index.md": "# Business\n\nCONTENT-OF-BUSINESS\n"},
                          language="en")
    publish_press_site(base, store)
    publish_folder(store, "business", business, "r1", hashes=True)
    write_members(store, {"presse": {"members": {"a@press.org": None}},
                          "business": {"members": {"b@biz.org": None}}})
    tokens.init(base / "keys")
    with running_gate(base / "store", base / "keys") as gate:
        yield gate


def test_invitation_search_cable_and_refusal_in_chromium(world, browser):  # noqa: F811 - fixture
    link = invitation_url(tokens.load(world.keys_dir), world.base, "presse", "a@press.org", 600)
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto(link)  # the link's confirmation page: nothing spent yet
        assert "Continuer en tant que a@press.org" in page.content()
        screenshot(page, "gate-0-confirm")
        page.click("button[type=submit]")
        page.wait_for_url(f"{world.base}/c/presse/")
        assert page.title().startswith("Presse")
        screenshot(page, "gate-1-community-home")

        page.click("input.md-search__input")
        page.keyboard.type(WORD)
        result = page.locator(".md-search-result__item a").first
        result.wait_for(timeout=15_000)
        screenshot(page, "gate-2-search")
        result.click()
        page.wait_for_url(f"{world.base}/c/presse/2026/2026-BERLIN-0042/**")
        assert WORD in page.content()
        screenshot(page, "gate-3-cable")

        refused = page.goto(f"{world.base}/c/business/")
        assert refused.status == 403
        assert "CONTENT-OF-BUSINESS" not in page.content()
        screenshot(page, "gate-4-refused")
        csp = [p for p in problems if "Content Security Policy" in p or "Refused to" in p]
        assert not csp, csp
    finally:
        context.close()


def test_published_sample_content_under_the_gate_in_chromium(browser, tmp_path):  # noqa: F811 - fixture
    """The project's own sample content, built and published by the pipeline, used through the gate."""
    root = Path(__file__).resolve().parent.parent
    published = subprocess.run(
        [sys.executable, "-m", "pipeline", "publish", "--root", str(root), "--store", str(tmp_path / "store"),
         "--out", str(tmp_path / "build"), "--community", "energie-europe"],
        cwd=root, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert published.returncode == 0, published.stdout + published.stderr
    snapshot = json.loads((tmp_path / "store" / "members.json").read_text())
    today = dt.date.today().isoformat()
    email = next(e for e, last in snapshot["communities"]["energie-europe"]["members"].items()
                 if last is None or last >= today)
    tokens.init(tmp_path / "keys")
    with running_gate(tmp_path / "store", tmp_path / "keys") as gate:
        link = invitation_url(tokens.load(gate.keys_dir), gate.base, "energie-europe", email, 600)
        context = browser.new_context()
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        try:
            page.goto(link)
            page.click("button[type=submit]")  # "Continuer en tant que …"
            page.wait_for_url(f"{gate.base}/c/energie-europe/")
            page.click("input.dip-search__input")  # the site's search (Pagefind), through the gate
            page.keyboard.type("gaz")
            result = page.locator(".dip-search__results a").first
            result.wait_for(timeout=15_000)
            result.click()
            page.wait_for_load_state()
            assert page.url.startswith(f"{gate.base}/c/energie-europe/")
            # "Signed in as": the page is the same for every member; the header asks the gate who reads it
            name = snapshot["communities"]["energie-europe"].get("names", {}).get(email, email)
            signed_in = page.locator(".dip-signed-in")
            signed_in.wait_for(state="visible", timeout=15_000)
            assert signed_in.inner_text() == f"Connecté en tant que {name}"
            screenshot(page, "gate-5-sample-cable")
            cable_page = page.url
            # the footer's personal feed: an address made on the gate's page, opened as a browser would
            page.click("footer a[href='/feeds/energie-europe/']")
            page.wait_for_url(f"{gate.base}/feeds/energie-europe/")
            with page.expect_navigation():
                page.click("button[value=new]")
            address = page.locator("a.dip-address").get_attribute("href")
            assert address.startswith(f"{gate.base}/feeds/energie-europe/feed.xml?key=f1.")
            context.clear_cookies()  # what a feed reader holds: the address alone
            opened = page.goto(address)
            assert opened.status == 200 and "set-cookie" not in opened.headers
            assert page.locator("h1").inner_text() == "Flux des derniers télégrammes"
            entries = page.locator("main ul.dip-list li a")
            assert entries.count() >= 1
            assert entries.first.get_attribute("href").startswith("/c/energie-europe/")
            screenshot(page, "gate-6-feed-in-a-browser")
            # signed in again (the cookies went with the feed reader's view)
            page.goto(invitation_url(tokens.load(gate.keys_dir), gate.base, "energie-europe", email, 600))
            with page.expect_navigation():
                page.click("button[type=submit]")
            page.goto(cable_page)
            # the site's sign-out link, then the gate's confirmation form
            page.click("a.dip-logout")
            page.wait_for_url(f"{gate.base}/logout")
            with page.expect_navigation():
                page.click("button[type=submit]")
            # signed out: the gate's "signed out" page (in the browser's language: no community here)
            assert page.url == f"{gate.base}/logout"
            assert page.locator("h1").inner_text() in ("Vous êtes déconnecté", "You are signed out")
            again = page.goto(f"{gate.base}/c/energie-europe/")
            assert page.url.startswith(f"{gate.base}/login?next=")
            assert again.status == 200  # the login form, after the redirect
            csp = [p for p in problems if "Content Security Policy" in p or "Refused to" in p]
            pointer = storage.read_pointer(storage.open_store(tmp_path / "store"), "energie-europe")
            manifest = storage.read_manifest(storage.open_store(tmp_path / "store"), "energie-europe", pointer.release)
            assert manifest.script_hashes  # the theme's inline scripts, recorded by the build
            assert not csp, csp  # the theme runs under the policy built from them; nothing was refused
        finally:
            context.close()
