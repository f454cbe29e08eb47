"""The gate takes a member's reply to a cable (gate/replypage.py), in process with the gate's clock:
who may answer, which cables, what text, from where, how often, and what the member sees."""

from __future__ import annotations

import dataclasses
import hashlib
import html
import re
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate import replies, tokens
from gate import store as storage
from gate.throttle import REPLY_BURST, REPLY_REFILL
from tests.gatekit import FakeClock, day, gate_in_process, publish_site, write_members

MEMBER = "a.martin@example.org"
OTHER = "b.durand@example.org"
CABLE = "2026-BERLIN-0042"
ONU_CABLE = "2026-NEW-YORK-ONU-0007"
PAGE = f"/replies/energie/2026/{CABLE}.html"
CABLE_PAGE = b"<!doctype html><html><body><h1>Berlin</h1></body></html>"
EXAMPLES = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def publish(store: storage.Store, community: str, pages: dict[str, bytes], release: str) -> None:
    """A release whose manifest lists its cables, as publish writes it."""
    manifest = publish_site(store, community, {"index.html": b"<p>home</p>", **pages}, release)
    cables = tuple(Path(p).stem for p in pages)
    store.put(manifest.key, dataclasses.replace(manifest, cables=cables).to_json(), "application/json")


def members(store: storage.Store, energie: dict, onu: dict | None = None) -> None:
    write_members(store, {
        "energie": {"title": "Énergie en Europe", "language": "fr", "members": energie},
        "onu": {"title": "United Nations", "language": "en", "members": onu or {MEMBER: None}},
    })


@pytest.fixture
def gate(tmp_path: Path):
    store = storage.FolderStore(tmp_path / "store")
    members(store, {MEMBER: None, OTHER: None})
    publish(store, "energie", {f"2026/{CABLE}.html": CABLE_PAGE}, "r1")
    publish(store, "onu", {f"2026/{ONU_CABLE}.html": b"<p>onu</p>"}, "r1")
    tokens.init(tmp_path / "keys")
    with gate_in_process(tmp_path / "store", tmp_path / "keys", clock=FakeClock()) as client:
        client.store = store
        yield client


def form_of(page: str) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page)}


def csrf(gate, cookie: str, path: str = PAGE) -> str:
    reply = gate.get(path, cookie=cookie)
    assert reply.status == 200, (reply.status, reply.body[:300])
    return form_of(reply.body.decode())["csrf"]


def send(gate, cookie: str | None, fields: dict[str, str], path: str = PAGE, **headers: str):
    return gate.post_form(path, fields, cookie=cookie, headers={"Sec-Fetch-Site": "same-origin", **headers})


def stored(gate) -> list[replies.Reply]:
    return [replies.reply_at(key, data) for key, data in replies.every_reply(gate.store, "energie")] + \
           [replies.reply_at(key, data) for key, data in replies.every_reply(gate.store, "onu")]


# ---------------------------------------------------------------------------------- the happy path


def test_a_member_answers_a_cable_and_is_acknowledged_in_french(gate):
    cookie = gate.session_cookie(MEMBER)
    page = gate.get(PAGE, cookie=cookie).body.decode()
    assert "Répondre au télégramme" in page and CABLE in page
    assert "Pour l'auteur et les éditeurs seulement" in html.unescape(page)
    assert re.search(r'name="visibility" value="editors" checked', page)  # the default
    reply = send(gate, cookie, {"csrf": form_of(page)["csrf"], "text": "Merci.\r\n\r\nUne *remarque* : <b>x</b>",
                                "visibility": "editors"})
    assert reply.status == 303 and reply.header("location") == f"{PAGE}?sent=1"
    [record] = stored(gate)
    assert (record.community, record.cable, record.author, record.visibility) == ("energie", CABLE, MEMBER, "editors")
    assert record.text == "Merci.\n\nUne *remarque* : <b>x</b>"  # kept as typed; the pipeline judges it
    assert record.digest == "sha256:" + hashlib.sha256(CABLE_PAGE).hexdigest() and record.release == "r1"
    assert record.at == storage.utc_text(gate.now())
    after = gate.get(reply.header("location"), cookie=cookie).body.decode()
    assert "votre réponse est bien reçue" in after and "État : reçue" in after
    assert "Une *remarque* : &lt;b&gt;x&lt;/b&gt;" in after  # shown as text, never as HTML
    # Another member sees a form, not this member's reply
    assert "remarque" not in gate.get(PAGE, cookie=gate.session_cookie(OTHER)).body.decode()


