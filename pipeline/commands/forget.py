"""``diplomatie forget EMAIL``: a person's records leave the store; what remains elsewhere is said."""

from __future__ import annotations

import click

from pipeline.commands.options import (
    endpoint_option,
    load_repository,
    load_with_communities,
    open_store_or_exit,
    root_option,
    store_option,
)
from pipeline.messages import N_, _

#: What this command tells the user on failure (its report is pipeline/forgetting.py's MESSAGES).
MESSAGES = {
    "store": N_("the store does not answer ({error}); nothing is lost: run forget again once it answers"),
    "yaml": N_("communities.yaml could not be edited ({error}); nothing was changed"),
}


@click.command("forget", help=N_(
    "Remove EMAIL's records from the store (sign-ins, claims, alert preferences and marks, invitations, and "
    "every other per-person record), then say what still names them: communities.yaml, approvals, and the "
    "commits of git history."))
@click.argument("email")
@click.option("--remove-member", is_flag=True,
              help=N_("Also remove them from every community's members in communities.yaml (every other byte "
                      "kept) and from the store's members.json: their access ends now."))
@root_option
@store_option
@endpoint_option
def command(email, remove_member, root, store_url, endpoint_url) -> None:
    from gate.store import StoreError
    from pipeline import yamledit
    from pipeline.communities import PATH
    from pipeline.forgetting import ForgetError, canonical, forget, remaining, report

    try:
        address = canonical(email)
    except ForgetError as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL") from None
    repo = load_with_communities(root)
    edited, removed_from = None, []
    if remove_member:
        path = root / PATH
        text = path.read_text(encoding="utf-8")
        try:
            for cid, community in sorted(repo.communities.items()):
                if any(m.email == address for m in community.members):
                    text = yamledit.remove_member(text, cid, address)
                    removed_from.append(cid)
        except yamledit.YamlEditError as exc:
            raise click.ClickException(_(MESSAGES["yaml"]).format(error=exc)) from None
        edited = text if removed_from else None
    store = open_store_or_exit(store_url, endpoint_url)
    try:
        done = forget(store, address, unpublish=remove_member)
    except StoreError as exc:
        raise click.ClickException(_(MESSAGES["store"]).format(error=exc)) from None
    if edited is not None:
        yamledit.save(root / PATH, edited)
        repo = load_repository(root)
    left = remaining(root, repo.communities, repo.cables.values(), address, repo.replies.values())
    click.echo(report(done, left, store_url, removed_from))
