"""``diplomatie check PATH…``: an agent checks their own cable and sees only its problems (issue 18),
and ``check`` tells the same whether or not it reuses what an earlier run parsed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from contentrepo import cable_text, cli, make_repo

PROJECT = Path(__file__).resolve().parent.parent
MINE = "content/2026/2026-BERLIN-0001.md"
THEIRS = "content/2026/2026-BERLIN-0002.md"


def findings(result) -> list[tuple[str, str]]:
    return [(f["path"], f["code"]) for f in json.loads(result.stdout)["findings"]]


@pytest.fixture
def repo(tmp_path):
    """My clean cable, and someone else's with an error and a warning."""
    r = make_repo(tmp_path / "repo")
    r.cable("2026-BERLIN-0001", subjects=["energie"])
    r.cable("2026-BERLIN-0002", title="SECRET", subjects=["peche"])
    return r


def test_my_cable_alone_passes_while_the_repository_has_errors(repo):
    everything = repo.run("check", "--format", "json")
    assert everything.code == 1 and {p for p, _ in findings(everything)} == {THEIRS, "communities.yaml"}
    mine = repo.run("check", "--format", "json", MINE)
    assert mine.code == 0 and findings(mine) == []  # nor communities.yaml's warnings (W605, unsigned)
    theirs = repo.run("check", "--format", "json", THEIRS)
    assert theirs.code == 1 and findings(theirs) == [f for f in findings(everything) if f[0] == THEIRS]


def test_text_output_names_only_the_given_cables(repo):
    result = repo.run("check", MINE)
    assert result.code == 0 and "2026-BERLIN-0002" not in result.stdout and "0 errors, 0 warnings" in result.stdout


def test_an_id_used_by_another_file_is_reported_with_either_file(repo):
    repo.write("content/2026/2026-BERLIN-0003.md", cable_text("2026-BERLIN-0001"))  # a copy, same id
    for path in (MINE, "content/2026/2026-BERLIN-0003.md"):
        result = repo.run("check", "--format", "json", path)
        assert result.code == 1
        assert ("content/2026/2026-BERLIN-0003.md", "E208") in findings(result)


def test_a_stale_approval_of_my_cable_is_mine_to_see(repo):
    repo.commit("cables")
    repo.approve("2026-BERLIN-0001", "energie")
    path = repo.root / MINE
    path.write_text(path.read_text().replace("Le texte du télégramme.", "Le texte corrigé."))
    result = repo.run("check", "--strict", "--format", "json", MINE)
    assert result.code == 1 and findings(result) == [(MINE, "W601")]


def test_communities_yaml_is_reported_when_it_concerns_my_cable(repo):
    text = (repo.root / "communities.yaml").read_text()
    repo.communities(text.replace("subjects:\n      - energie", "subjects:\n      - energie\n      exclude:\n"
                                  "      - 2026-BERLIN-0009\n      cables:\n      - 2026-PARIS-0001"))
    mine = repo.run("check", "--format", "json", MINE)
    assert mine.code == 0 and findings(mine) == []  # about other cables: not mine
    repo.cable("2026-PARIS-0001", post="PARIS")
    repo.git("rm", "-q", "--cached", "--ignore-unmatch", "x")
    paris = repo.run("check", "--format", "json", "content/2026/2026-PARIS-0001.md")
    assert findings(paris) == []  # the rule naming it now finds it
    other = repo.run("check", "--format", "json", "content/2026/2026-PARIS-0001.md", MINE)
    assert other.code == 0
    everything = repo.run("check", "--format", "json")
    assert ("communities.yaml", "E402") in findings(everything)  # 2026-BERLIN-0009: nobody's cable here


def test_an_unknown_cable_named_by_communities_yaml_is_reported_to_its_author(repo):
    text = (repo.root / "communities.yaml").read_text()
    repo.communities(text.replace("subjects:\n      - energie", "subjects:\n      - energie\n      cables:\n"
                                  "      - 2026-BERLIN-0001\n      exclude:\n      - 2026-BERLIN-00012"))
    result = repo.run("check", "--format", "json", MINE)
    assert findings(result) == []  # 2026-BERLIN-00012 is another id, not a longer spelling of mine
    repo.communities(text.replace("language: fr", "language: [fr"))
    broken = repo.run("check", "--format", "json", MINE)
    assert broken.code == 1 and findings(broken)[0][0] == "communities.yaml"  # unreadable: every cable depends on it


@pytest.mark.parametrize("path", ["communities.yaml", "content/2026", "content/2026/absent.md",
                                  "content/notes.txt", "content/2026/2026-BERLIN-0001.txt", "../outside.md"])
def test_a_path_that_is_not_a_cable_file_is_a_usage_error(repo, path):
    (repo.root / "content/notes.txt").write_text("notes\n")
    (repo.root / "content/2026/2026-BERLIN-0001.txt").write_text("notes\n")
    (repo.root.parent / "outside.md").write_text(cable_text("2026-BERLIN-0009"))
    result = repo.run("check", path)
    assert result.code == 2
    assert "is not a cable file" in result.output and "content/<year>/<id>.md" in result.output


def test_paths_are_relative_to_the_current_folder_or_to_the_root(repo):
    result = cli("check", THEIRS, cwd=repo.root)
    assert result.returncode == 1 and "2026-BERLIN-0001" not in result.stdout and "E302" in result.stdout
    result = cli("check", "--root", str(repo.root), MINE, cwd=repo.root.parent)  # relative to the root
    assert result.returncode == 0, result.stderr
    result = cli("check", "--root", "repo", f"repo/{MINE}", cwd=repo.root.parent)  # relative to here
    assert result.returncode == 0, result.stderr


def check_both_ways(root: Path) -> None:
    """``check`` of everything, warm cache, cold cache and no cache: the same report."""
    shutil.rmtree(root / ".cache", ignore_errors=True)
    plain = cli("check", "--no-cache", "--format", "json", "--root", str(root))
    cold = cli("check", "--format", "json", "--root", str(root))
    warm = cli("check", "--format", "json", "--root", str(root))
    assert plain.stdout == cold.stdout == warm.stdout and plain.returncode == cold.returncode == warm.returncode
    assert json.loads(plain.stdout)["findings"] or plain.returncode == 0


def test_the_sample_content_checks_the_same_with_and_without_the_cache(tmp_path):
    root = tmp_path / "sample"
    shutil.copytree(PROJECT / "content", root / "content")
    shutil.copy(PROJECT / "communities.yaml", root)
    shutil.copy(PROJECT / "vocabulary.yaml", root)
    check_both_ways(root)


def test_a_generated_corpus_checks_the_same_with_and_without_the_cache(tmp_path):
    root = tmp_path / "corpus"
    subprocess.run([sys.executable, str(PROJECT / "bench/corpus.py"), str(root), "--cables", "40",
                    "--communities", "3", "--git"], check=True, capture_output=True)
    check_both_ways(root)
    victim = next((root / "content").rglob("*.md"))  # an edit after the cache is warm
    victim.write_text(victim.read_text().replace("\n---\n", "\n---\n\nSECRET\n\n", 1))
    check_both_ways(root)


def test_check_works_where_no_cache_can_be_written(repo):
    """A checkout where the cache folder cannot be made (here ``.cache`` is a file; a read-only
    checkout alike) is checked by parsing everything."""
    (repo.root / ".cache").write_text("not a folder\n")
    result = repo.run("check", "--format", "json", THEIRS)
    assert result.code == 1 and (THEIRS, "E302") in findings(result)
