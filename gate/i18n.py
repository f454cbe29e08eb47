"""Messages in French and English: the gate's catalogues, and which language a reader gets.

Source strings in code are English msgids marked with ``_()``, ``ngettext()`` or, where a string is
only named and translated later, :func:`N_`. Translations live in gettext catalogues,
``gate/locales/<language>/LC_MESSAGES/<domain>.po``, kept up to date with Babel (``make catalogues``:
``pybabel extract`` then ``pybabel update``; docs/gate.md). No compiled ``.mo`` file is kept in the
repository: :func:`translations` reads the ``.po`` with Babel and compiles it in memory once per
process. A catalogue that is missing or unreadable is an error at start-up, never a page in the
wrong language.

This is a contract module: the gate and, later, the command line (a ``pipeline`` domain in the same
layout) read their messages through it. French is the default language of this ministry's service.
"""

from __future__ import annotations

import functools
import gettext
import io
import re
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("fr", "en")
DEFAULT = "fr"
DOMAIN = "gate"
LOCALES = Path(__file__).resolve().parent / "locales"

#: What a language cookie or ``?lang=`` may hold: exactly one of the languages, nothing else.
COOKIE = "lang"

#: The longest Accept-Language header read (browsers send well under 200 bytes); longer: ignored.
MAX_ACCEPT_LANGUAGE = 1024
_RANGE = re.compile(r"(?:[a-z]{1,8}(?:-[a-z0-9]{1,8})*|\*)")
_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)")


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translated later"
    """Mark ``message`` for extraction; it is translated where it is shown, in the reader's language."""
    return message


class CatalogueError(RuntimeError):
    """A catalogue the service needs cannot be read."""


@functools.cache
def translations(language: str, domain: str = DOMAIN, directory: Path = LOCALES) -> gettext.GNUTranslations:
    """The compiled catalogue of ``language`` (one of :data:`LANGUAGES`), read from its ``.po`` once.

    Fuzzy entries are left out (Babel's ``write_mo`` default), so an unreviewed translation falls
    back to the English source rather than showing a guess; the catalogue test refuses them anyway.
    """
    if language not in LANGUAGES:
        raise ValueError(f"no catalogue for language {language!r}: one of {', '.join(LANGUAGES)}")
    path = directory / language / "LC_MESSAGES" / f"{domain}.po"
    try:
        with path.open("rb") as po:
            catalog = read_po(po, locale=language, domain=domain)
    except (OSError, ValueError) as exc:
        raise CatalogueError(f"{path}: cannot read the {language} catalogue: {exc}") from exc
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def valid(language: object) -> str | None:
    """``language`` when it is exactly one of :data:`LANGUAGES` (a cookie, a query, a snapshot field)."""
    return language if isinstance(language, str) and language in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The language of ours the browser prefers, from ``Accept-Language`` (RFC 9110 §12.5.4), or None.

    Each range may carry ``;q=`` (0 to 1, three decimals at most); the highest q wins, the earlier
    range on a tie; ``q=0`` means "not this one"; ``fr-CA`` counts as ``fr``; ``*`` names no language
    (the default then applies). A range or parameter that is not well formed is skipped, not
    guessed at; a header too long to be a browser's is ignored whole. The answer is only ever one of
    :data:`LANGUAGES` or None, whatever the header holds.
    """
    if not header or len(header) > MAX_ACCEPT_LANGUAGE:
        return None
    best: tuple[float, int, str] | None = None
    for position, item in enumerate(header.split(",")):
        language_range, *parameters = (part.strip() for part in item.split(";"))
        language_range = language_range.lower()
        if not _RANGE.fullmatch(language_range):
            continue
        q = 1.0
        for parameter in parameters:
            name, equals, value = (text.strip() for text in parameter.partition("="))
            if name.lower() != "q" or not equals or not _QVALUE.fullmatch(value):
                q = -1.0  # a malformed weight: skip the range rather than guess its weight
                break
            q = float(value)
        primary = language_range.split("-", 1)[0]
        if q <= 0 or primary not in LANGUAGES:
            continue
        if best is None or q > best[0]:
            best = (q, position, primary)
    return best[2] if best else None


def from_locale(*values: str | None) -> str | None:
    """The language of the first POSIX locale set among ``values`` (for the command line: ``LC_ALL``,
    ``LC_MESSAGES``, ``LANG``, in that order), when it is one of ours: ``fr_FR.UTF-8`` -> ``fr``,
    ``en_GB`` -> ``en``; ``C``, ``POSIX`` or another language -> None (then French, the default)."""
    for value in values:
        if value:
            language = value.split(".", 1)[0].split("@", 1)[0].split("_", 1)[0].lower()
            return language if language in LANGUAGES else None
    return None


def choose(*, asked: object = None, remembered: object = None, community: object = None,
           accept_language: str | None = None) -> str:
    """The reader's language: the one they just asked for (the page's switch, ``?lang=``), else the one
    they chose before (the ``lang`` cookie), else the community's when the page belongs to one, else
    their browser's (``Accept-Language``), else French. Anything that is not exactly ``fr`` or ``en``
    counts as not given."""
    return (valid(asked) or valid(remembered) or valid(community) or from_accept_language(accept_language)
            or DEFAULT)
