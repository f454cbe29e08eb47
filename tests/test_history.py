"""``diplomatie history``: versions, approvals and publications of a cable, from git and the ledger."""

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
from contentrepo import EDITOR, cli, make_repo

from pipeline.history import cable_history, version_info, version_infos

PROJECT = Path(__file__).resolve().parent.parent

CABLE = "2026-BERLIN-0001"
PATH = f"content/2026/{CABLE}.md"


def day(n: int, hour: int = 10) -> str:
    return f"2026-03-{n:02d}T{hour:02d}:00:00Z"


@pytest.fixture
def repo(tmp_path):
    """A cable approved, edited (title and one body line), approved again: two versions."""
    repo = make_repo(tmp_path / "repo")
    repo.cable(CABLE, body="Premier paragraphe.\n\nDeuxième paragraphe.\n")
    repo.commit("Add a cable", date=day(1))
    repo.approve(CABLE, "energie")
    repo.commit("Approve", date=day(2))
    path = repo.root / PATH
    path.write_text(path.read_text().replace("Sécurité énergétique", "Sécurité énergétique de l'Europe")
                    .replace("Deuxième paragraphe.", "Deuxième paragraphe, révisé.\nUne ligne de plus."))
    repo.commit("Revise", date=day(3))
    repo.approve(CABLE, "energie")
    repo.commit("Approve again", date=day(4))
    return repo


def test_history_lists_each_version_with_its_changes(repo):
    history = cable_history(repo.root, CABLE)
    assert [v.number for v in history.versions] == [1, 2]
    first, second = history.versions
    assert first.date == dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
    assert first.author == "Agent <agent@diplomatie.gouv.fr>"
    assert second.date == dt.datetime(2026, 3, 3, 10, tzinfo=dt.UTC)
    assert [(c.key, c.before, c.after) for c in second.changes] == [
        ("title", "Sécurité énergétique", "Sécurité énergétique de l'Europe")]
    assert (second.added, second.removed) == (2, 1)
    assert second.commit == repo.git("rev-parse", "HEAD~1").strip()


def test_history_says_which_version_each_approval_matched(repo):
    history = cable_history(repo.root, CABLE)
    old, new = history.approvals
    assert (old.community, old.by, old.version, old.matched, old.current) == ("energie", EDITOR, 1, True, False)
    assert (new.version, new.matched, new.current) == (2, True, True)
    assert old.commit == repo.git("rev-parse", "HEAD~2").strip()
    assert new.commit == repo.git("rev-parse", "HEAD").strip()


def test_approval_typed_for_an_older_version_did_not_match(repo):
    """An approval copied from another version names a digest that was not current when it was added."""
    path = repo.root / PATH
    text = path.read_text()
    stale_digest = cable_history(repo.root, CABLE).approvals[0].digest
    path.write_text(text.replace("approvals:\n", "approvals:\n  - community: energie\n    by: "
                                 f"{EDITOR}\n    date: 2026-03-05T00:00:00Z\n    digest: {stale_digest}\n", 1))
    repo.commit("Copy an old approval", date=day(5))
    copied = [a for a in cable_history(repo.root, CABLE).approvals if a.date.day == 5]
    assert [(a.version, a.matched, a.current) for a in copied] == [(1, False, False)]


def test_history_as_of_a_past_ref(repo):
    history = cable_history(repo.root, CABLE, ref="HEAD~2")
    assert [v.number for v in history.versions] == [1]
    assert [a.current for a in history.approvals] == [True]


def test_history_command_text_and_json(repo):
    text = repo.run("history", CABLE)
    assert text.code == 0, text.output
    assert "versions (2):" in text.stdout and "approvals (2):" in text.stdout
    assert "title: 'Sécurité énergétique' → \"Sécurité énergétique de l'Europe\"; body +2 −1" in text.stdout
    assert "approves v1 (stale)" in text.stdout and "approves v2 (current)" in text.stdout
    data = json.loads(repo.run("history", CABLE, "--format", "json").stdout)
    assert [v["date"] for v in data["versions"]] == ["2026-03-01T10:00:00Z", "2026-03-03T10:00:00Z"]
    assert data["versions"][1]["metadata"] == {
        "title": {"before": "Sécurité énergétique", "after": "Sécurité énergétique de l'Europe"}}
    assert data["versions"][1]["body"] == {"added": 2, "removed": 1}
    assert [a["version"] for a in data["approvals"]] == [1, 2]
    assert "publications" not in data


def test_history_shows_publications_from_the_store_ledger(repo, tmp_path):
    store = tmp_path / "store"
    published = repo.run("publish", "--store", str(store), "--out", str(tmp_path / "build"))
    assert published.code == 0, published.output
    repo.cable("2026-BERLIN-0002")
    repo.commit("Another cable", date=day(6))
    data = json.loads(repo.run("history", CABLE, "--format", "json", "--store", str(store)).stdout)
    manifests = list((store / "releases" / "energie").glob("*.json"))
    assert len(manifests) == 1
    [publication] = data["publications"]
    assert publication["community"] == "energie"
    assert publication["action"] == "publish"
    assert publication["change"] == "added"
    assert publication["release"] == manifests[0].stem
    assert publication["commit"] == repo.git("rev-parse", "HEAD~1").strip()
    text = repo.run("history", CABLE, "--store", str(store)).stdout
    assert "publications (1):" in text and manifests[0].stem in text
    assert json.loads(repo.run("history", "2026-BERLIN-0002", "--format", "json",
                               "--store", str(store)).stdout)["publications"] == []


