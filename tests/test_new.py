"""``diplomatie new``: the next free id for a post, today's date, every required key."""

import datetime as dt

from contentrepo import make_repo


def test_new_cable_gets_next_free_id_and_passes_check(tmp_path):
    repo = make_repo(tmp_path / "repo")
    year = dt.date.today().year
    repo.cable(f"{year}-BERLIN-0007")
    result = repo.run("new", "--post", "BERLIN", "--title", "Un \"nouveau\" télégramme")
    assert result.code == 0, result.output
    path = repo.root / result.stdout.strip()
    assert path.name == f"{year}-BERLIN-0008.md"
    text = path.read_text()
    assert f"date: {dt.date.today().isoformat()}" in text
    for key in ("id", "title", "date", "post", "author", "classification", "subjects", "language"):
        assert f"\n{key}: " in text
    check = repo.run("check")
    assert "E2" not in check.stdout and "E1" not in check.stdout, check.stdout


def test_title_with_quotes_and_backslashes_is_kept_exactly(tmp_path):
    repo = make_repo(tmp_path / "repo")
    title = 'Chemin C:\\new\\x et "guillemets" : ça va'
    result = repo.run("new", "--post", "PEKIN", "--title", title)
    assert result.code == 0, result.output
    from pipeline.repository import load

    [cable] = load(repo.root).cables.values()
    assert cable.title == title


def test_new_refuses_a_bad_post(tmp_path):
    repo = make_repo(tmp_path / "repo")
    result = repo.run("new", "--post", "berlin", "--title", "x")
    assert result.code == 1 and "post code" in result.output
