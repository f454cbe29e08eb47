"""Real content repositories in temporary folders, for the tests: cables, communities, git."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml
from click.testing import CliRunner

from pipeline.cli import main

EDITOR = "redaction@diplomatie.gouv.fr"
OWNER = "ambassadeur@diplomatie.gouv.fr"

COMMUNITIES = {
    "communities": {
        "energie": {
            "title": "Énergie en Europe",
            "description": "Analyses des postes européens sur l'énergie.",
            "language": "fr",
            "owner": OWNER,
            "editors": [EDITOR],
            "select": {"subjects": ["energie"]},
            # unsigned approvals, so that tests of other safeguards approve with `diplomatie approve`;
            # the default (signed approvals) is tested in test_signatures.py
            "require_signed_approvals": False,
            "members": [
                {"email": "a.martin@example.org", "name": "Anne Martin", "sector": "research",
                 "invited_by": OWNER, "expires": dt.date(2099, 6, 30)},
            ],
        },
        "onu": {
            "title": "United Nations",
            "description": "Multilateral affairs.",
            "language": "en",
            "owner": OWNER,
            "editors": [EDITOR],
            "select": {"posts": ["NEW-YORK-ONU"]},
            "require_signed_approvals": False,
            "domains": ["diplomatie.gouv.fr"],
        },
    }
}


def cable_text(cable_id: str = "2026-BERLIN-0001", body: str = "Le texte du télégramme.\n", **front) -> str:
    """A valid cable's text; keyword arguments override (or, with None, remove) front matter keys."""
    post = cable_id.split("-", 1)[1].rsplit("-", 1)[0]
    meta = {
        "id": cable_id,
        "title": "Sécurité énergétique",
        "date": dt.date(int(cable_id[:4]), 3, 14),
        "post": post,
        "author": "agent@diplomatie.gouv.fr",
        "classification": "NON CLASSIFIÉ",
        "subjects": ["energie"],
        "language": "fr",
    }
    for key, value in front.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    lines = []
    for key, value in meta.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            dumped = yaml.safe_dump(value, allow_unicode=True, sort_keys=False)
            lines.append(f"{key}:\n" + "".join(f"  {line}\n" for line in dumped.splitlines()).rstrip("\n"))
            continue
        dumped = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10**6)
        lines.append(f"{key}: " + dumped.removesuffix("\n").removesuffix("\n...").strip())
    return "---\n" + "\n".join(lines) + "\n---\n" + body


@dataclass
class ContentRepo:
    root: Path

    def write(self, relpath: str, text: str | bytes) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def cable(self, cable_id: str = "2026-BERLIN-0001", body: str = "Le texte du télégramme.\n", **front) -> Path:
        return self.write(f"content/{cable_id[:4]}/{cable_id}.md", cable_text(cable_id, body, **front))

    def communities(self, data: dict | str = COMMUNITIES) -> Path:
        text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        return self.write("communities.yaml", text)

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.root, check=True, capture_output=True, text=True).stdout

    def commit(self, message: str = "update", date: str | None = None) -> str:
        import os

        env = dict(os.environ)
        if date:
            env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        subprocess.run(["git", "add", "-A"], cwd=self.root, check=True)
        subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", message], cwd=self.root, check=True, env=env)
        return self.git("rev-parse", "HEAD").strip()

    def run(self, *args: str) -> Result:
        """Run the CLI in-process on this repository, as a user would type it."""
        result = CliRunner().invoke(main, [*args, "--root", str(self.root)], catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    def approve(self, cable_id: str, community: str, editor: str = EDITOR) -> Result:
        result = self.run("approve", cable_id, "--community", community, "--editor", editor)
        assert result.code == 0, result.output
        return result


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def make_repo(path: Path, communities: dict | str = COMMUNITIES) -> ContentRepo:
    repo = ContentRepo(path)
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True)
    subprocess.run(["git", "config", "user.email", "agent@diplomatie.gouv.fr"], cwd=path, check=True)
    subprocess.run(["git", "config", "user.name", "Agent"], cwd=path, check=True)
    subprocess.run(["git", "config", "commit.gpgsign", "false"], cwd=path, check=True)
    repo.communities(communities)
    return repo


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The installed entry point in a subprocess (for exit codes and streams exactly as a shell sees)."""
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, capture_output=True, text=True)
