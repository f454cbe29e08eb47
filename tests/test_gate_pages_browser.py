"""The gate's own pages in real headless Chromium: the stylesheet loads under GATE_POLICY, nothing fails.

One gate process (the real server); the sign-in page and a refusal, in French and English, at desktop
and phone sizes: every request succeeds, the console stays clean (a CSP refusal would show there),
the identity stylesheet is applied (bleu France buttons, system fonts), and the keyboard's first stop
is visible. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import pytest

from gate import store as storage
from gate import tokens
from tests.browser import browser, screenshot  # noqa: F401 - the fixture
from tests.gatekit import running_gate, write_members

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1280, "height": 800}, "mobile": {"width": 375, "height": 740}}


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    base = tmp_path_factory.mktemp("pages-browser")
    store = storage.open_store(base / "store")
    write_members(store, {"energie": {"title": "Énergie en Europe", "owner_name": "Marc Vasseur",
                                      "owner_title": "Ambassadeur de France en Allemagne",
                                      "members": {"a@press.org": None}}})
    tokens.init(base / "keys")
    with running_gate(base / "store", base / "keys") as running:
        yield running


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("path", "lang", "status"), [("/login?next=/c/energie/", "fr", 200),
                                                      ("/login?lang=en", "en", 200),
                                                      ("/auth?token=expired&lang=en", "en", 400)])
def test_gate_pages_render_with_their_stylesheet_and_fetch_nothing_else(gate, browser, size, path, lang,  # noqa: F811
                                                                         status):
    context = browser.new_context(viewport=SIZES[size])
    page = context.new_page()
    problems: list[str] = []
    requests: list[str] = []
    own = f"Failed to load resource: the server responded with a status of {status} "  # the page's own status
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning")
            and not (status >= 400 and m.text.startswith(own)) else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    page.on("response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 and
            r.url != gate.base + path else None)
    try:
        assert page.goto(gate.base + path).status == status
        page.wait_for_load_state("networkidle")
        assert not problems, (problems, requests)
        assert all(url.startswith(gate.base) for url in requests), requests
        assert any("/_gate/diplomatie.css?v=" in url for url in requests), requests
        assert page.evaluate("document.documentElement.lang") == lang
        primary = page.locator("main button, main .dip-next a").first
        colour = primary.evaluate("e => getComputedStyle(e).backgroundColor + ' ' + getComputedStyle(e).color")
        assert "rgb(0, 0, 145)" in colour, colour
        assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith("system-ui")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= SIZES[size]["width"], width  # nothing wider than a phone's screen
        screenshot(page, f"gate-page-{lang}-{size}-{path.split('?')[0].strip('/')}")
        page.keyboard.press("Tab")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert page.evaluate("document.activeElement.className") == "dip-skip" and outline == "solid"
    finally:
        context.close()
