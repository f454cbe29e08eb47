"""The same accessibility harness on built community sites: a French and an English one.

The sample content is built with the real pipeline (mkdocs-material and the project's theme) and
served to Chromium under ``/c/`` as the gate serves it; axe-core runs on every kind of page (home, a
cable, the indexes by date, post and subject, search results, the 404 page, the accessibility
statement, the legal notice) at desktop and phone sizes and must find nothing; the audit must be the
one recorded in the project (pipeline/defaults/accessibility-audit.json), from which every site's
accessibility statement is made. At desktop size a keyboard walk presses Tab through each page
(every control reached in order with a visible focus, the first a skip link that takes the focus
into the main content), and search is used from the keyboard alone.
"""

from __future__ import annotations

import contextlib
import mimetypes
from pathlib import Path

import pytest
from test_build import build, sample_repo

from pipeline.accessibility import RECORD, recorded, statement, to_json
from tests.accessibility import (
    audit_pages,
    grouped,
    keyboard_context,
    keyboard_problems,
    require_axe,
    walk_with_tab,
)
from tests.browser import ARTIFACTS, browser, screenshot  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser
PlaywrightTimeout = pytest.importorskip("playwright.sync_api").TimeoutError

BASE = "http://localhost:8000"
#: Each kind of page of a site, for the French (energie) and the English (onu) sample communities.
KINDS = {
    "energie": {"cable": "2026/2026-BERLIN-0001.html", "post": "posts/berlin.html", "subject": "subjects/energie.html"},
    "onu": {"cable": "2026/2026-NEW-YORK-ONU-0001.html", "post": "posts/new-york-onu.html", "subject": "subjects/onu.html"},
}
PAGES = {f"{site}: {kind}": f"/c/{site}/{path}" for site, own in KINDS.items()
         for kind, path in (("home", "index.html"), ("cable", own["cable"]), ("dates index", "dates/index.html"),
                            ("year index", "dates/2026.html"), ("posts index", "posts/index.html"),
                            ("post index", own["post"]), ("subjects index", "subjects/index.html"),
                            ("subject index", own["subject"]), ("not found", "404.html"),
                            ("search results", "index.html"), ("accessibility statement", "accessibility.html"),
                            ("legal notice", "legal.html"))}
#: What is typed in the search box for the "search results" pages (results shown in the header's panel).
SEARCHES = {"energie: search results": "allemande", "onu: search results": "Council"}
#: The pages whose screenshots (both sizes) the audit leaves in test-artifacts/.
SCREENSHOTS = ("energie: home", "energie: cable", "energie: search results", "onu: cable", "onu: not found")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    require_axe()
    root = tmp_path_factory.mktemp("content")
    sample_repo(root)
    out = tmp_path_factory.mktemp("site")
    build(root, out)
    return out


def serve(context, out: Path) -> None:
    """Answer ``/c/<community>/<file>`` from the built output, anything else 404 (nothing leaves)."""
    def answer(route):
        path = route.request.url[len(BASE):].split("?")[0].split("#")[0]
        file = out / path.removeprefix("/c/")
        if path.startswith("/c/") and file.is_file() and out in file.resolve().parents:
            kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            route.fulfill(status=200, body=file.read_bytes(), content_type=kind)
        else:
            route.fulfill(status=404, body=b"", content_type="text/plain")
    context.route("**/*", answer)


def goto(page, url: str) -> None:
    """Open ``url`` and wait until it is the page a reader sees: parsed and loaded to the end (under a
    heavy load, Playwright's ``networkidle`` was seen to return on a document still parsing), its
    heading shown in its main content."""
    for attempt in (1, 2):  # a document stuck parsing (seen once under load) is opened once more
        page.goto(url, wait_until="networkidle")
        try:
            page.wait_for_function("() => document.readyState === 'complete'", timeout=30_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    page.locator("main h1").first.wait_for(state="visible", timeout=15_000)


def search(page, words: str) -> None:
    """Type ``words`` in the header's search field as a reader would, until results show."""
    page.locator("#dip-search-q").focus()
    page.keyboard.type(words, delay=20)  # the theme searches on input events
    page.locator(".dip-search__results li a").first.wait_for(timeout=15_000)


def site_audit(browser, built):  # noqa: F811 - the fixture
    def load(page, name):
        if not getattr(page.context, "_served", False):
            serve(page.context, built)
            page.context._served = True
        goto(page, BASE + PAGES[name])
        if name in SEARCHES:
            search(page, SEARCHES[name])
        if name in SCREENSHOTS:  # for docs/screenshots (the look reviewed without running anything)
            width = page.viewport_size["width"]
            screenshot(page, f"site-{name.replace(': ', '-').replace(' ', '-')}-{'mobile' if width < 600 else 'desktop'}")

    return audit_pages(browser, PAGES, load)


def test_every_kind_of_site_page_passes_axe_at_desktop_and_phone_sizes_and_the_statement_is_the_record(browser, built):  # noqa: F811
    audit = site_audit(browser, built)
    assert len(audit.pages) == len(PAGES) == 24 and len(audit.rules) > 50
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "accessibility-audit.json").write_text(to_json(audit), encoding="utf-8")
    text = statement(audit, service="Diplomatie", lang="fr")
    (ARTIFACTS / "accessibility-statement-sites.md").write_text(text, encoding="utf-8")
    assert not audit.violations, "\n".join(grouped(audit.violations))
    assert "**totalement conforme**" in text
    # The statement every site publishes is made from the record: it must be what was measured.
    assert recorded() == audit, (f"{RECORD} differs from what the test measured: copy "
                                 f"{ARTIFACTS / 'accessibility-audit.json'} there")
    fr, en = (built / "energie/accessibility.html").read_text(), (built / "onu/accessibility.html").read_text()
    assert "<strong>totalement conforme</strong>" in fr and "<strong>fully compliant</strong>" in en
    assert f"{len(PAGES)} pages auditées" in fr


