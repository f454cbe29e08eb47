"""``diplomatie activity C``: per cable, how many distinct members read it each week; per member, the
last sign-in. Records past the retention period are reduced to counts first."""

from __future__ import annotations

import datetime as dt

import click

from pipeline.commands.options import (
    endpoint_option,
    format_option,
    load_with_communities,
    open_store_or_exit,
    root_option,
    store_option,
)
from pipeline.messages import N_, _

#: What this command tells the user on failure.
MESSAGES = {
    "unknown": N_("no community {community!r} in communities.yaml (known: {known})"),
    "store": N_("the store does not answer ({error}); run again once it answers"),
}


@click.command("activity", help=N_(
    "Show, for COMMUNITY, how many distinct members read each cable per ISO week, and each member's last "
    "sign-in (recorded by the gate). Per-person records older than the retention period (retention_months "
    "in communities.yaml, default 6) are first reduced to counts."))
@click.argument("community")
@root_option
@store_option
@endpoint_option
@format_option("text", "json")
def command(community, root, store_url, endpoint_url, fmt) -> None:
    from gate.store import StoreError
    from pipeline.activity import activity, as_text, reduce_all
    from pipeline.communities import PATH, retention_months

    repo = load_with_communities(root)
    found = repo.communities.get(community)
    if found is None:
        raise click.ClickException(_(MESSAGES["unknown"]).format(community=community,
                                                              known=", ".join(sorted(repo.communities)) or "-"))
    months = retention_months((root / PATH).read_bytes())
    store = open_store_or_exit(store_url, endpoint_url)
    try:
        reduce_all(store, dt.datetime.now(dt.UTC), months)
        result = activity(store, found, months)
    except StoreError as exc:
        raise click.ClickException(_(MESSAGES["store"]).format(error=exc)) from None
    click.echo(result.to_json() if fmt == "json" else as_text(result))
