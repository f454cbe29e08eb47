"""``diplomatie plan --diff REF``: what a merge request changes in what each community publishes."""

import copy
import datetime as dt
import json
import unicodedata
from html.parser import HTMLParser

import pytest
from contentrepo import COMMUNITIES, make_repo
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from pipeline.plandiff import markdown_cell

ADDED, EDITED, WITHDRAWN, KEPT, WAITING = (
    "2026-BERLIN-0001", "2026-BERLIN-0002", "2026-BERLIN-0003", "2026-BERLIN-0004", "2026-BERLIN-0005")


@pytest.fixture
def branch(tmp_path):
    """main publishes three cables to 'energie'; the branch 'mr' adds and approves one, edits and
    re-approves one, withdraws one, adds one nobody approved yet, removes a member and renews another."""
    repo = make_repo(tmp_path / "repo")
    for cable in (EDITED, WITHDRAWN, KEPT):
        repo.cable(cable, title=f"Télégramme {cable[-1]}")
        repo.approve(cable, "energie")
    repo.commit("Three published cables")
    repo.git("checkout", "-q", "-b", "mr")
    repo.cable(ADDED, title="Un nouveau télégramme")
    repo.approve(ADDED, "energie")
    path = repo.root / f"content/2026/{EDITED}.md"
    path.write_text(path.read_text().replace("Le texte du télégramme.", "Le texte révisé du télégramme."))
    repo.approve(EDITED, "energie")
    path = repo.root / f"content/2026/{WITHDRAWN}.md"
    path.write_text(path.read_text().replace("language: fr\n", "language: fr\nstatus: withdrawn\n"))
    repo.cable(WAITING, title="En attente")
    communities = copy.deepcopy(COMMUNITIES)
    energie = communities["communities"]["energie"]
    energie["members"] = [{"email": "b.durand@example.org", "name": "Bruno Durand", "sector": "media",
                           "invited_by": energie["owner"], "expires": dt.date(2027, 1, 31)}]
    repo.communities(communities)
    repo.commit("The merge request")
    return repo


def test_text_diff_names_each_change_per_community(branch):
    result = branch.run("plan", "--diff", "main")
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    main = branch.git("rev-parse", "main").strip()
    assert lines[0] == f"Compared with main ({main[:10]}):"
    assert lines[1] == "energie — Énergie en Europe"
    body = "\n".join(lines[2:])
    assert f"publishes      {ADDED}  Un nouveau télégramme" in body
    assert f"changes        {EDITED}  Télégramme 2 (text " in body
    assert f"holds          {WITHDRAWN}  withdrawn (was published)" in body
    assert f"holds          {WAITING}  not approved (new to this community)" in body
    assert "removes member a.martin@example.org" in body
    assert "adds member    b.durand@example.org  until 2027-01-31" in body
    assert KEPT not in result.stdout  # unchanged: not listed
    assert "onu" not in result.stdout


def test_json_diff_fields(branch):
    result = branch.run("plan", "--diff", "main", "--format", "json")
    assert result.code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ref"] == "main" and data["commit"] == branch.git("rev-parse", "main").strip()
    energie = data["communities"]["energie"]
    assert energie["status"] == "kept"
    assert [c["id"] for c in energie["published"]] == [ADDED]
    assert energie["published"][0]["before"] is None and energie["published"][0]["after"] == "published"
    [changed] = energie["changed"]
    assert changed["id"] == EDITED and changed["digest_before"] != changed["digest_after"]
    assert {c["id"]: (c["before"], c["after"]) for c in energie["held"]} == {
        WITHDRAWN: ("published", "withdrawn"), WAITING: (None, "not approved")}
    assert energie["removed"] == []
    assert energie["members"]["removed"] == [{"email": "a.martin@example.org", "name": "Anne Martin",
                                              "expires": "2099-06-30"}]
    assert [m["email"] for m in energie["members"]["added"]] == ["b.durand@example.org"]
    assert set(data["communities"]) == {"energie"}