def test_version_info_is_the_number_and_date_of_the_last_change(repo):
    info = version_info(repo.root, PATH)
    assert (info.number, info.date) == (2, dt.datetime(2026, 3, 3, 10, tzinfo=dt.UTC))  # approvals are no change
    assert version_info(repo.root, PATH, ref="HEAD~2").number == 1
    assert version_infos(repo.root, [PATH, "content/2026/2026-BERLIN-0099.md"]) == {PATH: info}


def test_version_info_counts_an_uncommitted_edit_as_the_next_version(repo):
    from pipeline.repository import load

    path = repo.root / PATH
    path.write_text(path.read_text().replace("Premier", "Tout premier"))
    digest = load(repo.root).cables[CABLE].digest
    info = version_info(repo.root, PATH, digest=digest)
    assert (info.number, info.date) == (3, None)


def test_unknown_cable_or_missing_git_is_a_clear_error(repo, tmp_path):
    result = repo.run("history", "2026-BERLIN-0099")
    assert result.code == 1 and "holds content/2026/2026-BERLIN-0099.md" in result.output
    bad_ref = repo.run("history", CABLE, "--ref", "nope")
    assert bad_ref.code == 1 and "no commit named 'nope'" in bad_ref.output
    plain = tmp_path / "plain"
    plain.mkdir()
    result = cli("history", CABLE, "--root", str(plain))
    assert result.returncode == 1 and "not a git repository" in result.stderr
    assert "Traceback" not in result.stderr
    assert version_info(plain, PATH) is None


def test_publication_tag_is_an_annotated_tag_on_the_published_commit(repo):
    from pipeline.history import HistoryError, tag_publication

    published = repo.git("rev-parse", "HEAD~1").strip()
    name = tag_publication(repo.root, "energie", "20260303T100000.000Z-0123abcd", published,
                           cables=[CABLE], published_at="2026-03-03T10:00:00Z")
    assert name == "published/energie/20260303T100000.000Z-0123abcd"
    assert repo.git("cat-file", "-t", name).strip() == "tag"
    assert repo.git("rev-parse", f"{name}^{{commit}}").strip() == published
    message = repo.git("tag", "-l", "--format=%(contents)", name)
    assert f"Cable: {CABLE}" in message and f"Commit: {published}" in message
    assert tag_publication(repo.root, "energie", "20260303T100000.000Z-0123abcd", published) == name
    with pytest.raises(HistoryError, match="already exists"):
        tag_publication(repo.root, "energie", "20260303T100000.000Z-0123abcd", repo.git("rev-parse", "HEAD").strip())
    with pytest.raises(HistoryError, match="not a valid tag name"):
        tag_publication(repo.root, "energie", "bad..name", published)


def test_deletion_and_merge_resolutions_are_versions(repo):
    path = repo.root / PATH
    text = path.read_text()
    repo.git("rm", "-q", PATH)
    repo.commit("Remove", date=day(7))
    repo.write(PATH, text)
    repo.commit("Restore", date=day(8))
    repo.git("checkout", "-q", "-b", "side")
    path.write_text(text.replace("Premier", "Côté branche"))
    repo.commit("Side edit", date=day(9))
    repo.git("checkout", "-q", "main")
    path.write_text(text.replace("Premier", "Côté principal"))
    repo.commit("Main edit", date=day(10))
    subprocess.run(["git", "merge", "-q", "side"], cwd=repo.root, capture_output=True)
    path.write_text(text.replace("Premier", "Résolu"))
    repo.git("add", PATH)
    repo.commit("Merge with a resolution", date=day(11))
    history = cable_history(repo.root, CABLE)
    assert [(v.number, v.deleted, v.date.day) for v in history.versions][2:] == [
        (3, True, 7), (4, False, 8), (5, False, 9), (6, False, 10), (7, False, 11)]
    assert history.versions[3].changes[0].key == "id"  # a restored file is compared with nothing
    assert version_info(repo.root, PATH).number == 7


def test_version_infos_reads_each_blob_once_and_remembers_its_digest(repo):
    known: dict[str, str | None] = {}
    first = version_infos(repo.root, [PATH], known=known)
    blobs = set(repo.git("log", "--format=", "--raw", "--no-abbrev", "--", PATH).split()[3::6])
    assert blobs and blobs <= set(known) and all(d.startswith("sha256:") for d in known.values())
    assert version_infos(repo.root, [PATH], known=known) == first == {PATH: version_info(repo.root, PATH)}


def test_the_digest_that_numbers_versions_is_the_one_a_parse_gives(tmp_path):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from pipeline import cables
    from pipeline.findings import Findings

    samples = [(p.relative_to(PROJECT).as_posix(), p.read_bytes()) for p in (PROJECT / "content").rglob("*.md")]
    for path, data in samples:
        parsed = cables.parse(path, data, Findings())
        assert cables.digest(path, data) == (parsed.digest if parsed else None)

    @settings(max_examples=200, deadline=None)
    @given(front=st.text(alphabet="abcdefgilmnoprstuy:-[]{}'\" \n0123456789TZ_é", max_size=160),
           body=st.text(max_size=80), keep=st.sets(st.integers(0, 12)))
    def same(front, body, keep):
        base = samples[0][1].decode().split("---\n")[1].splitlines(keepends=True)
        lines = "".join(line for i, line in enumerate(base) if i not in keep)
        data = f"---\n{lines}{front}\n---\n{body}".encode()
        parsed = cables.parse(samples[0][0], data, Findings())
        assert cables.digest(samples[0][0], data) == (parsed.digest if parsed else None)

    same()
