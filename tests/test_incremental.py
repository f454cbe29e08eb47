"""Incremental publication end to end: a new commit uploads only the files whose bytes changed.

No page holds the commit (the footer links to version.html; a script fills in the build line from
version.json), so an unrelated commit changes a site's version files only, and a one-cable edit
changes the cable's page and the files that list or index it."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from contentrepo import make_repo

from gate.store import FolderStore, read_manifest, read_pointer

VERSION = {"version.html", "version.json"}


@pytest.fixture
def repo(tmp_path):
    repo = make_repo(tmp_path / "repo")
    repo.cable("2026-BERLIN-0001", "Analyse du marché de l'électricité.\n", title="Le marché allemand")
    repo.cable("2026-PARIS-0002", "Le gaz en France.\n", title="Le gaz français", date=dt.date(2026, 2, 1))
    repo.cable("2026-NEW-YORK-ONU-0001", "Security Council.\n", title="Council reform", subjects=["onu"],
               language="en")
    repo.commit("three cables", date="2026-11-20T10:00:00Z")
    for cable_id, community in (("2026-BERLIN-0001", "energie"), ("2026-PARIS-0002", "energie"),
                                ("2026-NEW-YORK-ONU-0001", "onu")):
        repo.approve(cable_id, community)
    repo.commit("approvals", date="2026-11-20T10:05:00Z")
    return repo


def publish(repo, tmp_path) -> dict:
    result = repo.run("publish", "--store", str(tmp_path / "store"), "--out", str(tmp_path / "build"),
                      "--format", "json")
    assert result.code == 0, result.output
    return json.loads(result.stdout)["communities"]


def served(tmp_path, community: str) -> dict[str, str]:
    """Path -> sha256 of the community's serving release."""
    store = FolderStore(tmp_path / "store")
    manifest = read_manifest(store, community, read_pointer(store, community).release)
    return {path: entry.sha256 for path, entry in manifest.files.items()}


def blobs(tmp_path, community: str, paths: set[str]) -> set[str]:
    """The blobs of these files in the community's serving release: each file's own and its gzip and
    brotli copies (docs/storage.md), which a publication uploads with it."""
    store = FolderStore(tmp_path / "store")
    files = read_manifest(store, community, read_pointer(store, community).release).files
    return {blob for path in paths if path in files for blob in files[path].blobs()}


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def edit(repo, cable_id: str, old: str, new: str, community: str, date: str) -> None:
    path = repo.root / f"content/{cable_id[:4]}/{cable_id}.md"
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    repo.commit(f"edit {cable_id}", date=date)
    repo.approve(cable_id, community)
    repo.commit(f"approve {cable_id}", date=date)


def test_an_empty_commit_uploads_only_the_version_files(repo, tmp_path):
    publish(repo, tmp_path)
    before = {c: served(tmp_path, c) for c in ("energie", "onu")}
    repo.commit("nothing", date="2026-11-21T08:00:00Z")
    result = publish(repo, tmp_path)
    for community in ("energie", "onu"):
        assert changed(before[community], served(tmp_path, community)) == VERSION
    # Two version pages (one per site) and one version.json, with their compressed copies: version.json
    # is the same bytes in both sites, stored once.
    new = blobs(tmp_path, "energie", VERSION) | blobs(tmp_path, "onu", VERSION)
    assert sum(r["uploaded"] for r in result.values()) == len(new)
    assert len(new) <= 3 * 3


def test_an_edit_in_another_community_uploads_only_its_version_files_here(repo, tmp_path):
    publish(repo, tmp_path)
    before = served(tmp_path, "energie")
    edit(repo, "2026-NEW-YORK-ONU-0001", "Security Council.", "Security Council, enlarged.", "onu",
         "2026-11-21T08:00:00Z")
    result = publish(repo, tmp_path)
    assert changed(before, served(tmp_path, "energie")) == VERSION
    assert result["energie"]["uploaded"] == len(blobs(tmp_path, "energie", VERSION))


