"""``diplomatie keys init|rotate``: the gate's Ed25519 signing keys (see docs/tokens.md)."""

from __future__ import annotations

from pathlib import Path

import click

from gate import tokens
from pipeline.messages import N_, _

dir_option = click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), required=True,
                          help=N_("The key directory (keys.json, mode 0600, and the public jwks.json)."))


@click.group("keys", help=N_("Create and rotate the keys that sign invitations, sign-in links and sessions."))
def command() -> None:
    """The group of ``keys init`` and ``keys rotate``."""


@command.command("init", help=N_("Create a key set with one new Ed25519 key."))
@dir_option
def init(directory: Path) -> None:
    try:
        ring = tokens.init(directory)
    except tokens.KeysError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_("created key {current} in {directory}").format(current=ring.current, directory=directory))


@command.command("rotate", help=N_("Make a new key current; the previous one keeps verifying during the grace period."))
@dir_option
@click.option("--grace", default="7d", show_default=True,
              help=N_("How long the previous key still verifies tokens (e.g. 7d, 12h)."))
def rotate(directory: Path, grace: str) -> None:
    try:
        seconds = tokens.parse_duration(grace)
        previous = tokens.load(directory).current
        ring = tokens.rotate(directory, grace=seconds)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--grace") from None
    except tokens.KeysError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_("current key {current}; {previous} verifies for {grace} more").format(current=ring.current, previous=previous, grace=grace))
