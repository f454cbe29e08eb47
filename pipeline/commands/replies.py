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
from pipeline.messages import N_, _, ngettext


@click.group("replies", help=N_("Members' replies to cables (taken by the gate on each cable page)."))
def command() -> None:
    pass


@command.command("pull", help=N_(
    "Write each new reply as replies/<community>/<cable>/<time>-<n>.md on BRANCH, checked like a cable (a reply "
    "with a classification marking, a hidden character or unsafe HTML is reported and never written). A second "
    "pull adds nothing. Exit 1 when a reply was held back or an e-mail not sent."))
@root_option
@store_option
@endpoint_option
@click.option("--branch", default="replies", show_default=True, metavar="NAME",
              help=N_("The branch the replies are committed on (created from --base when absent; never the one "
                      "checked out)."))
@click.option("--base", default="HEAD", show_default=True, metavar="REF", help=N_("Where a new branch starts."))
@click.option("--smtp", metavar="HOST:PORT", envvar="DIPLOMATIE_ALERTS_SMTP",
              help=N_("With it, the cable's author and the community's owner and editors are e-mailed that "
                      "replies arrived (never their text); a notice the server refused is sent at the next run."))
@click.option("--smtp-from", envvar="DIPLOMATIE_SMTP_FROM", default="diplomatie@localhost", show_default=True,
              help=N_("The sender of alerts and invitations."))
@click.option("--smtp-starttls/--no-smtp-starttls", envvar="DIPLOMATIE_SMTP_STARTTLS", default=False,
              help=N_("Talk to the SMTP server over STARTTLS."))
@format_option("text", "json")
def pull_command(root, store_url, endpoint_url, branch, base, smtp, smtp_from, smtp_starttls, fmt):
    from pipeline.check import as_text
    from pipeline.gitrepo import GitError
    from pipeline.replypull import owe, pull, tell

    mail = smtp_settings(smtp, smtp_from, smtp_starttls) if smtp else None
    store = open_store_or_exit(store_url, endpoint_url)
    try:
        report = pull(store, root, branch, base=base)
    except GitError as exc:
        raise click.ClickException(str(exc)) from None
    sent, failed = [], {}
    if mail is not None:  # the notices the new replies call for are owed, then every notice owed is sent
        repository = load_repository(root)
        if report.written:
            owe(store, repository, report)
        sent, failed = tell(store, repository, mail, dt.datetime.now(dt.UTC))
    if fmt == "json":
        click.echo(json.dumps({"branch": branch, "commit": report.commit, "written": [p.path for p in report.written],
                               "already": report.already, "held": sorted(report.held()),
                               "findings": [f.__dict__ | {"severity": str(f.severity)} for f in report.findings],
                               "told": sent, "not_told": failed}, indent=2))
    else:
        if report.findings:
            click.echo(as_text(report.findings))
        for pulled in report.written:
            click.echo(_("new: {path}").format(path=pulled.path))
        commit = _(" (commit {commit})").format(commit=report.commit[:12]) if report.commit else ""
        click.echo(_("replies: {new} new on {branch}{commit}, {already} already there, {held} held back").format(
            new=len(report.written), branch=branch, commit=commit, already=report.already, held=len(report.held())))
        if sent:
            click.echo(ngettext("told: {n} e-mail sent", "told: {n} e-mails sent", len(sent)).format(n=len(sent)))
        for who, why in sorted(failed.items()):
            click.echo(_("error: notice to {who} not sent: {why}").format(who=who, why=why), err=True)
    if report.findings or failed:
        raise SystemExit(1)
