"""``diplomatie invite C EMAIL``: add (or renew) a member of community C and queue their invitation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pipeline.commands.notify import alert_options, settings_from
from pipeline.commands.options import endpoint_option, open_store_or_exit, root_option, store_option
from pipeline.communities import SECTORS
from pipeline.messages import N_, _

#: What this command tells the user, in one place.
MESSAGES = {
    "added": N_("{email} is now a member of {community} until {until} (communities.yaml updated; commit it)."),
    "queued": N_("The invitation e-mail is queued in the store: it goes out once, after the next publish "
              "(run with --smtp, --gate-url and --keys) lets {email} in."),
    "sent": N_("Invitation e-mailed to {email}."),
    "not_yet": N_("{email} is not published yet (or not with this expiry): the invitation stays queued until "
               "the next publish lets them in."),
    "send_needs": N_("--send needs --smtp, --gate-url and --keys to e-mail the invitation"),
    "failed": N_("the invitation could not be e-mailed ({error}); it stays queued: the next publish retries"),
    "store": N_("the member was added to communities.yaml, but the invitation could not be queued in the store "
             "({error}); run invite again once the store answers"),
    "no_by": N_("who invites? Pass --by EMAIL, or set your address once for this repository: "
             "git config user.email prenom.nom@diplomatie.gouv.fr"),
    "no_expiry": N_("no end"),
}


def sender_of(settings):
    """The :class:`~pipeline.enrolment.Sender` of the mail options' settings (what notify also uses)."""
    from pipeline.enrolment import Sender

    return Sender(settings.smtp, settings.ring, settings.gate_url)


@click.command("invite", help=N_("Add EMAIL to COMMUNITY in communities.yaml (every other byte kept), validated like check, and queue the invitation e-mail; it goes out once, after the next publish (or now, with --send, when the member is already published)."))
@click.argument("community")
@click.argument("email")
@click.option("--name", required=True, help=N_("The member's name, as the owner's pages show it."))
@click.option("--organisation", default="", help=N_("Their organisation."))
@click.option("--sector", required=True, type=click.Choice(SECTORS),
              help=N_("Their sector."))
@click.option("--expires", metavar="DATE", default=None,
              help=N_("Their last valid day (ISO date). Default: one year from today. Renew by inviting again."))
@click.option("--by", metavar="EMAIL", default=None,
              help=N_("Who invites (the owner or an editor). Default: git config user.email."))
@click.option("--send", is_flag=True, help=N_("E-mail the invitation now if the member is already published."))
@alert_options(required=False, smtp_help=N_(
    "The SMTP server alerts and invitations go through; with it, --send e-mails the invitation (user and "
    "password: DIPLOMATIE_SMTP_USER, DIPLOMATIE_SMTP_PASSWORD)."))
@root_option
@store_option
@endpoint_option
def command(community, email, name, organisation, sector, expires, by, send, smtp, smtp_from, smtp_starttls,
            gate_url, keys_dir, root, store_url, endpoint_url) -> None:
    from gate.store import StoreError
    from pipeline import enrolment
    from pipeline.gitrepo import user_email

    now = dt.datetime.now(dt.UTC)
    until = None
    if expires is not None:
        try:
            until = dt.date.fromisoformat(expires)
        except ValueError:
            raise click.BadParameter(_("{expires!r} is not an ISO date such as 2027-06-30").format(expires=expires), param_hint="--expires") \
                from None
    else:
        until = now.date() + enrolment.DEFAULT_TERM
    by = by or user_email(root if root.is_dir() else None)
    if not by:
        raise click.UsageError(_(MESSAGES["no_by"]))
    sender = None
    if send:
        if not (smtp and gate_url and keys_dir):
            raise click.UsageError(_(MESSAGES["send_needs"]))
        sender = sender_of(settings_from(smtp, smtp_from, smtp_starttls, gate_url, keys_dir))
    store = open_store_or_exit(store_url, endpoint_url)
    try:
        invitation = enrolment.prepare(community, email, name=name, organisation=organisation, sector=sector,
                                       by=by, expires=until, today=now.date())
        entry = enrolment.enrol(root, invitation)
    except enrolment.InviteError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_(MESSAGES["added"]).format(email=invitation.email, community=community,
                                        until=until.isoformat() if until else _(MESSAGES["no_expiry"])))
    try:
        ident = enrolment.queue(store, invitation, now)
    except (StoreError, ValueError) as exc:
        raise click.ClickException(_(MESSAGES["store"]).format(error=exc)) from None
    if sender is None:
        click.echo(_(MESSAGES["queued"]).format(email=invitation.email))
        return
    try:
        outcome = enrolment.send_due(store, {community: entry}, sender, now, only=lambda q: q.id == ident)
    except StoreError as exc:
        raise click.ClickException(_(MESSAGES["failed"]).format(error=exc)) from None
    if outcome.sent:
        click.echo(_(MESSAGES["sent"]).format(email=invitation.email))
    elif outcome.failed:
        raise click.ClickException(_(MESSAGES["failed"]).format(error="; ".join(outcome.failed.values())))
    else:
        click.echo(_(MESSAGES["not_yet"]).format(email=invitation.email))


PUBLISH_MESSAGES = {
    "waiting_no_keys": N_("note: {count} invitation(s) queued; pass --smtp, --gate-url and --keys to publish to "
                       "e-mail them"),
    "sent": N_("invitation e-mailed to {email} ({community})"),
    "waiting": N_("note: invitation to {email} ({community}) waits: not published with that expiry yet"),
    "failed": N_("error: invitation to {email} ({community}) not sent ({error}); the next publish retries"),
    "unreadable": N_("error: the queued invitations cannot be read ({error}); none was sent"),
}


def send_after_publish(root: Path, store, settings, echo) -> None:
    """What ``publish`` does last: e-mail each queued invitation whose member it has just published,
    with the mail options' ``settings`` (:func:`pipeline.commands.notify.settings_from`; None: no
    ``--smtp``, so it only says how many wait)."""
    from gate.store import StoreError
    from pipeline import enrolment
    from pipeline.repository import load_communities

    try:
        waiting = enrolment.queued(store)
        if not waiting:
            return
        if settings is None:
            echo(_(PUBLISH_MESSAGES["waiting_no_keys"]).format(count=len(waiting)), err=True)
            return
        outcome = enrolment.send_due(store, load_communities(root).communities, sender_of(settings),
                                     dt.datetime.now(dt.UTC))
    except StoreError as exc:
        echo(_(PUBLISH_MESSAGES["unreadable"]).format(error=exc), err=True)
        return
    for item in outcome.sent:
        echo(_(PUBLISH_MESSAGES["sent"]).format(email=item.email, community=item.community), err=True)
    for item in outcome.waiting:
        echo(_(PUBLISH_MESSAGES["waiting"]).format(email=item.email, community=item.community), err=True)
    for what, error in outcome.failed.items():
        community, _space, email = what.partition(" ")
        echo(_(PUBLISH_MESSAGES["failed"]).format(email=email, community=community, error=error), err=True)
