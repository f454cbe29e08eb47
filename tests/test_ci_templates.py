"""The merge-request workflow templates: .gitlab-ci.yml runs tested commands; the pre-commit hook
refuses a bad cable at commit time (with the real ``pre-commit`` tool)."""

import http.server
import json
import os
import shlex
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner
from contentrepo import COMMUNITIES, make_repo

from pipeline.cli import main
from tests.gatekit import published_cables

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's bin: diplomatie and pre-commit live there
CI = yaml.safe_load((PROJECT / ".gitlab-ci.yml").read_text())
HOOKS = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
#: Top-level keys of .gitlab-ci.yml that are GitLab keywords, not jobs.
GLOBAL_KEYWORDS = {"workflow", "stages", "variables", "default", "include", "image", "services", "cache",
                   "before_script", "after_script"}
JOB_KEYWORDS = {"stage", "rules", "needs", "script", "before_script", "after_script", "artifacts", "image",
                "resource_group", "variables", "cache", "environment", "when", "allow_failure", "timeout",
                "tags", "interruptible", "retry", "dependencies"}

SECRET_CABLE = "content/2026/2026-BERLIN-0002.md"


def jobs() -> dict[str, dict]:
    return {name: job for name, job in CI.items() if name not in GLOBAL_KEYWORDS and not name.startswith(".")}


def script_lines() -> list[str]:
    lines = list(CI["default"]["before_script"])
    for job in jobs().values():
        lines += job["script"]
    return lines


def diplomatie_argv(line: str) -> list[str] | None:
    """The arguments a script line passes to diplomatie (None for other commands), up to a redirection."""
    words = shlex.split(line)
    if not words or words[0] != "diplomatie":
        return None
    argv = []
    for word in words[1:]:
        if word in (">", "||", "|", "&&", ";"):
            break
        argv.append(word.replace("$DIPLOMATIE_STORE", "var/store"))
    return argv


def run_script(line: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """One script line, as GitLab's runner does: a shell, with the tool on the PATH."""
    environ = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **env}
    return subprocess.run(["bash", "-e", "-c", line], cwd=cwd, env=environ, capture_output=True, text=True)


# --- .gitlab-ci.yml ------------------------------------------------------------------------------

def test_gitlab_ci_jobs_use_only_gitlab_keywords_and_declared_stages():
    assert set(jobs()) == {"check", "plan", "publish"}
    for name, job in jobs().items():
        assert set(job) <= JOB_KEYWORDS, name
        assert job["stage"] in CI["stages"], name
        assert job["script"] and all(isinstance(line, str) for line in job["script"]), name
        for rule in job.get("rules", []):
            assert set(rule) <= {"if", "when", "changes", "exists", "allow_failure", "variables"}, name
        for need in job.get("needs", []):
            assert need in jobs(), name
    for rule in CI["workflow"]["rules"]:
        assert "if" in rule


def test_merge_requests_check_and_plan_and_the_default_branch_publishes():
    def triggers(job: dict) -> str:
        return " ".join(rule["if"] for rule in job["rules"])

    assert "merge_request_event" in triggers(jobs()["check"])
    assert "merge_request_event" in triggers(jobs()["plan"])
    assert "CI_DEFAULT_BRANCH" in triggers(jobs()["publish"])
    assert "merge_request_event" not in triggers(jobs()["publish"])
    report = jobs()["check"]["artifacts"]["reports"]["codequality"]
    assert any(f"--format codequality > {report}" in line for line in jobs()["check"]["script"])
    assert jobs()["check"]["artifacts"]["when"] == "always"  # the report matters most when check fails


def test_every_diplomatie_command_in_the_ci_exists_with_those_options():
    called = [argv for argv in map(diplomatie_argv, script_lines()) if argv is not None]
    assert {argv[0] for argv in called} >= {"--version", "check", "plan", "publish"}
    for argv in called:
        if argv[0].startswith("-"):
            result = CliRunner().invoke(main, argv)
            assert result.exit_code == 0, argv
            continue
        with click.Context(main) as ctx:
            command = main.get_command(ctx, argv[0])
            assert command is not None, argv
            command.make_context(argv[0], argv[1:])  # raises UsageError on an unknown option or value


@pytest.fixture
def content(tmp_path):
    repo = make_repo(tmp_path / "content-repo")
    repo.cable("2026-BERLIN-0001")
    repo.commit("A cable")
    return repo


def test_check_job_writes_an_empty_report_and_passes_on_a_clean_repository(tmp_path):
    signed = {"communities": {cid: {k: v for k, v in c.items() if k != "require_signed_approvals"}
                              for cid, c in COMMUNITIES["communities"].items()}}  # the default: no W605
    content = make_repo(tmp_path / "content-repo", signed)
    content.cable("2026-BERLIN-0001")
    content.commit("A cable")
    for line in jobs()["check"]["script"]:
        assert run_script(line, content.root).returncode == 0, line
    assert json.loads((content.root / "gl-code-quality-report.json").read_text()) == []


def test_check_job_reports_a_classified_cable_and_fails(content):
    content.cable("2026-BERLIN-0002", classification="SECRET")
    first, second = jobs()["check"]["script"]
    assert run_script(first, content.root).returncode == 0  # the report is always written
    report = json.loads((content.root / "gl-code-quality-report.json").read_text())
    assert any(r["severity"] == "blocker" and r["location"]["path"] == SECRET_CABLE for r in report)
    failed = run_script(second, content.root)
    assert failed.returncode == 1
    assert SECRET_CABLE in failed.stdout


