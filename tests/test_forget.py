"""``diplomatie forget EMAIL``: nothing of the person stays in the store (every per-person key kind of
the storage contract, on a folder and on a real S3 server), spent links and sign-outs stay refused,
and the user is told, in their language, what still names them in communities.yaml and git history."""

from __future__ import annotations

import datetime as dt
import inspect
import json

import pytest

from gate import store as storage
from gate.alerts import write_preference
from gate.replies import Reply, write_reply
from pipeline import forgetting, yamledit
from pipeline.enrolment import Invitation, queue
from tests.contentrepo import COMMUNITIES, EDITOR, OWNER, make_repo

PERSON = "a.martin@example.org"
OTHER = "b.durand@example.org"
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
CABLE = "2026-BERLIN-0001"



def _json(record: dict) -> bytes:
    return json.dumps(record).encode()


#: One writer per key function of the storage contract that names a member: each writes a record of
#: that kind, as the part of the system that owns it writes it.
WRITERS = {
    "sign_in_key": lambda s, a: storage.write_sign_in(s, "energie", a, NOW),
    "invitation_key": lambda s, a: queue(s, Invitation("energie", a, "Anne", "", "research", OWNER, None), NOW),
    "invitation_sent_key": lambda s, a: s.create(storage.invitation_sent_key("energie", a, "0123abcd"), b"2026"),
    "preference_key": lambda s, a: write_preference(s, "energie", a, "weekly", storage.utc_text(NOW)),
    "baseline_key": lambda s, a: s.put(storage.baseline_key("energie", a),
                                       _json({"format": 1, "address": a, "cables": [CABLE]})),
    "alert_claim_key": lambda s, a: s.create(storage.alert_claim_key("energie", a, CABLE, 1),
                                             _json({"format": 1, "address": a, "cable": CABLE})),
    "alert_sent_key": lambda s, a: s.create(storage.alert_sent_key("energie", a, CABLE),
                                            _json({"format": 1, "address": a, "cable": CABLE})),
    "reminder_key": lambda s, a: s.create(storage.reminder_key("energie", a, NOW.date(), "owner"), b"{}"),
    "reply_notice_key": lambda s, a: s.create(
        storage.reply_notice_key("energie", a, "20261201T093005.000000Z-0123456789abcdef", "owed"),
        _json({"format": 1, "recipient": a, "community": "energie"})),
    "acceptance_key": lambda s, a: storage.write_acceptance(s, "energie", a, "sha256:" + "0" * 64, NOW),
    "read_key": lambda s, a: storage.write_read(s, "energie", CABLE, a, NOW),
    "digest_key": lambda s, a: s.put(storage.digest_key("energie", a), _json({"format": 1, "address": a})),
    "feed_key": lambda s, a: storage.write_feed_address(s, "energie", a, "0" * 64, NOW),
    "reply_key": lambda s, a: write_reply(s, Reply(community="energie", cable=CABLE, author=a, at=storage.utc_text(NOW),
                                                   visibility="editors", release="r1", digest="sha256:" + "0" * 64,
                                                   text="Merci pour ce télégramme."), NOW),
}


def personal_key_functions() -> set[str]:
    """Every public function of gate/store.py that names one member's key (it takes an ``address``)."""
    return {name for name, fn in inspect.getmembers(storage, inspect.isfunction)
            if name.endswith("_key") and not name.startswith("_") and "address" in inspect.signature(fn).parameters}


def write_everything(store, address: str) -> None:
    for writer in WRITERS.values():
        writer(store, address)
    store.create(storage.claim_key(f"link-{address}"), _json({"typ": "magic", "sub": address, "used_at": "x"}))
    store.create(storage.claim_key(f"logout-{address}"[::-1]), _json({"typ": "logout", "sub": address, "at": "y"}))


def everything(store) -> dict[str, bytes]:
    return {key: store.get(key) for key in store.list("")}


def test_the_test_writes_every_kind_of_per_person_record_the_contract_names():
    assert set(WRITERS) == personal_key_functions(), "a new per-person key kind needs a writer here"


def test_every_prefix_of_the_contract_is_personal_or_says_why_not():
    prefixes = {value for name, value in vars(storage).items() if name.endswith("_PREFIX") and isinstance(value, str) and value.endswith("/")}
    covered = set(storage.PERSONAL_PREFIXES) | set(storage.IMPERSONAL_PREFIXES) | {storage.CLAIMS_PREFIX}
    assert prefixes <= covered, prefixes - covered


def test_forget_leaves_nothing_of_the_person_in_the_store(store):
    write_everything(store, PERSON)
    write_everything(store, OTHER)
    snapshot = {"format": 1, "commit": None, "communities": {
        "energie": {"title": "É", "language": "fr", "domains": [], "members": {PERSON: None, OTHER: "2099-01-01"},
                    "names": {PERSON: "Anne Martin", OTHER: "Bernard Durand"}}}}
    store.put(storage.MEMBERS_KEY, _json(snapshot))
    before = everything(store)

    done = forgetting.forget(store, PERSON, unpublish=True)

    after = everything(store)
    member = storage.member_id(PERSON)
    for key, data in after.items():
        assert member not in key and PERSON not in key
        assert PERSON.encode() not in data.lower() and member.encode() not in data, key
    assert len(done.deleted) == len(WRITERS) and done.claims_rewritten == 2
    assert done.unpublished_from == ["energie"]
    # the other person's records are untouched, byte for byte
    theirs = {k: v for k, v in before.items() if storage.member_id(OTHER) in k or OTHER.encode() in v}
    assert theirs.keys() - {storage.MEMBERS_KEY} <= after.keys()
    assert all(after[k] == v for k, v in theirs.items() if k != storage.MEMBERS_KEY)
    assert json.loads(after[storage.MEMBERS_KEY])["communities"]["energie"]["members"] == {OTHER: "2099-01-01"}
    assert json.loads(after[storage.MEMBERS_KEY])["communities"]["energie"]["names"] == {OTHER: "Bernard Durand"}
    # a spent link and a signed-out session stay refused: their claims still exist
    assert store.exists(storage.claim_key(f"link-{PERSON}"))
    assert json.loads(store.get(storage.claim_key(f"logout-{PERSON}"[::-1]))) == {"typ": "logout", "at": "y",
                                                                                  "forgotten": True}
    # forgetting again finds nothing more
    again = forgetting.forget(store, PERSON, unpublish=True)
    assert again.deleted == [] and again.claims_rewritten == 0 and again.unpublished_from == []


