"""``diplomatie new``: the next free id for a post, today's date, every required key."""

import datetime as dt

from contentrepo import make_repo


def test_new_cable_gets_next_free_id_and_passes_check(tmp_path):
    repo = make_repo(tmp_path / "repo")
    year = dt.date.today().year
    repo.cable(f"{year}-BERLIN-0007")
    before = dt.date.today()
    result = repo.run("new", "--post", "BERLIN", "--title", "Un \"nouveau\" télégramme")
    after = dt.date.today()  # the day may change while the command runs
    assert result.code == 0, result.output
    path = repo.root / result.stdout.strip()
    assert path.name == f"{year}-BERLIN-0008.md"
    text = path.read_text()
    assert f"date: {before.isoformat()}" in text or f"date: {after.isoformat()}" in text
    for key in ("id", "title", "date", "post", "author", "classification", "subjects", "language"):
        assert f"\n{key}: " in text
    check = repo.run("check")
    assert "E1" not in check.stdout, check.stdout
    # the template's placeholders are errors until the agent replaces them (E210), and only they
    codes = [line.split(": ", 1)[1].split()[0] for line in check.stdout.splitlines()
             if line.startswith(f"content/{year}/{year}-BERLIN-0008.md")]
    assert sorted(codes) == ["E210", "E210", "E210", "W602"], check.stdout  # W602: no community selects it yet
    assert "'subjects' still holds the template's 'a-completer'" in check.stdout
    assert "'summary' is empty" in check.stdout
    assert "the body still holds the template's 'Texte du télégramme.'" in check.stdout
    path.write_text(text.replace("[a-completer]", "[energie]").replace('summary: ""', "summary: Deux phrases.")
                    .replace("Texte du télégramme.", "Le poste rend compte."))
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


def test_the_readme_e210_examples_fail_then_pass(tmp_path):
    """The README's bad and fixed examples of E210, as written there."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("**E210, the new-cable template's placeholders.**", 1)[1]
    bad, fixed = (block.split("```", 1)[0] for block in section.split("```markdown\n")[1:3])
    repo = make_repo(tmp_path / "repo")
    repo.write("content/2026/2026-BERLIN-0042.md", bad)
    found = repo.run("check").stdout
    assert found.count(" E210 ") == 3 and " E1" not in found and " E2" not in found.replace(" E210 ", ""), found
    repo.write("content/2026/2026-BERLIN-0042.md", fixed)
    result = repo.run("check")
    assert result.code == 0 and " E2" not in result.stdout, result.stdout