@pytest.fixture
def merge_request(content, tmp_path):
    """A content repository cloned from its origin, as GitLab's runner checks out a merge request:
    the branch 'mr' adds an approved cable to the one on the target branch 'main'."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(content.root), str(origin)], check=True)
    content.git("remote", "add", "origin", str(origin))
    content.git("checkout", "-q", "-b", "mr")
    content.cable("2026-BERLIN-0002", title="Un nouveau télégramme")
    content.approve("2026-BERLIN-0002", "energie")
    content.commit("A new cable, approved")
    return content


MR_ENV = {"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "CI_PROJECT_ID": "7", "CI_MERGE_REQUEST_IID": "42"}


def test_plan_job_prints_the_plan_keeps_it_as_json_and_attaches_the_diff(merge_request):
    outputs = []
    for line in jobs()["plan"]["script"]:
        result = run_script(line, merge_request.root, DIPLOMATIE_GITLAB_TOKEN="", **MR_ENV)
        assert result.returncode == 0, (line, result.stderr)
        outputs.append(result.stdout)
    plan = json.loads((merge_request.root / "plan.json").read_text())
    assert plan["communities"]["energie"]["held"] == [{"id": "2026-BERLIN-0001", "reason": "not approved"}]
    comment = (merge_request.root / "plan-diff.md").read_text()
    assert comment.startswith("### What this merge request changes in what each community publishes")
    assert "| publishes | 2026-BERLIN-0002 | Un nouveau télégramme |" in comment
    assert "2026-BERLIN-0001" not in comment  # unchanged by this merge request
    assert any("publishes      2026-BERLIN-0002" in out for out in outputs)  # the readable log
    assert "set DIPLOMATIE_GITLAB_TOKEN" in outputs[-1]
    assert set(jobs()["plan"]["artifacts"]["paths"]) >= {"plan.json", "plan-diff.md"}


class _Notes(http.server.BaseHTTPRequestHandler):
    """GitLab's merge-request notes endpoint, as far as the plan job uses it."""

    received: list[tuple[str, str, dict]] = []

    def do_POST(self):  # noqa: N802 (the name http.server calls)
        length = int(self.headers["Content-Length"])
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        self.received.append((self.path, self.headers["PRIVATE-TOKEN"], form))
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"id": 1}')

    def log_message(self, *args):
        pass


def test_plan_job_posts_the_diff_as_a_merge_request_comment_with_a_token(merge_request):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Notes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Notes.received = []
    try:
        api = f"http://127.0.0.1:{server.server_address[1]}/api/v4"
        for line in jobs()["plan"]["script"]:
            result = run_script(line, merge_request.root, DIPLOMATIE_GITLAB_TOKEN="glpat-test", CI_API_V4_URL=api,
                                **MR_ENV)
            assert result.returncode == 0, (line, result.stderr)
    finally:
        server.shutdown()
        server.server_close()
    [(path, token, form)] = _Notes.received
    assert path == "/api/v4/projects/7/merge_requests/42/notes"
    assert token == "glpat-test"
    assert form["body"] == [(merge_request.root / "plan-diff.md").read_text()]


def test_publish_job_publishes_to_the_store_it_is_given(content, tmp_path):
    content.approve("2026-BERLIN-0001", "energie")
    content.commit("Approve")
    store = tmp_path / "store"
    for line in jobs()["publish"]["script"]:
        result = run_script(line, content.root, DIPLOMATIE_STORE=str(store))
        assert result.returncode == 0, result.stderr
    assert published_cables(store, "energie") == ("2026-BERLIN-0001",)


# --- .pre-commit-hooks.yaml ----------------------------------------------------------------------

def test_hook_runs_check_on_the_whole_repository():
    valid = subprocess.run([str(BIN / "pre-commit"), "validate-manifest", str(PROJECT / ".pre-commit-hooks.yaml")],
                           capture_output=True, text=True)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    [hook] = HOOKS
    assert hook["id"] == "diplomatie-check"
    assert hook["entry"] == "diplomatie check"
    assert hook["pass_filenames"] is False
    assert hook["language"] == "python"


def test_pre_commit_hook_refuses_a_bad_cable_at_commit_time(content, tmp_path):
    """The manifest's hook, run by the real pre-commit from the repository it is installed in.

    pre-commit would build a virtualenv and pip-install this project for ``language: python``; the
    test uses the same hook definition as a local ``system`` hook on the already installed tool, so
    it runs offline.
    """
    [hook] = HOOKS
    local = {**hook, "language": "system"}
    local.pop("minimum_pre_commit_version", None)
    config = {"repos": [{"repo": "local", "hooks": [local]}]}
    content.write(".pre-commit-config.yaml", yaml.safe_dump(config, sort_keys=False))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=content.root, env=env, capture_output=True, text=True)

    installed = subprocess.run([str(BIN / "pre-commit"), "install"], cwd=content.root, env=env,
                               capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    git("add", ".pre-commit-config.yaml")
    assert git("commit", "-q", "-m", "Install the hook").returncode == 0

    content.cable("2026-BERLIN-0002", classification="SECRET")
    git("add", SECRET_CABLE)
    refused = git("commit", "-m", "A classified cable")
    assert refused.returncode != 0
    said = refused.stdout + refused.stderr
    assert "diplomatie check" in said and "Failed" in said
    assert f"{SECRET_CABLE}:" in said and "E301" in said
    assert git("log", "-1", "--format=%s").stdout.strip() == "Install the hook"

    content.cable("2026-BERLIN-0002")
    git("add", SECRET_CABLE)
    accepted = git("commit", "-m", "An unclassified cable")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "Passed" in accepted.stdout + accepted.stderr
    assert git("log", "-1", "--format=%s").stdout.strip() == "An unclassified cable"
