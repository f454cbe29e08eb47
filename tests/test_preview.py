"""``diplomatie preview``: an agent sees their cable as each community would show it, before approval."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from pipeline.build.preview import MARK
from tests.contentrepo import ContentRepo, make_repo

BERLIN, NEW_YORK = "2026-BERLIN-0001", "2026-NEW-YORK-ONU-0001"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> ContentRepo:
    """Two unapproved cables: one selected by « energie », one by « energie » and « onu »."""
    repo = make_repo(tmp_path_factory.mktemp("preview") / "repo")
    repo.cable(BERLIN, title="Sécurité énergétique à Berlin")
    repo.cable(NEW_YORK, title="Energy at the United Nations", language="en")
    repo.commit("two cables")
    return repo


def _rows(stdout: str) -> dict[str, list[str]]:
    """The command's lines for each community: community, verdict, page."""
    return {fields[0]: fields[1:] for line in stdout.splitlines() if len(fields := line.split("\t")) == 3}


def test_an_unapproved_cable_is_previewed_marked_and_said_to_be_held(repo, tmp_path):
    out = tmp_path / "preview"
    result = repo.run("--lang", "en", "preview", BERLIN, "--out", str(out))
    assert result.code == 0, result.output
    assert f"preview folder: {out.resolve()}" in result.stdout
    rows = _rows(result.stdout)
    assert list(rows) == ["energie"]
    verdict, page = rows["energie"]
    assert verdict == "would be held: not approved"
    page = Path(page)
    assert page.is_relative_to(out.resolve()) and page.is_file()
    html = page.read_text(encoding="utf-8")
    title = html.split("<title>", 1)[1].split("</title>", 1)[0]
    assert MARK in title and "Sécurité énergétique à Berlin" in title
    body = html.split("<article", 1)[1]
    assert body.index(MARK) < body.index("Le texte du télégramme.")
    # Nothing of the other cable, and nothing outside the folder: the repository is left as it was.
    assert NEW_YORK not in "".join(p.read_text(errors="replace") for p in out.rglob("*.html"))
    assert repo.git("status", "--porcelain", "--ignored") == ""
    # A second preview into the same folder replaces the first (it is a previous preview), in French.
    again = repo.run("--lang", "fr", "preview", BERLIN, "--out", str(out))
    assert again.code == 0, again.output
    assert _rows(again.stdout)["energie"][0] == "serait retenu : non approuvé"


def test_a_cable_selected_by_two_communities_gives_two_pages_in_a_temporary_folder(repo, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = repo.run("--lang", "en", "preview", NEW_YORK)
    assert result.code == 0, result.output
    rows = _rows(result.stdout)
    assert sorted(rows) == ["energie", "onu"]
    for community, (verdict, page) in rows.items():
        assert verdict == "would be held: not approved"
        assert Path(page).is_relative_to(tmp_path.resolve()) and f"/{community}/" in page
        assert MARK in Path(page).read_text(encoding="utf-8")


def test_an_unknown_cable_is_a_clear_error(repo, tmp_path):
    result = repo.run("--lang", "en", "preview", "2026-BERLIN-9999", "--out", str(tmp_path / "p"))
    assert result.code != 0
    assert "unknown cable: 2026-BERLIN-9999" in result.output
    assert not (tmp_path / "p").exists()


def test_out_refuses_a_folder_that_is_not_empty_and_not_a_preview(repo, tmp_path):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    result = repo.run("--lang", "en", "preview", BERLIN, "--out", str(tmp_path))
    assert result.code != 0
    assert "is not empty and holds no previous preview" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
