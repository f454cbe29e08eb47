"""The texts of the pages every site carries (legal notice, accessibility statement), which a content
repository may write itself in ``pages/<name>.<language>.md``.

A French public service publishes a legal notice and an accessibility statement; the ministry, not the
project, knows what its own say. So a content repository may give their texts, one Markdown file per
page and language, beside ``communities.yaml``::

    pages/legal.fr.md           pages/legal.en.md
    pages/accessibility.fr.md   pages/accessibility.en.md

Where a file is missing, the project's default text is used (``pipeline/defaults/``). In both,
``{service}``, ``{community}`` and ``{owner}`` are filled in for each site. The accessibility
statement's facts are never written by hand: they are generated from the audit the tests measured
(pipeline/accessibility.py) and put where the ministry's text has the line ``{audit}``, or after its
text when it has none, so that the conformity level shown is always the one measured.

The texts are written by people (careful ones, mostly), so they are held to what a cable's body is:
``check`` reports raw HTML the site would not keep (E501, at its line), and the build converts them
with the same Markdown and passes them through the same sanitiser (pipeline/html_safety.py); a file
that is not UTF-8 (E101), too large (E102), a symbolic link (E103) or not one of the names above (E104)
is reported, and a site is not built from a version whose page text cannot be read (fail closed: the
ministry's text is never silently replaced by the default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.findings import Findings
from pipeline.messages import _

FOLDER = "pages"
#: The pages a repository may write, by name: legal notice and accessibility statement.
NAMES = ("legal", "accessibility")
#: The sites' languages.
LANGUAGES = ("fr", "en")
#: The line of an accessibility statement where the generated facts go.
AUDIT = "{audit}"
#: As large as a page of text may sensibly be (a legal notice is a few kilobytes).
MAX_BYTES = 100_000
_NAME = re.compile(rf"{FOLDER}/(?P<name>{'|'.join(NAMES)})\.(?P<language>{'|'.join(LANGUAGES)})\.md")


@dataclass(frozen=True)
class SiteTexts:
    """A repository's own page texts: ``texts`` as ((name, language), Markdown) pairs, and the paths of
    the files that exist but cannot be used (``broken``: a site is not built while there is one)."""

    texts: tuple[tuple[tuple[str, str], str], ...] = ()
    broken: tuple[str, ...] = ()

    def get(self, name: str, language: str) -> str | None:
        """The repository's text of page ``name`` in ``language``, or None (the default is used)."""
        return dict(self.texts).get((name, language))


#: A repository without ``pages/``: every site uses the defaults.
NONE = SiteTexts()


def path_of(name: str, language: str) -> str:
    return f"{FOLDER}/{name}.{language}.md"


def known() -> str:
    return ", ".join(path_of(n, lang) for n in NAMES for lang in LANGUAGES)


def parse(path: str, data: bytes, findings: Findings) -> str | None:
    """One page text, checked; None when it cannot be used (its findings say why)."""
    if len(data) > MAX_BYTES:
        findings.add(path, 1, "E102", _("a page text is larger than {size} bytes").format(size=MAX_BYTES),
                     _("shorten it: link to longer documents instead of pasting them"))
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        findings.add(path, line, "E101", _("this page text is not valid UTF-8"), _("save the file as UTF-8"))
        return None
    text = text.removeprefix("\ufeff")
    # Here, not at the top: every load reads this module, and the sanitiser's libraries (Markdown,
    # nh3) are much of a command's start-up time; a repository without page texts never needs them.
    from pipeline import html_safety

    for unsafe in html_safety.find_unsafe(text):
        findings.add(path, unsafe.line, "E501", f"{unsafe.what}: {unsafe.text!r}",
                     _("write plain Markdown: the site keeps text, links, tables, lists, code and images; it "
                       "removes scripts, frames, forms, styles, event handlers and content from other hosts "
                       "(see README, Raw HTML)"), col=unsafe.col)
    marks = [n for n, line in enumerate(text.splitlines(), 1) if line.strip() == AUDIT]
    if marks and not path.startswith(f"{FOLDER}/accessibility."):
        findings.add(path, marks[0], "E206", _("only the accessibility statement has generated facts to place"),
                     _("remove the line {audit}").format(audit=AUDIT))
    elif len(marks) > 1:
        findings.add(path, marks[1], "E206", _("the line {audit} appears more than once").format(audit=AUDIT),
                     _("keep one line {audit}, where the measured conformity goes").format(audit=AUDIT))
    return text


def load(tree, findings: Findings) -> SiteTexts:
    """The page texts of one version (``tree``: pipeline/sources.py ``Tree``), every problem a finding."""
    texts: dict[tuple[str, str], str] = {}
    broken: list[str] = []
    for entry in tree.walk(FOLDER):
        match = _NAME.fullmatch(entry.path)
        if match is None:
            findings.add(entry.path, 1, "E104", _("{folder}/ holds only the texts of the sites' pages").format(folder=FOLDER),
                         _("name it one of: {known}").format(known=known()))
            continue
        if entry.is_symlink:
            findings.add(entry.path, 1, "E103", _("a page text is a symbolic link"), _("commit the file itself"))
            broken.append(entry.path)
            continue
        text = parse(entry.path, tree.read(entry.path), findings)
        if text is None:
            broken.append(entry.path)
        else:
            texts[(match["name"], match["language"])] = text
    return SiteTexts(tuple(sorted(texts.items())), tuple(broken))


def fill(text: str, values: dict[str, str]) -> str:
    """``text`` with each ``{key}`` of ``values`` replaced (other braces left as written)."""
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def place_audit(text: str, facts: str) -> str:
    """The ministry's statement with the generated ``facts`` on its ``{audit}`` line (the first), or after it."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == AUDIT:
            return "\n".join([*lines[:i], "", facts, "", *lines[i + 1:]]) + "\n"
    return text.rstrip("\n") + "\n\n" + facts + "\n"
