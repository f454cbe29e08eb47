"""The fail-closed classification policy: the publishable labels, and the markings text may not carry.

Only three labels are publishable, after normalisation (case, accents, hyphens, underscores and
spaces folded): ``NON CLASSIFIÉ`` (canonical), ``NC`` and ``UNCLASSIFIED``. Anything else — another
level, a typo, an empty value, a non-string, a look-alike letter — blocks the cable everywhere.

Every text a reader will read is also scanned for *markings*, which block the cable too. The rules
read the text's **skeleton** (:func:`skeleton`), not its bytes, so that what looks like a marking on
the page is one for the rules: Unicode NFKC (fullwidth and styled letters become plain ones), the
invisible characters removed (zero-width spaces and joiners, soft hyphens, bidi controls, variation
selectors), accents removed, letters of other scripts that look like Latin ones mapped to them
(Unicode TR39 confusables, from the ``confusable-homoglyphs`` data; then small capitals and letters
drawn as symbols, by their Unicode names), case folded, dashes and spaces unified. Each *block* of text (a source line, a table cell, an admonition title; on the rendered
page: a paragraph, list item, quote, heading, cell, footnote, definition, ``title`` or ``alt``) is
then read by three rules:

1. a **banner**: a block made only of marking vocabulary that names a level or a caveat, optionally
   after a lead-in (``Classification :``, ``Mention de protection :``, ``Niveau :``, ``Marking:``) and
   with handling instructions anywhere in it (``NE PAS DIFFUSER``, ``NOT FOR RELEASE``,
   ``DESTINATAIRES SEULS``…), whatever the Markdown or HTML around it (``> CONFIDENTIEL DÉFENSE``,
   ``1. SECRET``, ``## DIFFUSION RESTREINTE``, ``<p align="center"><b>DR</b></p>``). A foreign
   organisation's label blocks even when it says unclassified (``NATO UNCLASSIFIED``, ``EU
   UNCLASSIFIED``): it is not ours to open. Our own ``NON CLASSIFIÉ`` / ``UNCLASSIFIED`` alone is not a
   marking;
2. a **portion marking** opening a block, in emphasis or not: ``(DR)``, ``(CD)``, ``(C)``, ``(S)``,
   ``(TS)``, ``(S//NF)``, ``**(C)**``, ``## (S) Contexte`` — the abbreviations in upper case only, so an
   enumeration ``(c)`` is prose — or spelled out in any case: ``(SECRET)``, ``(Confidentiel Défense)``;
3. a **caveat** introduced by ``//``: ``//NOFORN``, ``//REL TO``, ``//SPECIAL FRANCE``… (upper case).

Prose that merely uses the words ("le secret des affaires", "a confidential source") is not blocked: a
banner holds nothing but marking vocabulary.

A Markdown body is read twice: line by line as source (:func:`find_markings`), and as the page
shows it (:func:`read_page`: rendered with Python-Markdown, parsed with the standard library's HTML
parser, every block read), each finding of the page placed back on a source line. Built pages are
read with :func:`find_markings_in_html`.

What only serves to hide is refused on its own (:func:`find_disguises`: invisible and control
characters, typed or as character references, words mixing scripts, HTML comments the page holds):
the rules cannot be asked to see through everything, so the disguises themselves are errors.
"""

from __future__ import annotations

import functools
import html
import json
import re
import threading
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from pipeline.messages import _

CANONICAL = "NON CLASSIFIÉ"
PUBLISHABLE = frozenset({"NON CLASSIFIE", "NC", "UNCLASSIFIED"})

# --- vocabulary (skeleton form: lower case ASCII) ------------------------------------------------

