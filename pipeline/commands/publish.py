"""``diplomatie publish``: build each community's site, then publish it to the store atomically."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from pipeline.commands.options import format_option, load_repository, parse_when, root_option

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
@click.option("--ref", metavar="REF", default=None,
              help="Publish this version (a tag, branch or commit) from git objects, not the working tree.")
@click.option("--at", metavar="DATE", default=None,
              help="Publish the last commit on or before this ISO date or date-time (embargoes judged then).")
@click.option("--tag", is_flag=True,
              help="Tag the published commit published/<community>/<release> (annotated) for each new release.")
def command(root, store_url, endpoint_url, only, out, jobs, fmt, ref, at, tag):
    """Build, upload the blobs the store lacks, write each release and switch its pointer; then write
    the membership snapshot. A failure before a switch leaves that community's previous release serving:
    run publish again to finish."""
    from gate.store import StoreError
    from pipeline.build import BuildError, build_sites
    from pipeline.buildcache import file_digests, folder
    from pipeline.communities import membership_snapshot
    from pipeline.history import HistoryError, tag_publication
    from pipeline.plan import make_plan
    from pipeline.publish import PublishError, publish_site, write_members
    from pipeline.signatures import signatures_for

    store = open_store_or_exit(store_url, endpoint_url)
    if ref and at:
        raise click.UsageError("give --ref or --at, not both")
    repo = load_repository(root, ref=ref, at=at, cache=True)
    if tag and repo.commit is None:
        raise click.ClickException(f"--tag needs a git repository: {root} has no commit to tag")
    if repo.errors:
        click.echo(f"note: {len(repo.errors)} error(s) in the repository (those cables are held); "
                   "run diplomatie check", err=True)
    membership_errors = [f for f in repo.errors if f.path == "communities.yaml"]
    if membership_errors:  # who may read what is unsure: keep every current release and snapshot as is
        raise click.ClickException("communities.yaml has errors; nothing was published:\n"
                                   + "\n".join(map(str, membership_errors)))
    plan = make_plan(repo, now=parse_when(at), signatures=signatures_for(repo))
    tty = sys.stderr.isatty()
    try:
        builds = build_sites(repo, plan, out, communities=list(only) or None, progress=tty)
    except BuildError as exc:
        raise click.ClickException(str(exc)) from None
    results, errors = {}, {}
    cache = folder(root)
    for name in sorted(builds):  # one community failing does not hold the others back
        known = file_digests(cache, name)
        try:
            results[name] = publish_site(store, builds[name], jobs=jobs, progress=tty, known=known)
            known.save()
        except (PublishError, StoreError, ValueError) as exc:
            errors[name] = str(exc)
            click.echo(f"error: {exc}", err=True)
            continue
        if fmt == "text":
            echo_result(results[name])
        if tag and results[name].changed:
            try:
                tagged = tag_publication(root, name, results[name].release, repo.commit,
                                         cables=[c.id for c in plan.communities[name].publish])
            except HistoryError as exc:
                errors[f"{name} tag"] = str(exc)
                click.echo(f"error: {exc}", err=True)
                continue
            if fmt == "text":
                click.echo(f"  tagged {tagged}")
    # Membership is always today's: publishing a past version must not bring back removed members.
    current = repo if ref is None and at is None else load_repository(root, cache=True)
    if current is not repo and any(f.path == "communities.yaml" for f in current.errors):
        raise click.ClickException("today's communities.yaml has errors; members.json was not written")
    try:  # membership changes must reach the gate even when a site could not be published
        write_members(store, membership_snapshot(current.communities, current.commit))
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
