"""An editor's day: what awaits them, what changed since they approved, approving after seeing the
diff, withdrawing an approval, and every tool judging an uncommitted edit the same way."""

import json
import os
import pty
import select
import subprocess
import sys

import pytest
from contentrepo import EDITOR, make_repo

CABLE, OTHER = "2026-BERLIN-0001", "2026-BERLIN-0002"
PATH = f"content/2026/{CABLE}.md"


@pytest.fixture
def desk(tmp_path):
    """Two cables: one the editor approved and the agent then revised (stale), one never approved (new).
    The editor's address is the repository's git user.email."""
    repo = make_repo(tmp_path / "repo")
    repo.git("config", "user.email", EDITOR)
    repo.cable(CABLE, body="Premier paragraphe.\n\nDeuxième paragraphe.\n")
    repo.commit("A cable")
    repo.approve(CABLE, "energie")
    repo.commit("Approve it")
    path = repo.root / PATH
    path.write_text(path.read_text().replace("Sécurité énergétique", "Sécurité énergétique de l'Europe")
                    .replace("Deuxième paragraphe.", "Deuxième paragraphe, révisé."))
    repo.cable(OTHER, title="Hydrogène")
    repo.commit("Revise one, write another")
    return repo


def test_pending_lists_new_and_stale_cables_with_what_changed(desk):
    result = desk.run("pending")  # --editor from git config user.email
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"2 cables await approval by {EDITOR}"
    assert "energie — Énergie en Europe: 2 waiting" in lines
    text = result.stdout
    assert f"stale    {CABLE}  Sécurité énergétique de l'Europe  (v1 approved, now v2; changed: title, body +1 −1)" in text
    assert f"new      {OTHER}  Hydrogène  (never approved)" in text
    assert f"diplomatie approve {CABLE} --community energie\n" in text
    assert "onu — United Nations: 0 waiting" in text


def test_pending_json_and_after_approval(desk):
    data = json.loads(desk.run("pending", "--format", "json").stdout)
    assert data["editor"] == EDITOR
    items = {p["id"]: p for p in data["communities"]["energie"]}
    assert items[CABLE]["kind"] == "stale" and items[CABLE]["reason"] == "stale approval"
    assert (items[CABLE]["approved_version"], items[CABLE]["current_version"]) == (1, 2)
    assert items[CABLE]["changes"] == ["title", "body +1 −1"]
    assert items[OTHER]["kind"] == "new" and items[OTHER]["command"] == (
        f"diplomatie approve {OTHER} --community energie")
    for item in items.values():  # each printed command runs as printed
        assert desk.run(*item["command"].split()[1:]).code == 0
    after = json.loads(desk.run("pending", "--format", "json").stdout)
    assert after["communities"]["energie"] == []
    assert "0 cables await approval" in desk.run("pending").stdout


def test_pending_for_another_editor_prints_commands_naming_them(desk):
    result = desk.run("pending", "--editor", "Redaction@Diplomatie.gouv.fr")
    assert result.code == 0, result.output
    desk.git("config", "user.email", "agent@diplomatie.gouv.fr")
    result = desk.run("pending", "--editor", EDITOR)
    assert f"diplomatie approve {OTHER} --community energie --editor {EDITOR}" in result.stdout
    refused = desk.run("pending")
    assert refused.code == 1 and "agent@diplomatie.gouv.fr edits no community" in refused.output


def test_without_editor_or_git_address_the_error_says_how_to_set_it(desk, tmp_path):
    desk.git("config", "--unset", "user.email")
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (["pending"], ["approve", OTHER, "--community", "energie", "--yes"]):
        result = subprocess.run([sys.executable, "-m", "pipeline", *args, "--root", str(desk.root)],
                                cwd=desk.root, env=env, capture_output=True, text=True)
        assert result.returncode == 2, result.stderr
        assert "--editor EMAIL" in result.stderr and "git config user.email" in result.stderr


