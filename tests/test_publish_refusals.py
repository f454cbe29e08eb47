"""publish keeps everything serving as it is when who may read what is unsure."""

from __future__ import annotations

from contentrepo import make_repo

from gate.store import FolderStore


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
