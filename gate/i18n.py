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
def translations(language: str, domain: str = DOMAIN, directory: Path = LOCALES,
                 compiled: Path | None = None) -> gettext.GNUTranslations:
    """The compiled catalogue of ``language`` (one of :data:`LANGUAGES`), read from its ``.po`` once.

    Fuzzy entries are left out (Babel's ``write_mo`` default), so an unreviewed translation falls
    back to the English source rather than showing a guess; the catalogue test refuses them anyway.

    ``compiled``: a folder where the compiled catalogue is kept between processes (the command line
    starts a process per command, and compiling the ``.po`` with Babel is much of a short command's
    time). Each file there is named by the SHA-256 of the ``.po`` and of Babel's version and holds the
    SHA-256 of what follows: a file that is damaged, from another ``.po`` or unreadable is not used,
    the ``.po`` is compiled (fail closed); one that cannot be written is not kept.
    """
    if language not in LANGUAGES:
        raise ValueError(f"no catalogue for language {language!r}: one of {', '.join(LANGUAGES)}")
    path = directory / language / "LC_MESSAGES" / f"{domain}.po"
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read the {language} catalogue: {exc}") from exc
    kept = _compiled_file(compiled, domain, language, source) if compiled is not None else None
    mo = _read_compiled(kept) if kept is not None else None
    if mo is None:
        mo = _compile(source, language, domain, path)
        if kept is not None:
            _keep_compiled(kept, mo)
    return gettext.GNUTranslations(io.BytesIO(mo))


def _compile(source: bytes, language: str, domain: str, path: Path) -> bytes:
    """The ``.mo`` of the ``.po`` ``source`` (Babel, imported here: a kept catalogue needs none of it)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    try:
        catalog = read_po(io.BytesIO(source), locale=language, domain=domain)
    except (OSError, ValueError) as exc:
        raise CatalogueError(f"{path}: cannot read the {language} catalogue: {exc}") from exc
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    return compiled.getvalue()


def _compiled_file(folder: Path, domain: str, language: str, source: bytes) -> Path:
    """Where the ``.mo`` of ``source`` is kept: named by the SHA-256 of the ``.po`` and of Babel's
    ``__init__.py`` (which states its version), found without importing Babel or reading package
    metadata (either costs more than the compiled catalogue saves)."""
    import hashlib
    import importlib.util

    spec = importlib.util.find_spec("babel")
    try:
        babel = Path(spec.origin).read_bytes() if spec is not None and spec.origin else b"absent"
    except OSError:
        babel = b"unreadable"
    key = hashlib.sha256(hashlib.sha256(babel).digest() + source).hexdigest()
    return folder / f"{domain}-{language}-{key[:32]}.mo"


def _read_compiled(file: Path) -> bytes | None:
    """The ``.mo`` kept in ``file`` if its digest holds (None: missing, damaged or unreadable)."""
    import hashlib

    try:
        data = file.read_bytes()
    except OSError:
        return None
    digest, _, mo = data.partition(b"\n")
    return mo if hashlib.sha256(mo).hexdigest().encode() == digest else None


def _keep_compiled(file: Path, mo: bytes) -> None:
    import hashlib

    from gate.files import write_atomic

    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(file, hashlib.sha256(mo).hexdigest().encode() + b"\n" + mo, fsync=False)
    except OSError:
        pass  # not kept: compiled again next time


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
