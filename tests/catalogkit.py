"""The checks every message catalogue passes (the gate's and the command line's): each message the code
marks is in the catalogue, translated, reviewed and still used, and keeps its placeholders."""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def fields(text: str) -> set[str]:
    """The ``{placeholders}`` of a message."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@dataclass(frozen=True)
class Catalogues:
    """One domain's catalogues: the package whose code marks the messages, and where they are kept."""

    package: str
    locales: Path
    domain: str

    def extracted(self) -> dict[str | tuple[str, ...], str]:
        """Every message marked in the package (``_``, ``gettext``, ``ngettext``, ``N_``), as Babel
        extracts it, with where it is marked."""
        found = {}
        for filename, lineno, message, _comments, _context in extract_from_dir(
                ROOT / self.package, method_map=[("**.py", "python")]):
            found[message] = f"{self.package}/{filename}:{lineno}"
        return found

    def read(self, language: str) -> Catalog:
        with (self.locales / language / "LC_MESSAGES" / f"{self.domain}.po").open("rb") as po:
            return read_po(po, locale=language)

    def assert_complete(self, language: str) -> None:
        """Fails on a message not in the catalogue, without a translation, fuzzy (unreviewed), or that
        no code uses any more; `make catalogues` brings the catalogues up to date, then a translator
        fills in what it flags."""
        cat = self.read(language)
        entries = {m.id: m for m in cat if m.id}
        found = self.extracted()
        missing = sorted(f"{where}: {msg!r}" for msg, where in found.items() if msg not in entries)
        assert not missing, f"{language}: messages not in the catalogue (run `make catalogues`):\n" + "\n".join(missing)
        untranslated = [m.id for m in entries.values()
                        if not (all(m.string) if isinstance(m.string, tuple | list) else m.string)]
        assert not untranslated, f"{language}: messages without a translation: {untranslated}"
        fuzzy = [m.id for m in entries.values() if m.fuzzy]
        assert not fuzzy, f"{language}: fuzzy (unreviewed) translations: {fuzzy}"
        obsolete = sorted(map(str, set(entries) - set(found))) + sorted(map(str, cat.obsolete))
        assert not obsolete, f"{language}: messages no code uses any more (run `make catalogues`): {obsolete}"

    def assert_placeholders_kept(self, language: str) -> None:
        """A translation that drops or renames a placeholder would fail (or lie) at run time; each
        translation (each plural form) has exactly the placeholders of the message's last form."""
        for m in self.read(language):
            if not m.id:
                continue
            ids = m.id if isinstance(m.id, tuple) else (m.id,)
            strings = m.string if isinstance(m.string, tuple | list) else (m.string,)
            for text in strings:
                assert fields(text) == fields(ids[-1]), (language, m.id, text)
