"""Raw HTML in a cable's Markdown that could run script or load content is refused.

Markdown lets authors write HTML; a community site must never run an author's script, frame another
site, post a form or pull content from another host (which would also tell that host who reads).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("HTML element that can run script or load content",
     re.compile(r"<\s*/?\s*(script|iframe|frame|frameset|object|embed|form|applet|base|meta|link|"
                r"svg|math|style|template|portal|input|button|textarea|select)\b", re.I)),
    ("event handler attribute", re.compile(r"<[^>]*\s(on[a-z]+)\s*=", re.I)),
    ("script URL", re.compile(r"(?:javascript|vbscript|livescript)\s*:", re.I)),
    ("HTML data URL", re.compile(r"data\s*:\s*(?:text/html|image/svg|application/)", re.I)),
    ("style attribute", re.compile(r"<[^>]*\sstyle\s*=", re.I)),
    ("image from another host", re.compile(r"!\[[^\]]*\]\(\s*<?(?:https?:)?//", re.I)),
    ("image from another host", re.compile(r"<\s*img\b[^>]*\ssrc\s*=\s*[\"']?(?:https?:)?//", re.I)),
)


@dataclass(frozen=True)
class Unsafe:
    line: int  # 1-based within the scanned text
    col: int
    what: str
    text: str


def find_unsafe(markdown: str) -> list[Unsafe]:
    """Every unsafe construct of ``markdown``, one per rule and line."""
    found = []
    for number, line in enumerate(markdown.splitlines(), start=1):
        for what, pattern in RULES:
            match = pattern.search(line)
            if match:
                found.append(Unsafe(number, match.start() + 1, what, match.group(0)[:60]))
    return found
