"""``diplomatie preview``: a cable's page as each community selecting it would show it, approved or not."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.commands.options import load_repository, root_option
from pipeline.messages import N_, _, ngettext, shown


@click.command("preview", help=N_("Build, locally, the page of cable ID as each community selecting it would show it, approved or not, marked as not published, with the members' replies the community would show under it; say for each community whether it would publish it now and what is missing, and how many replies wait for an approval (not shown).\n\nOpens nothing on the network; writes only under a new temporary folder or --out (printed)."))
@root_option
@click.argument("cable_id", metavar="ID")
@click.option("--community", "communities", multiple=True, metavar="C",
              help=N_("Preview only for this community (repeatable). Default: every community selecting the cable."))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=N_("Output folder: new, empty or a previous preview.  [default: a new temporary folder]"))
def command(root, cable_id, communities, out):
    from pipeline.build import BuildError
    from pipeline.build.preview import PreviewError, output_folder, preview

    repo = load_repository(root)
    # The cable's errors are said first, never silently: its preview shows them in no page.
    problems = [finding for finding in repo.errors if cable_id in finding.path]
    for problem in problems:
        click.echo(_("error\t{problem}").format(problem=problem), err=True)
    try:
        if cable_id not in repo.cables:
            raise PreviewError(_("unknown cable: {id} (see diplomatie check for the cables of this repository)").format(id=cable_id))
        folder = output_folder(out)
        click.echo(_("preview folder: {folder}").format(folder=folder))
        results = preview(repo, cable_id, folder, communities=list(communities) or None)
    except (PreviewError, BuildError) as exc:
        raise click.ClickException(str(exc)) from None
    for result in results:
        if result.held is None:
            verdict = _("would be published now")
        else:
            verdict = _("would be held: {reason}").format(reason=shown(result.held))
        click.echo(f"{result.community}\t{verdict}\t{result.page}")
        if result.replies:
            click.echo("  " + ngettext("{count} member's reply shown under the cable",
                                       "{count} members' replies shown under the cable",
                                       len(result.replies)).format(count=len(result.replies)))
        if result.waiting:
            click.echo("  " + ngettext("{count} member's reply waiting for an editor's approval, not shown",
                                       "{count} members' replies waiting for an editor's approval, not shown",
                                       len(result.waiting)).format(count=len(result.waiting)))
    if problems:
        raise click.ClickException(_("{id} has errors (above): no community will publish it until they are fixed").format(id=cable_id))
