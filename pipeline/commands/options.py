"""Options shared by several subcommands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pipeline.messages import N_, _

root_option = click.option(
    "--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
    help=N_("The content repository: the folder holding content/ and communities.yaml."),
)


def format_option(*choices: str) -> click.Option:
    return click.option("--format", "fmt", type=click.Choice(choices), default=choices[0], show_default=True,
                        help=N_("Output format."))


def parse_when(value: str | None, option: str = "--at") -> dt.datetime | None:
    """An ISO date or date-time; a date means the end of that day (UTC); naive times are UTC.
    Bounded like every date (:mod:`pipeline.dates`): out of range is a usage error, not a traceback."""
    from pipeline.dates import DateError, OutOfBounds, parse_moment

    if value is None:
        return None
    try:
        return parse_moment(value)
    except DateError as exc:
        raise click.BadParameter(_("{exc}; check the year").format(exc=exc) if isinstance(exc, OutOfBounds) else str(exc),
                                 param_hint=option) from None


def load_repository(root: Path, ref: str | None = None, at: str | None = None, cache: bool | Path = False):
    """Load the content repository or exit with a clear message. With ``cache`` (True: the default
    build cache folder, or a folder), cables parsed by an earlier build or publish are not parsed again."""
    from pipeline.buildcache import CacheError, folder
    from pipeline.repository import load
    from pipeline.sources import RefError

    if not root.is_dir():
        raise click.ClickException(_("{root} is not a folder; --root names the content repository").format(root=root))
    try:
        try:
            cache_dir = None if cache is False else folder(root, None if cache is True else cache)
        except OSError:  # a read-only checkout: parse everything, as without a cache
            cache_dir = None
        return load(root, ref=ref, at=parse_when(at), cache=cache_dir)
    except (RefError, CacheError) as exc:
        raise click.ClickException(str(exc)) from None



def load_with_communities(root: Path):
    """The content repository, for a command that acts on communities.yaml (members, activity, forget,
    remind): exit with the file's errors if it has any, since acting on half a file would be wrong."""
    repo = load_repository(root)
    broken = [f for f in repo.errors if f.path.endswith("communities.yaml")]
    if broken:
        raise click.ClickException(_("communities.yaml has errors; fix them first (diplomatie check):\n{errors}")
                                   .format(errors="\n".join(map(str, broken))))
    return repo

store_option = click.option(
    "--store", "store_url", default="var/store", show_default=True, metavar="URL",
    help=N_("Where sites are published: a folder, file:///abs/path, or s3://bucket/prefix."))
endpoint_option = click.option(
    "--endpoint-url", metavar="URL", default=None,
    help=N_("S3 endpoint of an S3-compatible server (else boto3's configuration, e.g. AWS_ENDPOINT_URL)."))


def open_store_or_exit(url: str, endpoint_url: str | None):
    """The store named on the command line, or a clear error."""
    from gate.store import open_store

    try:
        return open_store(url, endpoint_url=endpoint_url)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


editor_option = click.option(
    "--editor", "-e", metavar="EMAIL", default=None,
    help=N_("The editor's address (default: git config user.email, as git reads it in the content repository)."))

#: What the editor options tell the user, in one place.
EDITOR_MESSAGES = {
    "no_editor": N_("who is the editor? Pass --editor EMAIL, or set your address once for this repository: "
                 "git config user.email prenom.nom@diplomatie.gouv.fr"),
}


def resolve_editor(root: Path, editor: str | None) -> str:
    """``--editor``, else git's ``user.email`` in the content repository, else a usage error saying how
    to set it."""
    if editor:
        return editor
    from pipeline.gitrepo import user_email

    found = user_email(root if root.is_dir() else None)
    if not found:
        raise click.UsageError(_(EDITOR_MESSAGES["no_editor"]))
    return found


#: The answers that mean yes, in either language (French: o, oui; English: y, yes); anything else is no.
YES = frozenset({"o", "oui", "y", "yes"})


def confirm(question: str) -> None:
    """Ask ``question`` at the terminal, in the run's language ("[o/N]" in French, "[y/N]" in English);
    any answer but yes, or none, aborts (click prints "Aborted!", in the same language)."""
    answer = click.prompt(_("{question} [y/N]").format(question=question), default="", show_default=False,
                          prompt_suffix=" ")
    if answer.strip().lower() not in YES:
        raise click.Abort()
