"""``diplomatie replies pull``: the members' replies, from the store onto a branch of the content repository."""

from __future__ import annotations

import datetime as dt
import json

import click

from pipeline.commands.notify import smtp_settings
from pipeline.commands.options import (
    endpoint_option,
    format_option,
    load_repository,
    open_store_or_exit,
    root_option,
    store_option,
)


@click.group("replies")
def command() -> None:
    """Members' replies to cables (taken by the gate on each cable page)."""


@command.command("pull")
@root_option
@store_option
@endpoint_option
@click.option("--branch", default="replies", show_default=True, metavar="NAME",
              help="The branch the replies are committed on (created from --base when absent; never the one "
                   "checked out).")
@click.option("--base", default="HEAD", show_default=True, metavar="REF", help="Where a new branch starts.")
@click.option("--smtp", metavar="HOST:PORT", envvar="DIPLOMATIE_ALERTS_SMTP",
              help="With it, the cable's author and the community's owner and editors are e-mailed that replies "
                   "arrived (never their text).")
@click.option("--smtp-from", envvar="DIPLOMATIE_SMTP_FROM", default="diplomatie@localhost", show_default=True)
@click.option("--smtp-starttls/--no-smtp-starttls", envvar="DIPLOMATIE_SMTP_STARTTLS", default=False)
@format_option("text", "json")
def pull_command(root, store_url, endpoint_url, branch, base, smtp, smtp_from, smtp_starttls, fmt):
    """Write each new reply as replies/<community>/<cable>/<time>-<n>.md on BRANCH, checked like a cable
    (a reply with a classification marking, a hidden character or unsafe HTML is reported and never
    written). A second pull adds nothing. Exit 1 when a reply was held back or an e-mail not sent."""
    from pipeline.check import as_text
    from pipeline.gitrepo import GitError
    from pipeline.replypull import pull, tell

    mail = smtp_settings(smtp, smtp_from, smtp_starttls) if smtp else None
    store = open_store_or_exit(store_url, endpoint_url)
    try:
        report = pull(store, root, branch, base=base)
    except GitError as exc:
        raise click.ClickException(str(exc)) from None
    sent, failed = [], {}
    if mail is not None and report.written:
        sent, failed = tell(load_repository(root), report, mail, dt.datetime.now(dt.UTC))
    if fmt == "json":
        click.echo(json.dumps({"branch": branch, "commit": report.commit, "written": [p.path for p in report.written],
                               "already": report.already, "held": sorted(report.held()),
                               "findings": [f.__dict__ | {"severity": str(f.severity)} for f in report.findings],
                               "told": sent, "not_told": failed}, indent=2))
    else:
        if report.findings:
            click.echo(as_text(report.findings))
        for pulled in report.written:
            click.echo(f"new: {pulled.path}")
        commit = f" (commit {report.commit[:12]})" if report.commit else ""
        click.echo(f"replies: {len(report.written)} new on {branch}{commit}, {report.already} already there, "
                   f"{len(report.held())} held back")
        if sent:
            click.echo(f"told: {len(sent)} e-mail(s) sent")
        for who, why in sorted(failed.items()):
            click.echo(f"error: notice to {who} not sent: {why}", err=True)
    if report.findings or failed:
        raise SystemExit(1)
