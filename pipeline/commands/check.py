"""``diplomatie check [PATH…]``: validate cables and communities.yaml, report all problems at once."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.check import FORMATS, concerning, exit_code
from pipeline.commands.options import format_option, load_repository, root_option
from pipeline.messages import N_, _


@click.command("check", help=N_("Check cables and communities.yaml: path:line:col, a stable code, a hint. Exit 1 on errors.\n\nWith PATHs (cable files, content/<year>/<id>.md), report only the problems of those cables: their own, an id another file also uses, and what communities.yaml says of them. Without, everything."))
@root_option
@format_option("text", "json", "codequality")
@click.option("--strict", is_flag=True, help=N_("Fail on warnings too (stale approval, unselected cable, expired member)."))
@click.option("--no-cache", is_flag=True,
              help=N_("Parse every cable again instead of reusing what an earlier run parsed (same findings, slower)."))
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def command(root, fmt, strict, no_cache, paths):
    wanted = [cable_path(root, p) for p in paths]
    repo = load_repository(root, cache=not no_cache)
    findings = concerning(repo.findings, wanted) if wanted else repo.findings
    click.echo(FORMATS[fmt](findings))
    raise SystemExit(exit_code(findings, strict))


def cable_path(root: Path, path: Path) -> str:
    """``path`` (as typed: relative to the current folder, or to ``--root``) as the repository names
    it, or a usage error when it is not a cable file of the repository."""
    from pipeline.repository import CABLE_PATH

    base = root.resolve()
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, base / path]
    for candidate in candidates:
        try:
            relative = candidate.resolve().relative_to(base).as_posix()
        except (ValueError, OSError):
            continue
        if candidate.is_file() and CABLE_PATH.match(relative):
            return relative
    raise click.UsageError(_("{path} is not a cable file of {root}: give files content/<year>/<id>.md (or no path, to check everything)").format(path=path, root=root))
