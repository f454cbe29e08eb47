"""The fail-closed classification policy.

Only three labels are publishable, after normalisation (case, accents, hyphens, underscores and
spaces folded): ``NON CLASSIFIÉ`` (canonical), ``NC`` and ``UNCLASSIFIED``. Anything else — another
level, a typo, an empty value, a non-string — blocks the cable everywhere.

The title, summary and body are also scanned for *markings*, which block the cable too:

1. a **banner line**: a line made only of marking words and separators that names a level or a
   caveat (``SECRET``, ``CONFIDENTIEL DÉFENSE — SPÉCIAL FRANCE``, ``EU RESTRICTED``,
   ``Classification: NATO SECRET``);
2. a **portion marking** opening a paragraph, list item or quote: ``(DR)``, ``(CD)``, ``(C)``,
   ``(S)``, ``(TS)``, ``(S//NF)``… — upper case only, so an enumeration ``(c)`` is prose;
3. a **caveat** introduced by ``//``: ``//NOFORN``, ``//REL TO``, ``//SPECIAL FRANCE``… (upper case).

Prose that merely uses the words ("le secret des affaires", "a confidential source") is not blocked:
a banner line must hold nothing but marking vocabulary.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

CANONICAL = "NON CLASSIFIÉ"
PUBLISHABLE = frozenset({"NON CLASSIFIE", "NC", "UNCLASSIFIED"})

#: Words that, alone on a line, name a level or a caveat. Finding one of these makes a line a marking.
LEVEL_WORDS = frozenset(
    {
        "SECRET", "CONFIDENTIEL", "CONFIDENTIAL", "RESTREINT", "RESTREINTE", "RESTRICTED",
        "NOFORN", "SBU", "FOUO", "CUI", "LIMDIS", "EXDIS", "NODIS", "ORCON", "COSMIC",
        "CLASSIFIED", "SENSITIVE", "DR", "CD", "SD", "TSD", "NF",
    }
)
#: Words that may accompany a level on a banner line without making it prose.
MARKING_WORDS = LEVEL_WORDS | frozenset(
    {
        "TRES", "TOP", "DEFENSE", "DIFFUSION", "SPECIAL", "FRANCE", "UE", "EU", "NATO", "OTAN",
        "CLASSIFICATION", "NIVEAU", "MENTION", "REL", "TO", "USA", "FRA", "FVEY", "GBR", "DEU",
        "BUT", "UNCLASSIFIED", "OFFICIAL", "ONLY", "USE", "FOR", "CONTROLLED", "C", "S", "TS",
        "ET", "AND", "PROPRIETARY", "DISTRIBUTION", "LIMITED", "PROTEGE", "PROTECTED",
    }
)
#: Two-word mentions that are markings on their own (their words alone might be prose).
LEVEL_PHRASES = ("DIFFUSION RESTREINTE", "SPECIAL FRANCE", "TOP SECRET", "TRES SECRET")

PORTION_MARK = re.compile(
    r"^[ \t]*(?:(?:[-*+]|\d+[.)]|>)[ \t]+)*"  # optional list bullet, number or quote
    r"\((TS|S|C|CD|SD|TSD|DR|SF|R|NS|NC\s*-\s*DR|RUE|CUE|SUE|TSUE|ER|EC|ES|NR|NC//[A-Z]+|"
    r"(?:TS|S|C|U)//[A-Z][A-Z ,/]*)\)(?=\s|$)",
    re.MULTILINE,
)
CAVEAT = re.compile(
    r"(?<![:/])//[ \t]?(NOFORN|NF|REL[ \t]+TO|ORCON|FVEY|SPECIAL[ \t]+FRANCE|SPÉCIAL[ \t]+FRANCE|SF|"
    r"LIMDIS|EXDIS|NODIS|FOUO|SBU|NOCONTRACT|PROPIN|RELIDO|DR)\b"
)
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_SEPARATORS = re.compile(r"[\s\-–—_/|:.,;()\[\]*#=~`'\"«»]+")


def fold(text: str) -> str:
    """Upper case, no accents, separators folded to single spaces."""
    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return _SEPARATORS.sub(" ", text).strip().upper()


def is_publishable(label: object) -> bool:
    """True only for a string that folds to one of the publishable labels."""
    return isinstance(label, str) and fold(label) in PUBLISHABLE


@dataclass(frozen=True)
class Marking:
    line: int  # 1-based, relative to the scanned text
    col: int
    text: str
    kind: str  # "banner", "portion" or "caveat"


def _is_banner(line: str) -> bool:
    # Every word of a banner is a marking word: the first word alone rejects almost every line of
    # prose, without folding the whole line.
    head = line.split(None, 1)
    if not head:
        return False
    first = fold(head[0]).split()
    if first and not all(w in MARKING_WORDS for w in first):
        return False
    words = fold(line).split()
    if not words or len(words) > 12:
        return False
    if not all(w in MARKING_WORDS for w in words):
        return False
    folded = " ".join(words)
    if any(w in LEVEL_WORDS for w in words) or any(p in folded for p in LEVEL_PHRASES):
        # A lone "C", "S" or "TS" is a letter, not a banner; "UNCLASSIFIED" alone is not a marking.
        return folded not in {"C", "S", "TS", "UNCLASSIFIED"}
    return False


def find_markings(text: str) -> list[Marking]:
    """Every classification marking in ``text``, in order of appearance."""
    found: list[Marking] = []
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if _is_banner(line):
            found.append(Marking(number, len(line) - len(line.lstrip()) + 1, line.strip(), "banner"))
            continue
        for match in CAVEAT.finditer(line) if "//" in line else ():
            found.append(Marking(number, match.start() + 1, match.group(0), "caveat"))
    for match in PORTION_MARK.finditer(text):
        line = text.count("\n", 0, match.start(1)) + 1
        start = text.rfind("\n", 0, match.start(1)) + 1
        found.append(Marking(line, match.start(1) - start, f"({match.group(1)})", "portion"))
    return sorted(found, key=lambda m: (m.line, m.col))
