"""``diplomatie link C EMAIL``: print an invitation link for a current member of community C."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from gate import tokens
from gate.addresses import InvalidAddress, parse_address
from pipeline.commands.options import load_repository, root_option
from pipeline.invitations import invitation_url


@click.command("link")
@click.argument("community")
@click.argument("email")
@click.option("--keys", "keys_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The key directory made by `diplomatie keys init`.")
@click.option("--base-url", required=True, help="The gate's public address, e.g. https://cables.example.org")
@click.option("--ttl", default="7d", show_default=True, help="How long the link stays valid (e.g. 7d, 12h).")
@root_option
def command(community: str, email: str, keys_dir: Path, base_url: str, ttl: str, root: Path) -> None:
    """Print a one-time invitation link to COMMUNITY for EMAIL, who must be a current member."""
    try:
        seconds = tokens.parse_duration(ttl)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--ttl") from None
    try:
        # The one grammar (gate/addresses.py): the token names exactly the address the gate compares.
        email = parse_address(email)
    except InvalidAddress as exc:
        raise click.BadParameter(f"{email!r} is not a plain e-mail address: {exc}", param_hint="EMAIL") from None
    repo = load_repository(root)
    broken = [f for f in repo.errors if f.path.endswith("communities.yaml")]
    if broken:
        # A member entry that failed to parse must never widen access: refuse until it is fixed.
        raise click.ClickException("communities.yaml has errors; fix them first (diplomatie check):\n"
                                   + "\n".join(str(f) for f in broken))
    found = repo.communities.get(community)
    if found is None:
        known = ", ".join(sorted(repo.communities)) or "none"
        raise click.ClickException(f"no community {community!r} in {root / 'communities.yaml'} (known: {known})")
    if not found.is_member(email, dt.datetime.now(dt.UTC).date()):
        raise click.ClickException(f"{email} is not a current member of {community}; add them to "
                                   f"communities.yaml first")
    try:
        ring = tokens.load(keys_dir)
    except tokens.KeysError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(invitation_url(ring, base_url, community, email, seconds))
