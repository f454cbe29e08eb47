"""The pipeline's one reader of git: what it answers about a real repository, and how it refuses."""

from __future__ import annotations

import datetime as dt
import os
import stat

import pytest
from contentrepo import make_repo

from pipeline.gitrepo import GitLog, GitRepo, NotARepository, UnknownRef, uncommitted

CABLE = "content/2026/2026-BERLIN-0001.md"


def test_a_folder_that_is_not_the_top_of_a_repository_is_refused(tmp_path):
    with pytest.raises(NotARepository, match="is not a git repository"):
        GitRepo(tmp_path)
    repo = make_repo(tmp_path / "repo")
    (repo.root / "content").mkdir()
    with pytest.raises(NotARepository):
        GitRepo(repo.root / "content")  # its parents are not searched


def test_a_repository_without_commits_has_no_head_and_no_history(tmp_path):
    git = GitRepo(make_repo(tmp_path).root)
    assert git.head() is None
    assert git.file_log(["content/"]) == {}


def test_the_log_lists_each_files_changes_oldest_first_with_its_blob(tmp_path):
    repo = make_repo(tmp_path)
    repo.write(CABLE, "one\n")
    first = repo.commit("add", date="2026-03-01T10:00:00+01:00")
    repo.write(CABLE, "two\n")
    repo.write("content/2026/other.md", "x\n")
    second = repo.commit("edit")
    (repo.root / CABLE).unlink()
    third = repo.commit("delete")
    log = GitRepo(repo.root).file_log(["content/"])
    assert [t.commit for t in log[CABLE]] == [first, second, third]
    assert [t.blob for t in log[CABLE]] == [repo.git("rev-parse", f"{first}:{CABLE}").strip(),
                                            repo.git("rev-parse", f"{second}:{CABLE}").strip(), None]
    assert log[CABLE][0].date == dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    assert log[CABLE][0].author == "Agent <agent@diplomatie.gouv.fr>"
    assert [t.commit for t in log["content/2026/other.md"]] == [second]
    assert GitRepo(repo.root).blob(log[CABLE][1].blob) == b"two\n"
    assert [t.commit for t in GitRepo(repo.root).file_log([CABLE], ref=first)[CABLE]] == [first]


def test_a_merge_counts_only_where_it_changed_the_file_against_every_parent(tmp_path):
    repo = make_repo(tmp_path)
    repo.write(CABLE, "one\n")
    repo.commit("add")
    repo.git("checkout", "-q", "-b", "side")
    repo.write(CABLE, "side\n")
    side = repo.commit("side edit")
    repo.git("checkout", "-q", "main")
    repo.write("README", "x\n")
    repo.commit("unrelated")
    repo.git("merge", "-q", "--no-ff", "--no-edit", "side")  # takes the side's version as it is
    assert [t.commit for t in GitRepo(repo.root).file_log([CABLE])[CABLE]][1:] == [side]
    repo.git("checkout", "-q", "side")
    repo.write(CABLE, "side again\n")
    repo.commit("side edit 2")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "--no-commit", "side")
    repo.write(CABLE, "resolved by hand\n")  # a version neither parent had
    merge = repo.commit("merge")
    touches = GitRepo(repo.root).file_log([CABLE])[CABLE]
    assert touches[-1].commit == merge
    assert GitRepo(repo.root).blob(touches[-1].blob) == b"resolved by hand\n"


