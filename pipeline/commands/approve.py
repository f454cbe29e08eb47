"""``diplomatie approve``: an editor approves the current version of a cable for a community, after
seeing what changed since the version last approved there; ``--revoke`` removes their approval."""

from __future__ import annotations

import functools
import sys

import click

from pipeline.approvals import ApprovalError, approve
from pipeline.commands.options import confirm, editor_option, load_repository, resolve_editor, root_option
from pipeline.messages import N_, _
from pipeline.revisions import last_withdrawn, read_once

#: What this command tells the user, in one place.
MESSAGES = {
    "unknown_community": N_("unknown community '{community}' (known: {known})"),
    "unknown_cable": N_("no cable {cable_id} under {content}"),
    "first": N_("First approval of {cable_id} for {community}: the whole text follows."),
    "since": N_("Changes since v{number}, approved for {community} by {by} on {date}:"),
    "unchanged": N_("No change since v{number}, approved for {community} by {by} on {date}."),
    "lost": N_("The version approved for {community} by {by} on {date} is not in git's history; "
            "the whole current text follows."),
    "confirm": N_("Approve this version of {cable_id} for {community} as {editor}?"),
    "revoked": N_("{path}: {count} approval(s) of {cable_id} for {community} by {editor} removed; "
               "commit the file so that the plan sees it"),
}


@click.command("approve", help=N_("Append an approval of CABLE_ID's current version, keeping the rest of the file byte for byte.\n\nAt a terminal, shows what changed since the version last approved for the community and asks to confirm (--yes: neither).\n\nA member's reply is approved the same way, named by its file (replies/<community>/<cable>/<time>-<n>.md) or its id (<cable>/<time>-<n>): it is then shown on the cable's page in its community."))
@root_option
@click.argument("cable_id", metavar="CABLE_ID|REPLY")
@click.option("--community", "-c", required=True, help=N_("The community to publish it to."))
@editor_option
@click.option("--yes", "-y", is_flag=True, help=N_("Do not show the changes nor ask to confirm (scripts)."))
@click.option("--revoke", is_flag=True, help=N_("Remove your approval of the cable for the community instead."))
@click.option("--sign", is_flag=True,
              help=N_("Commit the approval alone, signed with your SSH key (communities requiring signed approvals)."))
@click.option("--key", type=click.Path(dir_okay=False, exists=True), metavar="FILE",
              help=N_("SSH private key to sign with (default: git config user.signingkey)."))
def command(root, cable_id, community, editor, yes, revoke, sign, key):
    repo = load_repository(root, cache=True)
    target = repo.communities.get(community)
    if target is None:
        raise click.ClickException(_(MESSAGES["unknown_community"]).format(
            community=community, known=", ".join(sorted(repo.communities)) or "none"))
    if "/" in cable_id:  # a reply: its file or its id
        _approve_reply(root, repo, cable_id, target, resolve_editor(root, editor), revoke, sign, key)
        return
    cable = repo.cables.get(cable_id)
    if cable is None:
        raise click.ClickException(_(MESSAGES["unknown_cable"]).format(cable_id=cable_id, content=root / "content"))
    editor = resolve_editor(root, editor)
    if revoke:
        _revoke(root, cable, target, editor)
        return
    pending = None
    if sign or key:
        from pipeline.signatures import uncommitted_approval

        pending = uncommitted_approval(root, cable, community, editor)
    replaced = _unsigned_to_replace(repo, cable, target, editor) if (sign or key) and pending is None else None
    history = read_once(root, cable.path)  # read from git once, for the changes shown and the withdrawal
    # An unsigned approval in the file is what anyone with commit access can write under the editor's
    # name: replacing it is approving anew, so the editor sees the changes since the last approval
    # that counts and confirms, as for a first approval.
    if pending is None and not yes and _may_approve(target, editor):
        _show_changes(root, cable, target, history, _counting(repo, target))
        if _interactive():
            confirm(_(MESSAGES["confirm"]).format(cable_id=cable_id, community=community, editor=editor))
    try:
        approval = pending or approve(root / cable.path, target, editor, withdrawn_since=last_withdrawn(history),
                                      replace_own=replaced is not None, known=_known(repo, cable.path))
    except ApprovalError as exc:
        raise click.ClickException(str(exc)) from None
    _done(root, cable.path, target, approval, "signing" if pending else "replacing" if replaced else "approved",
          f"Approve {cable_id} for {community}", bool(sign or key), key)


