"""``diplomatie history``: every version, approval and publication of one cable, from git and the ledger."""

from __future__ import annotations

import json

import click

from pipeline.commands.options import format_option, root_option


@click.command("history")
@root_option
@click.argument("cable_id")
@format_option("text", "json")
@click.option("--ref", metavar="REF", default=None, help="Read the history as of this tag, branch or commit.")
@click.option("--store", "store_url", metavar="URL", default=None,
              help="Also list the publications recorded in this store's ledger (folder or s3://bucket/prefix).")
@click.option("--endpoint-url", metavar="URL", default=None, help="S3 endpoint of an S3-compatible server.")
def command(root, cable_id, fmt, ref, store_url, endpoint_url):
    """Versions of CABLE_ID (commit, date, author, metadata changed, body lines added and removed), its
    approvals (who, when, for which community, which version), and with --store its publications."""
    from gate.store import StoreError
    from pipeline.history import HistoryError, cable_history, to_json, to_text

    store = None
    if store_url:
        from pipeline.commands.options import open_store_or_exit

        store = open_store_or_exit(store_url, endpoint_url)
    try:
        history = cable_history(root, cable_id, ref=ref, store=store)
    except (HistoryError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    if fmt == "json":
        click.echo(json.dumps(to_json(history), ensure_ascii=False, indent=2))
        return
    for line in to_text(history):
        click.echo(line)
