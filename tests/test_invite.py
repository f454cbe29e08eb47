"""``diplomatie invite``: a member added (or renewed) in communities.yaml, every other byte kept,
refused whole on any error; the invitation queued in the store and e-mailed exactly once, after the
publish that lets the member in, in the community's language, from its owner's name."""

from __future__ import annotations

import copy
import datetime as dt
import email.header
import json

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gate import store as storage
from gate import tokens
from pipeline import enrolment
from tests.contentrepo import COMMUNITIES, EDITOR, OWNER, make_repo
from tests.smtpkit import smtp_fixture

smtp = smtp_fixture()
TODAY = dt.datetime.now(dt.UTC).date()
NEXT_YEAR = (TODAY + dt.timedelta(days=300)).isoformat()

#: A communities.yaml as people write it: comments, quoting, spacing, a flow list, blank lines.
HANDWRITTEN = """\
# Communautés de partage — tenu à la main
communities:
  energie:   # l'énergie
    title: "Énergie en Europe"
    description: 'Analyses des postes européens sur l''énergie.'
    language: fr
    owner: ambassadeur@diplomatie.gouv.fr
    owner_name: Marc Vasseur
    owner_title: Ambassadeur
    editors: [redaction@diplomatie.gouv.fr]
    select:
      subjects: [energie]
    require_signed_approvals: false
    members:
      - email: a.martin@example.org   # la première
        name: Anne Martin
        sector: research
        invited_by: ambassadeur@diplomatie.gouv.fr
        expires: 2099-06-30

      # les suivants après la revue
  onu:
    title: United Nations
    description: Multilateral affairs.
    language: en
    owner: ambassadeur@diplomatie.gouv.fr
    owner_name: Claire Dubois
    editors:
      - redaction@diplomatie.gouv.fr
    select: {posts: [NEW-YORK-ONU]}
    require_signed_approvals: false
"""


def invite(repo, store, *args: str):
    return repo.run("invite", *args, "--store", str(store))


def new_lines(old: str, new: str) -> list[str]:
    """The lines of ``new`` that are not in ``old``, asserting every line of ``old`` is kept in order."""
    old_lines, lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    extra = len(lines) - len(old_lines)
    for k in range(len(lines) - extra + 1):
        if lines[:k] + lines[k + extra:] == old_lines:
            return lines[k:k + extra]
    raise AssertionError("the edit changed a line it was not about")


def test_invite_adds_the_member_keeping_every_other_byte(tmp_path):
    repo = make_repo(tmp_path / "repo", HANDWRITTEN)
    result = invite(repo, tmp_path / "store", "energie", "Zoe.Ndiaye@Example.org", "--name", "Zoé Ndiaye",
                    "--organisation", "Le Monde", "--sector", "media", "--expires", NEXT_YEAR, "--by", EDITOR)
    assert result.code == 0, result.output
    assert "zoe.ndiaye@example.org is now a member of energie" in result.stdout
    assert "after the next publish" in result.stdout
    text = (repo.root / "communities.yaml").read_text(encoding="utf-8")
    added = new_lines(HANDWRITTEN, text)
    assert yaml.safe_load("".join(added).replace("      - ", "- ", 1).replace("        ", "  ")) == [
        {"email": "zoe.ndiaye@example.org", "name": "Zoé Ndiaye", "organisation": "Le Monde", "sector": "media",
         "invited_by": EDITOR, "expires": dt.date.fromisoformat(NEXT_YEAR)}]
    assert repo.run("check").code == 0
    queued = enrolment.queued(storage.FolderStore(tmp_path / "store"))
    assert [(q.community, q.email, q.expires) for q in queued] == [
        ("energie", "zoe.ndiaye@example.org", dt.date.fromisoformat(NEXT_YEAR))]


def test_renewal_is_invite_again_with_a_new_date(tmp_path):
    repo = make_repo(tmp_path / "repo", HANDWRITTEN)
    result = invite(repo, tmp_path / "store", "energie", "a.martin@example.org", "--name", "Anne Martin",
                    "--sector", "research", "--expires", NEXT_YEAR, "--by", OWNER)
    assert result.code == 0, result.output
    data = yaml.safe_load((repo.root / "communities.yaml").read_text(encoding="utf-8"))
    assert data["communities"]["energie"]["members"] == [
        {"email": "a.martin@example.org", "name": "Anne Martin", "sector": "research", "invited_by": OWNER,
         "expires": dt.date.fromisoformat(NEXT_YEAR)}]
    assert "# les suivants après la revue" in (repo.root / "communities.yaml").read_text(encoding="utf-8")


