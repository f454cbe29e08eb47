"""The alerts' gate pages in real headless Chromium: the preferences form and the unsubscribe button
work under the gate's Content-Security-Policy, in the service's look. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest

from gate import alerts, tokens
from gate import store as storage
from tests.browser import browser, screenshot  # noqa: F401 - the fixture
from tests.gatekit import running_gate, write_members

pytestmark = pytest.mark.browser

MEMBER = "a@press.org"


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    base = tmp_path_factory.mktemp("alerts-browser")
    store = storage.open_store(base / "store")
    write_members(store, {"energie": {"title": "Énergie en Europe", "members": {MEMBER: None}},
                          "onu": {"title": "United Nations", "language": "en", "members": {MEMBER: None}}})
    tokens.init(base / "keys")
    with running_gate(base / "store", base / "keys") as running:
        running.store = store
        yield running


def watch(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    return problems


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_member_chooses_a_weekly_digest_on_the_preferences_page(gate, browser, lang):  # noqa: F811
    context = browser.new_context(viewport={"width": 1024, "height": 800})
    name, _, value = gate.session_cookie(MEMBER).partition("=")
    context.add_cookies([{"name": name, "value": value, "url": gate.base}])
    page = context.new_page()
    problems = watch(page)
    try:
        assert page.goto(f"{gate.base}/preferences?lang={lang}").status == 200
        choice = "Un résumé hebdomadaire" if lang == "fr" else "A weekly digest"
        page.locator("#c-energie").get_by_label(choice).check()
        page.locator("main button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        assert page.locator(".dip-alert--ok").count() == 1
        assert alerts.read_preference(gate.store, "energie", MEMBER) == alerts.WEEKLY
        assert alerts.read_preference(gate.store, "onu", MEMBER) == alerts.DAILY
        colour = page.locator("main button").first.evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour == "rgb(0, 0, 145)", colour  # bleu France: the identity stylesheet applies
        screenshot(page, f"gate-preferences-{lang}")
        assert not problems, problems
    finally:
        context.close()
        alerts.write_preference(gate.store, "energie", MEMBER, alerts.DAILY, storage.utc_now())


def test_the_unsubscribe_page_asks_then_its_button_unsubscribes_without_a_session(gate, browser):  # noqa: F811
    ring = tokens.load(gate.keys_dir)
    token = tokens.issue(ring, tokens.UNSUBSCRIBE, MEMBER, issuer=gate.base, audience=gate.base,
                         ttl=tokens.UNSUBSCRIBE_TTL, community="onu")
    context = browser.new_context()
    page = context.new_page()
    problems = watch(page)
    try:
        assert page.goto(f"{gate.base}/unsubscribe?t={token}").status == 200
        assert alerts.read_preference(gate.store, "onu", MEMBER) == alerts.DAILY  # opening it changes nothing
        assert "United Nations" in page.inner_text("main")
        screenshot(page, "gate-unsubscribe-en")
        page.locator("main button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        assert alerts.read_preference(gate.store, "onu", MEMBER) == alerts.NEVER
        assert page.locator(".dip-alert--ok").count() == 1
        assert not problems, problems
    finally:
        context.close()


def test_the_alert_e_mail_renders_in_the_services_look_and_fetches_nothing(browser):  # noqa: F811
    import datetime as dt

    from gate.letters import Announcement, alert_message
    from gate.membership import CommunityAccess

    community = CommunityAccess(id="energie", title="Énergie en Europe", language="fr")
    cables = [Announcement("2026-BERLIN-0042", "Sécurité énergétique : l'hiver allemand", dt.date(2026, 11, 30),
                           "BERLIN", "Les stocks de gaz et les choix du gouvernement fédéral.",
                           "https://cables.example.org/c/energie/2026/2026-BERLIN-0042.html"),
              Announcement("2026-BERLIN-0043", "Le marché de l'électricité", dt.date(2026, 12, 1), "BERLIN", "",
                           "https://cables.example.org/c/energie/2026/2026-BERLIN-0043.html")]
    message = alert_message("Diplomatie <alertes@example.org>", MEMBER, community, cables,
                            site="https://cables.example.org",
                            preferences_url="https://cables.example.org/preferences#c-energie",
                            unsubscribe_url="https://cables.example.org/unsubscribe?t=TOKEN",
                            list_domain="cables.example.org", now=dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC))
    html_part = next(p for p in message.walk() if p.get_content_type() == "text/html").get_content()
    context = browser.new_context(viewport={"width": 600, "height": 800})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.set_content(html_part, wait_until="networkidle")
        assert requests == []  # no image, no stylesheet, nothing remote: inline styles only
        text = page.inner_text("body")
        assert "2026-BERLIN-0042" in text and "Les stocks de gaz" in text and "Se désabonner" in text
        screenshot(page, "alert-email-fr")
    finally:
        context.close()
