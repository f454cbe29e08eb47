"""``diplomatie notify``: e-mail each member what their communities published since they were last told."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click

from pipeline.commands.options import (
    endpoint_option,
    format_option,
    open_store_or_exit,
    root_option,
    store_option,
)
from pipeline.messages import N_, _

#: What ``--smtp`` says: required (``notify``), or optional with what it then does (``publish``).
SMTP_REQUIRED = N_("The SMTP server alerts and invitations go through (user and password: "
                   "DIPLOMATIE_SMTP_USER, DIPLOMATIE_SMTP_PASSWORD).")
PUBLISH_SENDS = N_("The SMTP server alerts and invitations go through; with it, publish sends alerts and the "
                   "queued invitations at the end (user and password: DIPLOMATIE_SMTP_USER, "
                   "DIPLOMATIE_SMTP_PASSWORD).")


def alert_options(required: bool, smtp_help: str = PUBLISH_SENDS) -> Callable:
    """The options for sending mail, one set for every command that does: ``notify`` (required),
    ``publish`` (alerts and invitations only when ``--smtp`` is given) and ``invite --send``."""

    def decorate(function: Callable) -> Callable:
        for option in reversed((
            click.option("--smtp", "smtp", metavar="HOST:PORT", required=required, envvar="DIPLOMATIE_ALERTS_SMTP",
                         help=SMTP_REQUIRED if required else smtp_help),
            click.option("--smtp-from", envvar="DIPLOMATIE_SMTP_FROM", default="diplomatie@localhost",
                         show_default=True, help=N_("The sender of alerts and invitations.")),
            click.option("--smtp-starttls/--no-smtp-starttls", envvar="DIPLOMATIE_SMTP_STARTTLS", default=False,
                         help=N_("Talk to the SMTP server over STARTTLS.")),
            click.option("--gate-url", envvar="DIPLOMATIE_GATE_URL", metavar="URL",
                         help=N_("The gate's public address, e.g. https://cables.example.org: links in alerts and invitations, and the issuer of their signed links.")),
            click.option("--keys", "keys_dir", type=click.Path(file_okay=False, path_type=Path),
                         envvar="DIPLOMATIE_KEYS", help=N_("The gate's key directory (signs unsubscribe and invitation links).")),
        )):
            function = option(function)
        return function

    return decorate


def smtp_settings(smtp: str, smtp_from: str, starttls: bool):
    """The SMTP settings of ``--smtp HOST:PORT``, ``--smtp-from`` and ``--smtp-starttls`` (user and
    password from the environment), or a usage error."""
    import os

    from gate.letters import SmtpSettings

    host, colon, port = smtp.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(_("{smtp!r} is not HOST:PORT (e.g. smtp.example.org:587)").format(smtp=smtp), param_hint="--smtp")
    return SmtpSettings(host=host.strip("[]"), port=int(port), sender=smtp_from, starttls=starttls,
                        username=os.environ.get("DIPLOMATIE_SMTP_USER") or None,
                        password=os.environ.get("DIPLOMATIE_SMTP_PASSWORD") or None)


def settings_from(smtp: str, smtp_from: str, starttls: bool, gate_url: str | None, keys_dir: Path | None):
    """The notifier's settings from the command line, or a usage error that says what is missing."""
    from gate import tokens
    from pipeline.notify import NotifySettings

    mail = smtp_settings(smtp, smtp_from, starttls)
    if not gate_url or not gate_url.startswith(("https://", "http://")):
        raise click.BadParameter(_("give the gate's public address, e.g. https://cables.example.org"),
                                 param_hint="--gate-url")
    if keys_dir is None:
        raise click.BadParameter(_("give the gate's key directory (the folder holding its keys.json)"),
                                 param_hint="--keys")
    try:
        ring = tokens.load(keys_dir)
    except tokens.KeysError as exc:
        raise click.ClickException(str(exc)) from None
    return NotifySettings(gate_url=gate_url, ring=ring, smtp=mail)


def send_alerts(store, root: Path, settings, only: list[str] | None):
    """Send the alerts; a snapshot or register that cannot be read is a clear error."""
    from pipeline.notify import NotifyError, notify

    try:
        return notify(store, root, settings, only=only)
    except NotifyError as exc:
        raise click.ClickException(str(exc)) from None


def tell_report(report) -> None:
    """Say, in words, what a notifier did."""
    for community, address, cables in report.sent:
        click.echo(_("{community}: told {address} of {n_cables} cable(s): {cables}").format(community=community, address=address, n_cables=len(cables), cables=', '.join(cables)))
    click.echo(_("alerts: {n_sent} e-mail(s) sent, {waiting} digest(s) not due yet, {baselined} new member(s) noted").format(n_sent=len(report.sent), waiting=report.waiting, baselined=report.baselined))
    for what, why in sorted(report.failed.items()):
        click.echo(_("error: alert to {what} not sent: {why}").format(what=what, why=why), err=True)


@click.command("notify", help=N_("E-mail each member what their communities published since they were last told: per cable its title, reference, date, post, summary and a link, never its text; by each member's frequency (at once, daily, weekly, never), exactly once (recorded in the store)."))
@root_option
@store_option
@endpoint_option
@alert_options(required=True)
@click.option("--community", "-c", "only", multiple=True, metavar="ID",
              help=N_("Tell only this community's members (repeatable); default: all."))
@format_option("text", "json")
def command(root, store_url, endpoint_url, smtp, smtp_from, smtp_starttls, gate_url, keys_dir, only, fmt):
    settings = settings_from(smtp, smtp_from, smtp_starttls, gate_url, keys_dir)
    store = open_store_or_exit(store_url, endpoint_url)
    report = send_alerts(store, root, settings, list(only) or None)
    if fmt == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        tell_report(report)
    if report.failure():  # exit 1: the next run retries them
        raise click.ClickException(report.failure())