def test_invite_refuses_and_leaves_the_file_untouched(tmp_path):
    repo = make_repo(tmp_path / "repo", HANDWRITTEN)
    store = tmp_path / "store"
    base = ["--name", "Zoé", "--sector", "media", "--by", EDITOR]
    cases = [
        (["energie", "zoe@example.org (Zoé)", *base], "not a plain e-mail address"),
        (["energie", "zoe@example.org", "--name", "Zoé", "--sector", "army", "--by", EDITOR], "army"),
        (["energie", "zoe@example.org", *base, "--expires", "2020-01-01"], "in the past"),
        (["energie", "zoe@example.org", *base, "--expires", "next year"], "not an ISO date"),
        (["energie", "zoe@example.org", "--name", "Zoé", "--sector", "media", "--by", "stranger@example.org"],
         "neither the owner nor an editor of 'energie'"),
        (["nowhere", "zoe@example.org", *base], "no community 'nowhere'"),
        (["energie", "zoe@example.org", "--name", " ", "--sector", "media", "--by", EDITOR], "name"),
    ]
    for args, reason in cases:
        result = invite(repo, store, *args)
        assert result.code != 0 and reason in result.output, (args, result.output)
        assert (repo.root / "communities.yaml").read_text(encoding="utf-8") == HANDWRITTEN
    assert not store.exists() or not list(storage.FolderStore(store).list(storage.INVITATIONS_PREFIX))


def test_a_file_that_does_not_check_is_refused_before_any_edit(tmp_path):
    broken = HANDWRITTEN.replace("sector: research", "sector: army")
    repo = make_repo(tmp_path / "repo", broken)
    result = invite(repo, tmp_path / "store", "energie", "zoe@example.org", "--name", "Zoé", "--sector", "media",
                    "--by", EDITOR)
    assert result.code != 0 and "fix them first" in result.output
    assert (repo.root / "communities.yaml").read_text(encoding="utf-8") == broken


def test_the_inviter_defaults_to_git_user_email(tmp_path):
    repo = make_repo(tmp_path / "repo", HANDWRITTEN)  # user.email is agent@…, not an editor
    result = invite(repo, tmp_path / "store", "energie", "zoe@example.org", "--name", "Zoé", "--sector", "media")
    assert result.code != 0 and "agent@diplomatie.gouv.fr is neither the owner nor an editor" in result.output
    repo.git("config", "user.email", EDITOR)
    before = dt.datetime.now(dt.UTC).date()  # the day may change while the command runs (a suite run past midnight)
    result = invite(repo, tmp_path / "store", "energie", "zoe@example.org", "--name", "Zoé", "--sector", "media")
    after = dt.datetime.now(dt.UTC).date()
    assert result.code == 0, result.output
    member = yaml.safe_load((repo.root / "communities.yaml").read_text(encoding="utf-8"))["communities"]["energie"][
        "members"][-1]
    assert member["invited_by"] == EDITOR
    assert member["expires"] in {before + enrolment.DEFAULT_TERM, after + enrolment.DEFAULT_TERM}


LAYOUT_VARIANTS = {
    "crlf": lambda t: t.replace("\n", "\r\n"),
    "bom": lambda t: "\ufeff" + t,
    "no trailing comment": lambda t: t.replace("\n      # les suivants après la revue", ""),
    "dash at the key's column": lambda t: t.replace(
        "      - email: a.martin@example.org   # la première\n        name: Anne Martin\n        sector: research\n"
        "        invited_by: ambassadeur@diplomatie.gouv.fr\n        expires: 2099-06-30\n",
        "    - email: a.martin@example.org   # la première\n      name: Anne Martin\n      sector: research\n"
        "      invited_by: ambassadeur@diplomatie.gouv.fr\n      expires: 2099-06-30\n"),
    "quoted": lambda t: t.replace("name: Anne Martin", "name: 'Anne Martin'"),
    "no members": lambda t: t.split("    members:")[0] + "  onu:" + t.split("  onu:")[1],
    "empty members": lambda t: t.split("    members:")[0] + "    members: []  # personne\n  onu:" + t.split("  onu:")[1],
}


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(sorted(LAYOUT_VARIANTS)), unique=True, max_size=4).filter(
           lambda v: not {"no members", "empty members"} <= set(v)),
       st.sampled_from(["energie", "onu"]), st.sampled_from(["Zoé Ndiaye", "no", "1:20", "# pas un commentaire"]))
