"""``diplomatie remind``: members whose access ends within 14 days are told once; owners get a digest."""

from __future__ import annotations

import datetime as dt
import json

import click

from pipeline.commands.notify import alert_options, settings_from
from pipeline.commands.options import (
    endpoint_option,
    format_option,
    load_with_communities,
    open_store_or_exit,
    root_option,
    store_option,
)
from pipeline.messages import N_, _

#: What this command tells the user, in one place.
MESSAGES = {
    "store": N_("the store cannot be read ({error}); run remind again once it answers"),
    "member": N_("{community}: reminded {email} that their access ends on {date}"),
    "owner": N_("{community}: told the owner {email} of {count} access(es) ending soon"),
    "summary": N_("reminders: {members} member(s) and {owners} owner digest(s) sent"),
    "failed": N_("error: reminder to {what} not sent ({why}); the next run retries"),
    "exit": N_("{count} reminder(s) could not be sent; run remind again"),
}


@click.command("remind", help=N_(
    "E-mail, once, each member whose access ends within 14 days (whom to ask for a renewal: the owner's "
    "name), and each community's owner one digest of those accesses. Run it daily, beside notify."))
@root_option
@store_option
@endpoint_option
@alert_options(required=True)
@format_option("text", "json")
def command(root, store_url, endpoint_url, smtp, smtp_from, smtp_starttls, gate_url, keys_dir, fmt) -> None:
    from gate.store import StoreError
    from pipeline.reminders import remind

    settings = settings_from(smtp, smtp_from, smtp_starttls, gate_url, keys_dir)
    repo = load_with_communities(root)
    store = open_store_or_exit(store_url, endpoint_url)
    try:
        done = remind(store, repo.communities, settings.smtp, dt.datetime.now(dt.UTC), settings.gate_url.rstrip("/"))
    except StoreError as exc:
        raise click.ClickException(_(MESSAGES["store"]).format(error=exc)) from None
    if fmt == "json":
        click.echo(json.dumps(done.to_json(), indent=2))
    else:
        for community, email, date in done.members:
            click.echo(_(MESSAGES["member"]).format(community=community, email=email, date=date.isoformat()))
        for community, email, count in done.owners:
            click.echo(_(MESSAGES["owner"]).format(community=community, email=email, count=count))
        click.echo(_(MESSAGES["summary"]).format(members=len(done.members), owners=len(done.owners)))
        for what, why in sorted(done.failed.items()):
            click.echo(_(MESSAGES["failed"]).format(what=what, why=why), err=True)
    if done.failed:
        raise click.ClickException(_(MESSAGES["exit"]).format(count=len(done.failed)))
