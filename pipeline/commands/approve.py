"""``diplomatie approve``: an editor approves the current version of a cable for a community."""

from __future__ import annotations

import click

from pipeline.approvals import ApprovalError, approve
from pipeline.commands.options import load_repository, root_option
from pipeline.withdrawals import last_withdrawn


@click.command("approve")
@root_option
@click.argument("cable_id")
@click.option("--community", "-c", required=True, help="The community to publish it to.")
@click.option("--editor", "-e", required=True, metavar="EMAIL", help="The approving editor's address.")
@click.option("--sign", is_flag=True,
              help="Commit the approval alone, signed with your SSH key (communities requiring signed approvals).")
@click.option("--key", type=click.Path(dir_okay=False, exists=True), metavar="FILE",
              help="SSH private key to sign with (default: git config user.signingkey).")
def command(root, cable_id, community, editor, sign, key):
    """Append an approval of CABLE_ID's current version, keeping the rest of the file byte for byte."""
    repo = load_repository(root, cache=True)
    target = repo.communities.get(community)
    if target is None:
        raise click.ClickException(
            f"unknown community '{community}' (known: {', '.join(sorted(repo.communities)) or 'none'})")
    cable = repo.cables.get(cable_id)
    if cable is None:
        raise click.ClickException(f"no cable {cable_id} under {root / 'content'}")
    pending = None
    if sign or key:
        from pipeline.signatures import uncommitted_approval

        pending = uncommitted_approval(root, cable, community, editor)
    try:
        approval = pending or approve(root / cable.path, target, editor,
                                      withdrawn_since=last_withdrawn(root, cable))
    except ApprovalError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{cable.path}: {'signing the approval already written' if pending else 'approved'} "
               f"for {community} by {approval.by} ({approval.digest[:19]}…)")
    if sign or key:
        from pipeline.signatures import SignatureError, commit_signed

        message = f"Approve {cable_id} for {community}\n\nApproved-by: {approval.by}\nDigest: {approval.digest}\n"
        try:
            commit = commit_signed(root, cable.path, message, key)
        except SignatureError as exc:
            raise click.ClickException(f"the approval is written to {cable.path} but not committed: {exc}") from None
        click.echo(f"signed commit {commit[:10]}")