def _known(repo, path: str):
    """What the parse cache knows of the cable file ``path``'s bytes (see ``approvals.approve``)."""
    if repo.memo is None:
        return None
    return functools.partial(repo.memo.clean_cable, path)


def _unsigned_to_replace(repo, item, community, editor: str):
    """With ``--sign``: the editor's committed approval of this very version (of a cable or a reply)
    that does not count for want of their signature, which ``approve --sign`` replaces with a signed
    one rather than refusing as already given (``pending`` prints that command for it). None when
    there is none, or when the community counts unsigned approvals."""
    from gate.addresses import InvalidAddress, parse_address
    from pipeline.signatures import signatures_for

    if not community.require_signed_approvals:
        return None
    try:
        editor = parse_address(editor.strip())
    except InvalidAddress:
        return None  # approve refuses the address with its reason
    mine = [a for a in item.approvals if a.community == community.id and a.by == editor and a.digest == item.digest]
    if not mine:
        return None
    counts = signatures_for(repo)(community)
    return None if counts is None or any(counts(a) for a in mine) else mine[-1]


def _counting(repo, community):
    """Which approvals count for ``community`` (None: all do), for the base of the changes shown."""
    if not community.require_signed_approvals:
        return None
    from pipeline.signatures import signatures_for

    return signatures_for(repo)(community)


def _done(root, path: str, community, approval, how: str, subject: str, sign: bool, key: str | None) -> None:
    """Say what was written and, with ``--sign``, commit the file alone, signed (with ``key``, else
    git's user.signingkey)."""
    done = {"signing": _("{path}: signing the approval already written for {community} by {by} ({digest}…)"),
            "replacing": _("{path}: the unsigned approval for {community} by {by} replaced by one to sign ({digest}…)"),
            "approved": _("{path}: approved for {community} by {by} ({digest}…)")}[how]
    click.echo(done.format(path=path, community=community.id, by=approval.by, digest=approval.digest[:19]))
    if not sign:
        return
    from pipeline.signatures import SignatureError, commit_signed

    message = f"{subject}\n\nApproved-by: {approval.by}\nDigest: {approval.digest}\n"
    try:
        commit = commit_signed(root, path, message, key)
    except SignatureError as exc:
        raise click.ClickException(_("the approval is written to {path} but not committed: {exc}").format(path=path, exc=exc)) from None
    click.echo(_("signed commit {commit}").format(commit=commit[:10]))


