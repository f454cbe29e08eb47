"""Where the mail goes and who signs in: a real SMTP server (aiosmtpd), the real gate, a real OpenID provider.

The envelope recipient (``RCPT TO``) and the ``To:`` header are exactly the validated address; hostile
forms of a member-domain address get no mail at all; a provider's ``email`` claim that is not a plain
address, or that the provider does not say is verified, signs nobody in.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from gate import oidc, tokens
from gate import store as storage
from gate.mail import Mailer, SmtpSettings
from tests.addresskit import HOSTILE, MEMBER_DOMAIN
from tests.gatekit import publish_site, running_gate, wait_for, write_members
from tests.smtpkit import smtp_fixture
from tests.test_oidc import begin, log_in, provider_factory  # noqa: F401 - the provider fixture

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


smtp = smtp_fixture()


@pytest.mark.parametrize("address", ["prenom.nom+cables@diplomatie.gouv.fr", "o'brien@xn--bcher-kva.de"])
def test_envelope_recipient_and_to_header_are_the_validated_address(smtp, address):
    controller, handler = smtp
    before = len(handler.received)
    events: list[dict] = []
    mailer = Mailer(SmtpSettings(host="127.0.0.1", port=controller.port, sender="Diplomatie <cables@example.org>"),
                    events.append)
    mailer.send(address, "https://cables.example.org/auth?token=t", minutes=15, site="https://cables.example.org")
    assert not events, events
    mail_from, rcpt_tos, message = handler.received[before]
    assert rcpt_tos == [address]
    assert message["To"] == address
    assert mail_from == "cables@example.org"


def test_hostile_forms_of_a_domain_address_get_no_mail_from_the_gate(tmp_path, smtp):
    controller, handler = smtp
    store = storage.open_store(tmp_path / "store")
    publish_site(store, "onu", {"index.html": b"<html>ONU</html>"}, "r1")
    write_members(store, {"onu": {"members": {}, "domains": [MEMBER_DOMAIN]}})
    tokens.init(tmp_path / "keys")
    hostile = [HOSTILE[k] for k in ("encoded word + comment", "comment closing", "group syntax", "two @",
                                    "percent hack", "bang path", "route syntax", "quoted with @")]
    before = len(handler.received)
    with running_gate(tmp_path / "store", tmp_path / "keys",
                      extra=("--smtp-host", "127.0.0.1", "--smtp-port", str(controller.port))) as gate:
        for text in hostile:
            answer = gate.request("POST", "/login", headers=FORM, body=urlencode({"email": text}).encode())
            assert answer.status in (200, 400), (text, answer.status)
        member = "agent@" + MEMBER_DOMAIN
        assert gate.request("POST", "/login", headers=FORM, body=urlencode({"email": member}).encode()).status == 200
        assert wait_for(lambda: len(handler.received) > before)
    received = handler.received[before:]
    # Only the member's own link went out, to exactly that mailbox.
    assert [(rcpt, m["To"]) for _, rcpt, m in received] == [([member], member)]


def test_oidc_refuses_an_email_claim_with_two_at_signs(provider_factory):  # noqa: F811
    provider = provider_factory(email=f"outsider@elsewhere.example@{MEMBER_DOMAIN}")
    config = provider.config()
    url, cookie = begin(config)
    with pytest.raises(oidc.OIDCError, match="not a plain address"):
        oidc.finish(config, log_in(url), cookie)


def test_oidc_refuses_an_email_the_provider_does_not_say_is_verified(provider_factory):  # noqa: F811
    provider = provider_factory(emailVerified="absent")
    config = provider.config()
    url, cookie = begin(config)
    with pytest.raises(oidc.OIDCError, match="not verified"):
        oidc.finish(config, log_in(url), cookie)