def test_the_page_speaks_english_to_who_asks_and_a_shareable_reply_says_so(gate):
    cookie = gate.session_cookie(MEMBER)
    page = gate.get(PAGE + "?lang=en", cookie=cookie).body.decode()
    assert "Answer this cable" in page and "Send my reply" in page
    reply = send(gate, cookie + "; lang=en", {"csrf": form_of(page)["csrf"], "text": "Thanks.", "visibility": "community"})
    assert reply.status == 303
    after = gate.get(reply.header("location"), cookie=cookie + "; lang=en").body.decode()
    assert "your reply is received" in after and "May be shared with the community" in html.unescape(after)
    assert [r.visibility for r in stored(gate)] == ["community"]


def test_without_a_session_the_page_sends_to_sign_in_and_a_post_stores_nothing(gate):
    reply = gate.get(PAGE)
    assert reply.status == 302 and reply.header("location") == "/login?next=" + quote(PAGE, safe="/")
    assert send(gate, None, {"csrf": "x", "text": "hello"}).status == 303
    assert stored(gate) == []


# --------------------------------------------------------------------------------------- who, what


def test_a_removed_or_expired_member_is_refused_though_their_session_is_still_valid(gate):
    cookie = gate.session_cookie(MEMBER)
    token = csrf(gate, cookie)
    members(gate.store, {OTHER: None})  # removed from energie
    gate.refresh()
    reply = send(gate, cookie, {"csrf": token, "text": "encore moi"})
    assert reply.status == 403 and "Seuls les membres" in reply.body.decode()
    assert gate.get(PAGE, cookie=cookie).status == 403
    members(gate.store, {MEMBER: day(-1)})  # expired yesterday
    gate.refresh()
    assert send(gate, cookie, {"csrf": token, "text": "encore moi"}).status == 403
    assert stored(gate) == []


@pytest.mark.parametrize("path", [
    f"/replies/energie/2026/{ONU_CABLE}.html",  # a cable of another community the member also reads
    "/replies/energie/2026/2026-BERLIN-0099.html",  # not published
    f"/replies/energie/2025/{CABLE}.html",  # the year does not match
    f"/replies/energie/2026/{CABLE}.md", f"/replies/energie/{CABLE}", "/replies/energie/", "/replies/",
    f"/replies/../energie/2026/{CABLE}.html", f"/replies/energie/2026/{CABLE.lower()}.html",
])
def test_only_a_cable_the_communitys_current_release_publishes_can_be_answered(gate, path):
    cookie = gate.session_cookie(MEMBER)
    assert gate.get(path, cookie=cookie).status == 404
    token = csrf(gate, cookie)
    assert send(gate, cookie, {"csrf": token, "text": "hors sujet"}, path=path).status == 404
    assert stored(gate) == []


def test_a_community_the_member_does_not_read_is_refused(gate):
    cookie = gate.session_cookie(OTHER)  # reads energie, not onu
    assert gate.get(f"/replies/onu/2026/{ONU_CABLE}.html", cookie=cookie).status == 403


def test_a_cable_withdrawn_from_the_release_can_no_longer_be_answered(gate):
    cookie = gate.session_cookie(MEMBER)
    token = csrf(gate, cookie)
    publish(gate.store, "energie", {}, "r2")
    gate.refresh()
    assert send(gate, cookie, {"csrf": token, "text": "trop tard"}).status == 404


