"""``diplomatie new``: start a cable with the next free id for a post."""

from __future__ import annotations

import click

from pipeline.commands.options import load_repository, root_option
from pipeline.drafting import DraftError, new_cable
from pipeline.gitrepo import user_email
from pipeline.messages import N_


def _default_author(root) -> str:
    return user_email(root) or "agent@diplomatie.gouv.fr"


@click.command("new", help=N_("Write content/<year>/<id>.md with the next free id, today's date and every required key."))
@root_option
@click.option("--post", required=True, help=N_("Issuing post code, e.g. BERLIN or NEW-YORK-ONU."))
@click.option("--title", required=True, help=N_("The cable's title."))
@click.option("--author", help=N_("Author's e-mail (default: git config user.email)."))
@click.option("--language", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@click.option("--ministry", default="MEAE", show_default=True)
def command(root, post, title, author, language, ministry):
    repo = load_repository(root)
    try:
        path = new_cable(repo, post, title, author or _default_author(root), language, ministry)
    except DraftError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(path.relative_to(root))