def test_enrol_keeps_every_other_byte_whatever_the_layout(tmp_path_factory, variants, community, name):
    text = HANDWRITTEN
    for variant in sorted(variants, key=lambda v: v in ("crlf", "bom")):  # the line endings and BOM last
        text = LAYOUT_VARIANTS[variant](text)
    root = tmp_path_factory.mktemp("layout")
    (root / "communities.yaml").write_bytes(text.encode("utf-8"))
    invitation = enrolment.prepare(community, "z@example.org", name=name, organisation="", sector="agent",
                                   by=OWNER, expires=dt.date(2099, 1, 1), today=TODAY)
    enrolment.enrol(root, invitation)
    new = (root / "communities.yaml").read_bytes().decode("utf-8")
    before = text.removeprefix("\ufeff")
    if community == "energie":  # the empty list becomes the block list's head, its comment kept
        before = before.replace("members: []  # personne", "members:  # personne")
    after = new.removeprefix("\ufeff")
    assert new.startswith("\ufeff") == text.startswith("\ufeff")
    added = new_lines(before, after)
    entry = [line for line in added if line.strip() != "members:"]  # created when the community had none
    assert len(entry) == 5 and len(added) - len(entry) <= 1 and all(line.endswith("\r\n" if "crlf" in variants else "\n") for line in added)
    data = yaml.safe_load(after)
    assert data["communities"][community]["members"][-1] == {
        "email": "z@example.org", "name": name, "sector": "agent", "invited_by": OWNER, "expires": dt.date(2099, 1, 1)}
    old = yaml.safe_load(text.removeprefix("\ufeff"))
    old["communities"][community]["members"] = [*(old["communities"][community].get("members") or []),
                                                data["communities"][community]["members"][-1]]
    assert data == old


# --- the e-mail --------------------------------------------------------------------------------


def publish(repo, tmp_path, *extra: str):
    result = repo.run("publish", "--store", str(tmp_path / "store"), "--out", str(tmp_path / "build"), *extra)
    assert result.code == 0, result.output
    return result


def decoded(value: str) -> str:
    return str(email.header.make_header(email.header.decode_header(value)))


def test_the_queued_invitation_goes_out_once_after_publish(tmp_path, smtp, monkeypatch):
    controller, mailbox = smtp
    monkeypatch.setenv("DIPLOMATIE_SMTP_FROM", "cables@example.org")
    repo = make_repo(tmp_path / "repo", HANDWRITTEN)
    keys = tmp_path / "keys"
    tokens.init(keys)
    # publish's and invite's mail options are notify's: --smtp, --gate-url, --keys
    sending = ("--smtp", f"127.0.0.1:{controller.port}", "--keys", str(keys), "--gate-url", "https://cables.example.org")
    result = invite(repo, tmp_path / "store", "energie", "once@example.org", "--name", "Zoé Ndiaye", "--sector",
                    "media", "--expires", NEXT_YEAR, "--by", EDITOR, "--send", *sending)
    assert result.code == 0, result.output
    assert "not published yet" in result.stdout and not mailbox.to("once@example.org")
    # English community, never published: --send says it waits too
    invite(repo, tmp_path / "store", "onu", "un@example.org", "--name", "Ann Lee", "--sector", "research",
           "--by", EDITOR)
    repo.commit("two invitations")

    without_keys = publish(repo, tmp_path)
    assert "2 invitation(s) queued; pass --smtp, --gate-url and --keys" in without_keys.stderr
    assert not mailbox.to("once@example.org")
    first = publish(repo, tmp_path, *sending)
    assert "invitation e-mailed to once@example.org (energie)" in first.stderr
    [letter] = mailbox.to("once@example.org")
    assert decoded(letter["From"]) == "Marc Vasseur <cables@example.org>"
    assert decoded(letter["Subject"]) == "Invitation à « Énergie en Europe »"
    body = letter.get_payload()[0].get_payload(decode=True).decode()
    assert "Bonjour Zoé Ndiaye," in body and "Marc Vasseur, Ambassadeur vous invite" in body
    assert "Analyses des postes européens sur l'énergie." in body
    assert f"jusqu'au {NEXT_YEAR} inclus" in body and "https://cables.example.org/auth?token=" in body
    token = body.split("auth?token=")[1].split()[0]
    page = letter.get_payload()[1].get_payload(decode=True).decode()  # the letters' look (gate/letters.py)
    assert "République<br>française" in page and f'href="https://cables.example.org/auth?token={token}"' in page
    claims = tokens.verify(tokens.load(keys), token, typ=tokens.INVITATION, issuer="https://cables.example.org",
                           audience="https://cables.example.org")
    assert claims.sub == "once@example.org" and claims.community == "energie"
    [english] = mailbox.to("un@example.org")
    assert decoded(english["Subject"]) == "Invitation to “United Nations”"
    assert "Claire Dubois invites you" in english.get_payload()[0].get_payload(decode=True).decode()

    publish(repo, tmp_path, *sending)  # a second publish sends nothing again
    assert len(mailbox.to("once@example.org")) == 1 and len(mailbox.to("un@example.org")) == 1
    assert not enrolment.queued(storage.FolderStore(tmp_path / "store"))


