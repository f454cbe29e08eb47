"""``diplomatie demo``: the whole chain on one machine — keys, build, publish, links, gate.

What ``make demo`` runs on a fresh clone: the sample content is checked, built and published to a
folder store, one invitation link is printed per current member, and the gate serves the sites on
http://127.0.0.1:8000 (local storage, development cookies).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from pipeline.commands.options import root_option
from pipeline.messages import N_, _


@click.command("demo", help=N_("Build and publish the content to VAR/store, print invitation links, and start the gate."))
@root_option
@click.option("--var", "var", type=click.Path(file_okay=False, path_type=Path), default=Path("var"),
              show_default=True, help=N_("Where keys, builds and the store live."))
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--serve/--no-serve", default=True, show_default=True, help=N_("Start the gate at the end."))
def command(root: Path, var: Path, port: int, serve: bool) -> None:
    from gate import tokens
    from gate.launch import launch
    from gate.store import open_store
    from pipeline.check import as_text, exit_code
    from pipeline.commands.options import load_repository
    from pipeline.invitations import invitation_url
    from pipeline.publication import EchoListener, publish_all
    from pipeline.publish import PublishError

    base_url = f"http://127.0.0.1:{port}"
    keys, store, build = var / "keys", var / "store", var / "build"
    click.secho(_("== check"), bold=True, err=True)
    repo = load_repository(root)
    click.echo(as_text(repo.findings))
    if exit_code(repo.findings):
        raise click.ClickException(_("the content has errors (above); fix them first"))
    click.secho(_("== keys"), bold=True, err=True)
    if not (keys / "keys.json").exists():
        tokens.init(keys)
    ring = tokens.load(keys)
    click.secho(_("== build and publish"), bold=True, err=True)
    try:
        report = publish_all(root, open_store(str(store)), out=build, progress=sys.stderr.isatty(),
                             listener=EchoListener(click.echo))
    except PublishError as exc:
        raise click.ClickException(str(exc)) from None
    if report.failure():
        raise click.ClickException(report.failure())
    click.secho(_("== invitation links (one-time, valid 7 days)"), bold=True, err=True)
    today = dt.datetime.now(dt.UTC).date()
    for cid, community in sorted(repo.communities.items()):
        click.echo(f"{cid} — {community.title}")
        for member in community.members:
            if member.is_current(today):
                url = invitation_url(ring, base_url, cid, member.email, tokens.parse_duration("7d"))
                click.echo(f"  {member.email:<45} {url}")
        if community.domains:
            click.echo(_("  (and every address at {domains}: sign in at {base_url}/login)").format(domains=', '.join(community.domains), base_url=base_url))
    if not serve:
        return
    click.secho(_("== gate on {base_url}  (sign-in links are written to this log; Ctrl-C stops)").format(base_url=base_url), bold=True,
                err=True)
    launch(host="127.0.0.1", port=port, store=str(store.resolve()), keys=str(keys.resolve()), base_url=base_url,
           insecure_dev=True)
