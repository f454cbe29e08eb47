"""``diplomatie members C``: every member of community C, their status and last sign-in."""

from __future__ import annotations

import datetime as dt

import click

from pipeline.commands.options import (
    endpoint_option,
    format_option,
    load_with_communities,
    open_store_or_exit,
    root_option,
)
from pipeline.messages import N_, _

#: What this command tells the user, in one place.
MESSAGES = {
    "unknown": N_("no community {community!r} in communities.yaml (known: {known})"),
    "store": N_("the store cannot be read ({error}); run again, or leave out --store"),
    "snapshot": N_("the store's members.json cannot be read ({error}); publish again to rewrite it"),
    "no_snapshot": N_("note: {store} has no members.json: nothing was ever published there (check --store), so "
                   "nobody is let in yet"),
}


@click.command("members", help=N_("List every member of COMMUNITY: name, organisation, sector, who invited them, expiry, status (active, expiring within 30 days, expired, not yet published) and last sign-in."))
@click.argument("community")
@root_option
@click.option("--store", "store_url", default=None, metavar="URL",
              help=N_("The store publish writes to: tells who is published and when each member last signed in."))
@endpoint_option
@format_option("text", "json", "csv")
def command(community: str, root, store_url, endpoint_url, fmt) -> None:
    from gate.membership import Snapshot, SnapshotError
    from gate.store import MEMBERS_KEY, NotFound, StoreError, accepted, read_sign_ins, terms_version
    from pipeline import roster
    from pipeline.repository import terms_text

    repo = load_with_communities(root)
    found = repo.communities.get(community)
    if found is None:
        raise click.ClickException(_(MESSAGES["unknown"]).format(community=community,
                                                              known=", ".join(sorted(repo.communities)) or "none"))
    published, sign_ins, checked, acceptances = None, {}, store_url is not None, {}
    terms = terms_version(terms_text(repo, found)) if found.terms else None
    if checked:
        store = open_store_or_exit(store_url, endpoint_url)
        try:
            try:
                snapshot = Snapshot.from_json(store.get(MEMBERS_KEY))
            except NotFound:
                snapshot = Snapshot()
                click.echo(_(MESSAGES["no_snapshot"]).format(store=store_url), err=True)
            sign_ins = read_sign_ins(store, community)
            if terms:
                acceptances = accepted(store, community, [m.email for m in found.members], terms)
        except SnapshotError as exc:
            raise click.ClickException(_(MESSAGES["snapshot"]).format(error=exc)) from None
        except StoreError as exc:
            raise click.ClickException(_(MESSAGES["store"]).format(error=exc)) from None
        published = snapshot.communities.get(community)
    rows = roster.rows(found, dt.datetime.now(dt.UTC).date(), published=published, checked=checked,
                       sign_ins=sign_ins, accepted=acceptances)
    if fmt == "json":
        click.echo(roster.as_json(community, rows, checked, terms))
    elif fmt == "csv":
        click.echo(roster.as_csv(rows), nl=False)
    else:
        click.echo(roster.as_text(found, rows, checked, terms))
