"""A community's Atom feed read back, to show it as a page to a reader who opens it in a browser.

The feed is the release's own ``feed.xml`` (written by the build, served from the store), so this
reads only what the build writes: the feed's title and, for each entry, its title, date, link and
summary. A feed with a document type declaration is refused before parsing (no entity is ever
expanded), and a feed that does not parse shows no entries rather than an error: the page still
gives the member their feed address.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

_NS = "{http://www.w3.org/2005/Atom}"
#: The largest feed read for the page (the build writes the latest few dozen entries, a few KB).
MAX_FEED = 2 * 1024 * 1024


@dataclass(frozen=True)
class Entry:
    title: str
    updated: dt.date | None
    link: str  # a path on this site, or "" when the feed's link is not one
    summary: str


@dataclass(frozen=True)
class Feed:
    title: str
    entries: tuple[Entry, ...]


def _text(element: ET.Element | None) -> str:
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def _date(text: str) -> dt.date | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def site_link(href: str, site_path: str) -> str:
    """The entry's link as a path of this gate's site (``site_path`` is ``/c/<community>/``), or "".

    The build writes either an absolute address on the gate (with ``--site-url``) or one relative to the
    site; anything leading outside ``site_path`` (another host, another community, a scheme) is dropped.
    Only the path is kept (never a host or a scheme). A browser reads ``%2e%2e`` as ``..`` and ``\\`` as
    ``/``, so a path with a dot segment in any spelling, a backslash or a control character is dropped
    too: what is kept stays under ``site_path`` however a browser resolves it."""
    parts = urlsplit(href)
    path = parts.path if parts.scheme or parts.netloc else urlsplit(urljoin(site_path, href)).path
    segments = unquote(path).split("/")
    if (not path.startswith(site_path) or "\\" in unquote(path) or "." in segments or ".." in segments
            or not unquote(path).isprintable()):
        return ""
    return path


def read(data: bytes, site_path: str) -> Feed | None:
    """The feed's title and entries, or None when it cannot be read as the build writes it."""
    if len(data) > MAX_FEED or b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        return None
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    if root.tag != f"{_NS}feed":
        return None
    entries = []
    for entry in root.findall(f"{_NS}entry"):
        link = next((e.get("href", "") for e in entry.findall(f"{_NS}link") if e.get("rel", "alternate") == "alternate"),
                    "")
        entries.append(Entry(title=_text(entry.find(f"{_NS}title")),
                             updated=_date(_text(entry.find(f"{_NS}updated"))),
                             link=site_link(link, site_path),
                             summary=_text(entry.find(f"{_NS}summary"))))
    return Feed(title=_text(root.find(f"{_NS}title")), entries=tuple(entries))
