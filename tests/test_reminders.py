"""Reminders: a member whose published access ends within 14 days is told once (in their language,
with the owner's name), the owner gets one digest; exactly once through the store's create-if-absent,
retried when the SMTP server refused; a renewal is reminded again. Real SMTP server, real stores."""

from __future__ import annotations

import copy
import datetime as dt
import json

from gate import store as storage
from gate import tokens
from gate.letters import SmtpSettings
from pipeline.communities import membership_snapshot, parse
from pipeline.findings import Findings
from pipeline.reminders import remind
from tests.contentrepo import COMMUNITIES, OWNER, make_repo
from tests.gatekit import refusing_port
from tests.smtpkit import smtp_fixture

smtp = smtp_fixture()

NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
SITE = "https://cables.example.org"



def member(email: str, days: int | None, **extra) -> dict:
    entry = {"email": email, "name": extra.pop("name", "Anne Martin"), "sector": "research", "invited_by": OWNER, **extra}
    if days is not None:
        entry["expires"] = TODAY + dt.timedelta(days=days)
    return entry


def communities(*members: dict) -> dict:
    data = copy.deepcopy(COMMUNITIES)
    data["communities"]["energie"]["members"] = list(members)
    data["communities"]["energie"]["owner_name"] = "Marc Vasseur"
    data["communities"]["energie"]["owner_title"] = "Ambassadeur de France en Allemagne"
    return data


def parsed(data: dict) -> dict:
    import yaml

    findings = Findings()
    out = parse(yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode(), findings)
    assert not [f for f in findings if f.is_error], list(findings)
    return out


def publish_members(store, data: dict) -> None:
    store.put(storage.MEMBERS_KEY, json.dumps(membership_snapshot(parsed(data), None)).encode())


def settings(controller) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=controller.port, sender="diplomatie@example.org")


def subject(message) -> str:
    from email.header import decode_header, make_header

    return " ".join(str(make_header(decode_header(message["Subject"]))).split())


def parts(message) -> dict[str, str]:
    return {part.get_content_type(): part.get_payload(decode=True).decode() for part in message.walk()
            if not part.is_multipart()}


def test_members_ending_within_14_days_are_told_once_and_the_owner_gets_one_digest(store, smtp):
    controller, mailbox = smtp
    start = len(mailbox.received)
    data = communities(member("soon@example.org", 10, language="en", name="Sam Soon"),
                       member("today@example.org", 0, name="Toni Today"),
                       member("later@example.org", 20), member("gone@example.org", -1),
                       member("forever@example.org", None))
    publish_members(store, data)
    # invited after the last publish: the gate does not let them in yet, nothing to remind
    data["communities"]["energie"]["members"].append(member("new@example.org", 5))

    done = remind(store, parsed(data), settings(controller), NOW, SITE)

    assert sorted(a for _, a, _ in done.members) == ["soon@example.org", "today@example.org"]
    assert done.owners == [("energie", OWNER, 2)] and not done.failed
    received = mailbox.received[start:]
    assert sorted(rcpt[0] for _, rcpt, _ in received) == sorted(["soon@example.org", "today@example.org", OWNER])
    soon = next(m for _, r, m in received if r == ["soon@example.org"])
    assert soon["Content-Language"] == "en" and "ends on " + (TODAY + dt.timedelta(days=10)).isoformat() in subject(soon)
    text = parts(soon)
    assert set(text) == {"text/plain", "text/html"}
    assert "ask Marc Vasseur, Ambassadeur de France en Allemagne, who runs the community" in text["text/plain"]
    assert "Marc Vasseur" in text["text/html"] and OWNER not in text["text/plain"]
    today = next(m for _, r, m in received if r == ["today@example.org"])
    assert today["Content-Language"] == "fr" and "demandez à Marc Vasseur" in parts(today)["text/plain"]
    digest = next(m for _, r, m in received if r == [OWNER])
    body = parts(digest)["text/plain"]
    assert "Sam Soon <soon@example.org>" in body and "Toni Today <today@example.org>" in body
    assert "later@example.org" not in body and "new@example.org" not in body
    assert "diplomatie invite energie" in body

    again = remind(store, parsed(data), settings(controller), NOW + dt.timedelta(days=1), SITE)
    assert again.members == [] and again.owners == [] and len(mailbox.received) == start + 3

    # renewed to a date that again comes near: reminded again, once (and the new member, now published)
    data["communities"]["energie"]["members"][0] = member("soon@example.org", 12, language="en", name="Sam Soon")
    publish_members(store, data)
    renewed = remind(store, parsed(data), settings(controller), NOW + dt.timedelta(days=1), SITE)
    assert sorted(a for _, a, _ in renewed.members) == ["new@example.org", "soon@example.org"]
    assert renewed.owners == [("energie", OWNER, 2)]
    assert remind(store, parsed(data), settings(controller), NOW + dt.timedelta(days=2), SITE).members == []


def test_a_refused_delivery_is_retried_at_the_next_run(tmp_path, smtp):
    controller, mailbox = smtp
    store = storage.FolderStore(tmp_path / "store")
    data = communities(member("soon@example.org", 3))
    publish_members(store, data)
    with refusing_port() as port:
        nowhere = SmtpSettings(host="127.0.0.1", port=port, sender="diplomatie@example.org", timeout=2)
        failed = remind(store, parsed(data), nowhere, NOW, SITE)
    assert set(failed.failed) == {"energie soon@example.org", f"energie {OWNER}"} and not failed.members
    assert list(store.list(storage.REMINDERS_PREFIX)) == []
    start = len(mailbox.received)
    done = remind(store, parsed(data), settings(controller), NOW, SITE)
    assert [a for _, a, _ in done.members] == ["soon@example.org"] and len(mailbox.received) == start + 2


def test_remind_command_sends_and_says_so(tmp_path, smtp):
    controller, mailbox = smtp
    repo = make_repo(tmp_path / "repo", communities(member("soon@example.org", 7)))
    store = storage.FolderStore(tmp_path / "store")
    real_today = dt.datetime.now(dt.UTC).date()
    repo.communities(communities({**member("soon@example.org", None), "expires": real_today + dt.timedelta(days=7)}))
    publish_members(store, communities({**member("soon@example.org", None), "expires": real_today + dt.timedelta(days=7)}))
    keys = tmp_path / "keys"
    tokens.init(keys)
    args = ("remind", "--store", str(tmp_path / "store"), "--smtp", f"127.0.0.1:{controller.port}",
            "--gate-url", SITE, "--keys", str(keys))
    result = repo.run(*args)
    assert result.code == 0, result.output
    assert "energie: reminded soon@example.org that their access ends on" in result.stdout
    assert f"energie: told the owner {OWNER} of 1 access(es) ending soon" in result.stdout
    assert json.loads(repo.run(*args, "--format", "json").stdout) == {"members": [], "owners": [], "failed": {}}


def test_a_member_language_other_than_fr_or_en_is_refused_by_check(tmp_path):
    repo = make_repo(tmp_path / "repo", communities(member("a@example.org", 10, language="de")))
    result = repo.run("check")
    assert result.code == 1 and "E206" in result.output and "language 'de'" in result.output
