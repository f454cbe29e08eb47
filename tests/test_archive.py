"""``diplomatie archive``: a BagIt package of one community at one version, validated with ``bagit``."""

import subprocess
import sys

import bagit
import pytest
import yaml
from contentrepo import make_repo

from pipeline import __version__
from pipeline.archive import ArchiveError, community_entry, validate

CABLE = "2026-BERLIN-0001"
PATH = f"content/2026/{CABLE}.md"


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """Version 1 published to energie on March 2nd; on March 5th its text changes and a second cable
    (not approved) arrives."""
    repo = make_repo(tmp_path_factory.mktemp("archive") / "repo")
    repo.cable(CABLE, body="Le texte d'origine.\n")
    repo.cable("2026-NEW-YORK-ONU-0001", subjects=["onu"])
    repo.commit("Two cables", date="2026-03-01T10:00:00Z")
    repo.approve(CABLE, "energie")
    repo.commit("Approve", date="2026-03-02T10:00:00Z")
    path = repo.root / PATH
    path.write_text(path.read_text().replace("d'origine", "révisé"))
    repo.approve(CABLE, "energie")
    repo.cable("2026-BERLIN-0002")
    repo.commit("Revise, approve again, add a cable", date="2026-03-05T10:00:00Z")
    return repo


def info(path):
    return bagit.Bag(str(path)).info


