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
              help="Publish the last commit on or before this ISO date or date-time (not in the future; "
                   "embargoes are judged against the real clock).")
@click.option("--tag", is_flag=True,
              help="Tag the published commit published/<community>/<release> (annotated) for each new release.")
def command(root, store_url, endpoint_url, only, out, jobs, fmt, ref, at, tag):
    """Write the membership snapshot, then build, upload the blobs the store lacks, write each release
    and switch its pointer. A failure before a switch leaves that community's previous release serving:
    run publish again to finish."""
    from pipeline.plan import make_plan
    from pipeline.signatures import signatures_for

    store = open_store_or_exit(store_url, endpoint_url)
    if ref and at:
        raise click.UsageError("give --ref or --at, not both")
    refuse_future(at)
    if not root.is_dir():
        raise click.ClickException(f"{root} is not a folder; --root names the content repository")
    # 1. Membership first, from today's communities.yaml alone: whatever else is wrong in the
    #    repository (a broken cable, a site that fails to build), a removed member loses access now.
    today = todays_membership(root)
    if tag and today.commit is None:
        raise click.ClickException(f"--tag needs a git repository: {root} has no commit to tag")
    write_membership(store, today)
    # 2. The version to publish, planned against the real clock and the store's withdrawn register.
    repo = load_repository(root, ref=ref, at=at, cache=True)
    if repo.errors:
        click.echo(f"note: {len(repo.errors)} error(s) in the repository (those cables are held); "
                   "run diplomatie check", err=True)
    membership_errors = [f for f in repo.errors if f.path == "communities.yaml"]
    if membership_errors:  # the version's rules are unsure: keep every current release as is
        raise click.ClickException("communities.yaml of the version published has errors; no site was published "
                                   "(members.json was written from today's):\n"
                                   + "\n".join(map(str, membership_errors)))
    signatures = signatures_for(repo)
    register = record_withdrawals(store, repo, signatures, fmt)
    plan = make_plan(repo, signatures=signatures, register=register)
    # 3. Build every community; one that fails to build does not hold the others back.
    builds, errors = build_each(repo, plan, out, list(only) or None)
    # 4. Publish each built site: upload, manifest, pointer switch.
    results = publish_each(store, root, repo, plan, builds, errors, register, jobs=jobs, fmt=fmt, tag=tag)
    if fmt == "json":
        report = {"communities": {n: r.summary() for n, r in results.items()}}
        click.echo(json.dumps({**report, "errors": errors} if errors else report, indent=2))
    if errors:
        raise click.ClickException(f"{len(errors)} publication(s) failed: {', '.join(errors)} "
                                   "(see above); members.json was written; run publish again")


def refuse_future(at: str | None) -> None:
    """``publish --at`` names a past version: a moment after the real clock is refused, so no one
    publishes "as of" a date an embargo has not reached. (``build --at`` stays free.)"""
    import datetime as dt

    when = parse_when(at)
    if when is None:
        return
    now = dt.datetime.now(dt.UTC)
    is_day = len(at.strip()) == 10  # a bare date means the end of that day: today is allowed
    if (when.date() > now.date()) if is_day else (when > now):
        raise click.BadParameter(f"{at} is in the future; publish publishes what exists now, with embargoes "
                                 "judged against the real clock (diplomatie build --at reproduces any date)",
                                 param_hint="--at")


def todays_membership(root: Path):
    """Today's ``communities.yaml``, read alone (no cable can stop it); when it has errors, nothing is
    published and the previous ``members.json`` keeps serving."""
    from pipeline.repository import load_communities

    today = load_communities(root)
    if today.errors:  # who may read what is unsure: keep every current release and snapshot as is
        raise click.ClickException("communities.yaml has errors; nothing was published and the previous "
                                   "members.json keeps serving:\n" + "\n".join(map(str, today.errors)))
    return today


def write_membership(store, today) -> None:
    """Write ``members.json`` from today's communities; when the store refuses, publish nothing."""
    from gate.store import StoreError
    from pipeline.communities import membership_snapshot
    from pipeline.publish import PublishError, write_members

    try:
        write_members(store, membership_snapshot(today.communities, today.commit))
    except (PublishError, StoreError) as exc:
        raise click.ClickException(f"members.json could not be written ({exc}); nothing was published and the "
                                   "previous members.json keeps serving; run publish again") from None