def test_without_remove_member_the_snapshot_keeps_them_and_says_so(tmp_path):
    store = storage.FolderStore(tmp_path / "store")
    store.put(storage.MEMBERS_KEY, _json({"format": 1, "communities": {"energie": {"members": {PERSON: None}}}}))
    storage.write_sign_in(store, "energie", PERSON, NOW)
    done = forgetting.forget(store, PERSON, unpublish=False)
    assert done.still_published == ["energie"] and len(done.deleted) == 1
    assert PERSON in json.loads(store.get(storage.MEMBERS_KEY))["communities"]["energie"]["members"]


def _repo(tmp_path):
    repo = make_repo(tmp_path / "repo")
    text = (repo.root / "communities.yaml").read_text()
    text = text.replace("  energie:\n", "  # Les communautés de l'ambassade\n  energie:\n", 1)
    repo.write("communities.yaml", text)
    repo.commit("add Anne Martin")
    return repo


def test_forget_command_in_french_by_default_names_the_history_and_the_yaml(tmp_path, monkeypatch):
    for name in ("DIPLOMATIE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    repo = _repo(tmp_path)
    store = tmp_path / "store"
    write_everything(storage.FolderStore(store), PERSON)
    result = repo.run("forget", PERSON.upper(), "--store", str(store))
    assert result.code == 0, result.output
    out = result.stdout
    assert f"{len(WRITERS)} enregistrement(s) de {PERSON} supprimé(s)" in out
    assert "communities.yaml le ou la liste encore comme membre de : energie" in out
    commit = repo.git("log", "-1", "--format=%h").strip()
    assert "L'historique git garde l'adresse dans 1 commit(s)" in out and commit in out
    assert "journaux du gate" in out
    assert PERSON in (repo.root / "communities.yaml").read_text()  # without --remove-member: untouched


def test_forget_remove_member_edits_communities_yaml_keeping_every_other_byte(tmp_path, monkeypatch):
    monkeypatch.setenv("LANG", "en_GB.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    repo = _repo(tmp_path)
    before = (repo.root / "communities.yaml").read_text()
    store = storage.FolderStore(tmp_path / "store")
    store.put(storage.MEMBERS_KEY, _json({"format": 1, "communities": {"energie": {"members": {PERSON: None}}}}))
    result = repo.run("forget", PERSON, "--store", str(tmp_path / "store"), "--remove-member")
    assert result.code == 0, result.output
    assert "Removed from the members of energie in communities.yaml (commit it)." in result.stdout
    assert "Removed from members.json (access ended now): energie." in result.stdout
    assert "still lists them" not in result.stdout
    assert "Git history keeps the address in 1 commit(s)" in result.stdout
    after = (repo.root / "communities.yaml").read_text()
    assert PERSON not in after and "# Les communautés de l'ambassade" in after
    assert after == yamledit.remove_member(before, "energie", PERSON)
    assert "members: []" in after and repo.run("check").code == 0


def test_forget_names_roles_that_still_name_the_address(tmp_path, monkeypatch):
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    repo = make_repo(tmp_path / "repo", COMMUNITIES)
    repo.commit("start")
    result = repo.run("forget", EDITOR, "--store", str(tmp_path / "store"))
    assert result.code == 0, result.output
    assert "communities.yaml: editor of energie" in result.stdout
    assert "0 record(s)" in result.stdout


def test_forget_refuses_what_is_not_an_address(tmp_path):
    repo = make_repo(tmp_path / "repo")
    result = repo.run("forget", "not an address", "--store", str(tmp_path / "store"))
    assert result.code == 2 and "not a valid e-mail address" in result.output
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("layout", ["last", "middle"])
def test_remove_member_keeps_every_other_byte(layout):
    others = "    - email: z@example.org\n      name: Zoé\n      sector: media\n      invited_by: o@x.org\n"
    gone = "    - email: A.Martin@example.org  # Anne\n      name: Anne\n      sector: research\n      invited_by: o@x.org\n"
    members = others + gone if layout == "last" else gone + others.replace("z@", "y@") + others
    text = ("communities:\n  energie:\n    title: É\n    members:\n" + members + "    # fin des membres\n"
            "  onu:\n    title: U\n")
    after = yamledit.remove_member(text, "energie", PERSON)
    assert after == text.replace(gone, "")
    with pytest.raises(yamledit.YamlEditError):
        yamledit.remove_member(text, "onu", PERSON)


def test_forget_names_the_replies_a_member_wrote_which_their_name_is_shown_with(tmp_path, monkeypatch):
    from test_replies_publish import add_reply

    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    repo = make_repo(tmp_path / "repo", COMMUNITIES)
    repo.cable(CABLE)
    path, _reply_id = add_reply(repo, cable=CABLE)
    repo.commit("a reply")
    result = repo.run("forget", "a.martin@example.org", "--store", str(tmp_path / "store"))
    assert result.code == 0, result.output
    assert f"replies/: their reply {path}" in result.stdout
