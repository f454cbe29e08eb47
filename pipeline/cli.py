"""The ``diplomatie`` command: parses arguments and calls the pipeline; no logic lives here.

Each subcommand is a module of :mod:`pipeline.commands` exposing a click command named ``command``.
"""

from __future__ import annotations

import importlib

import click

from pipeline import __version__

#: Subcommand name -> module of pipeline.commands that defines it.
COMMANDS: dict[str, str] = {
    "check": "check",
    "plan": "plan",
    "approve": "approve", "pending": "pending",
    "new": "new",
    "demo": "demo",
    "publish": "publish", "releases": "releases", "rollback": "rollback", "gc": "gc", "notify": "notify",
    "build": "build",
    "keys": "keys", "link": "link", "gate": "gate",
    "history": "history",
    "archive": "archive",
    "members": "members", "invite": "invite", "forget": "forget", "activity": "activity",
    "remind": "remind", "replies": "replies",
}


class LazyGroup(click.Group):
    """Imports a subcommand's module only when it runs, so ``diplomatie check`` stays fast."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module = COMMANDS.get(name)
        if module is None:
            return None
        return importlib.import_module(f"pipeline.commands.{module}").command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="diplomatie")
def main() -> None:
    """Diplomatie: unclassified cables in git, one static site per sharing community, behind a JWT gate."""