#: Words that name a level or a caveat: a block of marking vocabulary holding one is a banner.
LEVEL_WORDS = frozenset(
    {
        "secret", "confidentiel", "confidentielle", "confidential", "restreint", "restreinte", "restricted",
        "noforn", "sbu", "fouo", "cui", "limdis", "exdis", "nodis", "orcon", "cosmic", "classified",
        "sensitive", "dr", "cd", "sd", "tsd", "nf", "propin", "nocontract", "relido",
    }
)
#: Foreign organisations: their label blocks even when it says unclassified (not ours to open).
FOREIGN_WORDS = frozenset({"nato", "otan", "eu", "ue", "weu", "ueo", "cosmic", "oscar", "esa"})
#: Words that say "unclassified": with a foreign organisation, a foreign banner.
UNCLASSIFIED_WORDS = frozenset({"unclassified", "classifie", "nc"})
#: Words that may accompany a level in a banner without making it prose.
MARKING_WORDS = LEVEL_WORDS | FOREIGN_WORDS | UNCLASSIFIED_WORDS | frozenset(
    {
        "tres", "top", "defense", "diffusion", "special", "speciale", "france", "classification", "niveau",
        "mention", "rel", "to", "usa", "fra", "fvey", "gbr", "deu", "aus", "can", "nzl", "but", "official",
        "only", "use", "for", "controlled", "c", "s", "ts", "et", "and", "proprietary", "distribution",
        "limited", "limitee", "protege", "protected", "eyes", "releasable", "limite", "usage", "interne",
        "officiel", "information", "info", "sf", "fr", "nr", "r", "uk", "non", "u",
    }
)
#: Multi-word mentions that are markings on their own (their words alone might be prose).
LEVEL_PHRASES = ("diffusion restreinte", "special france", "speciale france", "top secret", "tres secret",
                 "official use only", "limited distribution", "distribution limitee", "diffusion limitee",
                 "eyes only", "usage interne", "diffusion interne", "official sensitive")
#: Lead-ins a banner may open with (longest first), e.g. ``Mention de protection : DR``.
LEAD_INS = tuple(sorted((tuple(p.split()) for p in (
    "classification", "niveau", "mention", "marking", "markings", "mention de protection",
    "mention de classification", "niveau de classification", "niveau de protection",
    "niveau de confidentialite", "niveau de sensibilite", "security classification", "classification level",
    "classification de securite", "protective marking", "protection", "degre de classification",
    "timbre", "caveat", "caveats", "handling", "statut", "status", "label", "etiquette", "marquage",
    "protective marking", "security marking", "classification marking", "document", "note",
)), key=len, reverse=True))
#: Handling instructions a banner may carry anywhere (they name no level: alone, they are not one).
HANDLING = tuple(sorted((tuple(p.split()) for p in (
    "ne pas diffuser", "ne pas reproduire", "ne pas transmettre", "ne pas divulguer", "ne pas copier",
    "not for release", "not releasable", "not for distribution", "not for public release",
    "not for public distribution", "do not distribute", "do not forward", "do not copy", "do not release",
    "destinataires seuls", "destinataire seul", "seuls destinataires", "pour les seuls destinataires",
    "aux seuls destinataires", "pour le seul destinataire", "destinataires uniquement",
    "for the addressee only", "addressee only", "addressees only", "recipients only", "eyes only",
    "strictement personnel", "personnel", "diffusion interdite", "reproduction interdite",
    "copie interdite", "releasable to", "handle via", "exemplaire", "copie", "copy", "page", "sur", "of",
    "no", "n", "ex", "par", "orig", "originator", "controlled by", "pour", "la", "les", "de", "du",
)), key=len, reverse=True))

PORTION_ABBREVIATIONS = re.compile(
    r"(?:TS|S|C|CD|SD|TSD|DR|SF|R|NS|NC ?- ?DR|RUE|CUE|SUE|TSUE|ER|EC|ES|NR|NC ?// ?[A-Z]+|"
    r"(?:TS|S|C|U|R|NC) ?// ?[A-Z][A-Z ,/-]*)"
)
CAVEAT = re.compile(
    r"(?<![:/])//[ \t]?(NOFORN|NF|REL[ \t]+TO|ORCON|FVEY|SPECIAL[ \t]+FRANCE|SF|"
    r"LIMDIS|EXDIS|NODIS|FOUO|SBU|NOCONTRACT|PROPIN|RELIDO|DR)\b"
)

# --- the skeleton ------------------------------------------------------------------------------

#: Invisible characters that are not of category Cc/Cf (which are all invisible): variation
#: selectors, the combining grapheme joiner, Hangul and Khmer fillers, Mongolian free variation
#: selectors, the blank Braille pattern, and the Unicode line and paragraph separators.
_INVISIBLE_EXTRA = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x2028, 0x2029, 0x2800,
     0x3164, 0xFFA0, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]
)
_DASHES = frozenset("\u2212\u2043\u2e3a\u2e3b\ufe58\ufe63\uff0d")


@functools.lru_cache(maxsize=4096)
def is_hidden(char: str) -> bool:
    """True for a character that shows nothing, or controls how others show, and so only serves
    to hide in a cable: C0/C1 controls but tab and newline, format characters (Cf: zero-width
    spaces and joiners, soft hyphen, bidi controls, word joiner, invisible operators…), variation
    selectors and the other invisible fillers of ``_INVISIBLE_EXTRA``."""
    if char in "\t\n":
        return False
    return unicodedata.category(char) in ("Cc", "Cf") or ord(char) in _INVISIBLE_EXTRA


