"""Every hint that prints a command prints one that runs as printed: typed in the content repository,
it never fails for a missing or unknown option or argument."""

import ast
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from contentrepo import EDITOR, make_repo

PROJECT = Path(__file__).resolve().parent.parent
COMMAND = re.compile(r"diplomatie [a-z]+(?: [^\s;)`'\"]+)*")
#: The commands the pipeline's messages name, by module; each is printed and run by a test below.
#: A new hint naming a command fails test_every_command_a_hint_names_is_run_here until added here.
TESTED = {
    ("pipeline/approvals.py", "check"), ("pipeline/commands/archive.py", "check"),
    ("pipeline/commands/build.py", "check"), ("pipeline/commands/link.py", "check"),
    ("pipeline/commands/plan.py", "check"), ("pipeline/plan.py", "check"), ("pipeline/publication.py", "check"),
    ("pipeline/commands/history.py", "history"), ("pipeline/repository.py", "approve"),
    ("pipeline/review.py", "approve"), ("pipeline/enrolment.py", "check"),
    ("pipeline/commands/options.py", "check"), ("pipeline/commands/preview.py", "check"),
    ("pipeline/build/preview.py", "check"), ("pipeline/site.py", "check"),
}
USAGE_FAILURES = ("Missing option", "Missing argument", "No such option", "No such command", "Usage:")


def named_commands() -> set[tuple[str, str]]:
    """(module, subcommand) of every ``diplomatie <subcommand>`` in a string of the pipeline that is
    not a docstring or an option's help."""
    out = set()
    for path in sorted((PROJECT / "pipeline").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = set()
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                    and isinstance(body[0].value, ast.Constant):
                skip.add(id(body[0].value))
            if isinstance(node, ast.keyword) and node.arg == "help":
                skip.update(id(sub) for sub in ast.walk(node.value))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                for match in re.finditer(r"diplomatie ([a-z]+)", node.value):
                    out.add((path.relative_to(PROJECT).as_posix(), match.group(1)))
    return out


def test_every_command_a_hint_names_is_run_here():
    assert named_commands() <= TESTED, "a new hint prints a command: run it in test_hints.py, then list it"


def printed(text: str) -> list[str]:
    return sorted(set(COMMAND.findall(text)))


def run_as_typed(command: str, cwd: Path) -> subprocess.CompletedProcess:
    words = shlex.split(command)
    assert words[0] == "diplomatie"
    return subprocess.run([sys.executable, "-m", "pipeline", *words[1:]], cwd=cwd, capture_output=True, text=True)


def assert_runs(command: str, cwd: Path) -> subprocess.CompletedProcess:
    result = run_as_typed(command, cwd)
    said = result.stdout + result.stderr
    assert result.returncode != 2 and not any(s in said for s in USAGE_FAILURES), (command, said)
    return result


@pytest.fixture
def repo(tmp_path):
    """A stale approval, an approval by a removed editor, a cable with an error, one never approved;
    the repository's git user.email is an editor's, as on that editor's machine."""
    repo = make_repo(tmp_path / "repo")
    repo.git("config", "user.email", EDITOR)
    for cable in ("2026-BERLIN-0001", "2026-BERLIN-0002"):
        repo.cable(cable)
        repo.approve(cable, "energie")
    path = repo.root / "content/2026/2026-BERLIN-0001.md"
    path.write_text(path.read_text().replace("Le texte", "Le nouveau texte"))
    path = repo.root / "content/2026/2026-BERLIN-0002.md"
    path.write_text(path.read_text().replace(f"by: {EDITOR}", "by: ancien.editeur@diplomatie.gouv.fr"))
    repo.cable("2026-BERLIN-0003", date="2026-02-30")
    repo.cable("2026-BERLIN-0004")
    repo.commit("The day's cables")
    return repo


def test_check_and_plan_hints_run_as_printed(repo):
    said = ""
    for args in (["check"], ["plan"], ["pending"]):
        result = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=repo.root, capture_output=True, text=True)
        said += result.stdout + result.stderr
    commands = printed(said)
    assert "diplomatie approve 2026-BERLIN-0001 --community energie" in commands  # W601 and pending
    assert "diplomatie approve 2026-BERLIN-0002 --community energie" in commands  # W604 and pending
    assert "diplomatie check" in commands  # plan: invalid (see diplomatie check), and its note
    for command in commands:
        assert_runs(command, repo.root)
    assert "2026-BERLIN-0001" in repo.run("plan").stdout.split("publish  ")[1]  # the approvals ran


