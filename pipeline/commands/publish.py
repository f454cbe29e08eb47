"""``diplomatie publish``: build each community's site, then publish it to the store atomically."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from pipeline.commands.invite import send_after_publish
from pipeline.commands.notify import alert_options, send_alerts, settings_from, tell_report
from pipeline.commands.options import (
    endpoint_option,
    format_option,
    open_store_or_exit,
    parse_when,
    root_option,
    store_option,
)
from pipeline.messages import N_, _


@click.command("publish", help=N_("Write the membership snapshot, then build, upload the blobs the store lacks, write each release and switch its pointer. A failure before a switch leaves that community's previous release serving: run publish again to finish."))
@root_option
@store_option
@endpoint_option
@click.option("--community", "-c", "only", multiple=True, metavar="ID",
              help=N_("Publish only this community (repeatable); default: all."))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("var/build"),
              show_default=True, help=N_("Where the sites are built (the build cache makes rebuilds cheap)."))
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=16, show_default=True,
              help=N_("Concurrent uploads."))
@format_option("text", "json")
@click.option("--ref", metavar="REF", default=None,
              help=N_("Publish this version (a tag, branch or commit) from git objects, not the working tree."))
@click.option("--at", metavar="DATE", default=None,
              help=N_("Publish the last commit on or before this ISO date or date-time (not in the future; embargoes are judged against the real clock)."))
@click.option("--tag", is_flag=True,
              help=N_("Tag the published commit published/<community>/<release> (annotated) for each new release."))
@alert_options(required=False)
def command(root, store_url, endpoint_url, only, out, jobs, fmt, ref, at, tag, smtp, smtp_from, smtp_starttls,
            gate_url, keys_dir):
    from pipeline.publication import EchoListener, publish_all
    from pipeline.publish import PublishError

    store = open_store_or_exit(store_url, endpoint_url)
    # Alerts are checked before anything is published: a mistyped option must not stop them after it.
    alerts = settings_from(smtp, smtp_from, smtp_starttls, gate_url, keys_dir) if smtp else None
    if ref and at:
        raise click.UsageError(_("give --ref or --at, not both"))
    refuse_future(at)
    if not root.is_dir():
        raise click.ClickException(_("{root} is not a folder; --root names the content repository").format(root=root))
    try:
        report = publish_all(root, store, out=out, ref=ref, at=parse_when(at), only=list(only) or None, jobs=jobs,
                             tag=tag, progress=sys.stderr.isatty(), listener=EchoListener(click.echo, text=fmt == "text"))
    except PublishError as exc:
        raise click.ClickException(str(exc)) from None
    # Alerts last, from what now serves as the store says (diplomatie notify), whatever failed above.
    told = send_alerts(store, root, alerts, list(only) or None) if alerts is not None else None
    if fmt == "json":
        click.echo(json.dumps({**report.to_json(), **({"alerts": told.to_json()} if told else {})}, indent=2))
    elif told is not None:
        tell_report(told)
    send_after_publish(root, store, alerts, click.echo)  # invitations (diplomatie invite), same mail options
    problems = [p for p in (report.failure(), told.failure() if told else None) if p]
    if problems:
        raise click.ClickException("; ".join(problems))


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
        raise click.BadParameter(_("{at} is in the future; publish publishes what exists now, with embargoes judged against the real clock (a build with --at reproduces any date)").format(at=at),
                                 param_hint="--at")