@functools.lru_cache(maxsize=1)
def _confusables() -> dict[str, list[dict[str, str]]]:
    """TR39 confusables (character -> its look-alikes), from the maintained data of
    ``confusable-homoglyphs``. Unreadable data is an error, never an empty table (fail closed)."""
    import confusable_homoglyphs

    data = json.loads((Path(confusable_homoglyphs.__file__).parent / "confusables.json").read_text("utf-8"))
    if not isinstance(data, dict) or len(data) < 1000:
        raise RuntimeError(_("the confusables data of confusable-homoglyphs is unreadable: reinstall it"))
    return data


def _latin(char: str) -> str:
    """The printable ASCII look-alike of ``char`` (following look-alikes of look-alikes, as TR39's
    prototypes chain), or ``char`` itself when it has none."""
    data = _confusables()
    seen, frontier = {char}, [char]
    for _attempt in range(3):
        following = []
        for c in frontier:
            for option in data.get(c, ()):
                target = option.get("c", "")
                if target and target.isascii() and target.isprintable() and not target.isspace():
                    if target == "l" and unicodedata.category(char) == "Lu":
                        return "I"  # TR39 maps capital I to l too; keep the case the eye sees
                    return target
                if target and target not in seen:
                    seen.add(target)
                    following.append(target)
        frontier = following
    return char


def _shape_char(char: str) -> str:
    """One character's skeleton, case kept (see :func:`skeleton`)."""
    if char == "\n":
        return "\n"
    if char == "\t":
        return " "
    if is_hidden(char):
        return ""
    if "SMALL CAPITAL" in unicodedata.name(char, ""):
        return _named_latin(char)  # a capital drawn small: (ᴄ) reads as (C), not as an enumeration
    if not char.isascii() and (direct := _latin(char)) != char:
        return direct  # TR39 first: NFKC would turn a lunate sigma Ϲ into Σ, which has no Latin twin
    out = []
    for c in unicodedata.normalize("NFD", unicodedata.normalize("NFKC", char)):
        category = unicodedata.category(c)
        if c.isascii():
            out.append(c)
        elif category in ("Mn", "Me") or is_hidden(c):
            continue  # accents and other combining marks
        elif category == "Pd" or c in _DASHES:
            out.append("-")
        elif category.startswith("Z"):
            out.append(" ")
        else:
            latin = _latin(c)
            out.append(latin if latin != c else _named_latin(c))
    return "".join(out)


_LETTER_NAME = re.compile(r"(?:LATIN (CAPITAL|SMALL) LETTER (SMALL CAPITAL )?|LATIN LETTER (SMALL CAPITAL) |"
                          r"REGIONAL INDICATOR SYMBOL LETTER )([A-Z])(?: WITH .*)?$")


def _named_latin(char: str) -> str:
    """The Latin letter a character's Unicode name says it draws, where TR39 and NFKC have none:
    small capitals (``ᴛ`` LATIN LETTER SMALL CAPITAL T), negative circled and squared letters,
    regional indicator letters. Anything else is returned as it is."""
    match = _LETTER_NAME.search(unicodedata.name(char, ""))
    if match is None:
        return char
    return match.group(4).lower() if match.group(1) == "SMALL" and not match.group(2) else match.group(4)


class _ShapeTable(dict):
    """``str.translate`` table of :func:`_shape_char`, filled as characters are met."""

    def __missing__(self, code: int) -> str:
        value = self[code] = _shape_char(chr(code))
        return value


_SHAPES = _ShapeTable({i: chr(i) for i in range(0x20, 0x7F)} | {0x09: " ", 0x0A: "\n"})


def shape(text: str) -> str:
    """The skeleton of ``text`` with its case kept: what the case-sensitive rules (portion
    abbreviations, caveats) read."""
    return text.translate(_SHAPES)


def skeleton(text: str) -> str:
    """The canonical skeleton the marking rules read: NFKC, invisible characters removed, accents
    removed, look-alike letters of other scripts mapped to Latin (TR39 confusables), case folded,
    dashes unified to ``-`` and spaces to `` ``. Newlines are kept, so lines still count."""
    return shape(text).casefold()


_WORD = re.compile(r"[^\W_]+")
_KEY = str.maketrans({"l": "i", "1": "i", "0": "o"})