def test_archive_of_a_community_validates_and_names_its_version(repo, tmp_path):
    out = tmp_path / "energie-bag"
    result = repo.run("archive", "--community", "energie", "--out", str(out))
    assert result.code == 0, result.output
    assert "valid BagIt" in result.stdout
    checked = subprocess.run([sys.executable, "-m", "bagit", "--validate", "--quiet", str(out)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr  # bagit's own command line, as an archivist runs it
    bag = bagit.Bag(str(out))
    assert bag.algorithms == ["sha256"]
    assert bag.version_info == (1, 0)  # RFC 8493
    assert "bagit.txt" in (out / "tagmanifest-sha256.txt").read_text()
    assert (out / "manifest-sha256.txt").is_file()
    head = repo.git("rev-parse", "HEAD").strip()
    assert bag.info["Diplomatie-Commit"] == head
    assert bag.info["Diplomatie-Commit-Date"] == "2026-03-05T10:00:00Z"
    assert bag.info["Diplomatie-Community"] == "energie"
    assert bag.info["Diplomatie-Cable"] == CABLE  # the second cable is not approved: not in the site
    assert bag.info["Diplomatie-Tool-Version"] == __version__
    assert (out / "data/site/index.html").is_file()
    assert (out / f"data/site/2026/{CABLE}.html").is_file()
    assert (out / f"data/source/{PATH}").read_bytes() == (repo.root / PATH).read_bytes()
    assert not (out / "data/source/content/2026/2026-BERLIN-0002.md").exists()
    entry = yaml.safe_load((out / "data/source/communities.yaml").read_text())
    assert list(entry["communities"]) == ["energie"]
    assert entry["communities"]["energie"]["editors"] == ["redaction@diplomatie.gouv.fr"]


def test_archive_at_a_past_date_holds_that_version(repo, tmp_path):
    before = (repo.root / PATH).read_bytes()
    out = tmp_path / "past"
    result = repo.run("archive", "--at", "2026-03-03", "--out", str(out))
    assert result.code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["energie", "onu"]
    validate(out / "energie")
    validate(out / "onu")
    assert info(out / "energie")["Diplomatie-Commit"] == repo.git("rev-parse", "HEAD~1").strip()
    assert info(out / "onu")["Diplomatie-Cable"] == "(none)"
    source = (out / "energie" / "data/source" / PATH).read_text()
    assert "Le texte d'origine." in source
    page = (out / "energie" / f"data/site/2026/{CABLE}.html").read_text()
    assert "origine" in page and "révisé" not in page
    assert (repo.root / PATH).read_bytes() == before  # the working tree was not touched


def test_a_tampered_package_no_longer_validates(repo, tmp_path):
    out = tmp_path / "bag"
    assert repo.run("archive", "-c", "energie", "--ref", "HEAD", "--out", str(out)).code == 0
    validate(out)
    page = out / f"data/site/2026/{CABLE}.html"
    page.write_text(page.read_text().replace("révisé", "remanié"))  # same size: only the hash tells
    with pytest.raises(ArchiveError, match=f"2026/{CABLE}.html"):
        validate(out)


def test_refusals_leave_nothing_behind(repo, tmp_path):
    existing = tmp_path / "exists"
    existing.mkdir()
    result = repo.run("archive", "-c", "energie", "--out", str(existing))
    assert result.code == 1 and "already exists" in result.output
    assert list(existing.iterdir()) == []
    result = repo.run("archive", "-c", "nope", "--out", str(tmp_path / "x"))
    assert result.code == 1 and "unknown community 'nope'" in result.output
    result = repo.run("archive", "--ref", "HEAD", "--at", "2026-03-01", "--out", str(tmp_path / "y"))
    assert result.code == 2 and "not both" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists"]


def test_uncommitted_changes_are_refused_unless_a_commit_is_named(tmp_path):
    repo = make_repo(tmp_path / "dirty")
    repo.cable(CABLE)
    repo.commit("A cable")
    repo.cable("2026-BERLIN-0002")
    result = repo.run("archive", "-c", "energie", "--out", str(tmp_path / "bag"))
    assert result.code == 1 and "uncommitted changes" in result.output
    assert not (tmp_path / "bag").exists()


def test_community_entry_keeps_the_exact_lines_of_one_community():
    text = ("communities:\n  a:\n    title: A   # a comment\n    editors: [x@y.fr]\n"
            "  b:\n    title: B\n")
    assert community_entry(text, "a") == "communities:\n  a:\n    title: A   # a comment\n    editors: [x@y.fr]\n"
    assert community_entry(text, "b") == "communities:\n  b:\n    title: B\n"
    with pytest.raises(ArchiveError):
        community_entry(text, "c")


def test_community_entry_of_other_layouts_is_still_exactly_that_community():
    flow = "communities: {a: {title: A}, b: {title: B}}\nother: 1\n"
    assert yaml.safe_load(community_entry(flow, "b")) == {"communities": {"b": {"title": "B"}}}
    last = "communities:\n  a:\n    title: A\n  b:\n    title: B\n# trailing\nversion: 2\n"
    assert community_entry(last, "b") == "communities:\n  b:\n    title: B\n"


def test_archive_warns_of_personal_data_and_can_leave_the_members_out(repo, tmp_path):
    with_members = repo.run("archive", "--community", "energie", "--out", str(tmp_path / "full"))
    assert with_members.code == 0, with_members.output
    assert "personal data" in with_members.stderr and "--without-members" in with_members.stderr
    full = (tmp_path / "full/data/source/communities.yaml").read_text(encoding="utf-8")
    assert "a.martin@example.org" in full

    out = tmp_path / "no-members"
    result = repo.run("archive", "--community", "energie", "--out", str(out), "--without-members")
    assert result.code == 0, result.output
    assert "personal data" not in result.stderr
    validate(out)  # the package stays a valid BagIt
    text = (out / "data/source/communities.yaml").read_text(encoding="utf-8")
    assert "example.org" not in text and "Anne Martin" not in text
    expected = yaml.safe_load(full)
    del expected["communities"]["energie"]["members"]
    assert yaml.safe_load(text) == expected
    # every other line of the extract is kept as it was
    assert [line for line in full.splitlines() if line in text.splitlines()] == text.splitlines()


@pytest.mark.parametrize("members", [
    "    members:\n    - email: a@example.org   # first\n      name: A\n    # the rest after review\n",
    "    members: [{email: a@example.org}]\n",
    "    members:\n      - email: a@example.org\n\n      - email: b@example.org\n",
    "    members: []\n",
])
@pytest.mark.parametrize("after", ["", "    require_signed_approvals: false\n"])
def test_remove_members_takes_out_exactly_the_members(members, after):
    from pipeline.yamledit import remove_members

    head = "# header\ncommunities:\n  a:\n    title: A   # kept\n    editors: [e@example.org]\n"
    tail = "  b:\n    title: B\n"
    text = head + members + after + tail
    new = remove_members(text, "a")
    assert "example.org}" not in new and "a@example.org" not in new and "b@example.org" not in new
    assert new.startswith(head) and new.endswith(after + tail)
    data = yaml.safe_load(text)
    del data["communities"]["a"]["members"]
    assert yaml.safe_load(new) == data