def test_every_site_page_is_walked_by_keyboard_from_a_skip_link_that_reaches_the_content(browser, built):  # noqa: F811
    context = keyboard_context(browser)
    serve(context, built)
    problems: list[str] = []
    try:
        page = context.new_page()
        for name, path in PAGES.items():
            if name in SEARCHES:
                continue  # the walk starts from the top of a page, search closed
            goto(page, BASE + path)
            controls, stops = walk_with_tab(page)
            problems += keyboard_problems(name, controls, stops)
            if not stops or not stops[0].what.startswith("a.dip-skip"):
                problems.append(f"{name}: the first Tab stop is not the skip link but {stops[0].what if stops else None}")
                continue
            # The skip link, followed from the keyboard, takes the focus into the main content.
            goto(page, BASE + path)
            page.keyboard.press("Tab")
            page.keyboard.press("Enter")
            # Following a link to a fragment moves the focus as the navigation completes: wait for it.
            with contextlib.suppress(PlaywrightTimeout):
                page.wait_for_function("() => document.activeElement && document.activeElement.closest('main')",
                                       timeout=5_000)
            where = page.evaluate("() => { const e = document.activeElement;"
                                  " return e && e.closest('main') ? e.id || e.tagName : null; }")
            if where != "contenu":
                problems.append(f"{name}: the skip link leaves the focus on {where}, not the content in main")
    finally:
        context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("site", "words", "cable"), [("energie", "allemande", "2026-BERLIN-0001"),
                                                      ("onu", "Council", "2026-NEW-YORK-ONU-0001")])
def test_search_is_usable_from_the_keyboard_alone(browser, built, site, words, cable):  # noqa: F811
    """Tab to the field, type, Tab to the first result (its focus seen), Enter opens the cable; Escape
    closes the results and gives the focus back to the field."""
    context = keyboard_context(browser)
    serve(context, built)
    try:
        page = context.new_page()
        goto(page, f"{BASE}/c/{site}/index.html")
        for _ in range(30):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.id") == "dip-search-q":
                break
        else:
            pytest.fail("Tab never reaches the search field")
        page.keyboard.type(words, delay=20)
        first = page.locator(".dip-search__results li a").first
        first.wait_for(timeout=15_000)
        assert page.locator("#dip-search-panel").is_visible()
        page.keyboard.press("Escape")
        assert page.locator("#dip-search-panel").is_hidden()
        assert page.evaluate("() => document.activeElement.id") == "dip-search-q"
        page.keyboard.type(words, delay=20)  # Escape also emptied the field (a search field's own behaviour)
        first.wait_for(timeout=15_000)
        for _ in range(30):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.matches('.dip-search__results li a')"):
                break
        else:
            pytest.fail("Tab never reaches the first search result")
        outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in ("", "none"), "the focused result shows no outline"
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/{cable}.html")
    finally:
        context.close()


def test_a_printed_cable_page_is_its_text_with_the_banner_and_reference_and_full_link_addresses(browser, built):  # noqa: F811
    """Printed ("print to PDF"): no navigation, header or search; the classification banner and the
    cable's reference in the top and bottom margins of every printed page (the @page margin boxes
    show --dip-print-banner); each link of the text followed by its full address."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    serve(context, built)
    try:
        page = context.new_page()
        goto(page, f"{BASE}/c/energie/2026/2026-BERLIN-0001.html")
        page.emulate_media(media="print")
        shown = page.evaluate("""() => {
          const display = selector => getComputedStyle(document.querySelector(selector)).display;
          const link = document.querySelector("article a[href*='2026-PARIS-0002']");
          const margins = Array.from(document.styleSheets).flatMap(sheet => Array.from(sheet.cssRules))
            .filter(rule => rule instanceof CSSPageRule).map(rule => rule.cssText).join(" ");
          return {hidden: ['.md-sidebar--primary', '.md-sidebar--secondary', '.md-header', '.md-footer',
                           '.dip-skip'].map(display),
                  banner: getComputedStyle(document.documentElement).getPropertyValue('--dip-print-banner'),
                  margins, link: getComputedStyle(link, '::after').content};
        }""")
        assert shown["hidden"] == ["none"] * 5, shown
        assert shown["banner"].strip() == '"NON CLASSIFIÉ · 2026-BERLIN-0001"', shown
        assert "@top-center" in shown["margins"] and "@bottom-center" in shown["margins"], shown
        assert shown["margins"].count("var(--dip-print-banner") == 2, shown
        assert f"{BASE}/c/energie/2026/2026-PARIS-0002.html#analyse" in shown["link"], shown
        assert page.pdf(format="A4").startswith(b"%PDF")  # and Chromium prints it
    finally:
        context.close()
