"""``diplomatie link C EMAIL``: print an invitation link for a current member of community C."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from gate import tokens
from gate.addresses import InvalidAddress, parse_address
from pipeline.commands.options import endpoint_option, load_repository, open_store_or_exit, root_option
from pipeline.invitations import invitation_url
from pipeline.messages import N_, _

#: What this command tells the user, in one place.
MESSAGES = {
    "not_listed": N_("{email} is not a member of {community}; invite them first (the invite command, with their "
                  "name and sector), then publish"),
    "expired": N_("the membership of {email} in {community} expired on {expires}; the gate refuses them. Renew it: "
               "invite {email} again with a new --expires date, then publish"),
    "not_published": N_("warning: {email} is not published yet (not let in by the store's members.json, or not "
                     "until this date): the gate refuses this link until the next publish"),
    "unchecked": N_("note: whether {email} is published (let in by the gate) was not checked; pass --store to check"),
    "store": N_("the store's members.json cannot be read ({error}); run again, or leave out --store"),
}


@click.command("link", help=N_("Print a one-time invitation link to COMMUNITY for EMAIL, who must be a current member."))
@click.argument("community")
@click.argument("email")
@click.option("--keys", "keys_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help=N_("The key directory made by `diplomatie keys init`."))
@click.option("--base-url", required=True, help=N_("The gate's public address, e.g. https://cables.example.org"))
@click.option("--ttl", default="7d", show_default=True, help=N_("How long the link stays valid (e.g. 7d, 12h)."))
@click.option("--store", "store_url", default=None, metavar="URL",
              help=N_("The store publish writes to: warns when the member is not published yet."))
@endpoint_option
@root_option
def command(community: str, email: str, keys_dir: Path, base_url: str, ttl: str, store_url: str | None,
            endpoint_url: str | None, root: Path) -> None:
    try:
        seconds = tokens.parse_duration(ttl)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--ttl") from None
    try:
        # The one grammar (gate/addresses.py): the token names exactly the address the gate compares.
        email = parse_address(email)
    except InvalidAddress as exc:
        raise click.BadParameter(_("{email!r} is not a plain e-mail address: {exc}").format(email=email, exc=exc), param_hint="EMAIL") from None
    repo = load_repository(root)
    broken = [f for f in repo.errors if f.path.endswith("communities.yaml")]
    if broken:
        # A member entry that failed to parse must never widen access: refuse until it is fixed.
        raise click.ClickException(_("communities.yaml has errors; fix them first (diplomatie check):\n{errors}")
                                   .format(errors="\n".join(str(f) for f in broken)))
    found = repo.communities.get(community)
    if found is None:
        known = ", ".join(sorted(repo.communities)) or "none"
        raise click.ClickException(_("no community {community!r} in {root} (known: {known})").format(community=community, root=root / 'communities.yaml', known=known))
    today = dt.datetime.now(dt.UTC).date()
    if not found.is_member(email, today):
        listed = {m.email: m for m in found.members}.get(email)
        if listed is not None and listed.expires is not None:
            raise click.ClickException(_(MESSAGES["expired"]).format(email=email, community=community,
                                                                  expires=listed.expires.isoformat()))
        raise click.ClickException(_(MESSAGES["not_listed"]).format(email=email, community=community))
    if store_url is None:
        click.echo(_(MESSAGES["unchecked"]).format(email=email), err=True)
    elif not published(open_store_or_exit(store_url, endpoint_url), community, email, today):
        click.echo(_(MESSAGES["not_published"]).format(email=email), err=True)
    try:
        ring = tokens.load(keys_dir)
    except tokens.KeysError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(invitation_url(ring, base_url, community, email, seconds))


def published(store, community: str, email: str, today: dt.date) -> bool:
    """Whether the gate lets ``email`` into ``community`` today, by the store's ``members.json``."""
    from gate.membership import Snapshot, SnapshotError
    from gate.store import MEMBERS_KEY, NotFound, StoreError

    try:
        return Snapshot.from_json(store.get(MEMBERS_KEY)).admits(community, email, today)
    except NotFound:
        return False
    except (SnapshotError, StoreError) as exc:
        raise click.ClickException(_(MESSAGES["store"]).format(error=exc)) from None
