"""``diplomatie plan``: which cables each community publishes, and why each other selected one is held;
with ``--diff REF``, what changes in that compared with another version (a merge request's target)."""

from __future__ import annotations

import datetime as dt
import json

import click

from pipeline.commands.options import format_option, load_repository, parse_when, root_option
from pipeline.messages import N_, _, shown
from pipeline.plan import make_plan, outline, to_json

#: What this command tells the user, in one place.
MESSAGES = {
    "markdown_needs_diff": N_("--format markdown describes a change: give --diff REF too"),
    "errors_note": N_("note: {count} error(s) in the repository; run diplomatie check"),
    "summary": N_("{cid} — {title}: {publish} to publish, {held} held"),
    "register": N_("the withdrawn register of {url} cannot be read: {error}"),
}


@click.command("plan", help=N_("Per community: the cables it will publish, and each held-back cable with its reason; then the members' replies it will show under their cables, and each shareable reply held back (not approved, stale approval…)."))
@root_option
@format_option("text", "json", "markdown")
@click.option("--now", "now", metavar="DATETIME", help=N_("Plan as of this time (ISO), e.g. to preview an embargo."))
@click.option("--diff", "diff_ref", metavar="REF", default=None,
              help=N_("Show only what changes compared with this tag, branch or commit (read from git objects), e.g. a merge request's target branch."))
@click.option("--store", "store_url", metavar="URL", default=None,
              help=N_("Also hold what this store's withdrawn register holds, as publish does."))
@click.option("--endpoint-url", metavar="URL", default=None, help=N_("S3 endpoint of an S3-compatible server."))
def command(root, fmt, now, diff_ref, store_url, endpoint_url):
    if fmt == "markdown" and diff_ref is None:
        raise click.UsageError(_(MESSAGES["markdown_needs_diff"]))
    repo = load_repository(root, cache=True)
    register = read_register(store_url, endpoint_url) if store_url else None
    moment = parse_when(now, "--now") or dt.datetime.now(dt.UTC)
    if diff_ref is not None:
        plan = make_plan(repo, now=moment, signatures=_signatures(repo), register=register)
        _print_diff(root, diff_ref, fmt, plan, repo, register)
        return
    plan = outline(repo, now=moment, signatures=_signatures(repo), register=register)
    if fmt == "json":
        click.echo(json.dumps(to_json(plan), ensure_ascii=False, indent=2))
        return
    lines = []  # printed at once: one write per line is a third of the command at 20,000 cables
    publish, held_word, reply_word = _("publish").ljust(9), _("held").ljust(9), _("reply").ljust(9)
    shown_here, held_here = _("shown under its cable"), _("held: {reason}")
    for cid, cp in plan.communities.items():
        lines.append(_(MESSAGES["summary"]).format(cid=cid, title=cp.community.title, publish=len(cp.publish),
                                                held=len(cp.held)))
        lines.extend(f"  {publish}{cable_id}  {title}" for cable_id, title in cp.publish)
        lines.extend(f"  {held_word}{held.id}  {shown(held.reason)}" for held in cp.held)
        lines.extend(f"  {reply_word}{reply_id}  {shown_here}" for reply_id in cp.replies)
        lines.extend(f"  {reply_word}{held.id}  {held_here.format(reason=shown(held.reason))}"
                     for held in cp.held_replies)
    if lines:
        click.echo("\n".join(lines))
    if repo.errors:
        click.echo(_(MESSAGES["errors_note"]).format(count=len(repo.errors)), err=True)


def _signatures(repo):
    """Which approvals count where a community requires signed ones (None: none requires them, so
    the signature check, which reads git's history, is not even imported)."""
    if not any(c.require_signed_approvals for c in repo.communities.values()):
        return None
    from pipeline.signatures import signatures_for

    return signatures_for(repo)


def _print_diff(root, ref, fmt, plan, repo, register) -> None:
    """The plan of ``ref`` (from git objects) against ``plan``, made at the same moment."""
    from pipeline import plandiff
    from pipeline.signatures import signatures_for

    base = load_repository(root, ref=ref)
    base_plan = make_plan(base, now=plan.now, signatures=signatures_for(base), register=register)
    diff = plandiff.diff_plans(base_plan, plan, base.cables, repo.cables, ref, base.commit)
    if fmt == "json":
        click.echo(json.dumps(plandiff.to_json(diff), ensure_ascii=False, indent=2))
        return
    for line in (plandiff.to_markdown(diff) if fmt == "markdown" else plandiff.to_text(diff)):
        click.echo(line)


def read_register(store_url: str, endpoint_url: str | None):
    """The withdrawn register of the store named on the command line, or a clear error."""
    from gate.store import StoreError
    from pipeline import withdrawals
    from pipeline.commands.options import open_store_or_exit

    try:
        return withdrawals.read(open_store_or_exit(store_url, endpoint_url))
    except StoreError as exc:
        raise click.ClickException(_(MESSAGES["register"]).format(url=store_url, error=exc)) from None
