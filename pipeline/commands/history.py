"""``diplomatie history``: every version, approval and publication of one cable, from git and the ledger;
with ``--diff``, the text diff between two versions."""

from __future__ import annotations

import json

import click

from pipeline.commands.options import format_option, root_option
from pipeline.messages import N_, _

#: What this command tells the user, in one place.
MESSAGES = {
    "diff_options": N_("--diff shows the working tree's history: leave out --ref, --store and --format json"),
    "approved_for": N_("{community}: last approved v{number} ({by}, {date})"),
    "approved_lost": N_("{community}: the version approved by {by} on {date} is not in git's history"),
    "approved_current": N_("{community}: the current version v{number} is approved ({by}, {date})"),
    "no_previous": N_("v{number} is the only version: nothing to compare it with"),
}


@click.command("history", help=N_("Versions of CABLE_ID (commit, date, author, metadata changed, body lines added and removed), its approvals (who, when, for which community, which version), and with --store its publications.\n\nAn edit of the working tree not committed yet is the last version, as plan and approve see it."))
@root_option
@click.argument("cable_id")
@format_option("text", "json")
@click.option("--ref", metavar="REF", default=None, help=N_("Read the history as of this tag, branch or commit."))
@click.option("--store", "store_url", metavar="URL", default=None,
              help=N_("Also list the publications recorded in this store's ledger (folder or s3://bucket/prefix)."))
@click.option("--endpoint-url", metavar="URL", default=None, help=N_("S3 endpoint of an S3-compatible server."))
@click.option("--diff", "diff_range", metavar="[vA..vB]", is_flag=False, flag_value="", default=None,
              help=N_("Show the text diff (front matter and body) between two versions, e.g. v1..v3 or v2 (v2..current); alone: since the version last approved for each community, or else the previous version. Write it after the cable id."))
def command(root, cable_id, fmt, ref, store_url, endpoint_url, diff_range):
    from gate.store import StoreError
    from pipeline.history import HistoryError, cable_history, to_json, to_text

    if diff_range is not None:
        if ref or store_url or fmt == "json":
            raise click.UsageError(_(MESSAGES["diff_options"]))
        _print_diff(root, cable_id, diff_range)
        return
    store = None
    if store_url:
        from pipeline.commands.options import open_store_or_exit

        store = open_store_or_exit(store_url, endpoint_url)
    try:
        history = cable_history(root, cable_id, ref=ref, store=store)
    except (HistoryError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    if fmt == "json":
        click.echo(json.dumps(to_json(history), ensure_ascii=False, indent=2))
        return
    for line in to_text(history):
        click.echo(line)


def _print_diff(root, cable_id: str, spec: str) -> None:
    """One diff for a range; without one, a diff per community from its last approved version (the
    same version's diff once), or the previous version's diff when nothing was ever approved."""
    from pipeline import review
    from pipeline.history import HistoryError

    try:
        found = review.cable_versions(root, cable_id)
    except HistoryError as exc:
        raise click.ClickException(str(exc)) from None
    if not found:
        raise click.ClickException(_("no version of {cable_id} has a text to show (see diplomatie history {cable_id})").format(cable_id=cable_id))
    if spec:
        try:
            before, after = review.pick_range(found, spec)
        except review.ReviewError as exc:
            raise click.BadParameter(str(exc), param_hint="--diff") from None
        _echo_diff(review.unified(before.cable, after.cable, review.label(cable_id, before),
                                  review.label(cable_id, after)))
        return
    current = found[-1]
    pairs = _approved_versions(root, cable_id, found)
    if not pairs:
        if len(found) < 2:
            click.echo(_(MESSAGES["no_previous"]).format(number=current.number))
            return
        previous = found[-2]
        _echo_diff(review.unified(previous.cable, current.cable, review.label(cable_id, previous),
                                  review.label(cable_id, current)))
        return
    shown: set[int] = set()
    for line, version in pairs:
        click.echo(line)
        if version is None or version.number == current.number or version.number in shown:
            continue
        shown.add(version.number)
        _echo_diff(review.unified(version.cable, current.cable, review.label(cable_id, version, "approved"),
                                  review.label(cable_id, current, "current")))


def _approved_versions(root, cable_id: str, found: list) -> list[tuple[str, object]]:
    """For each community the current text has an approval for (by a current editor): a line saying
    which version it approved, and that version (None: not in git)."""
    from gate.store import utc_text
    from pipeline import cables, review
    from pipeline.findings import Findings
    from pipeline.repository import load_communities
    from pipeline.revisions import cable_path

    repo = load_communities(root)  # this cable and communities.yaml, as the working tree has them
    file = root / cable_path(cable_id)
    cable = (cables.parse(cable_path(cable_id), file.read_bytes(), Findings()) if file.is_file() else None) \
        or found[-1].cable
    out = []
    for cid in sorted({a.community for a in cable.approvals} & repo.communities.keys()):
        approval = review.last_approval(cable, repo.communities[cid])
        if approval is None:
            continue
        version = review.find_version(found, approval.digest)
        names = {"community": cid, "by": approval.by, "date": utc_text(approval.date),
                 "number": version.number if version else 0}
        if version is None:
            out.append((_(MESSAGES["approved_lost"]).format(**names), None))
        elif version.number == found[-1].number:
            out.append((_(MESSAGES["approved_current"]).format(**names), version))
        else:
            out.append((_(MESSAGES["approved_for"]).format(**names), version))
    return out


def _echo_diff(lines: list[str]) -> None:
    """A diff, coloured at a terminal only (click strips colours from anything else)."""
    from pipeline.review import colour

    for line in lines:
        text, fg = colour(line)
        click.echo(click.style(text, fg=fg) if fg else text)