def publish_showing(store: storage.Store, release: str, shown: dict[str, str]) -> None:
    """A release of energie (format 2, as publish writes it) whose cable page shows the replies ``shown``."""
    manifest = publish_site(store, "energie", {"index.html": b"<p>home</p>", f"2026/{CABLE}.html": CABLE_PAGE},
                            f"{release}-base")
    manifest = dataclasses.replace(manifest, release=release, cables=(CABLE,), replies=shown)
    assert storage.write_manifest(store, manifest).replies == shown
    storage.write_pointer(store, storage.Pointer("energie", release, storage.utc_now()))


def test_a_reply_the_serving_release_shows_is_said_published_and_received_again_once_dropped(gate):
    cookie = gate.session_cookie(MEMBER)
    for text in ("Première, partageable.", "Seconde, pour les éditeurs."):
        page = gate.get(PAGE, cookie=cookie).body.decode()
        gate.clock.advance(61)
        assert send(gate, cookie, {"csrf": form_of(page)["csrf"], "text": text, "visibility": "community"}).status == 303
    first, second = [key for key, _ in replies.every_reply(gate.store, "energie")]
    publish_showing(gate.store, "r2", {replies.reply_id(first): "sha256:" + "cd" * 32})
    gate.refresh()
    page = html.unescape(gate.get(PAGE, cookie=cookie).body.decode())
    statuses = re.findall(r"État : ([^<]+)</p>", page)
    assert statuses == ["reçue", "publiée sur la page du télégramme"], statuses  # newest first
    # The cable withdrawn from its page (or the approval gone stale): the next release drops the reply
    publish_showing(gate.store, "r3", {})
    gate.refresh()
    page = html.unescape(gate.get(PAGE, cookie=cookie).body.decode())
    assert re.findall(r"État : ([^<]+)</p>", page) == ["reçue", "reçue"]
    # Another member's page says nothing of either
    assert "État" not in html.unescape(gate.get(PAGE, cookie=gate.session_cookie(OTHER)).body.decode())


# ------------------------------------------------------------------------------------------- CSRF


def cross_site_variants(gate, cookie: str, token: str) -> list[tuple[str, str, dict[str, str], dict[str, str]]]:
    """(what, cookie, fields, headers) of requests another site could make a member's browser send."""
    other_session = gate.session_cookie(OTHER)
    same_member_other_session = gate.session_cookie(MEMBER, now=gate.now() - 5)
    onu_token = csrf(gate, cookie, f"/replies/onu/2026/{ONU_CABLE}.html")
    text = {"text": "forgée"}
    return [
        ("missing token", cookie, text, {}),
        ("empty token", cookie, {"csrf": "", **text}, {}),
        ("wrong token", cookie, {"csrf": "0" * 32, **text}, {}),
        ("token of another member's session", other_session, {"csrf": token, **text}, {}),
        ("token of another session of the same member", same_member_other_session, {"csrf": token, **text}, {}),
        ("token of another cable's page", cookie, {"csrf": onu_token, **text}, {}),
        ("cross-site Origin", cookie, {"csrf": token, **text}, {"Origin": "https://evil.example"}),
        ("look-alike Origin", cookie, {"csrf": token, **text}, {"Origin": "http://localhost:8000.evil.example"}),
        ("Sec-Fetch-Site cross-site", cookie, {"csrf": token, **text}, {"Sec-Fetch-Site": "cross-site"}),
        ("Sec-Fetch-Site same-site", cookie, {"csrf": token, **text}, {"Sec-Fetch-Site": "same-site"}),
        ("Sec-Fetch-Site none", cookie, {"csrf": token, **text}, {"Sec-Fetch-Site": "none"}),
    ]


def test_every_cross_site_variant_is_refused_and_stores_nothing(gate):
    cookie = gate.session_cookie(MEMBER)
    token = csrf(gate, cookie)
    for what, jar, fields, headers in cross_site_variants(gate, cookie, token):
        reply = send(gate, jar, fields, **headers)
        assert reply.status == 403, what
        assert "Requête refusée" in reply.body.decode(), what
    assert stored(gate) == []
    # ...while the member's own form, with its token, goes through
    assert send(gate, cookie, {"csrf": token, "text": "la vraie"}, Origin="http://localhost:8000").status == 303