def _key(word: str) -> str:
    """A word as the eye reads it: ``l``/``1``/``I`` and ``0``/``O`` look alike in most faces."""
    return word.translate(_KEY)


def _keys(words: frozenset[str]) -> frozenset[str]:
    return frozenset(_key(w) for w in words)


_LEVEL, _FOREIGN, _UNCLASSIFIED, _MARKING = (_keys(s) for s in (LEVEL_WORDS, FOREIGN_WORDS,
                                                               UNCLASSIFIED_WORDS, MARKING_WORDS))
_PHRASES = tuple(tuple(_key(w) for w in p.split()) for p in LEVEL_PHRASES)
_LEAD_INS = tuple(tuple(_key(w) for w in p) for p in LEAD_INS)
_HANDLING = tuple(tuple(_key(w) for w in p) for p in HANDLING)
#: The words a banner may start with.
_STARTERS = _MARKING | {p[0] for p in _LEAD_INS} | {p[0] for p in _HANDLING}
#: Every word a banner may hold.
_BANNER_VOCABULARY = _MARKING | {w for p in _LEAD_INS + _HANDLING for w in p}


def words(text: str) -> list[str]:
    """The words of ``text``'s skeleton, as the rules compare them."""
    return [_key(w) for w in _WORD.findall(skeleton(text))]


def fold(text: str) -> str:
    """Upper case, no accents, separators folded to single spaces (the label comparison)."""
    text = re.sub(r"[\u0300-\u036f]", "", unicodedata.normalize("NFKD", text))
    return re.sub(r"[\s\-–—_/|:.,;()\[\]*#=~`'\"«»]+", " ", text).strip().upper()


def is_publishable(label: object) -> bool:
    """True only for a string that folds to one of the publishable labels. No look-alike mapping
    here: a label with a Cyrillic letter is not one of ours (fail closed)."""
    return isinstance(label, str) and fold(label) in PUBLISHABLE


# --- the rules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Marking:
    """A marking found. ``line`` is 1-based: the line in the scanned text for :func:`find_markings`,
    the block's number (in order of appearance) for :func:`find_markings_in_html`. ``col`` is the
    1-based column in that line or block (approximate when disguises changed the text's length)."""

    line: int
    col: int
    text: str
    kind: str  # "banner", "portion" or "caveat" ("unreadable": the rendered body could not be read)


def _drop(seq: list[str], phrases: tuple[tuple[str, ...], ...], *, anywhere: bool) -> list[str]:
    """``seq`` without the given phrases: at its start only, or everywhere."""
    out, i = [], 0
    while i < len(seq):
        for phrase in phrases:
            if tuple(seq[i:i + len(phrase)]) == phrase:
                i += len(phrase)
                break
        else:
            if not anywhere:
                return out + seq[i:]
            out.append(seq[i])
            i += 1
    return out


def is_banner_words(seq: list[str]) -> bool:
    """True when the (keyed) words of a block make a banner (see the module's rule 1)."""
    if not seq:
        return False
    if all(len(w) == 1 for w in seq) and "".join(seq) in _LEVEL | {"topsecret", "tressecret"}:
        return True  # S E C R E T
    if not all(w in _BANNER_VOCABULARY or w.isdigit() for w in seq):
        return False  # a word no phrase can remove and no banner holds: prose (most blocks stop here)
    seq = _drop(_drop(seq, _LEAD_INS, anywhere=False), _HANDLING, anywhere=True)
    seq = [w for w in seq if not w.isdigit()]
    if not seq or not all(w in _MARKING for w in seq):
        return False
    if any(w in _LEVEL for w in seq):
        return True
    joined = f" {' '.join(seq)} "
    if any(f" {' '.join(p)} " in joined for p in _PHRASES):
        return True
    return any(w in _FOREIGN for w in seq) and any(w in _UNCLASSIFIED for w in seq)


def is_banner(text: str) -> bool:
    """True when ``text`` (one block) is a banner."""
    return _is_banner_shaped(shape(text))


def _is_banner_shaped(shaped: str) -> bool:
    first = _WORD.search(shaped)
    if first is None:
        return False
    colon = shaped.find(":")
    if colon > 0 and _is_labelled_banner(shaped[:colon], shaped[colon + 1:]):
        return True
    head = _key(first.group(0).casefold())
    if head not in _STARTERS and len(head) > 1:
        return False  # the first word alone rejects almost every block of prose
    return is_banner_words([_key(w) for w in _WORD.findall(shaped.casefold())])