def record_withdrawals(store, repo, signatures, fmt: str):
    """Record what the published version withdraws or reinstates; return the register (fail closed:
    an unreadable register stops the publication, members.json already written)."""
    from gate.store import StoreError
    from pipeline import withdrawals
    from pipeline.publish import default_publisher

    try:
        register = withdrawals.read(store)
        register, changes = withdrawals.record(store, repo, register, by=default_publisher(), counts=signatures)
    except StoreError as exc:
        raise click.ClickException(f"the withdrawn register cannot be read or written ({exc}); no site was "
                                   "published (members.json was written); run publish again") from None
    if fmt == "text":
        for cable_id in changes.withdrawn:
            click.echo(f"{cable_id}: withdrawn, recorded in the register: no publication brings it back")
        for cable_id in changes.reinstated:
            click.echo(f"{cable_id}: reinstated (new commit {repo.commit[:12]} and a fresh approval)")
    for cable_id in sorted(register.withdrawn()):
        cable = repo.cables.get(cable_id)
        if cable is not None and cable.status == "active" and fmt == "text":
            click.echo(f"note: {cable_id} is active in this version but withdrawn in the register: held "
                       "(reinstating takes a new commit and a fresh approval)", err=True)
    return register


def build_each(repo, plan, out: Path, only: list[str] | None) -> tuple[dict, dict[str, str]]:
    """Build every community at once; when that fails, build each alone, so that one site that
    cannot be built (a crash on one cable, a theme error) does not stop the others."""
    from pipeline.build import BuildError, build_sites
    from pipeline.history import published_versions

    tty = sys.stderr.isatty()
    versions = published_versions(repo, plan.published(only))
    try:
        return build_sites(repo, plan, out, versions=versions, communities=only, progress=tty), {}
    except BuildError as exc:
        if "unknown community" in str(exc):
            raise click.ClickException(str(exc)) from None
    except Exception:  # noqa: BLE001 - a crash in one community's build is reported with it, below
        pass
    builds, errors = {}, {}
    for name in only or sorted(plan.communities):
        try:
            builds.update(build_sites(repo, plan, out, versions=versions, communities=[name], progress=False,
                                      jobs=1))
        except BuildError as exc:
            errors[name] = str(exc)
        except Exception as exc:  # noqa: BLE001 - keep the others going; say what broke
            errors[name] = f"{name}: the build crashed ({type(exc).__name__}: {exc}); its previous release serves"
        if name in errors:
            click.echo(f"error: {errors[name]}", err=True)
    return builds, errors


def publish_each(store, root: Path, repo, plan, builds: dict, errors: dict[str, str], register, *,
                 jobs: int, fmt: str, tag: bool) -> dict:
    """Publish each built site in turn; a failure is recorded in ``errors`` and the others go on."""
    from gate.store import StoreError
    from pipeline.buildcache import file_digests, folder
    from pipeline.history import HistoryError, tag_publication
    from pipeline.publish import PublishError, publish_site
    from pipeline.withdrawals import text_digest

    results = {}
    cache = folder(root)
    tty = sys.stderr.isatty()
    for name in sorted(builds):
        known = file_digests(cache, name)
        texts = {c.id: text_digest(c.body) for c in plan.communities[name].publish}
        try:
            results[name] = publish_site(store, builds[name], jobs=jobs, progress=tty, known=known,
                                         register=register, texts=texts)
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
    return results


def echo_result(r) -> None:
    state = "unchanged" if not r.changed else f"now serves {r.release}"
    click.echo(f"{r.community}: {state} ({r.cables} cables; {r.uploaded} uploaded, "
               f"{r.skipped} already stored, {r.bytes_uploaded} bytes)")
    if r.unrestorable:
        click.echo(f"  withdrawn content: {len(r.unrestorable)} older release(s) made not restorable, "
                   f"{r.deleted_blobs} blob(s) deleted")
