"""``diplomatie invite C EMAIL``: add (or renew) a member of community C and queue their invitation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pipeline.commands.options import endpoint_option, open_store_or_exit, root_option, store_option
from pipeline.communities import SECTORS

#: What this command tells the user, in one place.
MESSAGES = {
    "added": "{email} is now a member of {community} until {until} (communities.yaml updated; commit it).",
    "queued": "The invitation e-mail is queued in the store: it goes out once, after the next publish "
              "(run with --keys and --gate-url) lets {email} in.",
    "sent": "Invitation e-mailed to {email}.",
    "not_yet": "{email} is not published yet (or not with this expiry): the invitation stays queued until "
               "the next publish lets them in.",
    "send_needs": "--send needs --keys and --gate-url (and DIPLOMATIE_SMTP_HOST) to e-mail the invitation",
    "failed": "the invitation could not be e-mailed ({error}); it stays queued: the next publish retries",
    "store": "the member was added to communities.yaml, but the invitation could not be queued in the store "
             "({error}); run invite again once the store answers",
    "no_by": "who invites? Pass --by EMAIL, or set your address once for this repository: "
             "git config user.email prenom.nom@diplomatie.gouv.fr",
    "no_expiry": "no end",
}


def sending_options(command):
    """``--keys`` and ``--gate-url``: what signing the invitation's link needs (invite, publish); the same
    names and environment variables as the alerts' options of ``notify``."""
    command = click.option("--gate-url", "gate_url", default=None, metavar="URL", envvar="DIPLOMATIE_GATE_URL",
                           help="The gate's public address, e.g. https://cables.example.org (for the link).")(command)
    return click.option("--keys", "keys_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                        envvar="DIPLOMATIE_KEYS",
                        help="The key directory (diplomatie keys init): signs the invitation's link.")(command)


def sender_or_exit(keys_dir: Path | None, gate_url: str | None):
    """The :class:`~pipeline.enrolment.Sender` of these options and the environment's SMTP settings."""
    from gate import tokens
    from gate.letters import SmtpSettings
    from pipeline.enrolment import Sender

    if keys_dir is None or gate_url is None:
        raise click.UsageError(MESSAGES["send_needs"])
    try:
        ring = tokens.load(keys_dir)
    except tokens.KeysError as exc:
        raise click.ClickException(str(exc)) from None
    return Sender(SmtpSettings.from_environment(), ring, gate_url)


@click.command("invite")
@click.argument("community")
@click.argument("email")
@click.option("--name", required=True, help="The member's name, as the owner's pages show it.")
@click.option("--organisation", default="", help="Their organisation.")
@click.option("--sector", required=True, type=click.Choice(SECTORS),
              help="Their sector.")
@click.option("--expires", metavar="DATE", default=None,
              help="Their last valid day (ISO date). Default: one year from today. Renew by inviting again.")
@click.option("--by", metavar="EMAIL", default=None,
              help="Who invites (the owner or an editor). Default: git config user.email.")
@click.option("--send", is_flag=True, help="E-mail the invitation now if the member is already published.")
@sending_options
@root_option
@store_option
@endpoint_option
def command(community, email, name, organisation, sector, expires, by, send, keys_dir, gate_url, root,
            store_url, endpoint_url) -> None:
    """Add EMAIL to COMMUNITY in communities.yaml (every other byte kept), validated like check, and
    queue the invitation e-mail; it goes out once, after the next publish (or now, with --send, when
    the member is already published)."""
    from gate.store import StoreError
    from pipeline import enrolment
    from pipeline.gitrepo import user_email

    now = dt.datetime.now(dt.UTC)
    until = None
    if expires is not None:
        try:
            until = dt.date.fromisoformat(expires)
        except ValueError:
            raise click.BadParameter(f"{expires!r} is not an ISO date such as 2027-06-30", param_hint="--expires") \
                from None
    else:
        until = now.date() + enrolment.DEFAULT_TERM
    by = by or user_email(root if root.is_dir() else None)
    if not by:
        raise click.UsageError(MESSAGES["no_by"])
    sender = sender_or_exit(keys_dir, gate_url) if send else None
    store = open_store_or_exit(store_url, endpoint_url)
    try:
        invitation = enrolment.prepare(community, email, name=name, organisation=organisation, sector=sector,
                                       by=by, expires=until, today=now.date())
        entry = enrolment.enrol(root, invitation)
    except enrolment.InviteError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(MESSAGES["added"].format(email=invitation.email, community=community,
                                        until=until.isoformat() if until else MESSAGES["no_expiry"]))
    try:
        ident = enrolment.queue(store, invitation, now)
    except (StoreError, ValueError) as exc:
        raise click.ClickException(MESSAGES["store"].format(error=exc)) from None
    if sender is None:
        click.echo(MESSAGES["queued"].format(email=invitation.email))
        return
    try:
        outcome = enrolment.send_due(store, {community: entry}, sender, now, only=lambda q: q.id == ident)
    except StoreError as exc:
        raise click.ClickException(MESSAGES["failed"].format(error=exc)) from None
    if outcome.sent:
        click.echo(MESSAGES["sent"].format(email=invitation.email))
    elif outcome.failed:
        raise click.ClickException(MESSAGES["failed"].format(error="; ".join(outcome.failed.values())))
    else:
        click.echo(MESSAGES["not_yet"].format(email=invitation.email))


PUBLISH_MESSAGES = {
    "waiting_no_keys": "note: {count} invitation(s) queued; pass --keys and --gate-url to publish (with "
                       "DIPLOMATIE_SMTP_HOST set) to e-mail them",
    "sent": "invitation e-mailed to {email} ({community})",
    "waiting": "note: invitation to {email} ({community}) waits: not published with that expiry yet",
    "failed": "error: invitation to {email} ({community}) not sent ({error}); the next publish retries",
    "unreadable": "error: the queued invitations cannot be read ({error}); none was sent",
}


def send_after_publish(root: Path, store, keys_dir: Path | None, gate_url: str | None, echo) -> None:
    """What ``publish`` does last: e-mail each queued invitation whose member it has just published."""
    from gate.store import StoreError
    from pipeline import enrolment
    from pipeline.repository import load_communities

    try:
        waiting = enrolment.queued(store)
        if not waiting:
            return
        if keys_dir is None or gate_url is None:
            echo(PUBLISH_MESSAGES["waiting_no_keys"].format(count=len(waiting)), err=True)
            return
        sender = sender_or_exit(keys_dir, gate_url)
        outcome = enrolment.send_due(store, load_communities(root).communities, sender, dt.datetime.now(dt.UTC))
    except StoreError as exc:
        echo(PUBLISH_MESSAGES["unreadable"].format(error=exc), err=True)
        return
    for item in outcome.sent:
        echo(PUBLISH_MESSAGES["sent"].format(email=item.email, community=item.community), err=True)
    for item in outcome.waiting:
        echo(PUBLISH_MESSAGES["waiting"].format(email=item.email, community=item.community), err=True)
    for what, error in outcome.failed.items():
        community, _, email = what.partition(" ")
        echo(PUBLISH_MESSAGES["failed"].format(email=email, community=community, error=error), err=True)