def test_a_cable_body_edit_uploads_its_page_the_search_index_and_the_version_files(repo, tmp_path):
    publish(repo, tmp_path)
    before = served(tmp_path, "energie")
    edit(repo, "2026-BERLIN-0001", "l'électricité.", "l'électricité et du gaz.", "energie", "2026-11-21T08:00:00Z")
    result = publish(repo, tmp_path)
    after = served(tmp_path, "energie")
    paths = changed(before, after)
    assert {p for p in paths if not p.startswith("pagefind/")} == {"2026/2026-BERLIN-0001.html", *VERSION}
    assert_search_pieces(paths, after)
    assert result["energie"]["uploaded"] == len(blobs(tmp_path, "energie", paths))


def test_a_cable_title_edit_uploads_its_page_the_indexes_listing_it_the_search_index_and_the_feed(repo, tmp_path):
    publish(repo, tmp_path)
    before = served(tmp_path, "energie")
    edit(repo, "2026-BERLIN-0001", "title: Le marché allemand", "title: Le marché allemand en 2026", "energie",
         "2026-11-21T08:00:00Z")
    result = publish(repo, tmp_path)
    after = served(tmp_path, "energie")
    paths = changed(before, after)
    assert {p for p in paths if not p.startswith("pagefind/")} == {
        "2026/2026-BERLIN-0001.html", "index.html", "dates/2026.html", "posts/berlin.html",
        "subjects/energie.html", "feed.xml", *VERSION}
    assert_search_pieces(paths, after)
    assert result["energie"]["uploaded"] == len(blobs(tmp_path, "energie", paths))


def assert_search_pieces(paths: set[str], after: dict) -> None:
    """An edit uploads pieces of the search index, not all of it: the cable's fragment, the word
    index chunks holding changed words, the metadata file and the entry file naming them, all in the
    cable's slice (its year: 2026)."""
    search = {p for p in paths if p.startswith("pagefind/") and p in after}
    assert "pagefind/2026/pagefind-entry.json" in search
    assert all(p.startswith("pagefind/2026/") for p in search), search
    assert any(p.endswith(".pf_meta") for p in search)
    assert len([p for p in search if p.startswith("pagefind/2026/fragment/")]) == 1
    assert not any(p.endswith(".js") or p.endswith(".pagefind") for p in search)  # the library: unchanged


def version_rows(tmp_path, cable_id: str) -> tuple[str, str]:
    page = (tmp_path / "build/energie" / f"2026/{cable_id}.html").read_text(encoding="utf-8")
    row = '<dt data-pagefind-ignore>{}</dt> <dd data-pagefind-ignore>'
    number = page.split(row.format("Version"), 1)[1].split("</dd>", 1)[0]
    changed_on = page.split(row.format("Dernière modification"), 1)[1].split("</dd>", 1)[0]
    return number, changed_on


def test_a_cable_page_shows_its_version_and_the_date_of_its_last_change_from_git(repo, tmp_path):
    publish(repo, tmp_path)
    assert version_rows(tmp_path, "2026-BERLIN-0001") == (
        "1", '<time datetime="2026-11-20T10:00:00Z">20 novembre 2026</time>')  # approvals are no change
    edit(repo, "2026-BERLIN-0001", "Analyse du marché", "Nouvelle analyse du marché", "energie",
         "2026-12-02T09:30:00Z")
    publish(repo, tmp_path)
    assert version_rows(tmp_path, "2026-BERLIN-0001") == (
        "2", '<time datetime="2026-12-02T09:30:00Z">2 décembre 2026</time>')
    assert version_rows(tmp_path, "2026-PARIS-0002")[0] == "1"
    # An edit not committed yet is the next version, and says so.
    path = repo.root / "content/2026/2026-PARIS-0002.md"
    path.write_text(path.read_text(encoding="utf-8").replace("Le gaz en France.", "Le gaz, en France."),
                    encoding="utf-8")
    repo.approve("2026-PARIS-0002", "energie")
    result = repo.run("build", "--out", str(tmp_path / "build"), "--community", "energie")
    assert result.code == 0, result.output
    assert version_rows(tmp_path, "2026-PARIS-0002") == ("2", "pas encore enregistrée dans git")