#: Words that make a short text before a colon a lead-in (``Degré de sécurité du document :``).
LEAD_IN_WORDS = frozenset({
    "classification", "classifie", "niveau", "mention", "marking", "markings", "protection", "securite",
    "security", "level", "degre", "timbre", "statut", "status", "confidentialite", "sensibilite", "caveat",
    "caveats", "handling", "label", "etiquette", "marquage", "diffusion", "distribution", "sensitivity",
})
_LEAD_IN_WORDS = _keys(LEAD_IN_WORDS)


def _is_labelled_banner(label: str, value: str) -> bool:
    """``label: value`` where the label is a short lead-in and the value a banner."""
    lead = [_key(w) for w in _WORD.findall(label.casefold())]
    if not lead or len(lead) > 6 or not any(w in _LEAD_IN_WORDS for w in lead):
        return False
    return is_banner_words([_key(w) for w in _WORD.findall(value.casefold())])


_PORTION = re.compile(r"^[\s*_~\\]*\(\s*[*_~]*\s*([^()\n]{1,60}?)\s*[*_~]*\s*\)[*_~]*(?=\s|$)")


def _portion(block: str) -> str | None:
    """The portion marking opening ``block`` (its shape, case kept), or None."""
    match = _PORTION.match(block)
    if not match:
        return None
    inner = re.sub(r"\s*//\s*", "//", match.group(1).strip())
    if PORTION_ABBREVIATIONS.fullmatch(inner):
        return f"({inner})"
    seq = [_key(w) for w in _WORD.findall(inner.casefold())]
    long_level = any(w in _LEVEL and len(w) > 3 for w in seq)
    phrase = any(f" {' '.join(p)} " in f" {' '.join(seq)} " for p in _PHRASES)
    foreign = any(w in _FOREIGN for w in seq) and any(w in _UNCLASSIFIED and len(w) > 2 for w in seq)
    if seq and all(w in _MARKING or w.isdigit() for w in seq) and (long_level or phrase or foreign):
        return f"({inner})"
    return None


_PREFIX = re.compile(
    r"^[ \t]*(?:(?:[-*+\u2022\u00b7\u25aa\u25e6\u2023\u2219\u25ba\u25b6\u2192]|\d+[.)]|[a-zA-Z][.)](?=[ \t])|"
    r"[ivxIVX]+[.)](?=[ \t])|\((?:[a-z]|[ivx]+|\d+)\)(?=[ \t])|>|#{1,6}|\||:|\[\^[^\]]*\]:|"
    r"(?:!!!|\?\?\?\+?)[ \t]*[\w-]*)[ \t]*)*"
)
_ATTR_LIST = re.compile(r"\{[:#.][^}]*\}")


def _scan_block(block: str, number: int, col: int, found: list[Marking]) -> None:
    """Apply the three rules to one block (already shaped, case kept)."""
    body = _PREFIX.sub("", block, count=1)
    body = _ATTR_LIST.sub(" ", body) if "{" in body else body
    offset = col + len(block) - len(body)
    text = body.strip()
    if not text:
        return
    if _is_banner_shaped(text):
        found.append(Marking(number, offset + len(body) - len(body.lstrip()), text[:120], "banner"))
        return
    portion = _portion(body)
    if portion:
        found.append(Marking(number, offset + body.find("("), portion, "portion"))
    if "//" in body:
        for match in CAVEAT.finditer(body):
            found.append(Marking(number, offset + match.start(), match.group(0), "caveat"))


_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_BREAK = re.compile(r"</?(?:br|p|div|h[1-6]|li|td|th|tr|dd|dt|blockquote|center|table|ul|ol|pre|section|hr|"
                    r"caption|summary|details|figcaption)\b[^<>]*>", re.I)
_QUOTED = re.compile(r"\"([^\"]*)\"|'([^']*)'")


def _source_blocks(line: str) -> list[tuple[int, str]]:
    """The blocks a source line shows, with their columns: the line read as rendered text (HTML
    comments and tags removed, entities decoded, shaped), its table cells, admonition titles."""
    text = line
    if "<" in text:
        text = _TAG.sub("", _BREAK.sub("\n", _COMMENT.sub("", text)))
    if "&" in text:
        text = html.unescape(text)
    text = shape(text)
    blocks = [(1, text)]
    if "\n" in text:  # <br>, </p><p>, </td><td>…: each piece shows as a line or block of its own
        blocks += [(1, piece) for piece in text.split("\n")]
    if "|" in text:
        col = 1
        for cell in text.split("|"):
            blocks.append((col, cell))
            col += len(cell) + 1
    if text.lstrip().startswith(("!!!", "???")) or "=" in line:
        # admonition titles, and attribute values (title, alt…) of tags or attribute lists
        raw = shape(html.unescape(line)) if "&" in line else shape(line)
        for match in _QUOTED.finditer(raw):
            blocks.append((match.start() + 2, match.group(1) or match.group(2) or ""))
    if "[" in text:  # link text and image alt: [SECRET](#x) reads "SECRET"
        for match in re.finditer(r"!?\[([^\]]*)\]", text):
            blocks.append((match.start() + 2, match.group(1)))
    return blocks


