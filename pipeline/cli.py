"""The ``diplomatie`` command: parses arguments and calls the pipeline; no logic lives here.

Each subcommand is a module of :mod:`pipeline.commands` exposing a click command named ``command``.
Every text a person reads comes from the ``pipeline`` catalogue (:mod:`pipeline.messages`): help texts
are msgids marked with ``N_`` where a command is declared and translated here, when it is shown, in the
language of this run (``--lang``, ``DIPLOMATIE_LANG``, the locale, else French).
"""

from __future__ import annotations

import importlib

import click

from pipeline import __version__, messages
from pipeline.commands import clicktext
from pipeline.messages import N_, _

#: Subcommand name -> module of pipeline.commands that defines it.
COMMANDS: dict[str, str] = {
    "check": "check",
    "plan": "plan",
    "approve": "approve", "pending": "pending",
    "new": "new",
    "demo": "demo",
    "publish": "publish", "releases": "releases", "rollback": "rollback", "gc": "gc", "notify": "notify",
    "build": "build", "preview": "preview",
    "keys": "keys", "link": "link", "gate": "gate",
    "history": "history",
    "archive": "archive",
    "members": "members", "invite": "invite", "forget": "forget", "activity": "activity",
    "remind": "remind", "replies": "replies",
}


def localized(command: click.Command) -> click.Command:
    """``command`` with its help texts in this run's language. The English msgids are kept aside the
    first time, so a later run in the other language (a test invoking twice) translates them again."""
    source = command.__dict__.setdefault("_msgids", {
        "help": command.help, "short_help": command.short_help,
        "params": [(param, getattr(param, "help", None)) for param in command.params]})
    command.help = _(source["help"]) if source["help"] else source["help"]
    command.short_help = _(source["short_help"]) if source["short_help"] else source["short_help"]
    for param, text in source["params"]:
        if text:
            param.help = _(text)
    command._help_option = None  # click keeps its --help option once made: make it again, in this language
    if isinstance(command, click.Group) and not isinstance(command, LazyGroup):
        for sub in command.commands.values():
            localized(sub)
    return command


class LazyGroup(click.Group):
    """Imports a subcommand's module only when it runs, so ``diplomatie check`` stays fast; starts every
    run in the language the environment asks for (``--lang`` may then change it)."""

    def main(self, *args, **kwargs):
        messages.use(None)
        clicktext.install()
        localized(self)
        try:
            return super().main(*args, **kwargs)
        finally:  # --lang chose the language of this run only (a process may run several: tests do)
            messages.use(None)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module = COMMANDS.get(name)
        if module is None:
            return None
        return localized(importlib.import_module(f"pipeline.commands.{module}").command)


def _use_language(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``--lang``: from here on, every message of this run is in ``value``; the group's own help too."""
    if value:
        messages.use(value)
        localized(ctx.command)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]}, help=N_(
    "Diplomatie: unclassified cables in git, one static site per sharing community, behind a JWT gate.\n\n"
    "Messages are in French unless --lang en, DIPLOMATIE_LANG=en or an English locale (LANG=en_GB.UTF-8) "
    "asks for English."))
@click.option("--lang", type=click.Choice(messages.LANGUAGES), default=None, is_eager=True, expose_value=False,
              callback=_use_language,
              help=N_("Language of the messages: fr or en (default: DIPLOMATIE_LANG, else the locale, else fr)."))
@click.version_option(__version__, prog_name="diplomatie", help=N_("Show the version and exit."))
def main() -> None:
    """The group: each subcommand is loaded by :class:`LazyGroup`."""
