"""Findings: what ``check`` reports, each pointing at ``path:line:col`` with a stable code and a hint.

Codes are stable and documented in the README ("Check codes"): tools and people may rely on them.
Titles, messages and hints are English msgids translated into the run's language (:mod:`pipeline.messages`):
a code means the same in French and in English.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pipeline.messages import N_, _


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


#: code -> (severity, short title). The one list of codes; the README documents each.
CODES: dict[str, tuple[Severity, str]] = {
    "E101": (Severity.ERROR, N_("file is not valid UTF-8")),
    "E102": (Severity.ERROR, N_("file is larger than 1 MiB")),
    "E103": (Severity.ERROR, N_("symbolic link")),
    "E104": (Severity.ERROR, N_("file outside the expected layout")),
    "E105": (Severity.ERROR, N_("missing front matter")),
    "E106": (Severity.ERROR, N_("YAML syntax error")),
    "E201": (Severity.ERROR, N_("missing required key")),
    "E202": (Severity.ERROR, N_("unknown key")),
    "E203": (Severity.ERROR, N_("wrong type")),
    "E204": (Severity.ERROR, N_("invalid date")),
    "E205": (Severity.ERROR, N_("invalid e-mail address")),
    "E206": (Severity.ERROR, N_("invalid value")),
    "E207": (Severity.ERROR, N_("id and file name differ")),
    "E208": (Severity.ERROR, N_("duplicate id")),
    "E209": (Severity.ERROR, N_("duplicate key")),
    "E210": (Severity.ERROR, N_("placeholder of the new-cable template not replaced")),
    "E301": (Severity.ERROR, N_("classification not publishable")),
    "E302": (Severity.ERROR, N_("classification marking in the text")),
    "E303": (Severity.ERROR, N_("invisible or control character")),
    "E304": (Severity.ERROR, N_("word mixing scripts")),
    "E305": (Severity.ERROR, N_("HTML comment")),
    "E306": (Severity.ERROR, N_("markup in a community's title or description")),
    "E401": (Severity.ERROR, N_("unknown community")),
    "E402": (Severity.ERROR, N_("unknown cable id")),
    "E403": (Severity.ERROR, N_("approval by someone who is not an editor of the community (retired: now W604)")),
    "E404": (Severity.ERROR, N_("invitation by someone who is neither owner nor editor")),
    "E405": (Severity.ERROR, N_("subject or ministry not in the vocabulary")),
    "E501": (Severity.ERROR, N_("raw HTML that can run script or load content")),
    "E502": (Severity.ERROR, N_("mkdocs.yml uses what is not on the allow-list")),
    "W601": (Severity.WARNING, N_("stale approval")),
    "W602": (Severity.WARNING, N_("no community selects this cable")),
    "W603": (Severity.WARNING, N_("expired member")),
    "W604": (Severity.WARNING, N_("approval by someone who is not (or no longer) an editor: the cable is held")),
    "W605": (Severity.WARNING, N_("community does not require signed approvals")),
}


#: The hint given when a finding has no more specific one.
HINTS: dict[str, str] = {
    "E203": N_("see README: Cable format / communities.yaml for each key's type"),
    "E204": N_("write dates as YYYY-MM-DD and date-times as YYYY-MM-DDTHH:MM:SSZ"),
    "E205": N_("write a full e-mail address, e.g. prenom.nom@diplomatie.gouv.fr"),
    "E206": N_("see README: Cable format / communities.yaml for the allowed values"),
    "E209": N_("keep one; a duplicate key could silently replace a safeguard"),
    "E401": N_("use the id of a community of communities.yaml"),
    "E402": N_("use the id of an existing cable (its file name without .md)"),
    "E403": N_("only the community's editors may approve"),
    "E502": N_("see README: Raw HTML, scripts and what a content repository's mkdocs.yml may enable"),
}


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    col: int
    code: str
    message: str
    hint: str = ""

    @property
    def severity(self) -> Severity:
        return CODES[self.code][0]

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}:{self.col}: {self.code} {self.message}"
        return _("{finding}\n    hint: {hint}").format(finding=text, hint=self.hint) if self.hint else text


class Findings(list[Finding]):
    """A list of findings with a terse way to add one."""

    def add(self, path: str, line: int, code: str, message: str, hint: str = "", col: int = 1) -> None:
        assert code in CODES, code
        self.append(Finding(path=path, line=max(line, 1), col=max(col, 1), code=code, message=message,
                            hint=hint or title(HINTS.get(code, ""))))


def title(msgid: str) -> str:
    """A code's title or default hint (an ``N_`` msgid of :data:`CODES` or :data:`HINTS`) in the run's
    language; the empty string stays empty."""
    return _(msgid) if msgid else ""