def test_the_git_command_alone_reads_the_history_gitpython_reads(tmp_path):
    """GitLog (``approve``'s reader, without GitPython) answers what GitRepo answers: every change of
    every file (merges, deletions, an author's name in any script), the same blobs; nothing for a
    repository without commits; a folder that is not the top of a repository refused."""
    with pytest.raises(NotARepository):
        GitLog(tmp_path)
    repo = make_repo(tmp_path / "repo")
    assert GitLog(repo.root).file_log(["content/"]) == {}
    (repo.root / "content").mkdir()
    with pytest.raises(NotARepository):
        GitLog(repo.root / "content")
    repo.write(CABLE, "one\n")
    repo.commit("add", date="2026-03-01T10:00:00+01:00")
    repo.git("checkout", "-q", "-b", "side")
    repo.write(CABLE, "side\n")
    repo.git("add", "-A")
    repo.git("-c", "user.name=Zoë Ἀθηνᾶ Иванова", "commit", "-q", "-m", "side edit")
    repo.git("checkout", "-q", "main")
    repo.write("content/2026/other.md", "x\n")
    repo.commit("unrelated")
    repo.git("merge", "-q", "--no-ff", "--no-commit", "side")
    repo.write(CABLE, "resolved by hand\n")
    repo.commit("merge")
    (repo.root / "content/2026/other.md").unlink()
    repo.commit("delete")
    for paths in (["content/"], [CABLE], ["content/2026/other.md", CABLE]):
        light, full = GitLog(repo.root).file_log(paths), GitRepo(repo.root).file_log(paths)
        assert light == full and light
        for touches in light.values():
            for touch in touches:
                for blob in (touch.blob, *touch.before):
                    if blob is not None:
                        assert GitLog(repo.root).blob(blob) == GitRepo(repo.root).blob(blob)
    assert "Zoë Ἀθηνᾶ Иванова" in {t.author.split(" <")[0] for t in GitLog(repo.root).file_log([CABLE])[CABLE]}


def test_refs_and_dates_name_commits_or_are_refused(tmp_path):
    repo = make_repo(tmp_path)
    repo.write(CABLE, "old\n")
    old = repo.commit("old", date="2026-03-01T12:00:00Z")
    repo.write(CABLE, "new\n")
    repo.commit("new", date="2026-03-05T12:00:00Z")
    git = GitRepo(repo.root)
    commit, files = git.snapshot(at=dt.datetime(2026, 3, 3, tzinfo=dt.UTC))
    assert commit.id == old and commit.time == dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    assert files.read(CABLE) == b"old\n"
    with pytest.raises(UnknownRef, match="no commit named 'nope'"):
        git.snapshot("nope")
    with pytest.raises(UnknownRef, match="no commit on or before 2026-02-01"):
        git.snapshot(at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    with pytest.raises(UnknownRef):
        git.file_log([CABLE], ref="nope")


def test_a_snapshot_reads_git_objects_not_the_working_tree(tmp_path):
    repo = make_repo(tmp_path)
    repo.write(CABLE, "committed\n")
    repo.write("content/2026/a.md", "a\n")
    os.symlink("/etc/passwd", repo.root / "content/2026/link.md")
    repo.commit("add")
    repo.write(CABLE, "edited, not committed\n")
    git = GitRepo(repo.root)
    _, files = git.snapshot("HEAD")
    assert files.read(CABLE) == b"committed\n"
    assert [f.path for f in files.files("content")] == sorted([CABLE, "content/2026/a.md", "content/2026/link.md"])
    assert stat.S_ISLNK(files.file("content/2026/link.md").mode)
    assert not stat.S_ISLNK(files.file(CABLE).mode) and files.file(CABLE).size == len(b"committed\n")
    assert files.file("content/2026") is None and files.file("nothing.md") is None
    assert list(files.files(CABLE)) == []
    with pytest.raises(FileNotFoundError):
        files.read("nothing.md")
    assert git.is_dirty() and uncommitted(repo.root, ["content"])
    (tmp_path / "elsewhere").mkdir()
    assert not uncommitted(tmp_path / "elsewhere", ["content"])


def test_tags_are_created_once_and_their_names_checked(tmp_path):
    repo = make_repo(tmp_path)
    commit = repo.commit("first")
    git = GitRepo(repo.root)
    assert git.tag_commit("published/energie/r1") is None
    git.create_tag("published/energie/r1", commit, "Published release r1\n")
    assert git.tag_commit("published/energie/r1") == commit
    assert repo.git("cat-file", "-t", "published/energie/r1").strip() == "tag"  # annotated
    assert not git.valid_tag_name("published/energie/a..b")
    assert git.first_tracked("content") is None and git.first_tracked(".") == "communities.yaml"
