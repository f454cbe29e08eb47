"""publish keeps everything serving as it is when who may read what is unsure."""

from __future__ import annotations

from contentrepo import make_repo

from gate.store import FolderStore, read_pointer


def test_errors_in_communities_yaml_publish_nothing(tmp_path):
    repo = make_repo(tmp_path / "repo")
    repo.cable("2026-BERLIN-0001")
    repo.approve("2026-BERLIN-0001", "energie")
    store = tmp_path / "store"
    args = ("publish", "--store", str(store), "--out", str(tmp_path / "build"), "--format", "json")
    assert repo.run(*args).code == 0
    before = FolderStore(store).get("members.json")
    text = (repo.root / "communities.yaml").read_text().replace("2099-06-30", "30/06/2099")
    repo.communities(text)
    result = repo.run(*args)
    assert result.code == 1
    assert "communities.yaml has errors; nothing was published" in result.output
    assert "E204" in result.output
    assert FolderStore(store).get("members.json") == before


def test_errors_in_vocabulary_yaml_publish_no_site_and_keep_the_current_releases(tmp_path):
    """A broken vocabulary holds every cable (pipeline/vocabulary.py): publishing would empty every site."""
    repo = make_repo(tmp_path / "repo")
    repo.write("vocabulary.yaml", "subjects:\n  energie:\n    fr: Énergie\n    en: Energy\n")
    repo.cable("2026-BERLIN-0001")
    repo.approve("2026-BERLIN-0001", "energie")
    store = tmp_path / "store"
    args = ("publish", "--store", str(store), "--out", str(tmp_path / "build"), "--format", "json")
    assert repo.run(*args).code == 0
    before = read_pointer(FolderStore(store), "energie")
    repo.write("vocabulary.yaml", "subjects:\n  energie:\n    fr: Énergie\n")
    result = repo.run(*args)
    assert result.code == 1
    assert "vocabulary.yaml of the version published has errors; no site was published" in result.output
    assert "vocabulary.yaml:2:3: E201" in result.output
    assert read_pointer(FolderStore(store), "energie") == before