def test_pending_for_another_editor_prints_runnable_commands(repo):
    repo.git("config", "user.email", "agent@diplomatie.gouv.fr")
    said = subprocess.run([sys.executable, "-m", "pipeline", "pending", "--editor", EDITOR], cwd=repo.root,
                          capture_output=True, text=True).stdout
    commands = printed(said)
    assert f"diplomatie approve 2026-BERLIN-0004 --community energie --editor {EDITOR}" in commands
    for command in commands:
        assert assert_runs(command, repo.root).returncode == 0


def test_history_hint_runs_as_printed(repo):
    repo.write("content/2026/2026-BERLIN-0009.md", "pas de front matter\n")
    repo.commit("A broken file")
    result = subprocess.run([sys.executable, "-m", "pipeline", "history", "2026-BERLIN-0009", "--diff"],
                            cwd=repo.root, capture_output=True, text=True)
    assert result.returncode == 1
    [command] = printed(result.stderr)
    assert command == "diplomatie history 2026-BERLIN-0009"
    assert assert_runs(command, repo.root).returncode == 0


def test_rollback_to_an_unknown_release_names_the_command_that_lists_them(repo, tmp_path):
    store = tmp_path / "a store"
    published = subprocess.run([sys.executable, "-m", "pipeline", "publish", "--store", str(store), "--out",
                                str(tmp_path / "out"), "--community", "energie"], cwd=repo.root,
                               capture_output=True, text=True)
    assert published.returncode == 0, published.stderr
    refused = subprocess.run([sys.executable, "-m", "pipeline", "rollback", "energie", "--store", str(store),
                              "--to", "nope"], cwd=repo.root, capture_output=True, text=True)
    assert refused.returncode == 1
    listing = refused.stderr.split("list them with: ", 1)[1].strip()
    assert listing == f"diplomatie releases energie --store '{store}'"
    assert assert_runs(listing, repo.root).returncode == 0


def test_members_and_invite_on_a_broken_communities_file_name_check_which_runs(tmp_path):
    repo = make_repo(tmp_path / "repo")
    text = (repo.root / "communities.yaml").read_text(encoding="utf-8")
    repo.write("communities.yaml", text.replace("sector: research", "sector: army"))
    said = ""
    for args in (["members", "energie"], ["invite", "energie", "z@example.org", "--name", "Z", "--sector", "media",
                                          "--by", EDITOR, "--store", str(tmp_path / "store")]):
        result = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=repo.root, capture_output=True,
                                text=True)
        assert result.returncode == 1
        said += result.stderr
    assert printed(said) == ["diplomatie check"] and said.count("diplomatie check") == 2
    assert assert_runs("diplomatie check", repo.root).returncode == 1  # it lists the error


def test_a_build_refused_for_an_unreadable_page_text_names_check_which_runs(tmp_path):
    repo = make_repo(tmp_path / "repo")
    repo.write("pages/legal.fr.md", "# Mentions légales\n\nÉditeur : le ministère\n".encode("latin-1"))
    result = subprocess.run([sys.executable, "-m", "pipeline", "build", "--out", str(tmp_path / "site")],
                            cwd=repo.root, capture_output=True, text=True)
    assert result.returncode != 0
    commands = printed(result.stdout + result.stderr)
    assert commands == ["diplomatie check"]
    checked = assert_runs(commands[0], repo.root)
    assert "pages/legal.fr.md:1:1: E101" in checked.stdout + checked.stderr
