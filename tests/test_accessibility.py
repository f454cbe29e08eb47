"""Accessibility as a test: every gate page, in French and English, at desktop and phone sizes.

axe-core runs the WCAG 2.0/2.1 A and AA rules and the landmark best practices on each page the gate
shows (the pages tests/test_gate_pages.py enumerates, with their real status and headers, served to
Chromium by request interception); any violation fails, listed by page, size, rule and element. A
keyboard walk then presses Tab through each page: every link, button and field is reached in document
order, skip link and language switch included, each with a focus a sighted user can see.
"""

from __future__ import annotations

import re

import pytest

from gate import i18n
from pipeline.accessibility import statement, to_json
from tests.accessibility import (
    audit_pages,
    keyboard_context,
    keyboard_problems,
    readable,
    require_axe,
    walk_with_tab,
)
from tests.browser import ARTIFACTS, browser  # noqa: F401 - the fixture
from tests.test_gate_pages import every_page, world  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser

AUDIT_PREFIX = "/__audit__/"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@pytest.fixture(scope="module")
def gate_pages(world):  # noqa: F811 - the fixture
    """Every gate page in each language, and the stylesheet they link to, as the gate answered them."""
    require_axe()
    pages = {lang: every_page(world, {"Cookie": f"lang={lang}"}) for lang in i18n.LANGUAGES}
    served = {}
    for lang, replies in pages.items():
        for name, (_, reply) in replies.items():
            served[f"{AUDIT_PREFIX}{lang}/{slug(name)}"] = reply
    stylesheets = set(re.findall(rb'<link rel="stylesheet" href="([^"]+)"', next(iter(served.values())).body))
    for href in stylesheets:
        served[href.decode()] = world.get(href.decode())
    return world.base, served, {lang: list(replies) for lang, replies in pages.items()}


def serve(context, base: str, served: dict) -> None:
    """Answer the browser's requests to the gate with the recorded replies; 404 for anything else."""
    def answer(route):
        path = route.request.url[len(base):]
        reply = served.get(path)
        if reply is None:
            route.fulfill(status=404, body=b"", content_type="text/plain")
        else:
            headers = {k: v for k, v in reply.headers.items() if k not in ("content-length", "transfer-encoding")}
            route.fulfill(status=reply.status, headers=headers, body=reply.body)
    context.route(f"{base}/**", answer)


def test_every_gate_page_passes_axe_at_desktop_and_phone_sizes_and_the_statement_says_so(gate_pages, browser):  # noqa: F811
    base, served, names = gate_pages
    pages = {f"{lang}: {name}": f"{base}{AUDIT_PREFIX}{lang}/{slug(name)}" for lang in names for name in names[lang]}

    def load(page, name):
        if not getattr(page.context, "_served", False):
            serve(page.context, base, served)
            page.context._served = True
        page.goto(pages[name])

    audit = audit_pages(browser, pages, load)
    assert len(audit.pages) == len(pages) >= 40 and len(audit.rules) > 50, audit
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "accessibility-gate.json").write_text(to_json(audit), encoding="utf-8")
    assert not audit.violations, readable(audit.violations)
    text = statement(audit, service="Diplomatie", lang="fr")
    (ARTIFACTS / "accessibility-statement-gate.md").write_text(text, encoding="utf-8")
    assert "**totalement conforme**" in text and f"{len(pages)} pages auditées" in text


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_gate_page_is_walked_by_keyboard_with_a_visible_focus(gate_pages, browser, lang):  # noqa: F811
    base, served, names = gate_pages
    context = keyboard_context(browser)
    serve(context, base, served)
    problems: list[str] = []
    try:
        page = context.new_page()
        for name in names[lang]:
            page.goto(f"{base}{AUDIT_PREFIX}{lang}/{slug(name)}")
            controls, stops = walk_with_tab(page)
            problems += keyboard_problems(name, controls, stops)
            if not stops or not stops[0].what.startswith("a.dip-skip"):
                problems.append(f"{name}: the first Tab stop is not the skip link: {stops[:1]}")
            # The language switch is one of the controls walked (so reached, in order, with a visible focus).
            if page.locator("a[hreflang][lang][data-tab-index-in-document]").count() != 1:
                problems.append(f"{name}: the language switch is not among the controls walked")
    finally:
        context.close()
    assert not problems, "\n".join(problems)
