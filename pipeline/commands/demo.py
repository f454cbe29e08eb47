"""``diplomatie demo``: the whole chain on one machine — keys, build, publish, links, gate.

What ``make demo`` runs on a fresh clone: the sample content is checked, built and published to a
folder store, one invitation link is printed per current member, and the gate serves the sites on
http://127.0.0.1:8000 (local storage, development cookies).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pipeline.commands.options import root_option


@click.command("demo")
@root_option
@click.option("--var", "var", type=click.Path(file_okay=False, path_type=Path), default=Path("var"),
              show_default=True, help="Where keys, builds and the store live.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--serve/--no-serve", default=True, show_default=True, help="Start the gate at the end.")
@click.pass_context
def command(ctx: click.Context, root: Path, var: Path, port: int, serve: bool) -> None:
    """Build and publish the content to VAR/store, print invitation links, and start the gate."""
    from gate import tokens
    from gate.app import GateConfig
    from gate.server import serve as serve_gate
    from pipeline.commands import check, publish
    from pipeline.commands.link import invitation_url
    from pipeline.commands.options import load_repository

    base_url = f"http://127.0.0.1:{port}"
    keys, store, build = var / "keys", var / "store", var / "build"
    click.secho("== check", bold=True, err=True)
    try:
        ctx.invoke(check.command, root=root, fmt="text", strict=False)
    except SystemExit as exit_:
        if exit_.code:
            raise click.ClickException("the content has errors (above); fix them first") from None
    click.secho("== keys", bold=True, err=True)
    if not (keys / "keys.json").exists():
        tokens.init(keys)
    ring = tokens.load(keys)
    click.secho("== build and publish", bold=True, err=True)
    ctx.invoke(publish.command, root=root, store_url=str(store), endpoint_url=None, only=(), out=build,
               jobs=16, fmt="text")
    click.secho("== invitation links (one-time, valid 7 days)", bold=True, err=True)
    repo = load_repository(root)
    today = dt.datetime.now(dt.UTC).date()
    for cid, community in sorted(repo.communities.items()):
        click.echo(f"{cid} — {community.title}")
        for member in community.members:
            if member.is_current(today):
                url = invitation_url(ring, base_url, cid, member.email, tokens.parse_duration("7d"))
                click.echo(f"  {member.email:<45} {url}")
        if community.domains:
            click.echo(f"  (and every address at {', '.join(community.domains)}: sign in at {base_url}/login)")
    if not serve:
        return
    click.secho(f"== gate on {base_url}  (sign-in links are written to this log; Ctrl-C stops)", bold=True,
                err=True)
    config = GateConfig(store=str(store.resolve()), keys=str(keys.resolve()), base_url=base_url,
                        insecure_dev=True)
    serve_gate(config, host="127.0.0.1", port=port)
