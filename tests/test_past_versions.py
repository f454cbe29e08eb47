"""Any past version: a build from git objects as of a date reproduces, byte for byte, the release that
was published from that version; so does the archive of that date."""

import datetime as dt
import hashlib
import json

from contentrepo import make_repo

from gate.store import FolderStore, read_manifest
from pipeline.audit import SITE_DATA
from pipeline.build import build_sites
from pipeline.history import published_versions
from pipeline.plan import make_plan
from pipeline.repository import load
from pipeline.signatures import signatures_for

CABLE = "2026-BERLIN-0001"
PATH = f"content/2026/{CABLE}.md"


def published_files(store, community):
    pointer = json.loads((store / "communities" / community / "current.json").read_text())
    manifest = read_manifest(FolderStore(store), community, pointer["release"])
    return manifest, {path: entry.sha256 for path, entry in manifest.files.items()}


def site_files(folder):
    """The files of a built site as published (the build's own notes under .diplomatie/ are not)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and SITE_DATA not in p.relative_to(folder).parts}


def test_build_at_a_past_date_reproduces_the_release_published_then(tmp_path):
    repo = make_repo(tmp_path / "repo")
    repo.cable(CABLE, body="Le texte d'origine.\n")
    repo.approve(CABLE, "energie")
    published_commit = repo.commit("A cable, approved", date="2026-03-02T10:00:00Z")
    store = tmp_path / "store"
    result = repo.run("publish", "--store", str(store), "--out", str(tmp_path / "published-build"))
    assert result.code == 0, result.output
    manifest, published = published_files(store, "energie")
    assert manifest.commit == published_commit

    # Later: the cable is revised and approved again, another cable arrives, and the working tree
    # holds an uncommitted edit. None of it may leak into the rebuild of March 3rd.
    path = repo.root / PATH
    path.write_text(path.read_text().replace("d'origine", "révisé"))
    repo.approve(CABLE, "energie")
    repo.cable("2026-BERLIN-0002")
    repo.approve("2026-BERLIN-0002", "energie")
    repo.commit("Revision and a second cable", date="2026-03-05T10:00:00Z")
    path.write_text(path.read_text().replace("révisé", "en cours de rédaction"))

    past = load(repo.root, at=dt.datetime(2026, 3, 3, 23, 59, tzinfo=dt.UTC))
    assert past.commit == published_commit
    plan = make_plan(past, now=dt.datetime(2026, 3, 3, 23, 59, tzinfo=dt.UTC), signatures=signatures_for(past))
    versions = published_versions(past, plan.published(["energie"]), tmp_path / "fresh-cache")
    rebuilt = build_sites(past, plan, tmp_path / "rebuilt", versions=versions, communities=["energie"],
                          progress=False, cache_dir=tmp_path / "fresh-cache")["energie"]
    assert rebuilt.commit == published_commit
    assert site_files(rebuilt.path) == published

    archived = repo.run("archive", "-c", "energie", "--at", "2026-03-03", "--out", str(tmp_path / "bag"))
    assert archived.code == 0, archived.output
    assert site_files(tmp_path / "bag" / "data" / "site") == published


def test_build_and_publish_take_a_past_version_and_tag_what_they_publish(tmp_path):
    repo = make_repo(tmp_path / "repo")
    repo.cable(CABLE, body="Le texte d'origine.\n")
    repo.approve(CABLE, "energie")
    first = repo.commit("A cable, approved", date="2026-03-02T10:00:00Z")
    store = tmp_path / "store"
    result = repo.run("publish", "--store", str(store), "--out", str(tmp_path / "b1"), "--tag")
    assert result.code == 0, result.output
    manifest, published = published_files(store, "energie")
    tag = f"published/energie/{manifest.release}"
    assert f"tagged {tag}" in result.stdout
    assert repo.git("rev-parse", f"{tag}^{{commit}}").strip() == first
    assert repo.git("cat-file", "-t", tag).strip() == "tag"

    path = repo.root / PATH
    path.write_text(path.read_text().replace("d'origine", "révisé"))
    repo.approve(CABLE, "energie")
    repo.commit("Revision", date="2026-03-05T10:00:00Z")

    built = repo.run("build", "--at", "2026-03-03", "--out", str(tmp_path / "b2"), "--cache", str(tmp_path / "c2"))
    assert built.code == 0, built.output
    assert site_files(tmp_path / "b2" / "energie") == published
    by_tag = repo.run("build", "--ref", tag, "--out", str(tmp_path / "b3"), "--cache", str(tmp_path / "c3"))
    assert by_tag.code == 0, by_tag.output
    assert site_files(tmp_path / "b3" / "energie") == published
    assert repo.run("build", "--ref", "HEAD", "--at", "2026-03-03").code == 2


def test_publishing_a_past_version_keeps_todays_members(tmp_path):
    repo = make_repo(tmp_path / "repo")
    repo.cable(CABLE)
    repo.approve(CABLE, "energie")
    repo.commit("A cable, approved", date="2026-03-02T10:00:00Z")
    text = (repo.root / "communities.yaml").read_text()
    repo.write("communities.yaml", text.replace("a.martin@example.org", "b.durand@example.org"))
    repo.commit("Replace a member", date="2026-03-05T10:00:00Z")
    store = tmp_path / "store"
    result = repo.run("publish", "--store", str(store), "--at", "2026-03-03", "--out", str(tmp_path / "b"))
    assert result.code == 0, result.output
    members = json.loads((store / "members.json").read_text())
    assert list(members["communities"]["energie"]["members"]) == ["b.durand@example.org"]
    manifest, _ = published_files(store, "energie")
    assert manifest.commit == repo.git("rev-parse", "HEAD~1").strip()
