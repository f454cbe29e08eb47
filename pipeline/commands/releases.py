"""``diplomatie releases``: a community's releases, the serving one and which can be restored."""

from __future__ import annotations

import json

import click

from pipeline.commands.options import endpoint_option, format_option, open_store_or_exit, store_option
from pipeline.messages import N_, _


@click.command("releases", help=N_("List COMMUNITY's releases, newest first: '*' marks the one serving; 'not restorable' marks releases that held content no longer published."))
@click.argument("community")
@store_option
@endpoint_option
@format_option("text", "json")
def command(community, store_url, endpoint_url, fmt):
    from gate.store import StoreError
    from pipeline.publish import list_releases

    store = open_store_or_exit(store_url, endpoint_url)
    try:
        releases = list_releases(store, community)
    except (StoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if fmt == "json":
        click.echo(json.dumps({"community": community, "releases": [r.to_dict() for r in releases]}, indent=2))
        return
    if not releases:
        raise click.ClickException(_("{community}: no release in {url}").format(community=community, url=store.url))
    for r in releases:
        mark = "*" if r.current else " "
        notes = ", ".join(n for n in (_("serving") if r.current else "",
                                      "" if r.restorable else _("not restorable")) if n)
        commit = (r.commit or "-")[:10]
        click.echo(_("{mark} {release}  {published_at}  {commit:10}  {cables:5} cables  {files:6} files").format(
            mark=mark, release=r.release, published_at=r.published_at, commit=commit, cables=r.cables, files=r.files)
                   + (f"  {notes}" if notes else ""))
