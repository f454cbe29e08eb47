"""A cable: YAML front matter, then the Markdown body, in ``content/<year>/<id>.md``.

Parsing keeps the line of every key so that each finding points at ``path:line:col``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Approval:
    """One editor's approval of one exact version of a cable for one community."""

    community: str
    by: str
    date: dt.datetime
    digest: str  # "sha256:<hex>" of the canonical content it approved
    line: int = 0  # line of this entry in the cable file (0: unknown)


@dataclass(frozen=True)
class Cable:
    """A parsed cable. ``digest`` is the canonical digest approvals must match."""

    id: str
    title: str
    date: dt.date
    post: str
    author: str
    classification: str
    subjects: tuple[str, ...]
    language: str  # "fr" or "en"
    body: str
    path: str  # relative to the content repository root, with forward slashes
    digest: str  # "sha256:<hex>" over front matter without approvals, and body
    summary: str = ""
    ministry: str = "MEAE"
    communities: tuple[str, ...] = ()
    embargo: dt.datetime | None = None  # aware, UTC
    status: str = "active"  # "active" or "withdrawn"
    supersedes: str | None = None
    approvals: tuple[Approval, ...] = ()
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)  # key -> line
    body_line: int = 1  # line of the first body line in the file

    @property
    def year(self) -> int:
        return self.date.year
