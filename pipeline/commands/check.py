"""``diplomatie check``: validate every cable and communities.yaml, report all problems at once."""

from __future__ import annotations

import click

from pipeline.check import FORMATS, exit_code
from pipeline.commands.options import format_option, load_repository, root_option


@click.command("check")
@root_option
@format_option("text", "json", "codequality")
@click.option("--strict", is_flag=True, help="Fail on warnings too (stale approval, unselected cable, expired member).")
def command(root, fmt, strict):
    """Check cables and communities.yaml: path:line:col, a stable code, a hint. Exit 1 on errors."""
    repo = load_repository(root)
    click.echo(FORMATS[fmt](repo.findings))
    raise SystemExit(exit_code(repo.findings, strict))
