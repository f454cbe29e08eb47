"""The merge-request check: every finding of one run, as text, JSON or GitLab's Code Quality report."""

from __future__ import annotations

import hashlib
import json

from pipeline.findings import CODES, Finding, Severity


def exit_code(findings: list[Finding], strict: bool = False) -> int:
    """1 when there is an error (or, with ``strict``, a warning), else 0."""
    if any(f.is_error or strict for f in findings):
        return 1
    return 0


def as_text(findings: list[Finding]) -> str:
    errors = sum(f.is_error for f in findings)
    warnings = len(findings) - errors
    lines = [str(f) for f in findings]
    lines.append(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}")
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
            "check_name": f"{f.code} {CODES[f.code][1]}",
            "fingerprint": fingerprint,
            "severity": "blocker" if f.severity is Severity.ERROR else "minor",
            "location": {"path": f.path, "lines": {"begin": f.line}},
        })
    return json.dumps(report, ensure_ascii=False, indent=2)


FORMATS = {"text": as_text, "json": as_json, "codequality": as_codequality}
