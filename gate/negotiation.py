"""Which content coding a client gets: ``Accept-Encoding`` read as RFC 9110 §12.5.3 says.

A file of a release may exist precompressed (gzip, brotli: ``FileEntry.encodings``, docs/storage.md).
:func:`choose` picks, among the codings the file has, the one the client rates highest, with brotli
before gzip on a tie, and falls back to the file as it is (``identity``) whenever no coding is
acceptable, so a client is never sent a coding it refused or did not name. The header comes from
anyone: an element that does not parse (a bad coding name, a ``q`` that is not a qvalue) counts as
absent, never as acceptance.
"""

from __future__ import annotations

from collections.abc import Sequence

IDENTITY = "identity"
_ALIASES = {"x-gzip": "gzip"}  # RFC 9110 §8.4.1.3: a recipient SHOULD treat x-gzip as gzip
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")
_parsed: dict[str, dict[str, float]] = {}  # header text -> its table (browsers send few distinct headers)


def _qvalue(text: str) -> float | None:
    """``0``, ``0.5``, ``1.000``…: the qvalue grammar (at most three decimals, never above 1), else None."""
    whole, _, decimals = text.partition(".")
    if whole not in ("0", "1") or len(decimals) > 3 or (decimals and not (decimals.isascii() and decimals.isdigit())):
        return None  # ("²".isdigit() is true)
    if whole == "1" and decimals.strip("0"):
        return None
    return float(f"{whole}.{decimals or '0'}")


def accepted(header: str) -> dict[str, float]:
    """Coding (lower case, ``*`` included) -> its weight, from an ``Accept-Encoding`` value.

    An element named twice keeps its lowest weight (``gzip, gzip;q=0`` refuses gzip)."""
    table = _parsed.get(header)
    if table is not None:
        return table
    table = {}
    for element in header.split(","):
        name, *params = element.split(";")
        coding = name.strip().lower()
        if not coding or not set(coding) <= _TCHAR:
            continue
        weight: float | None = 1.0
        for param in params:
            key, eq, value = param.partition("=")
            if key.strip().lower() == "q":
                weight = _qvalue(value.strip()) if eq else None
        if weight is None:
            continue  # a weight that does not parse: the element says nothing
        coding = _ALIASES.get(coding, coding)
        table[coding] = min(weight, table.get(coding, weight))
    if len(header) <= 512:
        if len(_parsed) >= 1000:
            _parsed.clear()
        _parsed[header] = table
    return table


def weight(table: dict[str, float], coding: str) -> float:
    """How much the client wants ``coding``: its own element's weight, else ``*``'s, else 0."""
    if coding in table:
        return table[coding]
    return table.get("*", 0.0)


def choose(header: str | None, available: Sequence[str]) -> str:
    """The coding to send, among ``available`` (in the server's order of preference), or identity.

    No header: identity (the client said nothing, and not every client decompresses). A coding wins
    when the client weighs it above zero and at least as high as identity, if it weighs identity at
    all (by name or by ``*``); between codings, the higher weight, then the server's order. Identity
    is the fallback even when refused (``identity;q=0``): RFC 9110 lets a server send it rather than
    a 406, and a client is then never sent a coding it did not accept."""
    if header is None or not available:
        return IDENTITY
    table = accepted(header)
    best, best_weight = IDENTITY, 0.0
    for coding in available:
        w = weight(table, coding)
        if w > best_weight:
            best, best_weight = coding, w
    if best != IDENTITY and best_weight >= weight(table, IDENTITY):
        return best
    return IDENTITY


#: The media types a feed reader names for an Atom feed (RFC 4287, and the generic XML types).
FEED_TYPES = ("application/atom+xml", "application/xml", "text/xml")


def media_weights(header: str) -> dict[str, float]:
    """Media type (lower case, ``type/subtype`` exactly as named, wildcards included) -> its weight, from
    an ``Accept`` value (RFC 9110 §12.5.1); an element that does not parse says nothing."""
    table: dict[str, float] = {}
    for element in header[:2048].split(","):
        name, *params = element.split(";")
        media = name.strip().lower()
        kind, slash, sub = media.partition("/")
        if not slash or not kind or not sub or not set(kind + sub) <= _TCHAR:
            continue
        weight_: float | None = 1.0
        for param in params:
            key, eq, value = param.partition("=")
            if key.strip().lower() == "q":
                weight_ = _qvalue(value.strip()) if eq else None
        if weight_ is not None:
            table[media] = min(weight_, table.get(media, weight_))
    return table


def prefers_html(header: str | None) -> bool:
    """Whether a request for a feed comes from a browser window: it names ``text/html`` itself, above
    zero and above every feed type it names (browsers send ``text/html,…,application/xml;q=0.9``).

    A feed reader names the feed's types, ``*/*`` or nothing, and gets the feed; a tie gets the feed."""
    if not header:
        return False
    table = media_weights(header)
    html_weight = table.get("text/html", 0.0)
    return html_weight > 0 and html_weight > max((table.get(t, 0.0) for t in FEED_TYPES), default=0.0)