def test_approve_shows_the_diff_since_the_last_approval_then_revoke_removes_it(desk):
    result = desk.run("approve", CABLE, "--community", "energie")
    assert result.code == 0, result.output
    out = result.stdout
    assert f"Changes since v1, approved for energie by {EDITOR} on " in out
    assert f"--- {CABLE} v1 (" in out and f"+++ {CABLE} v2 (" in out
    assert "-title: Sécurité énergétique\n" in out and "+title: Sécurité énergétique de l'Europe\n" in out
    assert "-Deuxième paragraphe.\n+Deuxième paragraphe, révisé.\n" in out
    assert "approvals" not in out and "digest" not in out  # the diff shows what an approval covers
    assert "\x1b[" not in out  # no colour outside a terminal
    assert CABLE in json.loads(desk.run("plan", "--format", "json").stdout)["communities"]["energie"]["publish"]
    before = (desk.root / PATH).read_bytes()

    revoked = desk.run("approve", CABLE, "--community", "energie", "--revoke")
    assert revoked.code == 0, revoked.output
    assert f"2 approval(s) of {CABLE} for energie by {EDITOR} removed" in revoked.stdout
    after = (desk.root / PATH).read_bytes()
    assert b"approvals: []" in after and b"by: " not in after
    assert before.split(b"approvals:")[0] == after.split(b"approvals:")[0]  # every other byte kept
    assert before.split(b"\n---\n", 1)[1] == after.split(b"\n---\n", 1)[1]
    plan = json.loads(desk.run("plan", "--format", "json").stdout)
    assert {"id": CABLE, "reason": "not approved"} in plan["communities"]["energie"]["held"]


def test_revoke_refuses_to_remove_someone_elses_approval(desk):
    other = "autre.redaction@diplomatie.gouv.fr"
    text = (desk.root / "communities.yaml").read_text().replace(f"- {EDITOR}", f"- {EDITOR}\n    - {other}")
    desk.write("communities.yaml", text)
    before = (desk.root / PATH).read_bytes()
    refused = desk.run("approve", CABLE, "--community", "energie", "--editor", other, "--revoke")
    assert refused.code == 1
    assert f"{other} has no approval of {CABLE} for 'energie' to remove (approved by {EDITOR}" in refused.output
    assert (desk.root / PATH).read_bytes() == before


def test_first_approval_shows_the_whole_text(desk):
    out = desk.run("approve", OTHER, "--community", "energie").stdout
    assert f"First approval of {OTHER} for energie: the whole text follows." in out
    assert "+title: Hydrogène" in out and "+Le texte du télégramme." in out


def test_history_diff_between_versions_and_since_the_last_approval(desk):
    default = desk.run("history", CABLE, "--diff")
    assert default.code == 0, default.output
    assert default.stdout.startswith(f"energie: last approved v1 ({EDITOR}, ")
    assert f"--- {CABLE} v1 (" in default.stdout and "approved)" in default.stdout
    assert "+title: Sécurité énergétique de l'Europe" in default.stdout
    explicit = desk.run("history", CABLE, "--diff", "v1..v2")
    assert explicit.code == 0
    assert explicit.stdout.splitlines()[2:] == default.stdout.splitlines()[3:]
    assert "@@" in explicit.stdout and "\x1b[" not in explicit.stdout
    same = desk.run("history", CABLE, "--diff", "v2..v2")
    assert same.stdout == ""
    wrong = desk.run("history", CABLE, "--diff", "v7")
    assert wrong.code == 2 and "no version 'v7' of this cable (versions: v1, v2, or current)" in wrong.output
    never = desk.run("history", OTHER, "--diff")
    assert "v1 is the only version: nothing to compare it with" in never.stdout


def test_history_diff_is_coloured_only_on_a_terminal(desk):
    from click.testing import CliRunner

    from pipeline.cli import main

    coloured = CliRunner().invoke(main, ["history", CABLE, "--diff", "v1..v2", "--root", str(desk.root)], color=True)
    assert "\x1b[32m+title: Sécurité énergétique de l'Europe\x1b[0m" in coloured.stdout
    assert "\x1b[31m-title: Sécurité énergétique\x1b[0m" in coloured.stdout


