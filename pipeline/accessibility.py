"""The accessibility statement (RGAA), generated from what the accessibility tests measured.

A French public service must publish a statement of its conformity to the RGAA. Ours is not written
by hand: the test suite audits the pages with axe-core in a real browser (tests/accessibility.py:
the WCAG 2.0/2.1 A and AA rules and the landmark best practices, at desktop and phone sizes), and the
statement's facts are derived here from that audit: which pages, which sizes, which rules, how many
violations, and the conformity level, "totalement conforme" only when nothing failed on any audited
page at any size, else "partiellement conforme" with the list of what failed. An automated audit
checks part of the criteria only; the statement says so rather than claim more.

The audit of the community sites is recorded in the project (:data:`RECORD`): every site's build
makes its statement page from it, and the sites' accessibility test
(tests/test_accessibility_sites.py) fails when what it measures differs from the record, so the
published statement cannot drift from the pages it describes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.messages import _

#: The recorded audit of the community sites (written from the sites' accessibility test's results).
RECORD = Path(__file__).resolve().parent / "defaults" / "accessibility-audit.json"

FULL = {"fr": "totalement conforme", "en": "fully compliant"}
PARTIAL = {"fr": "partiellement conforme", "en": "partially compliant"}


@dataclass(frozen=True)
class Violation:
    """One axe rule failed on one page at one size, with the elements (CSS selectors) it failed on."""

    page: str
    size: str
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        shown = ", ".join(self.targets[:4]) + (f" (+{len(self.targets) - 4})" if len(self.targets) > 4 else "")
        return f"{self.page} [{self.size}] {self.rule} ({self.impact}): {self.help} — {shown}"


@dataclass(frozen=True)
class Audit:
    """What was audited and what was found: the facts an accessibility statement is made of."""

    pages: tuple[str, ...]
    sizes: tuple[str, ...]
    rules: tuple[str, ...]
    axe_version: str
    violations: tuple[Violation, ...]


def merge(audits: Iterable[Audit]) -> Audit:
    """Several audits (the gate's pages, each site's) as one: every page, size, rule and violation."""
    audits = list(audits)
    return Audit(tuple(p for a in audits for p in a.pages), tuple(dict.fromkeys(s for a in audits for s in a.sizes)),
                 tuple(sorted({r for a in audits for r in a.rules})),
                 ", ".join(sorted({a.axe_version for a in audits})), tuple(v for a in audits for v in a.violations))


def conformity(audit: Audit, lang: str = "fr") -> str:
    """The RGAA level the audit supports; refuses an audit that looked at nothing (it proves nothing)."""
    if not audit.pages or not audit.sizes or not audit.rules:
        raise ValueError(_("an audit with no page, size or rule supports no conformity claim: run the accessibility tests (tests/test_accessibility.py) and give their results"))
    return FULL[lang] if not audit.violations else PARTIAL[lang]


_TEXT = {
    "fr": {"title": "Déclaration d'accessibilité", "state": "État de conformité",
           "level": "{service} est **{level}** avec le référentiel général d'amélioration de l'accessibilité "
                    "(RGAA), version 4.1, au regard de l'audit automatisé décrit ci-dessous.",
           "results": "Résultats des tests",
           "counts": "{pages} pages auditées, aux tailles {sizes} ; {rules} règles vérifiées "
                     "(axe-core {version} : WCAG 2.0 et 2.1, niveaux A et AA, et repères de navigation) ; "
                     "{n} non-conformité(s) relevée(s).",
           "failing": "Contenus non accessibles", "pages": "Pages auditées", "rules": "Règles vérifiées",
           "limits": "Cet audit automatisé ne vérifie qu'une partie des critères du RGAA ; les autres "
                     "demandent un examen humain."},
    "en": {"title": "Accessibility statement", "state": "Compliance status",
           "level": "{service} is **{level}** with the French accessibility framework (RGAA), version 4.1, "
                    "as far as the automated audit described below can tell.",
           "results": "Test results",
           "counts": "{pages} pages audited, at sizes {sizes}; {rules} rules checked (axe-core {version}: "
                     "WCAG 2.0 and 2.1, levels A and AA, and landmarks); {n} violation(s) found.",
           "failing": "Non-accessible content", "pages": "Pages audited", "rules": "Rules checked",
           "limits": "An automated audit checks only part of the RGAA's criteria; the others need a "
                     "person's review."},
}


def statement(audit: Audit, *, service: str, lang: str = "fr") -> str:
    """The statement's facts as Markdown, in French or English (for the sites' footer page)."""
    text = _TEXT[lang]
    level = conformity(audit, lang)
    lines = [f"# {text['title']}", "", f"## {text['state']}", "",
             text["level"].format(service=service, level=level), "", f"## {text['results']}", "",
             text["counts"].format(pages=len(audit.pages), sizes=", ".join(audit.sizes), rules=len(audit.rules),
                                   version=audit.axe_version, n=len(audit.violations)), ""]
    if audit.violations:
        lines += [f"## {text['failing']}", ""]
        where: dict[tuple[str, str], list[str]] = {}
        for v in audit.violations:
            where.setdefault((v.rule, v.help), []).append(f"{v.page} ({v.size})")
        lines += [f"- `{rule}` — {help_text} : {', '.join(dict.fromkeys(pages))}"
                  if lang == "fr" else f"- `{rule}` — {help_text}: {', '.join(dict.fromkeys(pages))}"
                  for (rule, help_text), pages in sorted(where.items())]
        lines.append("")
    lines += [f"## {text['pages']}", "", *[f"- {p}" for p in audit.pages], "",
              f"## {text['rules']}", "", ", ".join(f"`{r}`" for r in audit.rules), "", text["limits"], ""]
    return "\n".join(lines)


def to_json(audit: Audit) -> str:
    """The audit as JSON, as the tests record it (``from_json`` reads it back)."""
    return json.dumps(asdict(audit), ensure_ascii=False, indent=1)


def from_json(text: str) -> Audit:
    """An audit recorded by ``to_json``; a malformed record is refused, never half-read."""
    data = json.loads(text)
    try:
        return Audit(tuple(data["pages"]), tuple(data["sizes"]), tuple(data["rules"]), str(data["axe_version"]),
                     tuple(Violation(v["page"], v["size"], v["rule"], v["impact"], v["help"], tuple(v["targets"]))
                           for v in data["violations"]))
    except (KeyError, TypeError) as error:
        raise ValueError(_("not an accessibility audit record: {error!r}").format(error=error)) from error


def recorded(path: Path | None = None) -> Audit:
    """The recorded audit of the sites (:data:`RECORD` unless ``path``); an unreadable or malformed
    record is an error that says what to do."""
    path = path or RECORD
    try:
        return from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: the recorded accessibility audit cannot be read ({error}); run "
                         "tests/test_accessibility_sites.py and copy the record it writes "
                         "(test-artifacts/accessibility-audit.json) there") from None
