"""``diplomatie keys init|rotate``: the gate's Ed25519 signing keys (see docs/tokens.md)."""

from __future__ import annotations

from pathlib import Path

import click

from gate import tokens

dir_option = click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), required=True,
                          help="The key directory (keys.json, mode 0600, and the public jwks.json).")


@click.group("keys")
def command() -> None:
    """Create and rotate the keys that sign invitations, sign-in links and sessions."""


@command.command("init")
@dir_option
def init(directory: Path) -> None:
    """Create a key set with one new Ed25519 key."""
    try:
        ring = tokens.init(directory)
    except tokens.KeysError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created key {ring.current} in {directory}")


@command.command("rotate")
@dir_option
@click.option("--grace", default="7d", show_default=True,
              help="How long the previous key still verifies tokens (e.g. 7d, 12h).")
def rotate(directory: Path, grace: str) -> None:
    """Make a new key current; the previous one keeps verifying during the grace period."""
    try:
        seconds = tokens.parse_duration(grace)
        previous = tokens.load(directory).current
        ring = tokens.rotate(directory, grace=seconds)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--grace") from None
    except tokens.KeysError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"current key {ring.current}; {previous} verifies for {grace} more")
