"""The command line's messages in French and English, and which language the person at the terminal gets.

Source strings are English msgids marked with ``_()``, ``ngettext()`` or, where a string is named at
import time and translated where it is shown (click help texts, tables of codes), :func:`N_`. Their
translations live in the ``pipeline`` domain, ``pipeline/locales/<language>/LC_MESSAGES/pipeline.po``,
read and compiled in memory by the gate's one mechanism (:func:`gate.i18n.translations`) and kept up
to date with ``make catalogues``; tests/test_cli_i18n.py fails on a message without a reviewed French
and English translation.

The language, first match wins: ``diplomatie --lang fr|en``; else ``DIPLOMATIE_LANG`` (``fr`` or
``en``); else the POSIX locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``: ``en_GB.UTF-8`` gives English,
``fr_FR.UTF-8`` French; ``C``, ``POSIX`` or another language names none of ours); else French, the
default of this ministry. Codes (E203, W605…) and machine-readable keys are the same in both.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from gate.i18n import DEFAULT, LANGUAGES, N_, from_locale, translations, valid

__all__ = ["DOMAIN", "ENVIRONMENT", "LANGUAGES", "LOCALES", "N_", "Message", "_", "language", "ngettext", "shown", "translations_for", "use"]

DOMAIN = "pipeline"
LOCALES = Path(__file__).resolve().parent / "locales"
#: The variable that chooses the command line's language without touching the locale.
ENVIRONMENT = "DIPLOMATIE_LANG"

_asked: str | None = None


def use(asked: str | None) -> None:
    """Use ``asked`` (``--lang``) for the rest of this run; None: follow the environment again."""
    global _asked
    _asked = valid(asked)


def language() -> str:
    """The language of this run's messages, read each time (a test may change the environment)."""
    env = os.environ
    return (_asked or valid(env.get(ENVIRONMENT))
            or from_locale(env.get("LC_ALL"), env.get("LC_MESSAGES"), env.get("LANG")) or DEFAULT)


@functools.cache
def compiled_folder(base: str | None) -> Path | None:
    """Where the compiled catalogues are kept between runs (see :func:`gate.i18n.translations`): the
    user's cache folder (``base``: ``XDG_CACHE_HOME``, else ``~/.cache``), ``diplomatie/catalogues``;
    None when there is no home folder to find it in."""
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:
            return None
    return Path(base) / "diplomatie" / "catalogues"


def _catalogue(lang: str):
    return translations(lang, DOMAIN, LOCALES, compiled_folder(os.environ.get("XDG_CACHE_HOME")))


def _(message: str) -> str:
    """``message`` (an English msgid) in this run's language."""
    return _catalogue(language()).gettext(message)


def translations_for(language: str):
    """The catalogue in ``language`` whatever the run's: for the texts of a community's site, which are
    in the community's language (an unknown language gets the default)."""
    return translations(valid(language) or DEFAULT, DOMAIN, LOCALES)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in this run's language (French: 0 and 1 are singular)."""
    return _catalogue(language()).ngettext(singular, plural, n)


class Message(str):
    """A message kept in English where it is data (a plan's reason for holding a cable, compared in code
    and written to JSON), with its msgid and fields so that it is translated where a person reads it
    (:func:`shown`). Its text is the English one: ``Message(N_("embargoed until {when}"), when=t)``."""

    msgid: str
    fields: dict[str, object]

    def __new__(cls, msgid: str, **fields: object) -> Message:
        self = super().__new__(cls, msgid.format(**fields) if fields else msgid)
        self.msgid, self.fields = msgid, fields
        return self

    def __reduce__(self):  # pickled by its msgid and fields (a plan crosses process boundaries)
        return (_message, (self.msgid, self.fields))


def _message(msgid: str, fields: dict[str, object]) -> Message:
    return Message(msgid, **fields)


def shown(text: str) -> str:
    """``text`` as a person reads it: a :class:`Message` or a plain msgid translated, fields filled in
    (a field that is itself a :class:`Message` is translated too); anything else as it is."""
    if isinstance(text, Message):
        return _(text.msgid).format(**{k: shown(v) if isinstance(v, Message) else v for k, v in text.fields.items()})
    return _(text) if text else text
