"""A new cable, ready to edit: the next free id for its post and year, and every required key."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from pipeline.cables import PLACEHOLDER_BODY, PLACEHOLDER_SUBJECT, POST_RE
from pipeline.classification import CANONICAL
from pipeline.messages import _
from pipeline.repository import CONTENT, Repository

TEMPLATE = """---
id: {id}
title: {title}
date: {date}
post: {post}
ministry: {ministry}
author: {author}
classification: {classification}
language: {language}
subjects: [{subject}]
summary: ""
---

{body}
"""


class DraftError(Exception):
    pass


def next_id(repo: Repository, post: str, year: int) -> str:
    """The next free number for ``post`` in ``year``, counting files even if they fail to parse."""
    prefix = f"{year}-{post}-"
    used = [int(cid[len(prefix):]) for cid in repo.cables if cid.startswith(prefix) and cid[-4:].isdigit()]
    folder = repo.root / CONTENT / str(year)
    if folder.is_dir():
        used += [int(p.stem[len(prefix):]) for p in folder.glob(f"{prefix}[0-9][0-9][0-9][0-9].md")]
    number = max(used, default=0) + 1
    if number > 9999:
        raise DraftError(_("{post} has used every number of {year}").format(post=post, year=year))
    return f"{prefix}{number:04d}"


def new_cable(repo: Repository, post: str, title: str, author: str, language: str = "fr",
              ministry: str = "MEAE", today: dt.date | None = None) -> Path:
    """Write the new cable file and return its path. Never overwrites a file."""
    if not POST_RE.match(post):
        raise DraftError(_("post {post!r} is not an upper-case post code like BERLIN or NEW-YORK-ONU").format(post=post))
    if not title.strip():
        raise DraftError(_("the title is empty"))
    today = today or dt.date.today()
    cable_id = next_id(repo, post, today.year)
    path = repo.root / CONTENT / str(today.year) / f"{cable_id}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = TEMPLATE.format(id=cable_id, title=json.dumps(title, ensure_ascii=False),  # valid YAML too
                           date=today.isoformat(), post=post, ministry=ministry, author=author, classification=CANONICAL, language=language,
                           subject=PLACEHOLDER_SUBJECT, body=PLACEHOLDER_BODY)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