def test_markdown_diff_is_a_comment_with_one_table_per_community(branch):
    result = branch.run("plan", "--diff", "main", "--format", "markdown")
    assert result.code == 0, result.output
    text = result.stdout
    assert text.startswith("### What this merge request changes in what each community publishes\n")
    assert "#### energie — Énergie en Europe\n\n| change | cable or member | detail |\n|---|---|---|\n" in text
    assert f"| publishes | {ADDED} | Un nouveau télégramme |" in text
    assert f"| holds | {WITHDRAWN} | withdrawn (was published) |" in text
    assert "| removes member | a.martin@example.org | loses access at the next publication |" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "change |" not in line]
    assert all(line.count(" | ") == 2 for line in rows)  # three cells each: nothing broke a table


class _Cells(HTMLParser):
    """The text of each body cell of each table row, as a browser's parser would read it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag == "td":
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.rows[-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def rendered_rows(markdown: str) -> list[list[str]]:
    """The body rows of every table of ``markdown`` as a CommonMark renderer with tables reads them."""
    cells = _Cells()
    cells.feed(MarkdownIt("commonmark").enable("table").render(markdown))
    return [row for row in cells.rows if row]


def test_markdown_shows_a_hostile_title_as_text(branch):
    title = "A | B <img src=x> [lien](http://x) **gras** `code` &amp; #1"
    branch.cable("2026-BERLIN-0009", title=title)
    branch.approve("2026-BERLIN-0009", "energie")
    text = branch.run("plan", "--diff", "main", "--format", "markdown").stdout
    rows = rendered_rows(text)
    assert ["publishes", "2026-BERLIN-0009", title] in rows
    assert "<img" not in MarkdownIt("commonmark").enable("table").render(text)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.text(alphabet=st.sampled_from(list("ab |\\<>[]()*_`&;#!~=-:'\"/")) | st.characters(), max_size=40))
def test_any_text_stays_one_cell_and_reads_back_as_itself(value):
    table = f"| a | b | c |\n|---|---|---|\n| x | {markdown_cell(value)} | y |\n"
    [row] = rendered_rows(table)
    expected = " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in value).split())
    assert len(row) == 3 and row[0] == "x" and row[2] == "y"
    assert " ".join(row[1].split()) == expected


def test_a_removed_cable_and_no_change(branch):
    assert "No change to what any community publishes" in branch.run("plan", "--diff", "HEAD").stdout
    branch.git("rm", "-q", f"content/2026/{KEPT}.md")
    text = branch.run("plan", "--diff", "main").stdout
    assert f"removes        {KEPT}  no longer selected (was published)" in text


def test_diff_reads_the_ref_from_git_objects_without_touching_the_working_tree(branch):
    branch.write("notes.txt", "brouillon\n")  # an untracked file, and an uncommitted edit
    path = branch.root / f"content/2026/{KEPT}.md"
    path.write_text(path.read_text() + "Une ligne de plus.\n")
    status = branch.git("status", "--porcelain")
    head = branch.git("rev-parse", "HEAD")
    result = branch.run("plan", "--diff", "main")
    assert result.code == 0
    assert f"holds          {KEPT}  stale approval (was published)" in result.stdout  # the working tree is 'after'
    assert branch.git("status", "--porcelain") == status and branch.git("rev-parse", "HEAD") == head
    assert branch.git("rev-parse", "--abbrev-ref", "HEAD").strip() == "mr"


def test_unknown_ref_and_markdown_without_diff_are_clear_errors(branch):
    unknown = branch.run("plan", "--diff", "nowhere")
    assert unknown.code == 1 and "no commit named 'nowhere'" in unknown.output
    alone = branch.run("plan", "--format", "markdown")
    assert alone.code == 2 and "--diff REF" in alone.output


def test_a_commit_id_as_ref_is_named_once(branch):
    main = branch.git("rev-parse", "main").strip()
    result = branch.run("plan", "--diff", main)
    assert result.stdout.splitlines()[0] == f"Compared with {main[:10]}:"
