"""``diplomatie rollback``: switch a community back to an earlier restorable release."""

from __future__ import annotations

import shlex

import click

from pipeline.commands.options import endpoint_option, open_store_or_exit, store_option
from pipeline.messages import N_, _


@click.command("rollback", help=N_("Point COMMUNITY at an earlier release. Releases that held content no longer published, or a cable of the withdrawn register, are refused."))
@click.argument("community")
@store_option
@endpoint_option
@click.option("--to", "to", metavar="RELEASE", default=None,
              help=N_("The release to serve (see diplomatie releases); default: the previous restorable one."))
def command(community, store_url, endpoint_url, to):
    from gate.store import StoreError, read_pointer
    from pipeline.publish import PublishError, UnknownRelease, rollback

    store = open_store_or_exit(store_url, endpoint_url)
    try:
        before = read_pointer(store, community)
        pointer = rollback(store, community, to)
    except UnknownRelease as exc:
        listing = shlex.join(["diplomatie", "releases", community, "--store", store_url]
                             + (["--endpoint-url", endpoint_url] if endpoint_url else []))
        raise click.ClickException(_("{exc}; list them with: {listing}").format(exc=exc, listing=listing)) from None
    except (PublishError, StoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo((_("{community}: now serves {release} (was {before})") if before else
                _("{community}: now serves {release}")).format(
        community=community, release=pointer.release, before=before.release if before else ""))
