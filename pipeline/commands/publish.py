"""``diplomatie publish``: build each community's site, then publish it to the store atomically."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from pipeline.commands.options import format_option, load_repository, root_option

store_option = click.option(
    "--store", "store_url", default="var/store", show_default=True, metavar="URL",
    help="Where sites are published: a folder, file:///abs/path, or s3://bucket/prefix.")
endpoint_option = click.option(
    "--endpoint-url", metavar="URL", default=None,
    help="S3 endpoint of an S3-compatible server (else boto3's configuration, e.g. AWS_ENDPOINT_URL).")


def open_store_or_exit(url: str, endpoint_url: str | None):
    """The store named on the command line, or a clear error."""
    from gate.store import open_store

    try:
        return open_store(url, endpoint_url=endpoint_url)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("publish")
@root_option
@store_option
@endpoint_option
@click.option("--community", "-c", "only", multiple=True, metavar="ID",
              help="Publish only this community (repeatable); default: all.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("var/build"),
              show_default=True, help="Where the sites are built (the build cache makes rebuilds cheap).")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=16, show_default=True,
              help="Concurrent uploads.")
@format_option("text", "json")
def command(root, store_url, endpoint_url, only, out, jobs, fmt):
    """Build, upload the blobs the store lacks, write each release and switch its pointer; then write
    the membership snapshot. A failure before a switch leaves that community's previous release serving:
    run publish again to finish."""
    from gate.store import StoreError
    from pipeline.build import BuildError, build_sites
    from pipeline.communities import membership_snapshot
    from pipeline.plan import make_plan
    from pipeline.publish import PublishError, publish_site, write_members

    store = open_store_or_exit(store_url, endpoint_url)
    repo = load_repository(root)
    membership_errors = [f for f in repo.errors if f.path == "communities.yaml"]
    if membership_errors:  # who may read what is unsure: keep every current release and snapshot as is
        raise click.ClickException("communities.yaml has errors; nothing was published:\n"
                                   + "\n".join(map(str, membership_errors)))
    if repo.errors:
        click.echo(f"note: {len(repo.errors)} error(s) in the repository (those cables are held); "
                   "run diplomatie check", err=True)
    plan = make_plan(repo)
    tty = sys.stderr.isatty()
    try:
        builds = build_sites(repo, plan, out, communities=list(only) or None, progress=tty)
    except BuildError as exc:
        raise click.ClickException(str(exc)) from None
    results, errors = {}, {}
    for name in sorted(builds):  # one community failing does not hold the others back
        try:
            results[name] = publish_site(store, builds[name], jobs=jobs, progress=tty)
        except (PublishError, StoreError, ValueError) as exc:
            errors[name] = str(exc)
            click.echo(f"error: {exc}", err=True)
            continue
        if fmt == "text":
            echo_result(results[name])
    try:  # membership changes must reach the gate even when a site could not be published
        write_members(store, membership_snapshot(repo.communities, repo.commit))
    except (PublishError, StoreError) as exc:
        errors["members.json"] = str(exc)
        click.echo(f"error: members.json not written: {exc}", err=True)
    if fmt == "json":
        report = {"communities": {n: r.summary() for n, r in results.items()}}
        click.echo(json.dumps({**report, "errors": errors} if errors else report, indent=2))
    if errors:
        raise click.ClickException(f"{len(errors)} publication(s) failed: {', '.join(errors)} "
                                   "(see above); run publish again")


def echo_result(r) -> None:
    state = "unchanged" if not r.changed else f"now serves {r.release}"
    click.echo(f"{r.community}: {state} ({r.cables} cables; {r.uploaded} uploaded, "
               f"{r.skipped} already stored, {r.bytes_uploaded} bytes)")
    if r.unrestorable:
        click.echo(f"  withdrawn content: {len(r.unrestorable)} older release(s) made not restorable, "
                   f"{r.deleted_blobs} blob(s) deleted")
