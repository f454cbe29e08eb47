"""The vocabulary: each subject's and each ministry's label in French and in English, from
``vocabulary.yaml`` at the root of the content repository.

Cables name subjects by slug (``matieres-critiques``) and ministries by code (``MEAE``): what URLs,
selection rules and filters need. A reader needs words: with a vocabulary, the sites print each
subject's and ministry's label in the site's language, the slugs staying in URLs only, and ``check``
refuses a cable naming a subject or ministry the vocabulary does not know (E405), so that no page
shows a word nobody chose. The file is optional, and so is each of its two sections: without it (or
without a section), that kind is printed as written and not checked, as before vocabularies existed::

    subjects:
      energie:
        fr: Énergie
        en: Energy
    ministries:
      MEAE:
        fr: Ministère de l'Europe et des Affaires étrangères
        en: Ministry for Europe and Foreign Affairs

Fail closed: a vocabulary with any error (YAML, a missing label, a duplicate, a slug or code not in
its form…) is :attr:`Vocabulary.broken`: no subject can be said known, so every cable is held (the
load marks them invalid) and ``publish`` publishes nothing until the file is fixed.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from pipeline.cables import DISGUISES, MINISTRY_RE, PLACEHOLDER_SUBJECT, SLUG_RE, decode
from pipeline.communities import PATH as COMMUNITIES
from pipeline.findings import Findings
from pipeline.messages import N_, _
from pipeline.yamlfile import NodeReader, YamlError, compose, construct

if TYPE_CHECKING:
    from pipeline.cables import Cable
    from pipeline.communities import Community

PATH = "vocabulary.yaml"
#: The languages every label is given in (the sites' languages).
LANGUAGES = ("fr", "en")
#: Each section: the form of its entries' names, said in words for a finding.
SECTIONS: dict[str, tuple[re.Pattern[str], str]] = {
    "subjects": (SLUG_RE, N_("a lower-case slug like securite-energetique (letters without accents, digits, hyphens)")),
    "ministries": (MINISTRY_RE, N_("an upper-case ministry code like MEAE")),
}


@dataclass(frozen=True)
class Label:
    """One subject's or ministry's words, in each language of the sites."""

    fr: str
    en: str

    def in_language(self, language: str) -> str:
        return self.fr if language == "fr" else self.en


@dataclass(frozen=True)
class Vocabulary:
    """The labels of a repository. A section that is None is not labelled (no file, or no such
    section): its names are printed as written and any name is accepted."""

    subjects: tuple[tuple[str, Label], ...] | None = None
    ministries: tuple[tuple[str, Label], ...] | None = None
    #: the file exists and has an error: nothing it would allow can be trusted (every cable is held)
    broken: bool = False

    @functools.cached_property
    def _subjects(self) -> dict[str, Label]:
        return dict(self.subjects or ())

    @functools.cached_property
    def _ministries(self) -> dict[str, Label]:
        return dict(self.ministries or ())

    def subject(self, slug: str, language: str) -> str:
        """What a reader of a ``language`` site reads for the subject ``slug``."""
        label = self._subjects.get(slug)
        return label.in_language(language) if label else slug

    def ministry(self, code: str, language: str) -> str:
        """What a reader of a ``language`` site reads for the ministry ``code``."""
        label = self._ministries.get(code)
        return label.in_language(language) if label else code

    def unknown(self, cable: Cable) -> list[tuple[str, str]]:
        """(section, name) of each subject and the ministry of ``cable`` a labelled section lacks (but
        the new-cable template's placeholder subject, which E210 refuses on its own)."""
        out = []
        if self.subjects is not None:
            out += [("subjects", s) for s in cable.subjects if s not in self._subjects and s != PLACEHOLDER_SUBJECT]
        if self.ministries is not None and cable.ministry not in self._ministries:
            out.append(("ministries", cable.ministry))
        return out

    def known(self, section: str) -> list[str]:
        return sorted(self._subjects if section == "subjects" else self._ministries)


#: A repository without ``vocabulary.yaml``.
NONE = Vocabulary()
#: A ``vocabulary.yaml`` with errors.
BROKEN = Vocabulary(broken=True)


def check_cable(vocabulary: Vocabulary, cable: Cable, findings: Findings) -> bool:
    """E405 for each subject and ministry of ``cable`` the vocabulary lacks; False when the cable may
    not be published (one is lacking, or the vocabulary is broken: its own errors say why)."""
    if vocabulary.broken:
        return False
    missing = vocabulary.unknown(cable)
    for section, name in missing:
        if section == "subjects":
            line = cable.lines.get("subjects", 1)
            message = _("subject '{name}' is not in {path}").format(name=name, path=PATH)
        else:
            line = cable.lines.get("ministry", cable.lines.get("id", 1))
            message = (_("ministry '{name}' is not in {path}") if "ministry" in cable.lines else
                       _("ministry '{name}' (the ministry of a cable that names none) is not in {path}")
                       ).format(name=name, path=PATH)
        findings.add(cable.path, line, "E405", message, _hint(vocabulary, section, name))
    return not missing


def check_selection(vocabulary: Vocabulary, community: Community, findings: Findings) -> None:
    """E405 for each subject of a community's selection (``select.subjects`` in communities.yaml) the
    vocabulary lacks: no cable may name it, so the rule could never select anything, and a misspelt
    subject would silently leave the community without the cables it was meant to have."""
    if vocabulary.broken or vocabulary.subjects is None:
        return
    line = community.select.lines.get("subjects", community.lines.get("id", 1))
    for name in community.select.subjects:
        if name not in vocabulary._subjects:
            findings.add(COMMUNITIES, line, "E405",
                         _("subject '{name}' in the selection of community '{id}' is not in {path}").format(
                             name=name, id=community.id, path=PATH),
                         _hint(vocabulary, "subjects", name))


def _hint(vocabulary: Vocabulary, section: str, name: str) -> str:
    """What to do about a name the vocabulary lacks: the closest known one, every known one, or add it."""
    known = vocabulary.known(section)
    close = difflib.get_close_matches(name, known, n=1)
    hint = (_("known subjects: {known}") if section == "subjects" else _("known ministries: {known}")).format(
        known=", ".join(known) or _("none"))
    if close:
        hint = _("did you mean '{close}'?").format(close=close[0]) + " " + hint
    return hint + " — " + _("or add it to {path} with its French and English labels").format(path=PATH)


def parse(data: bytes, findings: Findings, path: str = PATH) -> Vocabulary:
    """Read ``vocabulary.yaml``; every problem becomes a finding with its line, and makes the
    vocabulary :data:`BROKEN`."""
    found = Findings()
    vocabulary = _read(data, found, path)
    findings.extend(found)
    return BROKEN if any(f.is_error for f in found) or vocabulary is None else vocabulary


def _read(data: bytes, findings: Findings, path: str) -> Vocabulary | None:
    text = decode(path, data, findings)
    if text is None:
        return None
    try:
        root = compose(text)
    except YamlError as exc:
        findings.add(path, exc.line, "E106", exc.message, exc.hint or _("fix the YAML (indentation, quotes, colons)"),
                     col=exc.col)
        return None
    reader = _Reader(path, findings)
    if root is None:
        findings.add(path, 1, "E201", _("the file is empty"),
                     _("list the subjects and ministries with their labels, or delete the file"))
        return None
    top = reader.mapping(root, _("the file"))
    if top is None:
        return None
    for key, (key_node, _value) in top.items():
        if key not in SECTIONS:
            reader.add(key_node, "E202", _("unknown top-level key '{key}'").format(key=key),
                       _("the file holds the keys subjects and ministries"))
    sections = {name: reader.section(name, top[name][1]) for name in SECTIONS if name in top}
    return Vocabulary(subjects=sections.get("subjects"), ministries=sections.get("ministries"))


class _Reader(NodeReader):
    """Reads the file node by node, so that each finding has its line."""

    def section(self, name: str, node: yaml.Node) -> tuple[tuple[str, Label], ...]:
        """One section's entries, in file order; two names with the same label in one language are
        refused (a reader could not tell them apart, and search filters by label)."""
        pattern, form = SECTIONS[name]
        entries = self.mapping(node, f"'{name}'")
        if entries is None:
            return ()
        out = []
        seen: dict[tuple[str, str], str] = {}
        for entry, (entry_key, value) in entries.items():
            if not isinstance(entry_key, yaml.ScalarNode) or not pattern.match(entry):
                self.add(entry_key, "E206", _("{entry!r} in '{name}' is not {form}").format(entry=entry, name=name, form=_(form)),
                         _("write it as the cables write it"))
                continue
            label = self.label(name, entry, entry_key, value)
            if label is None:
                continue
            for language in LANGUAGES:
                words = label.in_language(language).casefold()
                if (language, words) in seen:
                    self.add(entry_key, "E206", _("'{entry}' has the same {language} label as '{other}'").format(
                        entry=entry, language=language, other=seen[(language, words)]),
                        _("give each its own label: readers and search filters tell them apart by it"))
                seen.setdefault((language, words), entry)
            out.append((entry, label))
        return tuple(out)

    def label(self, name: str, entry: str, entry_key: yaml.Node, node: yaml.Node) -> Label | None:
        """An entry's labels: exactly ``fr`` and ``en``, each a line of plain text."""
        what = f"'{entry}' ({name})"
        fields = self.mapping(node, what)
        if fields is None:
            return None
        words: dict[str, str] = {}
        for key, (key_node, value_node) in fields.items():
            if key not in LANGUAGES:
                self.add(key_node, "E202", _("unknown key '{key}' in {what}").format(key=key, what=what),
                         _("an entry holds exactly: {keys}").format(keys=", ".join(LANGUAGES)))
                continue
            text = self.text(value_node, key, what)
            if text is not None:
                words[key] = text
        missing = [language for language in LANGUAGES if language not in fields]
        if missing:
            self.add(entry_key, "E201", _("{what} lacks its {missing} label").format(what=what, missing=", ".join(missing)),
                     _("give each entry its French (fr) and English (en) label"))
        if len(words) < len(LANGUAGES):
            return None
        return Label(fr=words["fr"], en=words["en"])

    def text(self, node: yaml.Node, key: str, what: str) -> str | None:
        """A label: non-empty text on one line, without what a page may not show (markings, hidden
        characters)."""
        from pipeline import classification

        try:
            value = construct(node)
        except YamlError as exc:
            self.add(node, "E203", exc.message)
            return None
        if not isinstance(value, str) or not value.strip() or "\n" in value.strip():
            self.add(node, "E203", _("the {key} label of {what} must be one line of text").format(key=key, what=what),
                     _("e.g. fr: Énergie"))
            return None
        ok = True
        for marking in classification.find_markings(value):
            self.add(node, "E302", _("classification marking {text!r} ({kind}) in the {key} label of {what}").format(
                text=marking.text, kind=marking.kind, key=key, what=what),
                _("every site prints it: only unclassified text may be published"))
            ok = False
        for found in classification.find_disguises(value):
            code, message, hint = DISGUISES[found.kind]
            self.add(node, code, _("{problem} in the {key} label of {what}: {text}").format(
                problem=_(message), key=key, what=what, text=found.text), _(hint))
            ok = False
        return value.strip() if ok else None