@EXAMPLES
@given(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), max_size=64))
def test_no_guessed_token_is_taken(gate, guess):
    cookie = gate.session_cookie(MEMBER)
    if guess == csrf(gate, cookie):
        return
    assert send(gate, cookie, {"csrf": guess, "text": "devinée"}).status == 403
    assert stored(gate) == []


# ------------------------------------------------------------------------------------------- text


def test_an_oversized_body_is_refused_before_it_is_read_whole(gate):
    cookie = gate.session_cookie(MEMBER)
    token = csrf(gate, cookie)
    reply = send(gate, cookie, {"csrf": token, "text": "x" * (3 * replies.MAX_BYTES + 2048)})
    assert reply.status == 413 and stored(gate) == []


@pytest.mark.parametrize(("text", "message"), [
    ("x" * (replies.MAX_CHARACTERS + 1), "trop longue"),
    ("é" * replies.MAX_CHARACTERS + "x", "trop longue"),
    ("   \r\n  ", "vide"),
    ("binaire\x00\x01\x02", "pas du texte"),
    ("\x1b[31mrouge", "pas du texte"),
    ("abc\u202egnp.exe", "pas du texte"),
    ("caché\u200b", "pas du texte"),
])
def test_text_that_is_too_long_empty_or_not_text_is_refused_and_kept_in_the_form(gate, text, message):
    cookie = gate.session_cookie(MEMBER)
    reply = send(gate, cookie, {"csrf": csrf(gate, cookie), "text": text})
    page = reply.body.decode()
    assert reply.status == 400 and message in page and 'aria-invalid="true"' in page
    assert stored(gate) == []


@pytest.mark.parametrize("body", [
    b"csrf=TOKEN&text=%FF%FE",  # not UTF-8
    "csrf=TOKEN&text=caf\u00e9".encode(),  # not ASCII on the wire
    b"csrf=TOKEN&text=a&text=b",  # a field twice
    b"csrf=TOKEN&text=a&extra=1",  # a field that is not ours
    b"csrf=TOKEN&text=a&visibility=public",
    b"csrf=TOKEN&text=a&visibility=editors%0A",
])
def test_a_form_that_is_not_ours_is_a_bad_request(gate, body):
    cookie = gate.session_cookie(MEMBER)
    body = body.replace(b"TOKEN", csrf(gate, cookie).encode())
    reply = gate.request("POST", PAGE, body=body, cookie=cookie,
                         headers={"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"})
    assert reply.status == 400 and stored(gate) == []


# ---------------------------------------------------------------------------------------- budget


def test_a_member_sending_too_many_replies_waits_then_may_send_again(gate):
    cookie = gate.session_cookie(MEMBER)
    token = csrf(gate, cookie)
    for n in range(REPLY_BURST):
        assert send(gate, cookie, {"csrf": token, "text": f"réponse {n}"}).status == 303
    over = send(gate, cookie, {"csrf": token, "text": "une de trop"})
    assert over.status == 429 and int(over.header("retry-after")) > 0
    # Another member's budget is their own
    other = gate.session_cookie(OTHER)
    assert send(gate, other, {"csrf": csrf(gate, other), "text": "moi aussi"}).status == 303
    gate.clock.advance(REPLY_REFILL)
    assert send(gate, cookie, {"csrf": token, "text": "plus tard"}).status == 303
    assert len(stored(gate)) == REPLY_BURST + 2
    page = gate.get(PAGE, cookie=cookie).body.decode()
    assert page.count('class="dip-reply"') == REPLY_BURST + 1  # their own only, newest first
    assert page.index("plus tard") < page.index("réponse 0")


def test_the_form_posts_to_itself_with_a_field_for_each_thing_the_gate_reads(gate):
    page = gate.get(PAGE, cookie=gate.session_cookie(MEMBER)).body.decode()
    assert f'<form method="post" action="{PAGE}">' in page
    assert set(re.findall(r'name="(\w+)"', page)) >= {"csrf", "text", "visibility"}
    assert f'maxlength="{replies.MAX_CHARACTERS}"' in page
    assert urlencode({"next": PAGE})  # the path is plain ASCII, safe in a Location header
