"""The reply form in real headless Chromium: from the cable page's link to the acknowledgement, under
the gate's Content-Security-Policy, with what a real browser sends (Origin, Sec-Fetch-Site, line breaks).
Screenshots go to test-artifacts/."""

from __future__ import annotations

import dataclasses

import pytest

from gate import replies, tokens
from gate import store as storage
from tests.browser import browser, screenshot  # noqa: F401 - the fixture
from tests.gatekit import publish_site, running_gate, write_members

pytestmark = pytest.mark.browser

MEMBER = "a@press.org"
CABLE = "2026-BERLIN-0042"
CABLE_PAGE = (f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{CABLE}</title>'
              '<link rel="icon" href="/c/energie/favicon.ico"></head><body>'
              f'<h1>Sécurité énergétique</h1><p>Le texte.</p><p class="dip-reply-link">'
              f'<a class="md-button" href="/replies/energie/2026/{CABLE}.html">Répondre à ce télégramme</a></p>'
              "</body></html>").encode()


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    base = tmp_path_factory.mktemp("replies-browser")
    store = storage.open_store(base / "store")
    write_members(store, {"energie": {"title": "Énergie en Europe", "members": {MEMBER: None}}})
    manifest = publish_site(store, "energie", {"index.html": b"<p>home</p>", "favicon.ico": b"\0\0\1\0",
                                               f"2026/{CABLE}.html": CABLE_PAGE}, "r1")
    store.put(manifest.key, dataclasses.replace(manifest, cables=(CABLE,)).to_json(), "application/json")
    tokens.init(base / "keys")
    with running_gate(base / "store", base / "keys") as running:
        running.store = store
        yield running


def test_a_member_answers_from_the_cable_page_and_sees_the_reply_acknowledged(gate, browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    name, _, value = gate.session_cookie(MEMBER).partition("=")
    context.add_cookies([{"name": name, "value": value, "url": gate.base}])
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        assert page.goto(f"{gate.base}/c/energie/2026/{CABLE}.html").status == 200
        page.get_by_role("link", name="Répondre à ce télégramme").click()
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").inner_text() == "Répondre au télégramme"
        assert page.get_by_label("Pour l'auteur et les éditeurs seulement").is_checked()  # the default
        page.get_by_label("Votre réponse").fill("Merci pour ce télégramme.\n\nDeux remarques :\n- l'hiver\n- le gaz")
        page.get_by_label("Peut être partagée avec la communauté").check()
        screenshot(page, "gate-reply-form-fr")
        page.get_by_role("button", name="Envoyer ma réponse").click()
        page.wait_for_load_state("networkidle")
        assert "votre réponse est bien reçue" in page.locator(".dip-alert--ok").inner_text()
        [(key, data)] = list(replies.every_reply(gate.store, "energie"))
        reply = replies.reply_at(key, data)
        assert reply.text == "Merci pour ce télégramme.\n\nDeux remarques :\n- l'hiver\n- le gaz"
        assert (reply.author, reply.visibility, reply.cable) == (MEMBER, replies.COMMUNITY, CABLE)
        shown = page.locator(".dip-reply__text").inner_text()
        assert shown == reply.text  # line breaks kept on screen, as text
        assert "État : reçue" in page.locator(".dip-reply__meta").inner_text()
        screenshot(page, "gate-reply-received-fr")
        assert not problems, problems
    finally:
        context.close()