def find_markings(text: str) -> list[Marking]:
    """Every classification marking in ``text`` (Markdown source or plain text), line by line."""
    found: list[Marking] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        seen = len(found)
        for col, block in _source_blocks(line):
            _scan_block(block, number, col, found)
            if len(found) > seen:
                break  # one finding per line is enough to block and to point at it
    return sorted(found, key=lambda m: (m.line, m.col))


# --- rendered HTML -------------------------------------------------------------------------------

#: Elements whose text a reader sees as a block of its own. Unknown elements are inline, as in a
#: browser: their text joins the block around them.
BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog",
        "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
        "h6", "header", "hgroup", "html", "legend", "li", "main", "menu", "nav", "ol", "option", "p", "pre",
        "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "title", "tr", "ul", "button",
        "label", "output", "marquee", "noscript", "head",
    }
)
#: Elements whose content no reader sees.
HIDDEN_TAGS = frozenset({"script", "style", "template"})
#: Attributes a reader sees (tooltips, alternative text, labels, the page's description).
TEXT_ATTRIBUTES = frozenset({"title", "alt", "aria-label", "aria-description", "placeholder", "label",
                             "summary", "abbr", "value"})


class _Blocks(HTMLParser):
    """Collects the text of every block, in order of appearance, entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.comments: list[str] = []
        self.blocks: list[list[str]] = [[]]
        self.open: list[tuple[str, int]] = [("", 0)]
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name in TEXT_ATTRIBUTES or (tag == "meta" and name == "content")):
                self.blocks.append([value])
        if tag in HIDDEN_TAGS:
            self.hidden += 1
        elif tag in BLOCK_TAGS:
            self.blocks.append([])
            self.open.append((tag, len(self.blocks) - 1))
        elif tag in ("br", "hr", "img", "wbr") and not self.hidden:
            self.blocks[self.open[-1][1]].append("\n" if tag != "wbr" else "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in BLOCK_TAGS or tag in HIDDEN_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN_TAGS:
            self.hidden = max(0, self.hidden - 1)
        elif tag in BLOCK_TAGS and any(t == tag for t, _ in self.open[1:]):
            while self.open[-1][0] != tag:
                self.open.pop()
            self.open.pop()

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.blocks[self.open[-1][1]].append(data)


def _parse(page: str) -> _Blocks:
    parser = _Blocks()
    parser.feed(page)
    parser.close()
    return parser


def html_blocks(page: str) -> list[str]:
    """The text of every block of an HTML page or fragment, entities decoded, in order."""
    return ["".join(b) for b in _parse(page).blocks]


def find_markings_in_html(page: str) -> list[Marking]:
    """Every classification marking a reader of the rendered ``page`` would see: the text of each
    block (see :data:`BLOCK_TAGS`, :data:`TEXT_ATTRIBUTES`), entities decoded, read whole and line
    by line with the three rules on its skeleton. A marking's ``line`` is the block's 1-based
    number in order of appearance (the document's loose text is block 1); its ``text`` is what
    was found."""
    return _markings_in_blocks(html_blocks(page))


def _markings_in_blocks(blocks: list[str]) -> list[Marking]:
    found: list[Marking] = []
    for number, text in enumerate(blocks, start=1):
        if not text.strip():
            continue
        seen = len(found)
        shaped = shape(text)
        _scan_block(" ".join(shaped.split()), number, 1, found)
        if len(found) == seen and "\n" in shaped.strip():
            for line in shaped.split("\n"):
                _scan_block(line, number, 1, found)
                if len(found) > seen:
                    break
    return found


@dataclass(frozen=True)
class Page:
    """What a cable body shows once rendered: its markings (placed on source lines), its HTML
    comments, and the invisible characters in its text."""

    markings: tuple[Marking, ...]
    comments: tuple[str, ...]
    invisible: frozenset[str]


@functools.lru_cache(maxsize=8)
def read_page(body: str) -> Page:
    """Render ``body`` (see :func:`render`) and read it as a reader would. Fail closed: a body the
    scan cannot render (Python-Markdown recurses once per level of nesting) cannot be shown to be
    free of markings, and gives one marking of kind ``unreadable``."""
    try:
        parsed = _parse(render(body))
    except (RecursionError, ValueError, IndexError, KeyError, AttributeError, TypeError, AssertionError) as exc:
        _renderers.md = None
        unreadable = Marking(1, 1, f"{type(exc).__name__}: the body cannot be rendered to be read as a page",
                             "unreadable")
        return Page((unreadable,), (), frozenset())
    blocks = ["".join(b) for b in parsed.blocks]
    invisible = frozenset(c for c in set("".join(blocks)) if is_hidden(c))
    return Page(tuple(_placed(body, _markings_in_blocks(blocks))), tuple(parsed.comments), invisible)


def find_markings_in_markdown(body: str) -> list[Marking]:
    """The markings of the rendered ``body`` (see :func:`read_page`), each placed on the source line
    it comes from: the first line (or run of up to three lines) whose words hold the marking's
    words, else the body's first line. ``line`` is relative to ``body``; ``col`` is 1."""
    return list(read_page(body).markings)


def _placed(body: str, found: list[Marking]) -> list[Marking]:
    if not found:
        return []
    # Each line's words as its text shows them (comments and tags removed), then as typed (the
    # words of attribute values): a marking is placed on the line that holds it either way.
    texts = [_TAG.sub("", _COMMENT.sub("", html.unescape(line))) for line in body.split("\n")]
    lines = [words(text) + ["\0"] + words(html.unescape(line)) for text, line in zip(texts, body.split("\n"),
                                                                                     strict=True)]
    out: list[Marking] = []
    for marking in found:
        used = {m.line for m in out}
        # The marking as the page shows it, on a line that shows it so, first: a short portion
        # marking such as "(S)" has one word, "s", which running prose holds too (« s'agit »).
        line = next((n for n, text in enumerate(texts, 1) if marking.text in text and n not in used), None)
        if line is None:
            target = " ".join(words(marking.text))
            line = _source_line(lines, target, used) if target else 1
        out.append(Marking(line, 1, marking.text, marking.kind))
    return out


def _source_line(lines: list[list[str]], target: str, used: set[int]) -> int:
    """The first line (not yet used, if there is one) whose words, alone or with the next one or
    two lines, hold ``target``."""
    candidates = []
    letters = target.replace(" ", "")
    for joiner, pattern in ((" ", f" {target} "), ("", letters)):  # then across markup: **SE**CRET
        for span in (1, 2, 3):
            for index in range(len(lines)):
                window = joiner.join(w for line in lines[index:index + span] for w in line)
                if pattern in f"{joiner}{window}{joiner}":
                    if index + 1 not in used:
                        return index + 1
                    candidates.append(index + 1)
            if candidates:
                return candidates[0]
    return 1


#: The Markdown extensions the scan renders with: those the sites use, and the other built-in
#: ones a content repository may enable, so a marking shows in the scan wherever it shows on a page.
#: Not ``toc``: it only adds ids, permalinks and copies of the headings, and costs a third of the
#: rendering.
SCAN_EXTENSIONS = ("abbr", "admonition", "attr_list", "def_list", "fenced_code", "footnotes", "md_in_html",
                   "tables", "pymdownx.details")
_renderers = threading.local()


def render(body: str) -> str:
    """``body`` converted to HTML as the sites would show it (see :data:`SCAN_EXTENSIONS`)."""
    import markdown

    md = getattr(_renderers, "md", None)
    if md is None:
        md = _renderers.md = markdown.Markdown(extensions=list(SCAN_EXTENSIONS))
    md.reset()
    return md.convert(body)


# --- what only serves to hide --------------------------------------------------------------------


@dataclass(frozen=True)
class Disguise:
    """Something in a text that only serves to hide: ``kind`` is "hidden" (an invisible or control
    character), "mixed-script" (a word mixing Latin, Greek or Cyrillic letters with another script)
    or "comment" (an HTML comment). ``line`` and ``col`` are 1-based in the scanned text."""

    line: int
    col: int
    kind: str
    text: str


_ASCII_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LETTERS = re.compile(r"[^\W\d_]+")
#: Scripts whose letters are confusable with each other: a word may not mix one with another script.
CONFUSABLE_SCRIPTS = frozenset({"LATIN", "GREEK", "CYRILLIC"})
#: Below this code point every letter is Latin (Basic Latin to Latin Extended-B; the only other
#: word characters there, digits, underscore and the micro sign, are Common).
_LATIN_END = "\u0250"


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def hidden_characters(text: str) -> list[Disguise]:
    """Every character of ``text`` that :func:`is_hidden` refuses, named (``U+200B ZERO WIDTH SPACE``)."""
    if text.isascii():
        pattern = _ASCII_CONTROLS
    else:
        bad = sorted(c for c in set(text) if is_hidden(c))
        if not bad:
            return []
        pattern = re.compile("[" + "".join(re.escape(c) for c in bad) + "]")
    out = []
    for match in pattern.finditer(text):
        char = match.group(0)
        name = unicodedata.name(char, "") or {"\r": "CARRIAGE RETURN"}.get(char, "control character")
        out.append(Disguise(*_position(text, match.start()), "hidden", f"U+{ord(char):04X} {name}"))
    return out


@functools.lru_cache(maxsize=4096)
def script(char: str) -> str:
    """The Unicode script of ``char`` (``LATIN``, ``CYRILLIC``, ``COMMON``…), from the data of
    ``confusable-homoglyphs``."""
    from confusable_homoglyphs import categories

    return categories.alias(char)


def mixed_script_words(text: str) -> list[Disguise]:
    """Every word of ``text`` whose letters come from Latin, Greek or Cyrillic and another script:
    ``SЕCRET`` with a Cyrillic Е. Words wholly in one script (``Москва``, ``Ελλάδα``) are text."""
    if text.isascii() or max(text) < _LATIN_END:
        return []
    out = []
    for match in _LETTERS.finditer(text):
        word = match.group(0)
        if max(word) < _LATIN_END:
            continue  # Basic Latin to Latin Extended-B: French, German, Polish… letters are Latin
        scripts = {script(c) for c in word} - {"COMMON", "INHERITED", "Unknown"}
        if len(scripts) > 1 and scripts & CONFUSABLE_SCRIPTS:
            out.append(Disguise(*_position(text, match.start()), "mixed-script",
                                f"{word} ({' + '.join(sorted(s.title() for s in scripts))})"))
    return out


_REFERENCE = re.compile(r"&(?:#[0-9]{1,8}|#[xX][0-9A-Fa-f]{1,7}|[A-Za-z][A-Za-z0-9]{1,31});?")


def hidden_references(text: str, shown: frozenset[str] | None = None) -> list[Disguise]:
    """Every character reference (``&#8203;``, ``&shy;``, ``&zwj;``) that the page shows as an
    invisible or control character: the same disguise as the character itself, spelled in HTML.
    ``shown``: the invisible characters the rendered page holds (a reference in a code span shows
    as typed, and is not counted); None counts every reference."""
    if "&" not in text:
        return []
    out = []
    for match in _REFERENCE.finditer(text):
        decoded = html.unescape(match.group(0))
        hidden = [c for c in decoded if is_hidden(c) and (shown is None or c in shown)]
        if decoded != match.group(0) and hidden:
            char = hidden[0]
            out.append(Disguise(*_position(text, match.start()), "hidden",
                                f"{match.group(0)} (U+{ord(char):04X} {unicodedata.name(char, 'control character')})"))
    return out


def html_comments(body: str, comments: tuple[str, ...]) -> list[Disguise]:
    """Where in ``body`` the HTML comments its rendered page holds (``comments``) come from: they are
    invisible on the page, can split a word the rules read (``SE<!-- -->CRET``) or carry text no
    reviewer sees. ``<!--`` shown as text (in a code span) is not a comment."""
    out, start = [], 0
    for comment in comments:
        at = body.find(f"<!--{comment}", start)
        if at == -1:
            at = body.find("<!--")
        else:
            start = at + 4
        shown = f"<!--{comment}-->"
        out.append(Disguise(*_position(body, max(at, 0)), "comment",
                            shown if len(shown) <= 60 else shown[:57] + "…"))
    return out


def find_disguises(text: str, page: Page | None = None) -> list[Disguise]:
    """What only serves to hide in ``text``: invisible and control characters, words mixing scripts,
    and for a Markdown body (with its rendered ``page``) invisible characters spelled as references
    and HTML comments. In order of position."""
    found = hidden_characters(text) + mixed_script_words(text)
    if page is not None:
        found += hidden_references(text, page.invisible) + html_comments(text, page.comments)
    return sorted(found, key=lambda d: (d.line, d.col))
