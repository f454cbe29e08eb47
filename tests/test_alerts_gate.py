"""The gate's side of alerts (gate/preferences.py): the preferences page and the one-click unsubscribe,
in process with the gate's injectable clock."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate import alerts, tokens
from gate import store as storage
from tests.gatekit import FakeClock, gate_in_process, write_members

BASE = "http://localhost:8000"
MEMBER = "a.martin@example.org"
EXAMPLES = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def gate(tmp_path: Path):
    store = storage.FolderStore(tmp_path / "store")
    write_members(store, {
        "energie": {"title": "Énergie en Europe", "language": "fr", "members": {MEMBER: None}},
        "onu": {"title": "United Nations", "language": "en", "members": {MEMBER: None, "b@example.org": None}},
    })
    tokens.init(tmp_path / "keys")
    with gate_in_process(tmp_path / "store", tmp_path / "keys", clock=FakeClock()) as client:
        client.store = store
        yield client


def unsubscribe_token(gate, community: str = "energie", address: str = MEMBER, *, kind: str = tokens.UNSUBSCRIBE,
                      ttl: int = tokens.UNSUBSCRIBE_TTL, issuer: str = BASE) -> str:
    ring = tokens.load(gate.keys_dir)
    return tokens.issue(ring, kind, address, issuer=issuer, audience=issuer, ttl=ttl, now=gate.now(),
                        community=community)


def one_click(gate, token: str, **headers: str):
    """What a mail provider does for RFC 8058: POST the one-click body, with no cookie, from elsewhere."""
    return gate.request("POST", f"/unsubscribe?t={token}", body=b"List-Unsubscribe=One-Click",
                        headers={"Content-Type": "application/x-www-form-urlencoded", **headers})


def frequency(gate, community: str = "energie", address: str = MEMBER) -> str:
    return alerts.read_preference(gate.store, community, address)


# ------------------------------------------------------------------------------------- unsubscribe


def test_the_one_click_post_unsubscribes_without_a_session_from_the_mail_providers_servers(gate):
    token = unsubscribe_token(gate)
    reply = one_click(gate, token, Origin="https://mail.provider.example")
    assert reply.status == 200, reply.body[:400]
    assert frequency(gate) == alerts.NEVER
    assert frequency(gate, "onu") == alerts.DEFAULT_FREQUENCY  # that community only
    assert "ne recevra plus de courriels" in reply.body.decode()
    assert one_click(gate, token).status == 200  # again: still unsubscribed, no error


def test_opening_the_unsubscribe_link_only_asks(gate):
    token = unsubscribe_token(gate)
    reply = gate.get(f"/unsubscribe?t={token}")
    page = reply.body.decode()
    assert reply.status == 200 and frequency(gate) == alerts.DEFAULT_FREQUENCY
    assert "Énergie en Europe" in page and MEMBER in page
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page).group(1))
    assert action == f"/unsubscribe?t={token}"
    # Pressing the page's button (the form posts the same one-click field) unsubscribes
    reply = gate.request("POST", action, body=b"List-Unsubscribe=One-Click",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 200 and frequency(gate) == alerts.NEVER


def test_a_token_for_another_community_unsubscribes_only_from_that_one(gate):
    assert one_click(gate, unsubscribe_token(gate, "onu")).status == 200
    assert frequency(gate, "onu") == alerts.NEVER and frequency(gate) == alerts.DEFAULT_FREQUENCY
    assert one_click(gate, unsubscribe_token(gate, "onu", "b@example.org")).status == 200
    assert frequency(gate, "onu", "b@example.org") == alerts.NEVER and frequency(gate, "onu") == alerts.NEVER


@pytest.mark.parametrize("kind", [tokens.SESSION, tokens.MAGIC, tokens.INVITATION])
def test_a_token_of_another_kind_does_not_unsubscribe(gate, kind):
    ring = tokens.load(gate.keys_dir)
    token = tokens.issue(ring, kind, MEMBER, issuer=BASE, audience=BASE, ttl=3600, now=gate.now(),
                         community="energie" if kind == tokens.INVITATION else None)
    for reply in (one_click(gate, token), gate.get(f"/unsubscribe?t={token}")):
        assert reply.status == 400
    assert frequency(gate) == alerts.DEFAULT_FREQUENCY


def test_an_expired_or_foreign_token_does_not_unsubscribe(gate, tmp_path):
    expired = unsubscribe_token(gate, ttl=60)
    gate.clock.advance(3600)
    assert one_click(gate, expired).status == 400
    assert one_click(gate, unsubscribe_token(gate, issuer="https://elsewhere.example")).status == 400
    other = tokens.init(tmp_path / "other-keys")
    forged = tokens.issue(other, tokens.UNSUBSCRIBE, MEMBER, issuer=BASE, audience=BASE, ttl=3600,
                          now=gate.now(), community="energie")
    assert one_click(gate, forged).status == 400
    assert one_click(gate, "").status == 400
    assert frequency(gate) == alerts.DEFAULT_FREQUENCY


@EXAMPLES
@given(position=st.integers(min_value=0), replacement=st.sampled_from("AbZ09_-xQ"))
def test_an_altered_token_is_refused(gate, position, replacement):
    alerts.write_preference(gate.store, "energie", MEMBER, alerts.DAILY, storage.utc_now())
    token = unsubscribe_token(gate)
    position %= len(token)
    if token[position] in (replacement, "."):
        return
    altered = token[:position] + replacement + token[position + 1:]
    reply = one_click(gate, altered)
    if reply.status == 200:
        # Base64url's last character may carry unused bits: only an equivalent token may pass, and it
        # unsubscribes exactly what the original named.
        assert tokens.verify(tokens.load(gate.keys_dir), altered, typ=tokens.UNSUBSCRIBE, issuer=BASE,
                             audience=BASE, now=gate.now()).sub == MEMBER
        return
    assert reply.status == 400 and frequency(gate) == alerts.DAILY


@EXAMPLES
@given(community=st.sampled_from(["energie", "onu"]), address=st.sampled_from([MEMBER, "b@example.org"]))
def test_a_genuine_token_unsubscribes_exactly_its_member_and_community(gate, community, address):
    alerts.write_preference(gate.store, community, address, alerts.DAILY, storage.utc_now())
    before = {(c, a): frequency(gate, c, a) for c in ("energie", "onu") for a in (MEMBER, "b@example.org")}
    assert one_click(gate, unsubscribe_token(gate, community, address)).status == 200
    after = {(c, a): frequency(gate, c, a) for c in ("energie", "onu") for a in (MEMBER, "b@example.org")}
    assert after[(community, address)] == alerts.NEVER
    assert {k: v for k, v in after.items() if k != (community, address)} == \
        {k: v for k, v in before.items() if k != (community, address)}


# ------------------------------------------------------------------------------------- preferences


def form_of(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))


def test_the_preferences_page_needs_a_session(gate):
    reply = gate.get("/preferences")
    assert reply.status == 302 and reply.header("location").endswith("/login?next=/preferences")


@pytest.mark.parametrize(("lang", "title", "daily"), [("fr", "Vos alertes", "Un résumé quotidien (par défaut)"),
                                                     ("en", "Your alert preferences", "A daily digest (default)")])
def test_the_preferences_page_in_both_languages_saves_a_choice_per_community(gate, lang, title, daily):
    cookie = gate.session_cookie(MEMBER)
    page = gate.get(f"/preferences?lang={lang}", cookie=cookie).body.decode()
    assert f"<h1>{title}</h1>" in page and daily in page
    assert "Énergie en Europe" in page and "United Nations" in page
    assert page.count('type="radio"') == 8 and page.count(" checked") == 2  # the default, daily, for each
    csrf = form_of(page)["csrf"]
    reply = gate.post_form("/preferences", {"csrf": csrf, "c.energie": "weekly", "c.onu": "immediate",
                                            "c.elsewhere": "never"}, cookie=f"{cookie}; lang={lang}")
    assert reply.status == 200, reply.body[:400]
    assert frequency(gate) == alerts.WEEKLY and frequency(gate, "onu") == alerts.IMMEDIATE
    assert not gate.store.exists(storage.preference_key("elsewhere", MEMBER))  # not one of theirs
    assert 'value="weekly" checked' in reply.body.decode()


def test_a_preferences_post_without_its_token_or_from_another_site_changes_nothing(gate):
    cookie = gate.session_cookie(MEMBER)
    assert gate.post_form("/preferences", {"c.energie": "never"}, cookie=cookie).status == 403
    assert gate.post_form("/preferences", {"csrf": "0" * 32, "c.energie": "never"}, cookie=cookie).status == 403
    csrf = form_of(gate.get("/preferences", cookie=cookie).body.decode())["csrf"]
    other = gate.session_cookie("b@example.org")  # another member's page token is not this one's
    assert gate.post_form("/preferences", {"csrf": csrf, "c.onu": "never"}, cookie=other).status == 403
    assert gate.post_form("/preferences", {"csrf": csrf, "c.energie": "never"}, cookie=cookie,
                          headers={"Origin": "https://evil.example"}).status == 403
    assert gate.post_form("/preferences", {"csrf": csrf, "c.energie": "sometimes"}, cookie=cookie).status == 400
    assert frequency(gate) == alerts.DEFAULT_FREQUENCY and frequency(gate, "onu", "b@example.org") == alerts.DAILY
