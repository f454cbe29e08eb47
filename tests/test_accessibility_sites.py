"""The same accessibility harness on built community sites: a French and an English one.

The sample content is built with the real pipeline (mkdocs-material and the project's theme) and
served to Chromium under ``/c/`` as the gate serves it; axe-core runs on every kind of page (home, a
cable, an index, the 404 page) at desktop and phone sizes, and the keyboard walk on each at desktop
size. The sites' own fixes come later (the theme is being reworked): until then the test is an
expected failure that lists what it finds, strict, so it fails the day the sites pass and must be
unmarked then.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

import pytest
from test_build import build, sample_repo

from pipeline.accessibility import statement, to_json
from tests.accessibility import (
    audit_pages,
    grouped,
    keyboard_context,
    keyboard_problems,
    require_axe,
    walk_with_tab,
)
from tests.browser import ARTIFACTS, browser  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser

BASE = "http://localhost:8000"
#: Each kind of page of a site, for the French (energie) and the English (onu) sample communities.
PAGES = {f"{site}: {kind}": f"/c/{site}/{path}" for site, cable in (("energie", "2026/2026-BERLIN-0001.html"),
                                                                    ("onu", "2026/2026-NEW-YORK-ONU-0001.html"))
         for kind, path in (("home", "index.html"), ("cable", cable), ("subjects index", "subjects/index.html"),
                            ("not found", "404.html"), ("search results", "index.html"))}
#: What is typed in the search box for the "search results" pages (the search dialog open, results shown).
SEARCHES = {"energie: search results": "allemande", "onu: search results": "Council"}


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


def search(page, words: str) -> None:
    """Open the site's search and type ``words`` as a reader would, until results show."""
    page.locator("input.md-search__input").focus()  # on a phone the box sits under the search icon
    page.keyboard.type(words, delay=20)  # the theme searches on key events
    page.locator(".md-search-result__item").first.wait_for(timeout=15_000)


def site_audit(browser, built):  # noqa: F811 - the fixture
    def load(page, name):
        if not getattr(page.context, "_served", False):
            serve(page.context, built)
            page.context._served = True
        page.goto(BASE + PAGES[name], wait_until="networkidle")
        if name in SEARCHES:
            search(page, SEARCHES[name])

    return audit_pages(browser, PAGES, load)


def site_keyboard(browser, built) -> list[str]:  # noqa: F811 - the fixture
    context = keyboard_context(browser)
    serve(context, built)
    problems: list[str] = []
    try:
        page = context.new_page()
        for name, path in PAGES.items():
            if name in SEARCHES:
                continue  # the walk starts from the top of a page, search closed
            page.goto(BASE + path, wait_until="networkidle")
            controls, stops = walk_with_tab(page)
            problems += keyboard_problems(name, controls, stops)
            if not stops or "skip" not in stops[0].what:
                problems.append(f"{name}: the first Tab stop is not a skip link but {stops[0].what if stops else None}")
    finally:
        context.close()
    return problems


#: What the harness finds on the sample's sites today (axe-core 4.14.1, both sizes unless said).
FOUND_ON_THE_SITES = (
    "aria-dialog-name (serious) on .md-search: the search dialog has no name, every page; "
    "color-contrast (serious) on .md-search-result__meta, mark (and .md-search-result__article > p at desktop "
    "size): search results; "
    "link-in-text-block (serious) on the 404 page's link home (a[href$=\"energie/\"], a[href$=\"onu/\"]) and on "
    "a link in a cable's text (energie cable, p:nth-child(6) > a): told apart by colour only; "
    "region (moderate) on body > .dip-banner[role=note] and .md-container > .dip-banner[role=note]: the "
    "classification banners sit outside any landmark, every page; "
    "keyboard: the fourth Tab stop (div.md-search__scrollwrap, tabindex=0, search closed) is off screen, "
    "so its focus is invisible, every page; the 404 page has no skip link"
)


@pytest.mark.xfail(strict=True, reason="the sites' theme is being reworked; found today: " + FOUND_ON_THE_SITES)
def test_the_sites_pass_axe_and_the_keyboard_walk(browser, built):  # noqa: F811 - the fixture
    audit = site_audit(browser, built)
    problems = site_keyboard(browser, built)
    assert len(audit.pages) == 10 and len(audit.rules) > 50
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "accessibility-sites.json").write_text(to_json(audit), encoding="utf-8")
    text = statement(audit, service="Diplomatie", lang="fr")
    (ARTIFACTS / "accessibility-statement-sites.md").write_text(text, encoding="utf-8")
    assert ("**totalement conforme**" in text) == (not audit.violations)
    assert not audit.violations and not problems, "\n".join(grouped(audit.violations) + problems)
