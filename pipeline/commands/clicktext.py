"""The words click itself prints around our messages (``Usage:``, ``Options``, ``Error: …``), in the
run's language.

click marks its strings with the standard library's ``gettext`` but ships no catalogue; each of its
modules binds that function as ``_``. :func:`install` rebinds them to :func:`pipeline.messages._`, so
the strings listed here come from the ``pipeline`` catalogue like every other message; a click string
not listed stays English (its msgid), never breaks.
"""

from __future__ import annotations

import importlib

from pipeline import messages
from pipeline.messages import N_

#: click's msgids that a person meets in ordinary use (exactly as click 8 writes them).
CLICK_MESSAGES = (
    N_("Usage:"), N_("Options"), N_("Commands"), N_("Aborted!"), N_("Missing command."),
    N_("Error: {message}"), N_("Try '{command} {option}' for help."),
    N_("Invalid value: {message}"), N_("Invalid value for {param_hint}: {message}"),
    N_("Missing argument"), N_("Missing option"), N_("Missing parameter"), N_("Missing {param_type}"),
    N_("No such command {name!r}."), N_("No such option {name!r}."),
    N_("Option {name!r} does not take a value."), N_("{value!r} is not a valid {number_type}."),
    N_("{name} {filename!r} does not exist."), N_("{name} {filename!r} is a file."),
    N_("{name} {filename!r} is a directory."), N_("file"), N_("directory"), N_("path"),
    N_("Show this message and exit."), N_("Show the version and exit."), N_("default: {default}"),
    N_("Do you want to continue?"), N_("Error: invalid input"), N_("Repeat for confirmation"),
    N_("Confirm the action without prompting."),
)

_MODULES = ("click.core", "click.exceptions", "click.formatting", "click.parser", "click.types", "click.termui",
            "click.decorators")


def install() -> None:
    """Make click translate its own strings through the ``pipeline`` catalogue (idempotent)."""
    for name in _MODULES:
        module = importlib.import_module(name)
        if getattr(module, "_", None) is not messages._:
            module._ = messages._