def test_send_mails_at_once_when_the_member_is_published_and_renewal_waits(tmp_path, smtp, monkeypatch):
    controller, mailbox = smtp
    monkeypatch.setenv("DIPLOMATIE_ALERTS_SMTP", f"127.0.0.1:{controller.port}")  # --smtp, from the environment
    repo = make_repo(tmp_path / "repo", HANDWRITTEN)
    keys = tmp_path / "keys"
    tokens.init(keys)
    sending = ("--keys", str(keys), "--gate-url", "https://cables.example.org")
    store = storage.FolderStore(tmp_path / "store")
    # a.martin is published until 2099-06-30 once members.json is written
    store.put(storage.MEMBERS_KEY, json.dumps({"format": 1, "communities": {"energie": {
        "title": "Énergie en Europe", "members": {"a.martin@example.org": "2099-06-30"}}}}).encode())
    result = invite(repo, tmp_path / "store", "energie", "a.martin@example.org", "--name", "Anne Martin",
                    "--sector", "research", "--expires", "2099-06-30", "--by", OWNER, "--send", *sending)
    assert result.code == 0, result.output
    assert "Invitation e-mailed to a.martin@example.org." in result.stdout
    assert len(mailbox.to("a.martin@example.org")) == 1
    # a renewal with a new date is not in force until publish: --send waits
    result = invite(repo, tmp_path / "store", "energie", "a.martin@example.org", "--name", "Anne Martin",
                    "--sector", "research", "--expires", NEXT_YEAR, "--by", OWNER, "--send", *sending)
    assert "not published yet" in result.stdout and len(mailbox.to("a.martin@example.org")) == 1


def test_send_needs_the_smtp_server_the_keys_and_the_gate_url(tmp_path):
    repo = make_repo(tmp_path / "repo", HANDWRITTEN)
    result = invite(repo, tmp_path / "store", "energie", "z@example.org", "--name", "Zoé", "--sector", "media",
                    "--by", EDITOR, "--send")
    assert result.code != 0 and "--send needs --smtp, --gate-url and --keys" in result.output
    assert (repo.root / "communities.yaml").read_text(encoding="utf-8") == HANDWRITTEN


def test_a_queue_record_naming_another_address_is_refused(tmp_path):
    store = storage.FolderStore(tmp_path / "store")
    store.put(storage.invitation_key("energie", "a@example.org"),
              json.dumps({"id": "x", "community": "energie", "email": "victim@example.org"}).encode())
    try:
        enrolment.queued(store)
    except storage.StoreError as exc:
        assert "not the member of its key" in str(exc)
    else:
        raise AssertionError("a forged record was accepted")


_ = copy, COMMUNITIES


# --- link: who the gate would refuse -----------------------------------------------------------


def test_link_warns_when_the_member_is_not_published_and_refuses_an_expired_one(tmp_path):
    repo = make_repo(tmp_path / "repo", HANDWRITTEN.replace(
        "        expires: 2099-06-30\n",
        "        expires: 2099-06-30\n      - email: old@example.org\n        name: Old\n        sector: media\n"
        f"        invited_by: {OWNER}\n        expires: 2020-01-31\n"))
    keys = tmp_path / "keys"
    tokens.init(keys)
    store = tmp_path / "store"
    common = ("--keys", str(keys), "--base-url", "https://cables.example.org")
    invite(repo, store, "energie", "new@example.org", "--name", "New", "--sector", "media", "--by", EDITOR)

    fresh = repo.run("link", "energie", "new@example.org", *common, "--store", str(store))
    assert fresh.code == 0 and fresh.stdout.startswith("https://cables.example.org/auth?token=")
    assert "warning: new@example.org is not published yet" in fresh.stderr and "next publish" in fresh.stderr
    unchecked = repo.run("link", "energie", "new@example.org", *common)
    assert unchecked.code == 0 and "was not checked; pass --store" in unchecked.stderr

    expired = repo.run("link", "energie", "old@example.org", *common, "--store", str(store))
    assert expired.code != 0 and "auth?token" not in expired.output
    assert "expired on 2020-01-31" in expired.output and "invite old@example.org again" in expired.output

    storage.FolderStore(store).put(storage.MEMBERS_KEY, json.dumps({"format": 1, "communities": {"energie": {
        "title": "É", "members": {"new@example.org": None}}}}).encode())
    published = repo.run("link", "energie", "new@example.org", *common, "--store", str(store))
    assert published.code == 0 and not published.stderr