def _interactive() -> bool:
    """Whether someone can answer a question: input and output are a terminal."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _may_approve(community, editor: str) -> bool:
    """Whether the changes are worth showing: ``approve`` refuses anyone else, with its own message."""
    from gate.addresses import InvalidAddress, parse_address

    try:
        return parse_address(editor.strip()) in community.editor_emails
    except InvalidAddress:
        return False


def _show_changes(root, cable, community, history, counts=None) -> None:
    """The diff from the version last approved for ``community`` (by an approval that counts) to the
    one about to be approved (coloured at a terminal only: click strips colours from anything else)."""
    from gate.store import utc_text
    from pipeline import review
    from pipeline.history import HistoryError

    try:
        # the history read for the file, when it is where the cable's id says (a cable in the folder of
        # another year, refused by check, is shown the history of the path its id names)
        found = review.cable_versions(root, cable.id, history if cable.path == review.cable_path(cable.id) else None)
    except HistoryError:
        found = []
    current = review.find_version(found, cable.digest) or review.Version(len(found) + 1, cable, None)
    approval = review.last_approval(cable, community, counts)
    then = review.find_version(found, approval.digest) if approval else None
    names = {"community": community.id, "by": approval.by if approval else "",
             "date": utc_text(approval.date) if approval else "", "number": then.number if then else 0}
    if approval is None:
        click.echo(_(MESSAGES["first"]).format(cable_id=cable.id, community=community.id))
    elif then is None:
        click.echo(_(MESSAGES["lost"]).format(**names))
    elif then.cable.digest == cable.digest:
        click.echo(_(MESSAGES["unchanged"]).format(**names))
        return
    else:
        click.echo(_(MESSAGES["since"]).format(**names))
    before = then.cable if then else None
    for line in review.unified(before, cable, review.label(cable.id, then, _("approved")) if then else "/dev/null",
                               review.label(cable.id, current, _("to approve"))):
        text, fg = review.colour(line)
        click.echo(click.style(text, fg=fg) if fg else text)


def _revoke(root, cable, community, editor: str) -> None:
    from pipeline.approvals import revoke

    try:
        count = revoke(root / cable.path, community, editor)
    except ApprovalError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_(MESSAGES["revoked"]).format(path=cable.path, count=count, cable_id=cable.id,
                                          community=community.id, editor=editor))


def _reply_named(root, repo, name: str):
    """The reply ``name`` designates: its file (relative to the repository or to here) or its id."""
    from pathlib import Path

    candidate = Path(name)
    with_root = candidate.resolve() if candidate.is_absolute() or candidate.exists() else root.resolve() / candidate
    try:
        relative = with_root.relative_to(root.resolve()).as_posix()
    except ValueError:
        relative = name
    wanted = relative.removeprefix("replies/").removesuffix(".md")
    for reply in repo.replies.values():
        if reply.path == relative or reply.id == name or reply.path == f"replies/{wanted}.md" \
                or f"{reply.community}/{reply.id}" == wanted:
            return reply
    raise click.ClickException(_("no reply {name} under {folder}").format(name=name, folder=root / "replies"))


def _approve_reply(root, repo, name: str, community, editor: str, revoke: bool, sign: bool, key) -> None:
    """``approve REPLY``: the reply's approval, written (or removed) and signed as a cable's is."""
    from pipeline import gitrepo
    from pipeline.approvals import approve_reply, revoke_reply

    reply = _reply_named(root, repo, name)
    if revoke:
        try:
            count = revoke_reply(root / reply.path, community, editor)
        except ApprovalError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(_(MESSAGES["revoked"]).format(path=reply.path, count=count, cable_id=reply.id,
                                              community=community.id, editor=editor))
        return
    pending = None
    if sign or key:  # approve, then approve --sign: sign what is written, add nothing
        from gate.addresses import InvalidAddress, parse_address

        try:
            canonical = parse_address(editor.strip())
        except InvalidAddress:
            canonical = None  # approve_reply refuses the address with its reason
        mine = [a for a in reply.approvals if a.community == community.id and a.digest == reply.digest
                and a.by == canonical]
        pending = mine[-1] if mine and gitrepo.uncommitted(root, [reply.path]) else None
    replaced = _unsigned_to_replace(repo, reply, community, editor) if (sign or key) and pending is None else None
    try:
        approval = pending or approve_reply(root, reply.path, community, editor,
                                            withdrawn_since=_cable_withdrawn(root, repo, reply.cable),
                                            replace_own=replaced is not None)
    except ApprovalError as exc:
        raise click.ClickException(str(exc)) from None
    _done(root, reply.path, community, approval, "signing" if pending else "replacing" if replaced else "approved",
          f"Approve the reply {reply.id} for {community.id}", bool(sign or key), key)


def _cable_withdrawn(root, repo, cable_id: str):
    """When the reply's cable was last withdrawn (an approval of a reply older than that, like one of
    the cable, no longer counts)."""
    cable = repo.cables.get(cable_id)
    return last_withdrawn(read_once(root, cable.path)) if cable is not None else None
