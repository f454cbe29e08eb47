"""/login against a real SMTP server (aiosmtpd, started here) and the real gate: links, same answer for all.

The budgets and the timing of /login are specified in process, with a fake clock: tests/test_gate_throttle.py.
"""

from __future__ import annotations

import email.header
import re
import time
from urllib.parse import urlsplit

import pytest

from gate import store as storage
from gate import tokens
from tests.gatekit import (
    cookie_of,
    follow_link,
    publish_site,
    running_gate,
    wait_for,
    write_members,
)
from tests.smtpkit import smtp_fixture

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


smtp = smtp_fixture()


@pytest.fixture(scope="module")
def gate(tmp_path_factory, smtp):
    controller, _ = smtp
    base = tmp_path_factory.mktemp("login")
    store = storage.open_store(base / "store")
    publish_site(store, "presse", {"index.html": b"<html>CONTENT-OF-PRESSE</html>"}, "r1")
    publish_site(store, "business", {"index.html": b"<html>CONTENT-OF-BUSINESS</html>"}, "r1")
    write_members(store, {"presse": {"members": {"a@press.org": None, "c@both.org": None}},
                          "business": {"members": {"c@both.org": None, "limit@biz.org": None}}})
    tokens.init(base / "keys")
    with running_gate(base / "store", base / "keys",
                      extra=("--smtp-host", "127.0.0.1", "--smtp-port", str(controller.port),
                             "--smtp-from", "cables@example.org")) as running:
        yield running


def login(gate, address: str, next_path: str | None = None):
    body = f"email={address}" + (f"&next={next_path}" if next_path else "")
    return gate.request("POST", "/login", headers=FORM, body=body.encode())


def link_in(message) -> str:
    """The link in the text part of the e-mail (multipart: text and HTML)."""
    text = next(part for part in message.walk() if part.get_content_type() == "text/plain").get_payload(decode=True).decode()
    return re.search(r"(http://\S+/auth\?token=\S+)", text).group(1)


def test_member_receives_a_one_time_link_that_signs_in(gate, smtp):
    _, inbox = smtp
    form = gate.get("/login?next=/c/business/")
    assert form.status == 200 and b'name="email"' in form.body and b'value="/c/business/"' in form.body
    reply = login(gate, "C@Both.org", "/c/business/")
    assert reply.status == 200
    assert wait_for(lambda: inbox.to("c@both.org"), timeout=10)
    message = inbox.to("c@both.org")[-1]
    assert message["From"] == "Diplomatie <cables@example.org>"  # the service's name, the operator's address
    # About the community the member was going to, in its language (French here), text and HTML.
    subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
    assert subject == "Votre lien de connexion — Business" and message["Content-Language"] == "fr"
    assert [p.get_content_type() for p in message.walk()] == ["multipart/alternative", "text/plain", "text/html"]
    link = link_in(message)
    parts = urlsplit(link)
    auth = follow_link(gate, f"{parts.path}?{parts.query}")
    assert auth.status == 303 and auth.header("location") == "/c/business/"
    cookie = cookie_of(auth)
    home = gate.get("/", cookie=cookie)
    assert b"/c/presse/" in home.body and b"/c/business/" in home.body
    assert gate.get("/c/business/", cookie=cookie).status == 200
    # the link works once
    assert gate.get(f"{parts.path}?{parts.query}").status == 400
    # a magic link is not an invitation: its token carries no community and typ "magic"
    token = parts.query.split("token=", 1)[1].split("&", 1)[0]
    ring = tokens.load(gate.keys_dir)
    claims = tokens.verify(ring, token, typ=tokens.MAGIC, issuer=gate.base, audience=gate.base)
    assert claims.exp - claims.iat == tokens.MAGIC_TTL


def test_same_answer_for_members_and_strangers(gate, smtp):
    _, inbox = smtp
    member = login(gate, "a@press.org")
    stranger = login(gate, "nobody@example.org")
    assert member.status == stranger.status == 200
    assert member.body == stranger.body
    assert wait_for(lambda: inbox.to("a@press.org"), timeout=10)
    time.sleep(0.5)
    assert not inbox.to("nobody@example.org")


def test_invalid_address_and_cross_site_post_are_refused(gate):
    assert login(gate, "not-an-address").status == 400
    cross = gate.request("POST", "/login", headers={**FORM, "Origin": "https://evil.example"},
                         body=b"email=a@press.org")
    assert cross.status == 403