def test_history_and_plan_judge_an_uncommitted_edit_the_same_way(desk):
    desk.approve(CABLE, "energie")
    desk.commit("Approve v2")
    path = desk.root / PATH
    path.write_text(path.read_text().replace("Premier paragraphe.", "Tout premier paragraphe."))
    plan = json.loads(desk.run("plan", "--format", "json").stdout)
    assert {"id": CABLE, "reason": "stale approval"} in plan["communities"]["energie"]["held"]
    history = desk.run("history", CABLE).stdout
    assert "v3  not committed yet (working tree)  body +1 −1" in history
    assert "approves v2 (stale)" in history and "(current)" not in history
    data = json.loads(desk.run("history", CABLE, "--format", "json").stdout)
    assert data["versions"][-1]["committed"] is False
    assert [a["current"] for a in data["approvals"]] == [False, False]
    pending = json.loads(desk.run("pending", "--format", "json").stdout)["communities"]["energie"]
    assert [(p["id"], p["kind"], p["approved_version"], p["current_version"]) for p in pending if p["id"] == CABLE] \
        == [(CABLE, "stale", 2, 3)]
    # an approval written but not committed is judged current by both, too
    desk.approve(CABLE, "energie")
    assert "approves v3 (current)  not committed" in desk.run("history", CABLE).stdout
    plan = json.loads(desk.run("plan", "--format", "json").stdout)
    assert CABLE in plan["communities"]["energie"]["publish"]


def _at_a_terminal(args: list[str], answer: bytes, cwd) -> tuple[int, str]:
    """Run the command line in a pseudo-terminal, answer its question, return (exit code, screen)."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=cwd, stdin=secondary,
                               stdout=secondary, stderr=secondary, close_fds=True)
    os.close(secondary)
    screen = b""
    answered = False
    while True:
        ready, _, _ = select.select([primary], [], [], 60)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(primary, 4096)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
        if not answered and b"[y/N]" in screen:
            os.write(primary, answer)
            answered = True
    os.close(primary)
    return process.wait(timeout=60), screen.decode("utf-8", "replace")


def test_at_a_terminal_approve_asks_after_the_diff_and_no_writes_nothing(desk):
    before = (desk.root / PATH).read_bytes()
    code, screen = _at_a_terminal(["approve", CABLE, "--community", "energie"], b"n\n", desk.root)
    assert code == 1 and "Aborted" in screen
    assert screen.index("Deuxième paragraphe, révisé.") < screen.index(f"Approve this version of {CABLE}")
    assert "\x1b[32m" in screen  # coloured at a terminal
    assert (desk.root / PATH).read_bytes() == before
    code, screen = _at_a_terminal(["approve", CABLE, "--community", "energie"], b"y\n", desk.root)
    assert code == 0 and f"{PATH}: approved for energie by {EDITOR}" in screen


def test_where_only_signed_approvals_count_pending_prints_approve_with_sign(tmp_path):
    import copy

    from contentrepo import COMMUNITIES

    signed = copy.deepcopy(COMMUNITIES)
    del signed["communities"]["energie"]["require_signed_approvals"]  # the default: signed approvals
    repo = make_repo(tmp_path / "repo", signed)
    repo.git("config", "user.email", EDITOR)
    repo.cable(CABLE)
    repo.commit("A cable")
    data = json.loads(repo.run("pending", "--format", "json").stdout)
    [item] = data["communities"]["energie"]
    assert item["command"] == f"diplomatie approve {CABLE} --community energie --sign"
    repo.approve(CABLE, "energie")  # written, not signed: the plan holds it as unsigned
    [item] = json.loads(repo.run("pending", "--format", "json").stdout)["communities"]["energie"]
    assert (item["kind"], item["reason"]) == ("unsigned", "unsigned approval")
