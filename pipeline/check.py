"""The merge-request check: every finding of one run, as text, JSON or GitLab's Code Quality report."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import PurePosixPath

from pipeline.findings import CODES, Finding, Severity, title
from pipeline.messages import ngettext

#: Findings of communities.yaml that stop it being read at all: every cable depends on them.
UNREADABLE = {"E101", "E102", "E103", "E105", "E106", "E201"}


def concerning(findings: Iterable[Finding], paths: Iterable[str]) -> list[Finding]:
    """The findings ``check PATH…`` reports for the cable files ``paths`` (repository-relative): each
    file's own, another file claiming the same id (E208 names the file it clashes with), what
    communities.yaml says of these cables (an entry naming one of their ids), communities.yaml
    itself being unreadable (then no cable's communities can be known), and every error of
    vocabulary.yaml (any of them holds every cable: pipeline/vocabulary.py)."""
    paths = set(paths)
    ids = {PurePosixPath(p).stem for p in paths}

    def concerns(f: Finding) -> bool:
        if f.path in paths:
            return True
        if f.code == "E208":
            return any(f.message.endswith(p) for p in paths)  # "… already used by <path>", in either language
        if f.path == "vocabulary.yaml":
            return f.is_error
        return f.path == "communities.yaml" and (f.code in UNREADABLE or any(_names(f.message, i) for i in ids))
    return [f for f in findings if concerns(f)]


def _names(message: str, cable_id: str) -> bool:
    """Whether ``message`` names ``cable_id`` as a whole word (2026-PARIS-0001 is not 2026-PARIS-00012)."""
    at = message.find(cable_id)
    while at >= 0:
        end = at + len(cable_id)
        if (at == 0 or not message[at - 1].isalnum()) and (end == len(message) or not message[end].isalnum()):
            return True
        at = message.find(cable_id, end)
    return False


def exit_code(findings: list[Finding], strict: bool = False) -> int:
    """1 when there is an error (or, with ``strict``, a warning), else 0."""
    if any(f.is_error or strict for f in findings):
        return 1
    return 0


def as_text(findings: list[Finding]) -> str:
    errors = sum(f.is_error for f in findings)
    warnings = len(findings) - errors
    lines = [str(f) for f in findings]
    lines.append(ngettext("{n} error", "{n} errors", errors).format(n=errors) + ", "
                 + ngettext("{n} warning", "{n} warnings", warnings).format(n=warnings))
    return "\n".join(lines)


def as_json(findings: list[Finding]) -> str:
    return json.dumps(
        {
            "errors": sum(f.is_error for f in findings),
            "warnings": sum(not f.is_error for f in findings),
            "findings": [
                {"path": f.path, "line": f.line, "col": f.col, "code": f.code, "severity": f.severity.value,
                 "message": f.message, "hint": f.hint}
                for f in findings
            ],
        },
        ensure_ascii=False, indent=2,
    )


def as_codequality(findings: list[Finding]) -> str:
    """GitLab Code Quality report (a subset of the Code Climate format) for merge requests."""
    report = []
    for f in findings:
        fingerprint = hashlib.sha256(f"{f.path}:{f.code}:{f.message}".encode()).hexdigest()
        report.append({
            "description": f"{f.code} {f.message}" + (f" — {f.hint}" if f.hint else ""),
            "check_name": f"{f.code} {title(CODES[f.code][1])}",
            "fingerprint": fingerprint,
            "severity": "blocker" if f.severity is Severity.ERROR else "minor",
            "location": {"path": f.path, "lines": {"begin": f.line}},
        })
    return json.dumps(report, ensure_ascii=False, indent=2)


FORMATS = {"text": as_text, "json": as_json, "codequality": as_codequality}
