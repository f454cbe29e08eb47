"""Errors never freeze revocation: whatever else is wrong in the repository, a member removed from
communities.yaml loses access at the next publish (members.json is written first, from today's
communities.yaml alone). Only a communities.yaml with errors stops publication, and then the
previous members.json keeps serving and the command says so."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from contentrepo import COMMUNITIES, cable_text, make_repo

from gate.membership import Membership
from gate.store import FolderStore, read_manifest, read_pointer

MEMBER = "a.martin@example.org"

#: Cables that must be held, never stop a publication: each breaks one rule in its own way
#: (the front matter line that replaces the key's own, or is added).
BROKEN = {
    "extreme embargo": "embargo: 9999-12-31T23:59:59-14:00",
    "embargo in year one": "embargo: 0001-01-01T00:00:00+14:00",
    "date in year one": "date: 0001-01-01",
    "date in year zero": "date: 0000-01-01",
    "approval from year 9999": ("approvals:\n  - community: energie\n    by: redaction@diplomatie.gouv.fr\n"
                                "    date: 9999-12-31T23:59:59-14:00\n    digest: sha256:" + "0" * 64),
    "classified": "classification: SECRET DÉFENSE",
    "unknown key": "embrago: 2026-01-01T00:00:00Z",
}


def broken_cable(line: str) -> str:
    key = line.split(":", 1)[0]
    text = cable_text("2026-BERLIN-0009", "Une note.\n")
    front, body = text.removeprefix("---\n").split("\n---\n", 1)
    kept = [x for x in front.split("\n") if not x.startswith(f"{key}:")]
    return "---\n" + "\n".join([*kept, line]) + "\n---\n" + body


@pytest.fixture
def published(tmp_path):
    """A repository with a cable in each community, published once: a.martin may read energie."""
    repo = make_repo(tmp_path / "repo")
    repo.cable("2026-BERLIN-0001", "Analyse du marché de l'électricité.\n")
    repo.cable("2026-NEW-YORK-ONU-0001", "Réforme du Conseil de sécurité.\n", subjects=["multilateral"])
    repo.approve("2026-BERLIN-0001", "energie")
    repo.approve("2026-NEW-YORK-ONU-0001", "onu")
    repo.commit("two cables")
    result = publish(repo, tmp_path)
    assert result.code == 0, result.output
    assert admits(tmp_path, MEMBER)
    return repo


def publish(repo, tmp_path, *extra):
    return repo.run("publish", "--store", str(tmp_path / "store"), "--out", str(tmp_path / "build"), *extra)


def admits(tmp_path, email: str, community: str = "energie") -> bool:
    """What the gate decides: it reads only members.json, through gate.membership's loader."""
    membership = Membership(FolderStore(tmp_path / "store"))
    membership.refresh()
    assert membership.error is None
    return membership.snapshot.admits(community, email, dt.datetime.now(dt.UTC).date())


def remove_member(repo) -> None:
    data = copy.deepcopy(COMMUNITIES)
    data["communities"]["energie"]["members"] = []
    repo.communities(data)


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_removed_member_loses_access_even_when_the_same_commit_adds_a_broken_cable(published, tmp_path, kind):
    remove_member(published)
    published.write("content/2026/2026-BERLIN-0009.md", broken_cable(BROKEN[kind]))
    published.commit(f"remove a member, add a cable with: {kind}")
    assert published.run("check").code == 1  # the cable has an error…
    result = publish(published, tmp_path)
    assert "Traceback" not in result.output
    assert result.code == 0, result.output  # …it is held, and everything else publishes
    assert not admits(tmp_path, MEMBER)
    manifest = read_manifest(FolderStore(tmp_path / "store"), "energie",
                             read_pointer(FolderStore(tmp_path / "store"), "energie").release)
    assert manifest.cables == ("2026-BERLIN-0001",)


def test_a_removed_member_loses_access_when_building_a_community_crashes(published, tmp_path, monkeypatch):
    """A crash while building one community (injected: no real input is known to crash the build)
    fails that community only; the others publish and members.json is written."""
    import pipeline.build

    real = pipeline.build.build_sites

    def crash_on_energie(repo, plan, out, *, communities=None, **kwargs):
        if communities is None or "energie" in communities:
            raise OverflowError("date value out of range")
        return real(repo, plan, out, communities=communities, **kwargs)

    monkeypatch.setattr(pipeline.build, "build_sites", crash_on_energie)
    remove_member(published)
    published.cable("2026-NEW-YORK-ONU-0002", "Océans.\n", subjects=["multilateral"])
    published.approve("2026-NEW-YORK-ONU-0002", "onu")
    published.commit("remove a member; a new cable for onu")
    result = publish(published, tmp_path)
    assert result.code == 1 and "energie" in result.output and "OverflowError" in result.output
    assert "members.json was written" in result.output and "Traceback" not in result.output
    assert not admits(tmp_path, MEMBER)
    store = FolderStore(tmp_path / "store")
    assert "2026-NEW-YORK-ONU-0002" in read_manifest(store, "onu", read_pointer(store, "onu").release).cables


def test_a_removed_member_loses_access_when_publishing_a_past_version_that_cannot_be_read(published, tmp_path):
    remove_member(published)
    published.commit("remove a member")
    result = publish(published, tmp_path, "--ref", "no-such-ref")
    assert result.code == 1 and "no-such-ref" in result.output
    assert not admits(tmp_path, MEMBER)


def test_errors_in_communities_yaml_keep_the_previous_members_and_say_so(published, tmp_path):
    before = FolderStore(tmp_path / "store").get("members.json")
    published.communities((published.root / "communities.yaml").read_text()
                          .replace("2099-06-30", "9999-12-31"))
    result = publish(published, tmp_path)
    assert result.code == 1 and "Traceback" not in result.output
    assert "nothing was published and the previous members.json keeps serving" in result.output
    assert "E204" in result.output and "outside the years 1900–2200" in result.output
    assert FolderStore(tmp_path / "store").get("members.json") == before
