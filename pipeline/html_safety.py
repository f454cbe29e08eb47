"""Raw HTML in a cable's Markdown that could run script or load content is refused.

Markdown lets authors write HTML; a community site must never run an author's script, frame another
site, post a form or pull content from another host (which would also tell that host who reads).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    # (what, pattern, a text every match contains, lower case: a line without it is not searched)
    ("HTML element that can run script or load content",
     re.compile(r"<\s*/?\s*(script|iframe|frame|frameset|object|embed|form|applet|base|meta|link|"
                r"svg|math|style|template|portal|input|button|textarea|select)\b", re.I), "<"),
    ("event handler attribute", re.compile(r"<[^>]*\s(on[a-z]+)\s*=", re.I), "<"),
    ("script URL", re.compile(r"(?:javascript|vbscript|livescript)\s*:", re.I), "script"),
    ("HTML data URL", re.compile(r"data\s*:\s*(?:text/html|image/svg|application/)", re.I), "data"),
    ("style attribute", re.compile(r"<[^>]*\sstyle\s*=", re.I), "<"),
    ("image from another host", re.compile(r"!\[[^\]]*\]\(\s*<?(?:https?:)?//", re.I), "!["),
    ("image from another host", re.compile(r"<\s*img\b[^>]*\ssrc\s*=\s*[\"']?(?:https?:)?//", re.I), "<"),
)


@dataclass(frozen=True)
class Unsafe:
    line: int  # 1-based within the scanned text
    col: int
    what: str
    text: str


def _lower(text: str) -> str:
    """Lower case, with the letters the patterns' case-insensitive matching also takes for s and i
    (long s, dotless i; dotted capital I lowers to i and a dot), so a needle is found wherever its
    pattern could match."""
    return text.lower().replace("\u017f", "s").replace("\u0131", "i").replace("i\u0307", "i")


def find_unsafe(markdown: str) -> list[Unsafe]:
    """Every unsafe construct of ``markdown``, one per rule and line."""
    lowered = _lower(markdown)
    rules = [rule for rule in RULES if rule[2] in lowered]  # most cables need no search at all
    if not rules:
        return []
    found = []
    for number, line in enumerate(markdown.splitlines(), start=1):
        low = _lower(line)
        for what, pattern, needle in rules:
            if needle not in low:
                continue
            match = pattern.search(line)
            if match:
                found.append(Unsafe(number, match.start() + 1, what, match.group(0)[:60]))
    return found
