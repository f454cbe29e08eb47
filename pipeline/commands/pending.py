"""``diplomatie pending``: what awaits an editor's approval, per community they edit: cables, and the
members' shareable replies under the cables the community publishes."""

from __future__ import annotations

import json

import click

from pipeline.commands.options import (
    editor_option,
    format_option,
    load_repository,
    resolve_editor,
    root_option,
)
from pipeline.messages import N_, _

#: What this command tells the user, in one place.
MESSAGES = {
    "not_an_editor": N_("{editor} edits no community (editors are listed in communities.yaml); "
                     "pass --editor EMAIL to see another editor's list"),
}


@click.command("pending", help=N_("Per community you edit: the cables waiting for your approval (new: never approved; stale: another version was approved, with what changed since; unsigned: the signed commit is missing), each with the command that approves it; then the members' shareable replies waiting to be shown under a cable the community publishes."))
@root_option
@editor_option
@format_option("text", "json")
def command(root, editor, fmt):
    from gate.addresses import InvalidAddress, parse_address
    from pipeline import review
    from pipeline.gitrepo import user_email
    from pipeline.signatures import signatures_for

    given = editor
    editor = resolve_editor(root, editor)
    try:
        editor = parse_address(editor.strip())
    except InvalidAddress as exc:
        raise click.BadParameter(_("{editor!r} is not a plain e-mail address ({exc})").format(editor=editor, exc=exc), param_hint="--editor") from None
    repo = load_repository(root)
    if not any(editor in c.editor_emails for c in repo.communities.values()):
        raise click.ClickException(_(MESSAGES["not_an_editor"]).format(editor=editor))
    signatures = signatures_for(repo)
    found = review.pending(repo, editor, signatures=signatures)
    replies = review.pending_replies(repo, editor, signatures=signatures)
    default = user_email(root)
    explicit = editor if given and (default or "").strip().lower() != editor else None
    if fmt == "json":
        click.echo(json.dumps(review.to_json(editor, found, explicit, replies), ensure_ascii=False, indent=2))
        return
    titles = {cid: repo.communities[cid].title for cid in found}
    for line in review.to_text(editor, found, titles, explicit, replies):
        click.echo(line)
