"""Commands pay for what they touch, and a warm cache never changes an answer.

``check``, ``plan`` and ``approve`` read the working tree through the parse cache
(pipeline/buildcache.py ``ParsedIndex``): each cable's parse, what the cross-file checks found in it and
what the plan needs of it are kept with the file and computed again only when the file,
communities.yaml or the code changed. These tests edit a repository in every way a merge request
can (edit, add, delete, rename a cable, claim an id twice, withdraw, change communities.yaml) and
check that the answer through a warm cache is the answer of a load that parses everything; and that
a damaged or unreadable cache is thrown away, never believed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml
from contentrepo import COMMUNITIES, EDITOR, cable_text, make_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.buildcache import PARSED
from pipeline.plan import make_plan, outline, outline_of, to_json
from pipeline.repository import load

NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
TODAY = NOW.date()


def answers(root: Path, cache: Path | None) -> tuple:
    """Everything a command tells of the whole repository: every finding, every cable field by field
    (its validity too), and the plan as ``plan`` prints it (text and JSON)."""
    repo = load(root, cache=cache, today=TODAY)
    plan = outline(repo, NOW) if cache is not None else outline_of(make_plan(repo, NOW))
    cables = [(i, dataclasses.asdict(c), c.lines) for i, c in sorted(repo.cables.items())]
    return list(repo.findings), cables, plan, to_json(plan), sorted(repo.communities.items())


def same_as_cold(root: Path, cache: Path) -> None:
    cold = answers(root, None)
    assert answers(root, cache) == cold  # through the cache as it was
    assert answers(root, cache) == cold  # and once more, through what that load kept


def index_of(cache: Path) -> Path:
    [index] = (cache / PARSED).glob("index-*.sqlite")
    return index


@pytest.fixture
def mixed(tmp_path):
    """A repository with a bit of everything the cross-file checks and the plan look at."""
    communities = json.loads(json.dumps(COMMUNITIES, default=str))
    communities["communities"]["energie"]["select"]["cables"] = ["2026-BERLIN-0004"]
    communities["communities"]["onu"]["select"]["exclude"] = ["2026-BERLIN-0003"]
    repo = make_repo(tmp_path / "repo", communities)
    repo.cable("2026-BERLIN-0001", "Premier texte.\n", subjects=["energie"])
    repo.cable("2026-BERLIN-0002", "Texte.\n", subjects=["energie"], supersedes="2026-BERLIN-0001")
    repo.cable("2026-BERLIN-0003", "Texte.\n", subjects=["energie"],
               embargo=dt.datetime(2026, 12, 24, 8, tzinfo=dt.UTC))
    repo.cable("2026-BERLIN-0004", "Texte.\n", subjects=["climat"], communities=["onu"])
    repo.cable("2026-NEW-YORK-ONU-0001", "Texte.\n", post="NEW-YORK-ONU", subjects=["climat"])
    repo.cable("2026-BERLIN-0005", "Texte.\n\nSECRET\n", subjects=["energie"])
    repo.cable("2026-BERLIN-0006", "Texte.\n", subjects=["energie"], communities=["inconnue"])
    repo.write("content/2025/2026-BERLIN-0007.md", cable_text("2026-BERLIN-0007", subjects=["energie"]))
    repo.commit("cables")
    for cable_id in ("2026-BERLIN-0001", "2026-BERLIN-0002", "2026-BERLIN-0003", "2026-BERLIN-0004"):
        repo.approve(cable_id, "energie")
    repo.approve("2026-NEW-YORK-ONU-0001", "onu")
    repo.commit("approvals")
    return repo


def edit(repo, how: str) -> None:
    """One change of the kind ``how``, as a merge request would make it."""
    content = repo.root / "content/2026"
    if how == "edit a cable":
        path = content / "2026-BERLIN-0002.md"
        path.write_text(path.read_text().replace("Texte.", "Texte revu."))
    elif how == "edit a title":
        path = content / "2026-BERLIN-0004.md"
        path.write_text(path.read_text().replace("title:", "title: Nouveau", 1))
    elif how == "add a cable":
        repo.cable("2026-BERLIN-0008", "Nouveau.\n", subjects=["energie"])
    elif how == "delete a cable another supersedes":
        (content / "2026-BERLIN-0001.md").unlink()
    elif how == "delete a cable communities.yaml names":
        (content / "2026-BERLIN-0004.md").unlink()
    elif how == "rename a cable":
        (content / "2026-BERLIN-0001.md").rename(content / "2026-BERLIN-0009.md")
    elif how == "rename to its right id":
        path = content / "2026-BERLIN-0001.md"
        path.write_text(path.read_text().replace("2026-BERLIN-0001", "2026-BERLIN-0010"))
        path.rename(content / "2026-BERLIN-0010.md")
    elif how == "claim an id twice":
        repo.write("content/2026/2026-BERLIN-0011.md", cable_text("2026-BERLIN-0003", subjects=["energie"]))
    elif how == "withdraw a cable":
        path = content / "2026-BERLIN-0002.md"
        path.write_text(path.read_text().replace("subjects:", "status: withdrawn\nsubjects:", 1))
    elif how == "break a cable":
        (content / "2026-BERLIN-0003.md").write_text("---\nid: [unclosed\n---\n")
    elif how == "remove the editor":
        data = yaml.safe_load((repo.root / "communities.yaml").read_text())
        data["communities"]["energie"]["editors"] = ["autre@diplomatie.gouv.fr"]
        repo.communities(data)
    elif how == "change a selection":
        data = yaml.safe_load((repo.root / "communities.yaml").read_text())
        data["communities"]["onu"]["select"] = {"subjects": ["energie"]}
        data["communities"]["energie"]["select"]["exclude"] = ["2026-BERLIN-0002"]
        repo.communities(data)
    elif how == "add a community":
        data = yaml.safe_load((repo.root / "communities.yaml").read_text())
        data["communities"]["inconnue"] = dict(data["communities"]["onu"], title="Nouvelle")
        repo.communities(data)
    elif how == "break communities.yaml":
        (repo.root / "communities.yaml").write_text("communities: [\n")
    elif how == "add files outside the layout":  # each refused or ignored by the load, never a cable
        text = cable_text("2026-BERLIN-0012", subjects=["energie"])
        for path in ("content/2026/notes.txt", "content/2026-BERLIN-0012.md", "content/20266/2026-BERLIN-0012.md",
                     "content/2026/sub/2026-BERLIN-0012.md", "content/2026/.md", "content/2026/.gitkeep",
                     "content/٢٠٢٦/2026-BERLIN-0012.md"):
            repo.write(path, text)
        (content / "2026-BERLIN-0013.md").symlink_to(content / "2026-BERLIN-0002.md")
    elif how == "grow a cable over 1 MiB":
        path = content / "2026-BERLIN-0006.md"
        path.write_text(path.read_text() + "mot " * 300_000)
    else:
        raise AssertionError(how)


EDITS = ["edit a cable", "edit a title", "add a cable", "delete a cable another supersedes",
         "delete a cable communities.yaml names", "rename a cable", "rename to its right id", "claim an id twice",
         "withdraw a cable", "break a cable", "remove the editor", "change a selection", "add a community",
         "break communities.yaml", "add files outside the layout", "grow a cable over 1 MiB"]


@pytest.mark.parametrize("how", EDITS)
def test_after_any_edit_a_warm_cache_answers_what_a_cold_load_answers(mixed, tmp_path, how):
    cache = tmp_path / "cache"
    same_as_cold(mixed.root, cache)  # fills it: parses, checks, plan facts
    edit(mixed, how)
    same_as_cold(mixed.root, cache)


@pytest.mark.parametrize("how", EDITS)
def test_with_settled_files_a_warm_cache_answers_after_any_edit_what_a_cold_load_answers(mixed, tmp_path,
                                                                                         monkeypatch, how):
    """The same, when the files are old enough for their signatures to be trusted (RACY_NS): then
    the load compares each file's ``lstat`` with its row without making an Entry
    (``ParsedIndex.known``), and only the files it does not know go the long way (``head``)."""
    from pipeline import buildcache

    monkeypatch.setattr(buildcache, "RACY_NS", 0)  # every file counts as settled
    cache = tmp_path / "cache"
    same_as_cold(mixed.root, cache)
    edit(mixed, how)
    cold = answers(mixed.root, None)
    long_way: list[str] = []
    real_head = buildcache.ParsedIndex.head
    monkeypatch.setattr(buildcache.ParsedIndex, "head",
                        lambda self, entry, read, found: long_way.append(entry.path) or real_head(self, entry, read, found))
    assert answers(mixed.root, cache) == cold
    assert answers(mixed.root, cache) == cold
    assert "content/2026/2026-NEW-YORK-ONU-0001.md" not in long_way  # no edit touches it: known at once


def test_edits_one_after_another_keep_the_answer_of_a_cold_load(mixed, tmp_path):
    cache = tmp_path / "cache"
    same_as_cold(mixed.root, cache)
    for how in EDITS:
        if how in ("delete a cable another supersedes", "rename to its right id"):
            continue  # the file they change is renamed away by "rename a cable"
        edit(mixed, how)
        same_as_cold(mixed.root, cache)


def test_a_load_after_a_one_cable_edit_parses_that_cable_alone(mixed, tmp_path, monkeypatch):
    from pipeline import cables, communities

    cache = tmp_path / "cache"
    same_as_cold(mixed.root, cache)
    parsed: list[str] = []
    real, real_communities = cables.parse, communities.parse
    monkeypatch.setattr(cables, "parse", lambda path, data, found: parsed.append(path) or real(path, data, found))
    monkeypatch.setattr(communities, "parse", lambda *a, **k: parsed.append("communities.yaml") or real_communities(*a, **k))
    edit(mixed, "edit a cable")
    repo = load(mixed.root, cache=cache, today=TODAY)
    outline(repo, NOW)
    assert parsed == ["content/2026/2026-BERLIN-0002.md"]


def test_plan_check_path_and_approve_through_a_warm_cache_say_what_they_say_without(mixed, tmp_path):
    """The commands themselves: the same output with a warm cache as after the cache is removed."""
    cache = mixed.root / ".cache"

    def outputs() -> list:
        out = []
        for args in (["plan"], ["plan", "--format", "json"], ["check"], ["check", "content/2026/2026-BERLIN-0002.md"],
                     ["check", "content/2026/2026-BERLIN-0003.md", "--format", "json"]):
            result = mixed.run(*args)
            out.append((result.code, result.stdout))
        return out

    mixed.run("check")  # fills the cache
    for how in ("edit a cable", "claim an id twice", "change a selection"):
        edit(mixed, how)
        warm = outputs()
        shutil.rmtree(cache)
        assert outputs() == warm
    approved = mixed.run("approve", "2026-BERLIN-0002", "--community", "energie", "--editor", EDITOR, "--yes")
    assert approved.code == 0 and "content/2026/2026-BERLIN-0002.md: approved" in approved.stdout
    same_as_cold(mixed.root, mixed.root / ".cache/diplomatie")


# --- a damaged cache is thrown away ----------------------------------------------------------------

DAMAGES = ["not a database", "empty file", "truncated", "a folder in its place", "tables of another shape"]


@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_or_unreadable_index_is_replaced_by_a_full_parse(mixed, tmp_path, how):
    cache = tmp_path / "cache"
    same_as_cold(mixed.root, cache)
    index = index_of(cache)
    for leftover in index.parent.glob(index.name + "-*"):
        leftover.unlink()
    if how == "not a database":
        index.write_bytes(b"SQLite format 3\0" + b"\xff" * 4000)
    elif how == "empty file":
        index.write_bytes(b"")
    elif how == "truncated":
        index.write_bytes(index.read_bytes()[:1500])
    elif how == "a folder in its place":
        index.unlink()
        (index / "inside").mkdir(parents=True)
    elif how == "tables of another shape":
        index.unlink()
        with sqlite3.connect(index) as db:
            db.execute("CREATE TABLE files (path TEXT, something TEXT)")
            db.execute("INSERT INTO files VALUES ('content/2026/2026-BERLIN-0001.md', 'x')")
    edit(mixed, "edit a cable")
    same_as_cold(mixed.root, cache)


COLUMNS = {"files": ["sig", "seen", "sha", "id", "idline", "own", "cable", "csum", "chk"],
           "facts": ["sha", "fkey", "data", "chk"],
           "memos": ["key", "data", "chk"],
           "snapshot": ["name", "digest", "data"]}
SPOILT = st.one_of(st.none(), st.integers(-2, 10**20), st.text(max_size=40), st.binary(max_size=20),
                   st.sampled_from(["[]", "{}", "null", '{"found": {}}', '[{"path": 1}]', '{"valid": "yes"}',
                                    '{"communities": {"x": {}}, "findings": []}', '{"order": "x"}']))


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_damaged_value_in_the_index_gives_the_answer_of_a_cold_load(mixed, tmp_path_factory, data):
    """The class: any value of any row replaced by anything (another type, text, garbage JSON, a
    well-formed entry of the wrong shape). Each is either refused and recomputed, or harmless."""
    cache = tmp_path_factory.mktemp("cache")
    answers(mixed.root, cache)
    answers(mixed.root, cache)
    index = index_of(cache)
    table = data.draw(st.sampled_from(sorted(COLUMNS)), label="table")
    column = data.draw(st.sampled_from(COLUMNS[table]), label="column")
    value = data.draw(SPOILT, label="value")
    with sqlite3.connect(index) as db, contextlib.suppress(sqlite3.IntegrityError):  # NOT NULL: refused already
        db.execute(f"UPDATE {table} SET {column} = ?", (value,))  # every row: no rule can hide it
    try:
        same_as_cold(mixed.root, cache)
    finally:
        shutil.rmtree(cache)


def test_facts_kept_under_other_communities_are_not_used(mixed, tmp_path):
    """The facts of each cable hold for one communities.yaml: changed back and forth, each answer is
    the answer of that file."""
    cache = tmp_path / "cache"
    original = (mixed.root / "communities.yaml").read_text()
    same_as_cold(mixed.root, cache)
    edit(mixed, "remove the editor")
    same_as_cold(mixed.root, cache)
    (mixed.root / "communities.yaml").write_text(original)
    same_as_cold(mixed.root, cache)


# --- the snapshot: every row's small columns and the facts, read at once ----------------------------

def snapshot_of(cache: Path) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(index_of(cache))) as db:
        return db.execute("SELECT name, digest, data FROM snapshot").fetchall()


@pytest.mark.parametrize("how", EDITS)
def test_an_old_snapshot_put_back_after_any_edit_gives_the_answer_of_a_cold_load(mixed, tmp_path, monkeypatch, how):
    """A snapshot older than the rows (the class: written before any edit, any number of loads ago)
    is never believed where it no longer holds: each of its entries stands for the content it names."""
    from pipeline import buildcache

    monkeypatch.setattr(buildcache, "STALE", 0)  # written anew by every load that misses it: it holds everything
    cache = tmp_path / "cache"
    same_as_cold(mixed.root, cache)
    old = snapshot_of(cache)
    assert {name for name, _, _ in old} == {"files", "facts:checks", "facts:plan"}
    edit(mixed, how)
    same_as_cold(mixed.root, cache)
    with contextlib.closing(sqlite3.connect(index_of(cache))) as db, db:
        db.execute("DELETE FROM snapshot")
        db.executemany("INSERT INTO snapshot VALUES (?,?,?)", old)
    same_as_cold(mixed.root, cache)


def test_a_warm_load_after_a_one_cable_edit_reads_no_row_but_that_cables(mixed, tmp_path, monkeypatch):
    from pipeline import buildcache

    monkeypatch.setattr(buildcache, "RACY_NS", 0)  # the files just written count as settled: only the edit is new
    cache = tmp_path / "cache"
    same_as_cold(mixed.root, cache)
    read_all, one_by_one = [], []
    real_row_of = buildcache.ParsedIndex._row_of
    monkeypatch.setattr(buildcache.ParsedIndex, "_read_all", lambda self, db: read_all.append(1))
    monkeypatch.setattr(buildcache.ParsedIndex, "_row_of",
                        lambda self, path: one_by_one.append(path) or real_row_of(self, path))
    edit(mixed, "edit a cable")
    repo = load(mixed.root, cache=cache, today=TODAY)
    outline(repo, NOW)
    assert read_all == [] and one_by_one == ["content/2026/2026-BERLIN-0002.md"]


def test_the_load_finds_replies_where_the_replies_parser_keeps_them():
    from pipeline import replyfiles, repository

    assert repository.REPLIES == replyfiles.FOLDER


# --- approve: the file's bytes from the cache, its history read once without the scans ------------

def test_approve_through_a_warm_cache_refuses_and_accepts_what_it_does_without(mixed):
    """``approve`` takes the cable from the cache only when the cache holds these very bytes and they
    parse without an error; a cable with errors is refused with the parser's own message."""
    cache = mixed.root / ".cache"
    results = []
    for warm in (True, False):
        mixed.run("check")  # fills the cache
        if not warm:
            shutil.rmtree(cache)
        refused = mixed.run("approve", "2026-BERLIN-0005", "--community", "energie", "--editor", EDITOR, "--yes")
        path = mixed.root / "content/2026/2026-BERLIN-0002.md"
        before = path.read_bytes()
        path.write_text(path.read_text().replace("Texte.", "Texte revu."))
        approved = mixed.run("approve", "2026-BERLIN-0002", "--community", "energie", "--editor", EDITOR, "--yes")
        written = path.read_text()
        path.write_bytes(before)
        results.append((refused.code, refused.output, approved.code, approved.stdout.split("(")[0],
                        [line for line in written.splitlines() if "date:" not in line]))
    assert results[0] == results[1]
    assert results[0][0] != 0 and "E302" in results[0][1]
    assert results[0][2] == 0


def test_approve_shows_the_changes_a_full_parse_of_the_history_shows(mixed, monkeypatch):
    """The history ``approve`` reads for its diff and the withdrawal is parsed without the scans of
    its texts (no Markdown rendering): it shows exactly what a full parse of every version shows,
    a version with a marking or an HTML comment (an error of the scans) included."""
    from pipeline import cables

    path = mixed.root / "content/2026/2026-BERLIN-0002.md"
    path.write_text(path.read_text().replace("Texte.", "Texte.\n\n<!-- note -->\n\nSECRET\n"))
    mixed.commit("a version the scans refuse")
    path.write_text(path.read_text().replace("<!-- note -->\n\nSECRET\n", "Texte revu.\n"))

    def shown() -> tuple:
        result = mixed.run("approve", "2026-BERLIN-0002", "--community", "energie", "--editor", EDITOR)
        return result.code, result.stdout.split("content/2026/2026-BERLIN-0002.md: approved")[0]

    before = path.read_bytes()
    light = shown()
    path.write_bytes(before)
    real = cables.parse
    monkeypatch.setattr(cables, "parse", lambda p, data, found, scans=True: real(p, data, found))
    assert shown() == light
    assert light[0] == 0 and "+Texte revu." in light[1]
