"""``diplomatie activity C``: per cable, how many distinct members read it each week; per member, the
last sign-in. Records past the retention period are reduced to counts first."""

from __future__ import annotations

import datetime as dt

import click

from pipeline.commands.options import (
    endpoint_option,
    format_option,
    load_repository,
    open_store_or_exit,
    root_option,
    store_option,
    user_language,
)

#: What this command tells the user on failure.
MESSAGES = {
    "fr": {"broken": "communities.yaml a des erreurs ; corrigez-les d'abord (diplomatie check) :\n{errors}",
           "unknown": "pas de communauté {community!r} dans communities.yaml (connues : {known})",
           "store": "le magasin ne répond pas ({error}) ; relancez quand il répond"},
    "en": {"broken": "communities.yaml has errors; fix them first (diplomatie check):\n{errors}",
           "unknown": "no community {community!r} in communities.yaml (known: {known})",
           "store": "the store does not answer ({error}); run again once it answers"},
}


@click.command("activity")
@click.argument("community")
@root_option
@store_option
@endpoint_option
@format_option("text", "json")
def command(community, root, store_url, endpoint_url, fmt) -> None:
    """Show, for COMMUNITY, how many distinct members read each cable per ISO week, and each member's
    last sign-in (recorded by the gate). Per-person records older than the retention period
    (retention_months in communities.yaml, default 6) are first reduced to counts."""
    from gate.store import StoreError
    from pipeline.activity import activity, as_text, reduce_all
    from pipeline.communities import PATH, retention_months

    messages = MESSAGES[user_language()]
    repo = load_repository(root)
    broken = [f for f in repo.errors if f.path.endswith("communities.yaml")]
    if broken:
        raise click.ClickException(messages["broken"].format(errors="\n".join(map(str, broken))))
    found = repo.communities.get(community)
    if found is None:
        raise click.ClickException(messages["unknown"].format(community=community,
                                                              known=", ".join(sorted(repo.communities)) or "-"))
    months = retention_months((root / PATH).read_bytes())
    store = open_store_or_exit(store_url, endpoint_url)
    try:
        reduce_all(store, dt.datetime.now(dt.UTC), months)
        result = activity(store, found, months)
    except StoreError as exc:
        raise click.ClickException(messages["store"].format(error=exc)) from None
    click.echo(result.to_json() if fmt == "json" else as_text(result, user_language()))
