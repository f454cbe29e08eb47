"""``diplomatie archive``: a BagIt package of what a community saw at one version."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.commands.options import load_repository, parse_when, root_option
from pipeline.messages import N_, _

#: What this command tells the user, in one place.
MESSAGES = {
    "personal_data": N_("note: the package's communities.yaml holds the members' names, organisations and addresses "
                     "(personal data: keep the package accordingly); pass --without-members to leave them out"),
}


@click.command("archive", help=N_("Write a BagIt package (RFC 8493): the site as built from that version, its source cables and communities.yaml entry, manifest-sha256.txt, and bag-info.txt naming commit, date, community, cable ids and tool version. The package is validated before it is put in place."))
@root_option
@click.option("--community", "-c", "only", multiple=True, metavar="ID",
              help=N_("Archive this community (repeatable). Default: every community, each in <out>/<id>/."))
@click.option("--ref", metavar="REF", default=None, help=N_("The version to archive: a tag, branch or commit."))
@click.option("--at", metavar="DATE", default=None,
              help=N_("The version to archive: the last commit on or before this ISO date or date-time."))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help=N_("Where the package goes (a new folder). With several communities, one package per community in <out>/<id>/."))
@click.option("--without-members", is_flag=True,
              help=N_("Leave the members (names, addresses: personal data) out of the package's communities.yaml."))
def command(root, only, ref, at, out, without_members):
    from pipeline.archive import ArchiveError, archive

    if ref and at:
        raise click.UsageError(_("give --ref or --at, not both"))
    repo = load_repository(root, ref=ref, at=at)
    if repo.errors:
        click.echo(_("note: {n_errors} error(s) in this version (those cables are held); run diplomatie check").format(n_errors=len(repo.errors)), err=True)
    names = list(dict.fromkeys(only)) or sorted(repo.communities)
    if not names:
        raise click.ClickException(_("no community to archive: communities.yaml defines none"))
    single = len(only) == 1
    if not single and out.exists():
        raise click.ClickException(_("{out} already exists; choose a new folder for the packages").format(out=out))
    now = parse_when(at)
    if not without_members:
        click.echo(_(MESSAGES["personal_data"]), err=True)
    for name in names:
        try:
            result = archive(repo, out if single else out / name, name, now=now, members=not without_members)
        except ArchiveError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(_("{path}: {name}, commit {result_commit}, {n_cables} cables, {files} files (valid BagIt)").format(path=result.path, name=name, result_commit=result.commit or _("working tree"), n_cables=len(result.cables), files=result.files))
