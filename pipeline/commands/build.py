"""``diplomatie build``: one static site per community, from the cables the plan publishes to it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from pipeline.commands.options import load_repository, parse_when, root_option
from pipeline.messages import N_, _


@click.command("build", help=N_("Build <out>/<community>/: a complete static site per community (MkDocs, mkdocs-material).\n\nExits 1 with the reason when a site cannot be built or fails its audits (a cable it does not publish appears in it, or an asset would load from another host)."))
@root_option
@click.option("--community", "communities", multiple=True, metavar="C",
              help=N_("Build only this community (repeatable). Default: all."))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=N_("Output folder; each community goes to <out>/<community>/.  [default: <root>/site]"))
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help=N_("Communities built in parallel.  [default: number of CPUs]"))
@click.option("--force", is_flag=True, help=N_("Rebuild every community, even when its inputs are unchanged."))
@click.option("--site-url", metavar="URL", default=None,
              help=N_("Public address of the gate (e.g. https://diplomatie.example.org); sites are under /c/<id>/. Used for the sitemap, the feed and canonical links; without it they are relative."))
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=N_("Build cache folder.  [default: <root>/.cache/diplomatie]"))
@click.option("--json", "as_json", is_flag=True, help=N_("Print the result as JSON (one object)."))
@click.option("--ref", metavar="REF", default=None,
              help=N_("Build this version (a tag, branch or commit) from git objects, not the working tree."))
@click.option("--at", metavar="DATE", default=None,
              help=N_("Build the last commit on or before this ISO date or date-time (embargoes judged then)."))
def command(root, communities, out, jobs, force, site_url, cache_dir, as_json, ref, at):
    from pipeline.build import BuildError, build_sites
    from pipeline.history import published_versions
    from pipeline.plan import make_plan
    from pipeline.signatures import signatures_for

    if ref and at:
        raise click.UsageError(_("give --ref or --at, not both"))
    repo = load_repository(root, ref=ref, at=at, cache=cache_dir or True)
    if not repo.communities:
        raise click.ClickException(_("no community to build: communities.yaml defines none (see diplomatie check)"))
    plan = make_plan(repo, now=parse_when(at), signatures=signatures_for(repo))
    only = list(communities) or None
    versions = published_versions(repo, plan.published(only), cache_dir)
    try:
        results = build_sites(repo, plan, out or root / "site", versions=versions, communities=only, jobs=jobs,
                              force=force, progress=sys.stderr.isatty() and not as_json, site_url=site_url,
                              cache_dir=cache_dir)
    except BuildError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps({name: {"path": str(b.path), "cables": len(b.cables), "cached": b.cached,
                                      "commit": b.commit, "built_at": b.built_at, "warnings": list(b.warnings)}
                               for name, b in results.items()}, indent=2))
        return
    for name, b in results.items():
        state = "unchanged" if b.cached else "built"
        click.echo(_("{state}\t{name}\t{n_cables} cables\t{path}").format(state=state, name=name, n_cables=len(b.cables), path=b.path))
        for warning in b.warnings:
            click.echo(_("warning\t{name}\t{warning}").format(name=name, warning=warning), err=True)
    if repo.errors:
        click.echo(_("note: {n_errors} error(s) in the repository held cables back; run diplomatie check").format(n_errors=len(repo.errors)),
                   err=True)
