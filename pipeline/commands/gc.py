"""``diplomatie gc``: keep the newest releases, delete the blobs nothing kept uses."""

from __future__ import annotations

import click

from pipeline.commands.options import endpoint_option, open_store_or_exit, store_option
from pipeline.messages import N_, _


@click.command("gc", help=N_("Delete releases beyond the KEEP newest of each community and every blob no kept release uses. Safe while a publication runs: the blobs it needs and blobs younger than it are kept."))
@store_option
@endpoint_option
@click.option("--keep", type=click.IntRange(min=1), default=5, show_default=True,
              help=N_("Releases kept per community (the serving one is always kept too)."))
def command(store_url, endpoint_url, keep):
    from gate.store import StoreError
    from pipeline.publish import PublishError, gc

    store = open_store_or_exit(store_url, endpoint_url)
    try:
        result = gc(store, keep)
    except (PublishError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_("{n_dropped} release(s) dropped, {deleted_blobs} blob(s) deleted").format(n_dropped=len(result.dropped), deleted_blobs=result.deleted_blobs))
