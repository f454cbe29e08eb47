"""``diplomatie gc``: keep the newest releases, delete the blobs nothing kept uses."""

from __future__ import annotations

import click

from pipeline.commands.options import endpoint_option, open_store_or_exit, store_option


@click.command("gc")
@store_option
@endpoint_option
@click.option("--keep", type=click.IntRange(min=1), default=5, show_default=True,
              help="Releases kept per community (the serving one is always kept too).")
def command(store_url, endpoint_url, keep):
    """Delete releases beyond the KEEP newest of each community and every blob no kept release uses.
    Safe while a publication runs: the blobs it needs and blobs younger than it are kept."""
    from gate.store import StoreError
    from pipeline.publish import PublishError, gc

    store = open_store_or_exit(store_url, endpoint_url)
    try:
        result = gc(store, keep)
    except (PublishError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{len(result.dropped)} release(s) dropped, {result.deleted_blobs} blob(s) deleted")
